"""Every statement of the variations domain: versioned variations and group versions.

A variation is never updated in place: each edit inserts version + 1 with
predecessor_id naming the row it replaces, and a deletion inserts a tombstone
(a version whose deleted_at is set). The current variation of a tool in a group
is its highest version, unless that version is a tombstone.
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, and_, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import (
    project_tool_variations,
    tool_variations,
    tool_variations_group_versions,
    tool_variations_groups,
)

# The fields a client sets on a variation; NULL means "inherit".
VARIATION_FIELDS = (
    "name",
    "summary",
    "description",
    "tags",
    "confirm",
    "confirm_prompt",
    "summarizer",
    "title",
    "read_only_hint",
    "destructive_hint",
    "idempotent_hint",
    "open_world_hint",
)

# Newest version first; on a tie (a soft-deleted row from before versioning and the live
# row both read version 1) the live row wins.
LATEST_FIRST = (tool_variations.c.version.desc(), tool_variations.c.deleted.asc())

VARIATION_COLUMNS = (
    tool_variations.c.id,
    tool_variations.c.group_id,
    tool_variations.c.src_tool_urn,
    tool_variations.c.version,
    tool_variations.c.predecessor_id,
    tool_variations.c.deleted,
    tool_variations.c.created_at,
    *(tool_variations.c[f] for f in VARIATION_FIELDS),
)


async def lock_group(conn: AsyncConnection, group_id: UUID) -> None:
    """Serialises version numbering within one group (variation versions and group versions)."""
    await conn.execute(
        select(tool_variations_groups.c.id).where(tool_variations_groups.c.id == group_id).with_for_update()
    )


async def find_global_group(conn: AsyncConnection, project_id: UUID) -> UUID | None:
    stmt = select(project_tool_variations.c.group_id).where(
        project_tool_variations.c.project_id == project_id
    )
    group_id: UUID | None = (await conn.execute(stmt)).scalar_one_or_none()
    return group_id


async def create_global_group(conn: AsyncConnection, project_id: UUID) -> UUID:
    """Create the project's global group, or return the one a concurrent request made first."""
    # The advisory lock makes "look, then create" atomic per project without locking the project row.
    await conn.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"global-variations:{project_id}", 0)))
    )
    existing = await find_global_group(conn, project_id)
    if existing is not None:
        return existing
    group_id = await insert_group(conn, project_id, "global")
    await conn.execute(insert(project_tool_variations).values(project_id=project_id, group_id=group_id))
    return group_id


async def insert_group(conn: AsyncConnection, project_id: UUID, name: str) -> UUID:
    stmt = (
        insert(tool_variations_groups)
        .values(project_id=project_id, name=name)
        .returning(tool_variations_groups.c.id)
    )
    group_id: UUID = (await conn.execute(stmt)).scalar_one()
    return group_id


def _latest_per_tool(group_id: UUID, after_urn: str | None = None) -> Any:
    """The highest version of each tool's variation in the group, tombstones included."""
    stmt = select(*VARIATION_COLUMNS).where(tool_variations.c.group_id == group_id)
    if after_urn is not None:
        stmt = stmt.where(tool_variations.c.src_tool_urn > after_urn)
    return (
        stmt.ext(distinct_on(tool_variations.c.src_tool_urn))
        .order_by(tool_variations.c.src_tool_urn, *LATEST_FIRST)
        .subquery("latest")
    )


async def current_variations(
    conn: AsyncConnection, group_id: UUID, after_urn: str | None = None, limit: int | None = None
) -> list[RowMapping]:
    """The group's current variations by tool URN; a page of them after `after_urn`."""
    latest = _latest_per_tool(group_id, after_urn)
    stmt = select(latest).where(latest.c.deleted.is_(False)).order_by(latest.c.src_tool_urn).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def latest_variation(conn: AsyncConnection, group_id: UUID, tool_urn: str) -> RowMapping | None:
    stmt = (
        select(*VARIATION_COLUMNS)
        .where(tool_variations.c.group_id == group_id, tool_variations.c.src_tool_urn == tool_urn)
        .order_by(*LATEST_FIRST)
        .limit(1)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def insert_variation_version(
    conn: AsyncConnection,
    group_id: UUID,
    tool_urn: str,
    tool_name: str,
    previous: RowMapping | None,
    fields: dict[str, Any],
    *,
    tombstone: bool = False,
) -> RowMapping:
    """CreateVariationVersion: version + 1 of the tool's variation (call with the group locked)."""
    values: dict[str, Any] = {f: fields.get(f) for f in VARIATION_FIELDS}
    stmt = (
        insert(tool_variations)
        .values(
            group_id=group_id,
            src_tool_urn=tool_urn,
            src_tool_name=tool_name,
            version=(previous["version"] + 1) if previous else 1,
            predecessor_id=previous["id"] if previous else None,
            deleted_at=func.now() if tombstone else None,
            **values,
        )
        .returning(*VARIATION_COLUMNS)
    )
    return (await conn.execute(stmt)).mappings().one()


async def variation_versions(
    conn: AsyncConnection,
    group_id: UUID,
    tool_urn: str,
    after: tuple[int, bool, UUID] | None = None,
    limit: int | None = None,
) -> list[RowMapping]:
    """Every version of a tool's variation, newest first; a page of them after `after`
    (the version, deleted flag and id the previous page ended at)."""
    v = tool_variations.c
    stmt = select(*VARIATION_COLUMNS).where(v.group_id == group_id, v.src_tool_urn == tool_urn)
    if after is not None:
        version, deleted, row_id = after
        was_deleted = literal(deleted)  # a bound value: SQLAlchemy refuses `column > True`
        same_version_later = or_(v.deleted > was_deleted, and_(v.deleted == was_deleted, v.id > row_id))
        stmt = stmt.where(or_(v.version < version, and_(v.version == version, same_version_later)))
    stmt = stmt.order_by(*LATEST_FIRST, v.id).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def variation_at_version(
    conn: AsyncConnection, group_id: UUID, tool_urn: str, version: int
) -> RowMapping | None:
    """GetVariationAtVersion."""
    stmt = select(*VARIATION_COLUMNS).where(
        tool_variations.c.group_id == group_id,
        tool_variations.c.src_tool_urn == tool_urn,
        tool_variations.c.version == version,
    )
    return (await conn.execute(stmt)).mappings().first()


GROUP_VERSION_COLUMNS = (
    tool_variations_group_versions.c.id,
    tool_variations_group_versions.c.group_id,
    tool_variations_group_versions.c.version,
    tool_variations_group_versions.c.variation_ids,
    tool_variations_group_versions.c.predecessor_id,
    tool_variations_group_versions.c.created_at,
)

# CreateGroupVersion in one statement: the group's current variation ids (ordered by
# tool URN), compared with its latest group version; a new version only when they differ.
_CAPTURE_GROUP_VERSION = text(
    """
    WITH latest_per_tool AS (
        SELECT DISTINCT ON (src_tool_urn) id, src_tool_urn, deleted
        FROM tool_variations
        WHERE group_id = :group_id
        ORDER BY src_tool_urn, version DESC, deleted ASC
    ),
    current_ids AS (
        SELECT coalesce(array_agg(id ORDER BY src_tool_urn), '{}'::uuid[]) AS ids
        FROM latest_per_tool WHERE NOT deleted
    ),
    last AS (
        SELECT id, version, variation_ids
        FROM tool_variations_group_versions
        WHERE group_id = :group_id
        ORDER BY version DESC
        LIMIT 1
    ),
    inserted AS (
        INSERT INTO tool_variations_group_versions (group_id, version, variation_ids, predecessor_id)
        SELECT :group_id, coalesce((SELECT version FROM last), 0) + 1, current_ids.ids, (SELECT id FROM last)
        FROM current_ids
        WHERE NOT EXISTS (SELECT 1 FROM last WHERE last.variation_ids = current_ids.ids)
        RETURNING id, group_id, version, variation_ids, predecessor_id, created_at, true AS created
    )
    SELECT * FROM inserted
    UNION ALL
    SELECT v.id, v.group_id, v.version, v.variation_ids, v.predecessor_id, v.created_at, false
    FROM tool_variations_group_versions v JOIN last ON last.id = v.id
    WHERE NOT EXISTS (SELECT 1 FROM inserted)
    """
)


async def capture_group_version(conn: AsyncConnection, group_id: UUID) -> RowMapping:
    """CreateGroupVersion: reuse the latest group version when nothing changed since it.

    Two statements whatever the group's size: the lock, then the set-based capture.
    """
    await lock_group(conn, group_id)
    return (await conn.execute(_CAPTURE_GROUP_VERSION, {"group_id": group_id})).mappings().one()


async def current_variation_ids(conn: AsyncConnection, group_ids: Sequence[UUID | None]) -> list[list[UUID]]:
    """The current variation ids of each group, in one statement (an empty list for None)."""
    wanted = [g for g in group_ids if g is not None]
    if not wanted:
        return [[] for _ in group_ids]
    latest = (
        select(tool_variations.c.id, tool_variations.c.group_id, tool_variations.c.deleted)
        .where(tool_variations.c.group_id.in_(wanted))
        .ext(distinct_on(tool_variations.c.group_id, tool_variations.c.src_tool_urn))
        .order_by(tool_variations.c.group_id, tool_variations.c.src_tool_urn, *LATEST_FIRST)
        .subquery()
    )
    stmt = (
        select(latest.c.group_id, func.array_agg(latest.c.id))
        .where(latest.c.deleted.is_(False))
        .group_by(latest.c.group_id)
    )
    by_group = {row[0]: list(row[1]) for row in await conn.execute(stmt)}
    return [by_group.get(g, []) if g is not None else [] for g in group_ids]


_FIELD_LIST = ", ".join(VARIATION_FIELDS)
_SOURCE_FIELDS = ", ".join(f"src.{f}" for f in VARIATION_FIELDS)
_TARGET_FIELDS = ", ".join(f"tgt.{f}" for f in VARIATION_FIELDS)

# Make a group's current variations equal to a given set of variation rows, writing
# only the differences: a new version where a field differs or a tool is new, a
# tombstone where the target has a tool the source lacks. One statement, any size.
_SYNC_GROUP = text(
    f"""
    WITH src AS (
        SELECT * FROM tool_variations WHERE id = ANY(CAST(:source_ids AS uuid[]))
    ),
    tgt AS (
        SELECT DISTINCT ON (src_tool_urn) *
        FROM tool_variations WHERE group_id = :target_group
        ORDER BY src_tool_urn, version DESC, deleted ASC
    )
    INSERT INTO tool_variations
        (group_id, src_tool_urn, src_tool_name, version, predecessor_id, deleted_at, {_FIELD_LIST})
    SELECT :target_group,
           coalesce(src.src_tool_urn, tgt.src_tool_urn),
           coalesce(src.src_tool_name, tgt.src_tool_name),
           coalesce(tgt.version, 0) + 1,
           tgt.id,
           CASE WHEN src.id IS NULL THEN now() END,
           {_SOURCE_FIELDS}
    FROM src FULL JOIN tgt ON tgt.src_tool_urn = src.src_tool_urn
    WHERE (src.id IS NULL AND NOT tgt.deleted)
       OR (src.id IS NOT NULL AND (
              tgt.id IS NULL OR tgt.deleted
              OR ROW({_SOURCE_FIELDS}) IS DISTINCT FROM ROW({_TARGET_FIELDS})))
    """
)


async def sync_group(conn: AsyncConnection, target_group: UUID, source_ids: Sequence[UUID]) -> int:
    """Bring `target_group` to exactly the variations `source_ids`; returns rows written."""
    await lock_group(conn, target_group)
    result = await conn.execute(_SYNC_GROUP, {"target_group": target_group, "source_ids": list(source_ids)})
    return result.rowcount


async def delete_groups(conn: AsyncConnection, group_ids: Sequence[UUID]) -> None:
    """Delete groups with their variations and group versions (CASCADE)."""
    if group_ids:
        await conn.execute(tool_variations_groups.delete().where(tool_variations_groups.c.id.in_(group_ids)))


async def group_version_ids(conn: AsyncConnection, group_version_id: UUID) -> list[UUID]:
    stmt = select(tool_variations_group_versions.c.variation_ids).where(
        tool_variations_group_versions.c.id == group_version_id
    )
    return list((await conn.execute(stmt)).scalar_one())
