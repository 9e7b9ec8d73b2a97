"""Which state each live toolset serves, cached per process and invalidated by PostgreSQL.

The hot read path (getEffectiveToolset) needs a toolset's id, editing mode and current
release. A trigger (revision 0005) sends `NOTIFY toolset_pointers, '<toolset id>'`
whenever one of those changes or the toolset is deleted; NOTIFY is delivered at
commit, to every process listening. Each process keeps one listening connection and
drops the entry the message names.

Safety rules, so that the cache is never the reason a client sees an old release:
- while the listening connection is down, the cache is empty and bypassed;
- an entry read from the database is stored only if no invalidation arrived while it
  was being read (a generation counter), so a stale read never outlives its NOTIFY;
- the process that made a change drops the entry itself right after its commit, so it
  reads its own writes without waiting for the NOTIFY;
- entries also expire after a short TTL, as a last resort.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
from cachetools import TTLCache
from sqlalchemy.engine import make_url

logger = logging.getLogger("app.pointers")

CHANNEL = "toolset_pointers"
TTL_SECONDS = 30
RECONNECT_SECONDS = 1.0

PointerKey = tuple[str, str, str]  # organization, project slug, toolset slug


class PointerCache:
    def __init__(self, maxsize: int = 100_000) -> None:
        self._entries: TTLCache[PointerKey, dict[str, Any]] = TTLCache(maxsize=maxsize, ttl=TTL_SECONDS)
        self._generation = 0
        self.listening = False
        self._watchers: list[Callable[[str | None], None]] = []

    def on_invalidate(self, watcher: Callable[[str | None], None]) -> None:
        """Call `watcher(toolset id, or None for all)` after each invalidation (the MCP change hub)."""
        self._watchers.append(watcher)

    def generation(self) -> int:
        return self._generation

    def get(self, key: PointerKey) -> dict[str, Any] | None:
        return self._entries.get(key) if self.listening else None

    def put(self, key: PointerKey, pointer: dict[str, Any], read_at_generation: int) -> None:
        if self.listening and read_at_generation == self._generation:
            self._entries[key] = pointer

    def invalidate(self, toolset_id: UUID | str | None = None) -> None:
        """Drop the entry of one toolset (or all); any read in flight will not be stored."""
        self._generation += 1
        wanted = None if toolset_id is None else str(toolset_id)
        if wanted is None:
            self._entries.clear()
        else:
            for key, pointer in list(self._entries.items()):
                if str(pointer["id"]) == wanted:
                    self._entries.pop(key, None)
        for watcher in self._watchers:
            watcher(wanted)

    def set_listening(self, listening: bool) -> None:
        self.invalidate()
        self.listening = listening


def _asyncpg_dsn(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen(
    cache: PointerCache, database_url: str, channels: Mapping[str, Callable[[str], None]] | None = None
) -> None:
    """Keep a LISTEN connection open for the life of the process; reconnect when it drops.

    `channels` adds other channels to the same connection (`served_state`: the MCP change
    hub); while the connection is down the cache invalidates everything, which its
    watchers hear too.
    """
    dsn = _asyncpg_dsn(database_url)

    def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        cache.invalidate(payload or None)

    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn)
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _c, closed=closed: closed.set())
            await conn.add_listener(CHANNEL, on_notify)
            for channel, handler in (channels or {}).items():
                await conn.add_listener(
                    channel, lambda _c, _p, _ch, payload, handler=handler: handler(payload)
                )
            cache.set_listening(True)
            await closed.wait()
            logger.warning("pointer listener connection closed; cache bypassed until it reconnects")
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("pointer listener cannot connect: %s", exc)
        finally:
            cache.set_listening(False)
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close()
        await asyncio.sleep(RECONNECT_SECONDS)
