"""Engine construction from a plain PostgreSQL URL."""

import time
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# A pooled connection returned this recently is reused without a ping: with asyncpg a ping
# is three round trips (BEGIN, a query, ROLLBACK), as many as a whole small write. Older
# ones are pinged; a connection already closed (the server went away) is never handed out.
PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "idle_since"

# Memory for each sort or hash of a statement of the service's sessions. A 10,000-tool
# served state sorts about 6 MB of rows; at PostgreSQL's default (4 MB) that sort spills
# to disk and the statement takes a third longer.
WORK_MEM = "16MB"

# Reads that run beside a request's own statement (a publish's check of tool names, the
# other side of a diff) take connections from a small pool of their own. A request that
# holds a connection of the main pool, and maybe row locks, then never waits for a second
# connection from that pool, which requests each holding one could wait for until the
# timeout, or which a request waiting for those locks could hold. A side read takes no
# lock and waits for none, so a wait for the side pool always ends (when all of them are
# busy, a request waits for the first to finish).
SIDE_POOL_SIZE = 4
_side_engines: "WeakKeyDictionary[Engine, AsyncEngine]" = WeakKeyDictionary()
_side_engine_factories: "WeakKeyDictionary[Engine, Callable[[], AsyncEngine]]" = WeakKeyDictionary()


def async_url(database_url: str) -> URL:
    """Accept `postgresql://…` (TCP or `?host=/socket/dir`) and add the asyncpg driver."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return url.set(drivername="postgresql+asyncpg")
    raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {url.drivername}://")


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    pool_timeout_seconds: float = 30.0,
    statement_timeout_ms: int | None = None,
) -> AsyncEngine:
    """An engine whose pool holds `pool_size` connections plus as many overflow ones.

    A request that waits `pool_timeout_seconds` for a connection fails (answered 503 with
    Retry-After, app/kit/errors.py), and every statement is cancelled after
    `statement_timeout_ms` (also 503), so one slow request cannot hold the pool for long.
    """
    server_settings = {"work_mem": WORK_MEM}
    if statement_timeout_ms:
        server_settings["statement_timeout"] = str(statement_timeout_ms)

    def engine_of(size: int, overflow: int) -> AsyncEngine:
        made = create_async_engine(
            async_url(database_url),
            pool_size=size,
            max_overflow=overflow,
            pool_timeout=pool_timeout_seconds,
            connect_args={"server_settings": server_settings},
        )
        ping_idle_connections(made, PING_AFTER_IDLE_SECONDS)
        return made

    engine = engine_of(pool_size, pool_size)
    _side_engine_factories[engine.sync_engine] = lambda: engine_of(SIDE_POOL_SIZE, 0)
    return engine


def side_engine(engine: AsyncEngine) -> AsyncEngine:
    """The pool of reads beside `engine`'s requests (see SIDE_POOL_SIZE), made at first use
    (`engine` itself for an engine `create_engine` did not make)."""
    side = _side_engines.get(engine.sync_engine)
    if side is None:
        factory = _side_engine_factories.get(engine.sync_engine)
        if factory is None:
            return engine
        side = _side_engines[engine.sync_engine] = factory()
    return side


async def dispose_engine(engine: AsyncEngine) -> None:
    """Close `engine`'s connections and those of its side reads (a side read still running
    then uses `engine` itself, not a new side pool that nothing would close)."""
    _side_engine_factories.pop(engine.sync_engine, None)
    side = _side_engines.pop(engine.sync_engine, None)
    if side is not None:
        await side.dispose()
    await engine.dispose()


def ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Check a pooled connection before handing it out: one that is closed is replaced; one
    idle for `idle_seconds` or more is pinged first (and replaced when the ping fails).

    SQLAlchemy's `pool_pre_ping` pings on every checkout; a connection that dies between
    two uses a few seconds apart (the server restarted) fails its statement instead, which
    answers 503 with Retry-After (app/kit/errors.py) and renews the process's pool."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine.pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine.pool, "checkout")
    def _checking_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the connection was closed")
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # just opened, or used moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces the connection and checks out another
            raise DisconnectionError("the connection failed its ping") from exc
