"""Reads beside a request's own statement (`app.kit.database.alongside`): a pool of their own,
read-only, and errors that leave no connection behind."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import create_engine, dispose_engine, side_engine
from app.kit.database import alongside


async def test_a_side_read_never_waits_for_the_pool_its_request_holds(database_url: str) -> None:
    """Requests each holding a connection of the main pool (and maybe locks others wait for)
    would otherwise wait for one another's second connection until the timeout."""
    engine = create_engine(database_url, pool_size=1, pool_timeout_seconds=0.5)  # two at most
    try:
        async with engine.connect() as conn, engine.connect() as other:
            await other.execute(text("SELECT 1"))  # the main pool has nothing left
            async with conn.begin():
                main, side = await alongside(
                    conn, conn.scalar(text("SELECT 1")), lambda own: own.scalar(text("SELECT 2"))
                )
        assert (main, side) == (1, 2)
        assert side_engine(engine).sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await dispose_engine(engine)


async def test_a_side_read_is_read_only_and_its_failure_fails_the_request(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:

            async def write(own: AsyncConnection) -> None:
                await own.execute(text("CREATE TEMPORARY TABLE side_write (id int)"))

            with pytest.raises(DBAPIError, match="read-only transaction"):
                async with conn.begin():
                    await alongside(conn, conn.scalar(text("SELECT 1")), write)
            assert not conn.in_transaction()  # the request's transaction was rolled back

            # Both fail: the request's own error is raised, with a note of the side's.
            with pytest.raises(DBAPIError, match="division by zero") as raised:
                async with conn.begin():
                    await alongside(conn, conn.scalar(text("SELECT 1/0")), write)
            assert "read-only transaction" in " ".join(raised.value.__notes__)
        assert side_engine(engine).sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await dispose_engine(engine)
