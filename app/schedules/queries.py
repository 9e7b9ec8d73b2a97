"""Every statement of the scheduled-publish domain."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, RowMapping, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.queries import ACTING_KEY_COLUMNS, acted_as
from app.db.tables import api_keys, projects, scheduled_publishes, toolsets

s = scheduled_publishes
_VIEW = select(s, *ACTING_KEY_COLUMNS).outerjoin(api_keys, acted_as(s.c.requested_by))


async def insert_schedule(
    conn: AsyncConnection,
    toolset_id: UUID,
    staging: RowMapping,
    publish_at: datetime,
    notes: str | None,
    requested_by: str,
    *,
    release_name: str | None,
    acknowledge_breaking: bool,
) -> UUID:
    stmt = (
        s.insert()
        .values(
            toolset_id=toolset_id,
            staging_toolset_id=staging["id"],
            staging_version=staging["version"],
            release_name=release_name,
            acknowledge_breaking=acknowledge_breaking,
            publish_at=publish_at,
            notes=notes,
            requested_by=requested_by,
        )
        .returning(s.c.id)
    )
    schedule_id: UUID = (await conn.execute(stmt)).scalar_one()
    return schedule_id


async def seconds_until(conn: AsyncConnection, when: datetime) -> float:
    """From this transaction's `now()`, which is what pgqueuer adds a delay to."""
    stmt = select(func.extract("epoch", literal(when, DateTime(timezone=True)) - func.now()))
    return float((await conn.execute(stmt)).scalar_one())


async def find_pending(conn: AsyncConnection, toolset_id: UUID) -> RowMapping | None:
    stmt = select(s.c.id).where(s.c.toolset_id == toolset_id, s.c.status == "scheduled")
    return (await conn.execute(stmt)).mappings().one_or_none()


async def get_schedule(conn: AsyncConnection, toolset_id: UUID, schedule_id: UUID) -> RowMapping | None:
    stmt = _VIEW.where(s.c.toolset_id == toolset_id, s.c.id == schedule_id)
    return (await conn.execute(stmt)).mappings().one_or_none()


async def list_schedules(
    conn: AsyncConnection, toolset_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[RowMapping]:
    stmt = _VIEW.where(s.c.toolset_id == toolset_id)
    if after is not None:
        stmt = stmt.where(tuple_(s.c.created_at, s.c.id) < tuple_(*after))
    stmt = stmt.order_by(s.c.created_at.desc(), s.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def lock_for_run(conn: AsyncConnection, schedule_id: UUID) -> RowMapping | None:
    """The schedule with its toolset's organization and project slug, row-locked; None when it is
    gone or another worker is running it right now."""
    stmt = (
        select(s, toolsets.c.organization_id, projects.c.slug.label("project_slug"))
        .join(toolsets, toolsets.c.id == s.c.toolset_id)
        .join(projects, projects.c.id == toolsets.c.project_id)
        .where(s.c.id == schedule_id)
        .with_for_update(of=s, skip_locked=True)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def finish(conn: AsyncConnection, schedule_id: UUID, status: str, **outcome: Any) -> None:
    await conn.execute(
        s.update().where(s.c.id == schedule_id).values(status=status, finished_at=func.now(), **outcome)
    )


async def lock_for_cancel(conn: AsyncConnection, schedule_id: UUID) -> RowMapping:
    stmt = select(s.c.status).where(s.c.id == schedule_id).with_for_update()
    return (await conn.execute(stmt)).mappings().one()
