"""Every statement of the webhooks domain."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, any_, cast, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import UUID_ARRAY, projects, webhook_deliveries, webhook_delivery_attempts, webhooks

WEBHOOK_COLUMNS = (
    webhooks.c.id,
    webhooks.c.url,
    webhooks.c.events,
    webhooks.c.created_by,
    webhooks.c.created_at,
)
ATTEMPTS_SHOWN = 50


async def insert_webhook(
    conn: AsyncConnection,
    organization_id: str,
    project_id: UUID,
    url: str,
    events: Sequence[str],
    secret: str,
    created_by: str,
) -> RowMapping:
    stmt = (
        webhooks.insert()
        .values(
            organization_id=organization_id,
            project_id=project_id,
            url=url,
            events=list(events),
            secret=secret,
            created_by=created_by,
        )
        .returning(*WEBHOOK_COLUMNS, webhooks.c.secret)
    )
    return (await conn.execute(stmt)).mappings().one()


async def lock_project(conn: AsyncConnection, project_id: UUID) -> None:
    """NO KEY UPDATE: rows that reference the project (KEY SHARE) are not held up."""
    stmt = select(projects.c.id).where(projects.c.id == project_id).with_for_update(key_share=True)
    await conn.execute(stmt)


async def count_webhooks(conn: AsyncConnection, project_id: UUID) -> int:
    stmt = select(func.count()).select_from(webhooks).where(webhooks.c.project_id == project_id)
    return int((await conn.execute(stmt)).scalar_one())


async def find_webhook(conn: AsyncConnection, project_id: UUID, webhook_id: UUID) -> RowMapping | None:
    stmt = select(*WEBHOOK_COLUMNS).where(webhooks.c.project_id == project_id, webhooks.c.id == webhook_id)
    return (await conn.execute(stmt)).mappings().one_or_none()


async def list_webhooks(
    conn: AsyncConnection, project_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[RowMapping]:
    stmt = select(*WEBHOOK_COLUMNS).where(webhooks.c.project_id == project_id)
    if after is not None:
        stmt = stmt.where(tuple_(webhooks.c.created_at, webhooks.c.id) < tuple_(*after))
    stmt = stmt.order_by(webhooks.c.created_at.desc(), webhooks.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def delete_webhook(conn: AsyncConnection, project_id: UUID, webhook_id: UUID) -> bool:
    stmt = webhooks.delete().where(webhooks.c.project_id == project_id, webhooks.c.id == webhook_id)
    return bool((await conn.execute(stmt)).rowcount)


async def insert_deliveries(
    conn: AsyncConnection, project_id: UUID, event_type: str, event_id: UUID, payload: dict[str, Any]
) -> list[UUID]:
    """One delivery per webhook of the project that listens to `event_type`, in one statement."""
    listening = select(
        webhooks.c.id,
        literal(event_id),
        literal(event_type),
        literal(payload, webhook_deliveries.c.payload.type),
    ).where(webhooks.c.project_id == project_id, literal(event_type) == any_(webhooks.c.events))
    stmt = (
        webhook_deliveries.insert()
        .from_select(["webhook_id", "event_id", "event_type", "payload"], listening)
        .returning(webhook_deliveries.c.id)
    )
    return list((await conn.execute(stmt)).scalars())


DELIVERY_COLUMNS = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.event_id,
    webhook_deliveries.c.event_type,
    webhook_deliveries.c.status,
    webhook_deliveries.c.attempt_count,
    webhook_deliveries.c.next_attempt_at,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.updated_at,
    webhook_deliveries.c.payload,
)


async def lock_delivery_for_attempt(conn: AsyncConnection, delivery_id: UUID) -> RowMapping | None:
    """The delivery with its webhook's URL and secret, row-locked; None when it is gone or when
    another worker holds it (that worker is attempting it right now)."""
    stmt = (
        select(*DELIVERY_COLUMNS, webhooks.c.url, webhooks.c.secret)
        .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
        .where(webhook_deliveries.c.id == delivery_id)
        .with_for_update(of=webhook_deliveries, skip_locked=True)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def record_attempt(
    conn: AsyncConnection,
    delivery_id: UUID,
    *,
    attempt: int,
    started_at: datetime,
    duration_ms: int,
    status_code: int | None,
    succeeded: bool,
    error: str | None,
    status: str,
    next_attempt_at: datetime | None,
) -> None:
    await conn.execute(
        webhook_delivery_attempts.insert().values(
            delivery_id=delivery_id,
            attempt=attempt,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=status_code,
            succeeded=succeeded,
            error=error,
        )
    )
    await conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id == delivery_id)
        .values(attempt_count=attempt, status=status, next_attempt_at=next_attempt_at, updated_at=func.now())
    )


async def find_delivery(conn: AsyncConnection, webhook_id: UUID, delivery_id: UUID) -> RowMapping | None:
    stmt = select(*DELIVERY_COLUMNS).where(
        webhook_deliveries.c.webhook_id == webhook_id, webhook_deliveries.c.id == delivery_id
    )
    return (await conn.execute(stmt.with_for_update())).mappings().one_or_none()


async def mark_pending(conn: AsyncConnection, delivery_id: UUID) -> None:
    await conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id == delivery_id)
        .values(status="pending", next_attempt_at=func.now(), updated_at=func.now())
    )


async def read_from_one_snapshot(conn: AsyncConnection) -> None:
    """The first statement of a read whose statements must agree (deliveries, then their
    attempts): a worker committing an attempt between them is seen whole or not at all."""
    await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


async def list_deliveries(
    conn: AsyncConnection, webhook_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[RowMapping]:
    stmt = select(*DELIVERY_COLUMNS).where(webhook_deliveries.c.webhook_id == webhook_id)
    if after is not None:
        stmt = stmt.where(tuple_(webhook_deliveries.c.created_at, webhook_deliveries.c.id) < tuple_(*after))
    stmt = stmt.order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def attempts_of(conn: AsyncConnection, delivery_ids: list[UUID]) -> dict[UUID, list[RowMapping]]:
    """The newest attempts of each delivery, newest first, in one statement."""
    if not delivery_ids:
        return {}
    a = webhook_delivery_attempts
    ranked = (
        select(
            a,
            func.row_number().over(partition_by=a.c.delivery_id, order_by=a.c.attempt.desc()).label("rank"),
        )
        .where(a.c.delivery_id == any_(cast(delivery_ids, UUID_ARRAY)))
        .subquery()
    )
    stmt = (
        select(ranked)
        .where(ranked.c.rank <= ATTEMPTS_SHOWN)
        .order_by(ranked.c.delivery_id, ranked.c.attempt.desc())
    )
    found: dict[UUID, list[RowMapping]] = {i: [] for i in delivery_ids}
    for row in (await conn.execute(stmt)).mappings():
        found[row["delivery_id"]].append(row)
    return found
