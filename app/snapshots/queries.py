"""Every statement of the snapshots domain."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import RowMapping, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.queries import ACTING_KEY_COLUMNS, acted_as
from app.db.tables import api_keys, project_snapshot_toolsets, project_snapshots, toolsets

_RECORD_SERVED_RELEASES = text(
    """
    INSERT INTO project_snapshot_toolsets (snapshot_id, toolset_slug, toolset_id, release_id, release_number)
    SELECT :snapshot_id, t.slug, t.id, r.id, r.release_number
    FROM toolsets t JOIN toolset_releases r ON r.id = t.current_release_id
    WHERE t.project_id = :project_id AND t.parent_toolset_id IS NULL AND t.editing_mode = 'staging'
    """
)


async def insert_snapshot(conn: AsyncConnection, project_id: UUID, name: str | None, actor: str) -> UUID:
    """A snapshot of the served release of every staging-mode toolset of the project (two statements)."""
    stmt = (
        insert(project_snapshots)
        .values(project_id=project_id, name=name, created_by=actor, created_at=func.clock_timestamp())
        .returning(project_snapshots.c.id)
    )
    snapshot_id: UUID = (await conn.execute(stmt)).scalar_one()
    await conn.execute(_RECORD_SERVED_RELEASES, {"snapshot_id": snapshot_id, "project_id": project_id})
    return snapshot_id


_SNAPSHOT_VIEW = select(
    *ACTING_KEY_COLUMNS,
    project_snapshots.c.id,
    project_snapshots.c.name,
    project_snapshots.c.created_by,
    project_snapshots.c.created_at,
    select(
        func.coalesce(
            func.jsonb_agg(
                aggregate_order_by(
                    func.jsonb_build_object(
                        "toolset",
                        project_snapshot_toolsets.c.toolset_slug,
                        "release_number",
                        project_snapshot_toolsets.c.release_number,
                        "exists",
                        project_snapshot_toolsets.c.release_id.is_not(None),
                    ),
                    project_snapshot_toolsets.c.toolset_slug,
                )
            ),
            text("'[]'::jsonb"),
        )
    )
    .where(project_snapshot_toolsets.c.snapshot_id == project_snapshots.c.id)
    .scalar_subquery()
    .label("toolsets"),
).outerjoin(api_keys, acted_as(project_snapshots.c.created_by))


async def find_snapshot(conn: AsyncConnection, project_id: UUID, snapshot_id: UUID) -> RowMapping | None:
    stmt = _SNAPSHOT_VIEW.where(
        project_snapshots.c.project_id == project_id, project_snapshots.c.id == snapshot_id
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def list_snapshots(
    conn: AsyncConnection, project_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[RowMapping]:
    stmt = _SNAPSHOT_VIEW.where(project_snapshots.c.project_id == project_id)
    if after is not None:
        stmt = stmt.where(tuple_(project_snapshots.c.created_at, project_snapshots.c.id) < tuple_(*after))
    stmt = stmt.order_by(project_snapshots.c.created_at.desc(), project_snapshots.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def entries(conn: AsyncConnection, snapshot_id: UUID) -> list[RowMapping]:
    stmt = (
        select(
            project_snapshot_toolsets.c.toolset_slug,
            project_snapshot_toolsets.c.toolset_id,
            project_snapshot_toolsets.c.release_id,
            project_snapshot_toolsets.c.release_number,
        )
        .where(project_snapshot_toolsets.c.snapshot_id == snapshot_id)
        .order_by(project_snapshot_toolsets.c.toolset_slug)
    )
    return list((await conn.execute(stmt)).mappings())


async def lock_toolsets(conn: AsyncConnection, toolset_ids: list[UUID]) -> list[UUID]:
    """Row-lock these live toolsets in id order, so that two restores (or a restore and a
    publish, which locks one toolset) never wait for each other in a cycle."""
    stmt = (
        select(toolsets.c.id).where(toolsets.c.id.in_(toolset_ids)).order_by(toolsets.c.id).with_for_update()
    )
    return list((await conn.execute(stmt)).scalars())
