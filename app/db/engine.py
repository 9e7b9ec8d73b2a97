"""Engine construction from a plain PostgreSQL URL."""

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


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
    server_settings = {"statement_timeout": str(statement_timeout_ms)} if statement_timeout_ms else {}
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args={"server_settings": server_settings},
    )
