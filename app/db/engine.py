"""Engine construction from a plain PostgreSQL URL."""

import time
from typing import Any

from sqlalchemy import QueuePool, event
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
    engine = create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout_seconds,
        connect_args={"server_settings": server_settings},
    )
    ping_idle_connections(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def has_spare_connection(engine: AsyncEngine) -> bool:
    """Whether a checkout now would not wait: the pool has an idle connection or room for one.

    A request that already holds a connection and wants a second one (a read alongside its
    own statement) asks first and reads on its own connection when there is none: requests
    each holding one connection and waiting for another could otherwise wait for each other
    until the pool's timeout."""
    pool = engine.sync_engine.pool
    return isinstance(pool, QueuePool) and pool.checkedout() < pool.size() + pool._max_overflow


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
