"""Every statement of the labels domain."""

from uuid import UUID

from sqlalchemy import RowMapping, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.queries import ACTING_KEY_COLUMNS, acted_as
from app.db.tables import api_keys, release_labels, toolset_releases

_LABEL_VIEW = select(
    release_labels.c.label,
    release_labels.c.release_id,
    release_labels.c.version,
    release_labels.c.updated_by,
    release_labels.c.created_at,
    release_labels.c.updated_at,
    toolset_releases.c.release_number,
    toolset_releases.c.name.label("release_name"),
    *ACTING_KEY_COLUMNS,
).join_from(release_labels, toolset_releases, toolset_releases.c.id == release_labels.c.release_id)
_LABEL_VIEW = _LABEL_VIEW.outerjoin(api_keys, acted_as(release_labels.c.updated_by))


async def find_label(conn: AsyncConnection, toolset_id: UUID, label: str) -> RowMapping | None:
    stmt = _LABEL_VIEW.where(release_labels.c.toolset_id == toolset_id, release_labels.c.label == label)
    return (await conn.execute(stmt)).mappings().one_or_none()


async def list_labels(
    conn: AsyncConnection, toolset_id: UUID, after_label: str | None, limit: int
) -> list[RowMapping]:
    stmt = _LABEL_VIEW.where(release_labels.c.toolset_id == toolset_id)
    if after_label is not None:
        stmt = stmt.where(release_labels.c.label > after_label)
    return list((await conn.execute(stmt.order_by(release_labels.c.label).limit(limit))).mappings())


async def put_label(
    conn: AsyncConnection, toolset_id: UUID, label: str, release_id: UUID, actor: str
) -> None:
    stmt = (
        insert(release_labels)
        .values(toolset_id=toolset_id, label=label, release_id=release_id, updated_by=actor)
        .on_conflict_do_update(
            index_elements=[release_labels.c.toolset_id, release_labels.c.label],
            set_={
                "release_id": release_id,
                "updated_by": actor,
                "updated_at": func.now(),
                "version": release_labels.c.version + 1,
            },
        )
    )
    await conn.execute(stmt)


async def delete_label(conn: AsyncConnection, toolset_id: UUID, label: str) -> None:
    await conn.execute(
        delete(release_labels).where(
            release_labels.c.toolset_id == toolset_id, release_labels.c.label == label
        )
    )
