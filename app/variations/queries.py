"""Every statement of the variations domain: versioned variations and group versions.

A variation is never updated in place: each edit inserts version + 1 with
predecessor_id naming the row it replaces, and a deletion inserts a tombstone
(a version whose deleted_at is set). The current variation of a tool in a group
is its highest version, unless that version is a tombstone.
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CTE,
    ColumnElement,
    RowMapping,
    Select,
    Subquery,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import (
    UUID_ARRAY,
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


# Tool URNs compared byte by byte: where a whole group is read and its order does not leak
# (the latest version per tool, a group version's ids), a sort by bytes is cheaper than one
# by the database's collation, and the same in every database.
URN_BYTES: ColumnElement[str] = tool_variations.c.src_tool_urn.collate("C")


def latest_versions(
    group_id: UUID | ColumnElement[UUID],
    tool_urns: ColumnElement[Any] | None = None,
    columns: Sequence[ColumnElement[Any]] = VARIATION_COLUMNS,
    after_urn: str | None = None,
    *,
    whole_group: bool = False,
) -> Select[Any]:
    """The highest version of each tool's variation in the group, tombstones included
    (only of `tool_urns`, an array, when given: other tools' variations cost nothing;
    only of tools after `after_urn`, when given: a page). `whole_group`: read to be
    consumed whole (not paged or probed by URN), grouped by the URN's bytes."""
    stmt = select(*columns).where(tool_variations.c.group_id == group_id)
    if tool_urns is not None:
        stmt = stmt.where(tool_variations.c.src_tool_urn == func.any(tool_urns))
    if after_urn is not None:
        stmt = stmt.where(tool_variations.c.src_tool_urn > after_urn)
    urn = URN_BYTES if whole_group else tool_variations.c.src_tool_urn
    return stmt.ext(distinct_on(urn)).order_by(urn, *LATEST_FIRST)


def current_variations_of(
    group_id: UUID | ColumnElement[UUID],
    tool_urns: ColumnElement[Any] | None = None,
    name: str = "current",
    after_urn: str | None = None,
) -> Subquery:
    """The current variations of a group: the latest version of each tool's, unless a tombstone.

    The one definition of "current variation" (with LATEST_FIRST's tie-break): served
    states, capture, staging copies and the variation lists all use it.
    """
    latest = latest_versions(group_id, tool_urns, after_urn=after_urn).subquery(f"{name}_latest")
    return select(latest).where(latest.c.deleted.is_(False)).subquery(name)


async def current_variations(
    conn: AsyncConnection, group_id: UUID, after_urn: str | None = None, limit: int | None = None
) -> list[RowMapping]:
    """The group's current variations by tool URN; a page of them after `after_urn`."""
    current = current_variations_of(group_id, after_urn=after_urn)
    stmt = select(current).order_by(current.c.src_tool_urn).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def count_current_variations(conn: AsyncConnection, group_id: UUID) -> int:
    current = current_variations_of(group_id)
    count: int = (await conn.execute(select(func.count()).select_from(current))).scalar_one()
    return count


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


def _as_group(group_id: UUID | ColumnElement[UUID]) -> ColumnElement[UUID]:
    """A group id as a SQL value (a bound UUID, or an expression such as a bound parameter)."""
    if isinstance(group_id, UUID):
        return literal(group_id, tool_variations_group_versions.c.group_id.type)
    return group_id


def current_ids_of(group_id: UUID | ColumnElement[UUID], prefix: str = "", rows: CTE | None = None) -> CTE:
    """One row, `ids`: the group's current variation ids (or those of `rows`, its current
    variations already read), ordered by tool URN's bytes (the content of a group version:
    equal sets compare equal)."""
    current = current_variations_of(group_id, name=f"{prefix}current") if rows is None else rows
    return select(
        func.coalesce(
            func.array_agg(aggregate_order_by(current.c.id, current.c.src_tool_urn.collate("C"))),
            literal_column("'{}'::uuid[]"),
        ).label("ids")
    ).cte(f"{prefix}current_ids")


def capture_group_version_of(
    group_id: UUID | ColumnElement[UUID], prefix: str = "", current_ids: CTE | None = None
) -> Any:
    """CreateGroupVersion in one statement: the group's current variation ids (`current_ids`,
    one row of `ids` ordered by tool URN; by default read from the group), compared with its
    latest group version; a new version only when they differ. Nothing for a NULL group."""
    gv = tool_variations_group_versions
    group = _as_group(group_id)
    if current_ids is None:
        current_ids = current_ids_of(group, prefix)
    last = (
        select(gv.c.id, gv.c.version, gv.c.variation_ids)
        .where(gv.c.group_id == group)
        .order_by(gv.c.version.desc())
        .limit(1)
        .cte(f"{prefix}last")
    )
    inserted = (
        insert(gv)
        .from_select(
            ["group_id", "version", "variation_ids", "predecessor_id"],
            select(
                group,
                func.coalesce(select(last.c.version).scalar_subquery(), 0) + 1,
                current_ids.c.ids,
                select(last.c.id).scalar_subquery(),
            ).where(group.is_not(None), ~exists().where(last.c.variation_ids == current_ids.c.ids)),
        )
        .returning(*GROUP_VERSION_COLUMNS, true().label("created"))
        .cte(f"{prefix}inserted")
    )
    reused = (
        select(*GROUP_VERSION_COLUMNS, false().label("created"))
        .join(last, last.c.id == gv.c.id)
        .where(~exists(select(inserted.c.id)))
    )
    return select(inserted).union_all(reused)


async def capture_group_version(conn: AsyncConnection, group_id: UUID) -> RowMapping:
    """CreateGroupVersion: reuse the latest group version when nothing changed since it.

    Two statements whatever the group's size: the lock, then the set-based capture.
    """
    await lock_group(conn, group_id)
    return (await conn.execute(capture_group_version_of(group_id))).mappings().one()


async def lock_capture_groups(
    conn: AsyncConnection, project_id: UUID, toolset_group_id: UUID | None
) -> UUID | None:
    """Lock the project's global group and the toolset's own group (in id order, so two
    captures never deadlock), in one statement; returns the global group's id."""
    g = tool_variations_groups
    global_group = select(project_tool_variations.c.group_id).where(
        project_tool_variations.c.project_id == project_id
    )
    wanted: ColumnElement[bool] = g.c.id.in_(global_group)
    if toolset_group_id is not None:
        wanted = or_(wanted, g.c.id == toolset_group_id)
    stmt = select(g.c.id).where(wanted).order_by(g.c.id).with_for_update()
    locked = set((await conn.execute(stmt)).scalars())
    locked.discard(toolset_group_id)
    return locked.pop() if locked else None


async def capture_group_versions(
    conn: AsyncConnection, global_group: UUID | None, toolset_group: UUID | None
) -> tuple[UUID | None, UUID | None]:
    """CreateGroupVersion of both groups in one statement (call with both locked)."""
    columns: list[Any] = []
    for prefix, group in (("global_", global_group), ("toolset_", toolset_group)):
        if group is None:
            columns.append(literal(None, tool_variations_group_versions.c.id.type))
        else:
            captured = capture_group_version_of(group, prefix).subquery(f"{prefix}captured")
            columns.append(select(captured.c.id).scalar_subquery())
    row = (await conn.execute(select(*columns))).one()
    return row[0], row[1]


async def current_variation_ids(conn: AsyncConnection, group_id: UUID | None) -> list[UUID]:
    """The current variation ids of a group, in one statement (none for no group)."""
    if group_id is None:
        return []
    current = current_variations_of(group_id)
    return list((await conn.execute(select(current.c.id))).scalars())


def current_rows_of(
    group_id: UUID | ColumnElement[UUID], name: str, columns: Sequence[ColumnElement[Any]] | None = None
) -> CTE:
    """The group's current variations (`current_variations_of`) with the tool names they
    were made for, as a CTE: a statement that reads them for several purposes reads them
    once. `columns` (with `src_tool_urn` and `deleted`) instead of all of them: a read that
    needs a few, such as the ids of a group version or the names a check compares, carries
    and sorts rows a fraction as wide."""
    v = tool_variations
    wanted = (*VARIATION_COLUMNS, v.c.src_tool_name) if columns is None else columns
    latest = latest_versions(_as_group(group_id), columns=wanted, whole_group=True).subquery(f"{name}_latest")
    return select(latest).where(latest.c.deleted.is_(False)).cte(name)


def sync_changes(
    target_group: UUID | ColumnElement[UUID], source: Sequence[UUID] | UUID | ColumnElement[UUID] | CTE | None
) -> tuple[Any, CTE]:
    """Make a group's current variations equal to a given set of variation rows (ids, the
    current variations of a source group: a UUID or an expression, or those rows already
    read: a `current_rows_of` CTE; None: no rows), writing only the differences: a new
    version where a field differs or a tool is new, a tombstone where the target has a
    tool the source lacks. One INSERT, any size.

    Returns the INSERT and the target's latest versions before it (`tgt`, tombstones
    included), from which a caller can tell the group's current variations after it."""
    v = tool_variations
    target = _as_group(target_group)
    src: CTE
    if isinstance(source, CTE):
        src = source
    else:
        src_rows: ColumnElement[bool]
        if source is None:
            src_rows = false()
        elif isinstance(source, UUID | ColumnElement):
            src_rows = v.c.id.in_(select(current_variations_of(source, name="source").c.id))
        else:
            src_rows = v.c.id == func.any(literal(list(source), UUID_ARRAY))
        src = select(v).where(src_rows).cte("src")
    tgt = latest_versions(target, columns=(*VARIATION_COLUMNS, v.c.src_tool_name), whole_group=True).cte(
        "tgt"
    )
    source_fields = tuple_(*(src.c[f] for f in VARIATION_FIELDS))
    target_fields = tuple_(*(tgt.c[f] for f in VARIATION_FIELDS))
    changes = (
        select(
            target,
            func.coalesce(src.c.src_tool_urn, tgt.c.src_tool_urn),
            func.coalesce(src.c.src_tool_name, tgt.c.src_tool_name),
            func.coalesce(tgt.c.version, 0) + 1,
            tgt.c.id,
            case((src.c.id.is_(None), func.now())),
            *(src.c[f] for f in VARIATION_FIELDS),
        )
        .select_from(src.outerjoin(tgt, tgt.c.src_tool_urn == src.c.src_tool_urn, full=True))
        .where(
            or_(
                and_(src.c.id.is_(None), tgt.c.deleted.is_(False)),
                and_(
                    src.c.id.is_not(None),
                    or_(tgt.c.id.is_(None), tgt.c.deleted, source_fields.is_distinct_from(target_fields)),
                ),
            )
        )
        # Written in tool order: later reads of the group ("latest version per tool") then
        # sort rows that are already in order, which costs a fraction of a shuffled sort.
        .order_by(func.coalesce(src.c.src_tool_urn, tgt.c.src_tool_urn))
    )
    columns = ["group_id", "src_tool_urn", "src_tool_name", "version", "predecessor_id", "deleted_at"]
    return insert(v).from_select([*columns, *VARIATION_FIELDS], changes), tgt


def current_after_sync(tgt: CTE, synced: CTE, prefix: str = "") -> CTE:
    """One row, `ids`: the target group's current variation ids (by tool URN) once the rows
    `synced` (the sync's RETURNING id, src_tool_urn, deleted) are added to it: what
    `current_ids_of` reads after the sync, told inside the same statement (which does not
    see its own writes). The newest row per tool wins (a sort, never a join)."""
    rows = union_all(
        select(tgt.c.id, tgt.c.src_tool_urn, tgt.c.deleted, literal(0).label("newer")),
        select(synced.c.id, synced.c.src_tool_urn, synced.c.deleted, literal(1)),
    ).subquery(f"{prefix}both")
    latest = (
        select(rows.c.id, rows.c.src_tool_urn, rows.c.deleted)
        .ext(distinct_on(rows.c.src_tool_urn.collate("C")))
        .order_by(rows.c.src_tool_urn.collate("C"), rows.c.newer.desc())
        .subquery(f"{prefix}after_sync")
    )
    return select(
        func.coalesce(
            func.array_agg(aggregate_order_by(latest.c.id, latest.c.src_tool_urn.collate("C"))).filter(
                latest.c.deleted.is_(False)
            ),
            literal_column("'{}'::uuid[]"),
        ).label("ids")
    ).cte(f"{prefix}current_ids")


def _sync_group(target_group: UUID, source_ids: Sequence[UUID] | UUID) -> Any:
    return sync_changes(target_group, source_ids)[0]


async def sync_group_from(conn: AsyncConnection, target_group: UUID, source_group: UUID) -> int:
    """Bring a toolset's own group to the current variations of another group (publish: the
    staging copy's), in one statement. The caller holds the live toolset's row lock, which
    every writer of a toolset's own groups takes first, so the group needs no lock of its own."""
    result = await conn.execute(_sync_group(target_group, source_group))
    return result.rowcount


async def sync_group(conn: AsyncConnection, target_group: UUID, source_ids: Sequence[UUID]) -> int:
    """Bring `target_group` to exactly the variations `source_ids`; returns rows written."""
    await lock_group(conn, target_group)
    result = await conn.execute(_sync_group(target_group, source_ids))
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


async def find_group_version(conn: AsyncConnection, group_id: UUID, version: int) -> RowMapping | None:
    table = tool_variations_group_versions
    stmt = select(
        table.c.id, table.c.group_id, table.c.version, table.c.variation_ids, table.c.created_at
    ).where(table.c.group_id == group_id, table.c.version == version)
    return (await conn.execute(stmt)).mappings().one_or_none()
