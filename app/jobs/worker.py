"""A job worker: pgqueuer's QueueManager with this service's tasks registered.

`toolsets worker` runs one in its own process; `toolsets serve` runs one inside each
server process unless `TOOLSETS_WORKER=false`. Any number of them, on any number of
hosts, share one database: pgqueuer hands each job to one worker (`FOR UPDATE SKIP
LOCKED`), re-offers a job whose worker stopped sending heartbeats, and wakes idle
workers with NOTIFY when a job is enqueued or becomes due.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg  # type: ignore[import-untyped]
import httpx
from pgqueuer import AsyncpgPoolDriver, Queries, QueueManager
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine, dispose_engine
from app.jobs.tasks import JobDeps, register_tasks
from app.serving.pointers import PointerCache
from app.settings import Settings, get_settings

logger = logging.getLogger("app.jobs")

# pgqueuer dequeues in batches and caps a worker's running jobs at twice the batch.
BATCH_SIZE = 5
STOP_GRACE_SECONDS = 10.0
APPLICATION_NAME = "toolsets-worker"


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Worker:
    """Runs jobs until `stop()`; `run()` returns once in-flight jobs have finished."""

    def __init__(
        self,
        database_url: str,
        *,
        engine: AsyncEngine | None = None,
        pointers: PointerCache | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.database_url = database_url
        self.settings = settings or get_settings()
        self._engine = engine
        self._pointers = pointers or PointerCache()
        self._manager: QueueManager | None = None
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        settings = self.settings
        own_engine = self._engine is None
        engine = self._engine or create_engine(self.database_url, pool_size=2)
        pool = await asyncpg.create_pool(
            asyncpg_dsn(self.database_url),
            min_size=2,
            max_size=4,
            server_settings={"application_name": APPLICATION_NAME},  # visible in pg_stat_activity
        )
        try:
            async with httpx.AsyncClient(
                follow_redirects=False,
                timeout=httpx.Timeout(settings.toolsets_webhook_timeout_seconds),
            ) as http:
                manager = QueueManager(Queries(AsyncpgPoolDriver(pool)))
                register_tasks(manager, JobDeps(engine, http, settings, self._pointers))
                self._manager = manager
                if self._stopping.is_set():
                    return
                logger.info("job worker started", extra={"queue_manager_id": str(manager.queue_manager_id)})
                await manager.run(
                    batch_size=BATCH_SIZE,
                    max_concurrent_tasks=max(2 * BATCH_SIZE, settings.toolsets_worker_concurrency),
                    heartbeat_timeout=timedelta(seconds=settings.toolsets_job_heartbeat_seconds),
                )
        finally:
            self._manager = None
            await pool.close()
            if own_engine:
                await dispose_engine(engine)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()
        if self._manager is not None:
            self._manager.shutdown.set()


@contextlib.asynccontextmanager
async def running_worker(worker: Worker) -> AsyncIterator[None]:
    """Run `worker` in the background for the body of the block (a server's lifespan)."""
    task = asyncio.create_task(_keep_running(worker), name="job-worker")
    try:
        yield
    finally:
        worker.stop()
        try:
            await asyncio.wait_for(task, STOP_GRACE_SECONDS)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _keep_running(worker: Worker) -> None:
    """A worker inside a server must not take the server down: restart it after a failure."""
    while not worker.stopping:
        try:
            await worker.run()
        except Exception:
            logger.exception("job worker failed; restarting in 1 s")
        if not worker.stopping:
            await asyncio.sleep(1.0)
