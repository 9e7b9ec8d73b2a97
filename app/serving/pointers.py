"""The listening connection that keeps every process's `ServedCache` fresh.

Each process LISTENs on the channels the triggers of revisions 0005 and 0006 notify:

- `toolset_pointers`: a live toolset's id when its editing mode, current release or slug
  changes or it is deleted; the cache drops that toolset's pointer and iteration body;
- `served_state`: a project's id when anything its current data is made of changes (a
  toolset row, variations, prompt templates, deployments); the cache drops that
  project's iteration bodies.

`channels` adds handlers to the same connection (the MCP change hub hears
`served_state` too, and its own `mcp_events`). While the connection is down the cache
is bypassed (see `caches.py`), and it is emptied whenever it reconnects.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from app.serving.caches import PointerKey, ServedCache

logger = logging.getLogger("app.pointers")

CHANNEL = "toolset_pointers"
STATE_CHANNEL = "served_state"
RECONNECT_SECONDS = 1.0

# The cache's historical name: services hold it to drop entries after their commits.
PointerCache = ServedCache

__all__ = ["CHANNEL", "STATE_CHANNEL", "PointerCache", "PointerKey", "listen"]


def _asyncpg_dsn(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen(
    cache: ServedCache, database_url: str, channels: Mapping[str, Callable[[str], None]] | None = None
) -> None:
    """Keep a LISTEN connection open for the life of the process; reconnect when it drops."""
    dsn = _asyncpg_dsn(database_url)
    handlers: dict[str, list[Callable[[str], None]]] = {
        CHANNEL: [lambda payload: cache.invalidate(payload or None)],
        STATE_CHANNEL: [lambda payload: cache.invalidate_project(payload) if payload else cache.invalidate()],
    }
    for channel, handler in (channels or {}).items():
        handlers.setdefault(channel, []).append(handler)

    def on_notify(_conn: object, _pid: int, channel: str, payload: str) -> None:
        for handler in handlers.get(channel, ()):
            handler(payload)

    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn)
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _c, closed=closed: closed.set())
            for channel in handlers:
                await conn.add_listener(channel, on_notify)
            cache.set_listening(True)
            await closed.wait()
            logger.warning("served-state listener connection closed; caches bypassed until it reconnects")
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("served-state listener cannot connect: %s", exc)
        finally:
            cache.set_listening(False)
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close()
        await asyncio.sleep(RECONNECT_SECONDS)
