"""Enqueueing jobs inside the caller's transaction.

Jobs live in pgqueuer's table (revision 0008). A job is enqueued through pgqueuer's
own API on the very connection, and so in the very transaction, that makes the change
it follows: it becomes visible to workers when that transaction commits, and vanishes
with it when it rolls back.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pgqueuer import Queries
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

# Entrypoint names: stable, since queued rows name them.
DELIVER_WEBHOOK = "deliver_webhook"
SCHEDULED_PUBLISH = "scheduled_publish"


async def _driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, with the caller's transaction started on it."""
    if not conn.in_transaction():
        raise RuntimeError("jobs are enqueued inside the caller's transaction")
    raw: Any = (await conn.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        # SQLAlchemy sends BEGIN with the transaction's first statement.
        await conn.execute(select(1))
    return raw


async def enqueue(
    conn: AsyncConnection,
    entrypoint: str,
    payloads: Sequence[bytes],
    *,
    execute_after: timedelta | None = None,
    dedupe_keys: Sequence[str] | None = None,
) -> list[int | None]:
    """Enqueue one job per payload in one statement; returns their ids.

    A payload whose dedupe key is already queued or running is skipped (None): the
    job that holds the key will do the work.
    """
    if not payloads:
        return []
    queries = Queries.from_asyncpg_connection(await _driver_connection(conn))
    count = len(payloads)
    ids = await queries.enqueue(
        [entrypoint] * count,
        list(payloads),
        [0] * count,
        [execute_after] * count,
        list(dedupe_keys) if dedupe_keys is not None else [None] * count,
        on_conflict="skip",
    )
    return [int(i) if i is not None else None for i in ids]
