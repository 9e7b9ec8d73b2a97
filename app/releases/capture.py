"""State capture: the three functions a release is made of.

Each runs inside the caller's transaction (the caller holds the live toolset's row
lock), captures by reference, reuses an identical earlier capture, and issues a
fixed number of statements whatever the number of tools or variations.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CTE,
    ColumnElement,
    ScalarSelect,
    Text,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import (
    prompt_templates,
    source_states,
    system_source_states,
    toolset_prompts,
    toolset_versions,
    toolsets,
)
from app.deployments.queries import active_deployment_id
from app.prompt_templates.queries import is_current_live
from app.toolsets.queries import latest_selection
from app.variations import queries as variation_queries


# Captured rows (source states, group versions) are shared by the toolsets of a project and
# reused by later captures. Pruning deletes those no release refers to; a capture that
# reused one at that moment would then point at a deleted row. So every capture holds the
# project's capture lock shared, and pruning holds it exclusively: they never overlap.
def capture_lock_key(project_id: UUID | ColumnElement[UUID]) -> ColumnElement[int]:
    """The advisory lock key of a project's captures."""
    return func.hashtextextended(literal("toolsets.capture:", Text) + cast(_project(project_id), Text), 0)


async def lock_captures_shared(conn: AsyncConnection, project_id: UUID) -> None:
    await conn.execute(select(func.pg_advisory_xact_lock_shared(capture_lock_key(project_id))))


async def lock_captures_exclusively(conn: AsyncConnection, project_id: UUID) -> None:
    await conn.execute(select(func.pg_advisory_xact_lock(capture_lock_key(project_id))))


_EMPTY_UUIDS: ColumnElement[Any] = literal_column("'{}'::uuid[]")
_EMPTY_TEXTS: ColumnElement[Any] = literal_column("'{}'::text[]")


def _project(project_id: UUID | ColumnElement[UUID]) -> ColumnElement[UUID]:
    if isinstance(project_id, UUID):
        return literal(project_id, source_states.c.project_id.type)
    return project_id


def _current_template_ids(project_id: UUID | ColumnElement[UUID]) -> ScalarSelect[Any]:
    """The ids of the project's current template revisions, sorted (equal sets compare equal)."""
    pt = prompt_templates
    return (
        select(func.coalesce(func.array_agg(aggregate_order_by(pt.c.id, pt.c.id)), _EMPTY_UUIDS))
        .where(pt.c.project_id == project_id, is_current_live())
        .scalar_subquery()
    )


def source_state_capture(
    project_id: UUID | ColumnElement[UUID], prefix: str = "", deployment_id: ColumnElement[UUID] | None = None
) -> Any:
    """CaptureSourceState in one statement: the source state of the project's active deployment
    (or of `deployment_id`, the active one as an earlier statement of the transaction read it)
    and current template revisions; an existing row with that content, else a new one.

    A concurrent capture may insert the same row after this statement's snapshot: the
    INSERT then meets it through the unique key, waits for it, and ON CONFLICT DO UPDATE
    (a no-op update) returns its id, where DO NOTHING would return nothing."""
    ss, sys_ = source_states, system_source_states
    project = _project(project_id)
    templates = select(_current_template_ids(project).label("ids")).cte(f"{prefix}templates")
    existing_system = (
        select(sys_.c.id)
        .where(sys_.c.project_id == project, sys_.c.prompt_template_ids == templates.c.ids)
        .order_by(sys_.c.created_at)
        .limit(1)
        .cte(f"{prefix}existing_system")
    )
    new_system = (
        insert(sys_)
        .from_select(
            ["project_id", "prompt_template_ids"],
            select(project, templates.c.ids).where(~exists(select(existing_system.c.id))),
        )
        .returning(sys_.c.id)
        .cte(f"{prefix}new_system")
    )
    system = union_all(select(existing_system.c.id), select(new_system.c.id)).cte(f"{prefix}system")
    deployment = active_deployment_id(project) if deployment_id is None else deployment_id
    existing = (
        select(ss.c.id)
        .where(
            ss.c.deployment_id.is_not_distinct_from(deployment),
            ss.c.system_source_state_id == select(system.c.id).scalar_subquery(),
        )
        .cte(f"{prefix}existing_source")
    )
    new = insert(ss).from_select(
        ["project_id", "deployment_id", "system_source_state_id"],
        select(project, deployment, system.c.id).where(~exists(select(existing.c.id))),
    )
    new = new.on_conflict_do_update(
        constraint="source_states_deployment_id_system_source_state_id_key",
        set_={"deployment_id": new.excluded.deployment_id},
    )
    inserted = new.returning(ss.c.id).cte(f"{prefix}new_source")
    return union_all(select(existing.c.id), select(inserted.c.id)).cte(f"{prefix}source_state")


async def capture_source_state(conn: AsyncConnection, project_id: UUID) -> UUID:
    """CaptureSourceState: the active deployment plus the current prompt template revisions."""
    captured = source_state_capture(project_id)
    source_state_id: UUID = (await conn.execute(select(captured.c.id))).scalar_one()
    return source_state_id


def toolset_state_capture(
    live_id: UUID | ColumnElement[UUID], source_id: UUID | ColumnElement[UUID], prefix: str = ""
) -> CTE:
    """CaptureToolsetState in one statement: a toolset_versions row of the live toolset holding
    the selection (its current one: `latest_selection`), metadata and attached prompt
    histories of `source_id` (the live row itself, or its staging copy at publish).

    Reuses the live toolset's latest version row when it already holds exactly that.
    Returns a CTE of one row: the row's `id` and `version`."""
    ts, tv, tp = toolsets, toolset_versions, toolset_prompts
    live = live_id if not isinstance(live_id, UUID) else literal(live_id, tv.c.toolset_id.type)
    selection = latest_selection(source_id).subquery(f"{prefix}source_selection")
    prompt_history_ids = (
        select(
            func.coalesce(
                func.array_agg(aggregate_order_by(tp.c.prompt_history_id, tp.c.prompt_history_id)),
                _EMPTY_UUIDS,
            )
        )
        .where(tp.c.toolset_id == ts.c.id)
        .scalar_subquery()
    )
    src = (
        select(
            ts.c.name,
            ts.c.description,
            func.coalesce(selection.c.tool_urns, _EMPTY_TEXTS).label("tool_urns"),
            func.coalesce(selection.c.resource_urns, _EMPTY_TEXTS).label("resource_urns"),
            prompt_history_ids.label("prompt_history_ids"),
        )
        .select_from(ts.outerjoin(selection, true()))
        .where(ts.c.id == source_id)
        .cte(f"{prefix}toolset_source")
    )
    last = latest_selection(live, tv.c.version, tv.c.name, tv.c.description, tv.c.prompt_history_ids).cte(
        f"{prefix}toolset_last"
    )
    same = (
        select(last.c.toolset_version_id.label("id"), last.c.version)
        .where(
            last.c.tool_urns == src.c.tool_urns,
            last.c.resource_urns == src.c.resource_urns,
            last.c.prompt_history_ids == src.c.prompt_history_ids,
            last.c.name.is_not_distinct_from(src.c.name),
            last.c.description.is_not_distinct_from(src.c.description),
        )
        .cte(f"{prefix}toolset_same")
    )
    inserted = (
        insert(tv)
        .from_select(
            [
                "toolset_id",
                "version",
                "tool_urns",
                "resource_urns",
                "predecessor_id",
                "name",
                "slug",
                "description",
                "prompt_history_ids",
            ],
            select(
                live,
                func.coalesce(select(last.c.version).scalar_subquery(), 0) + 1,
                src.c.tool_urns,
                src.c.resource_urns,
                select(last.c.toolset_version_id).scalar_subquery(),
                src.c.name,
                null(),
                src.c.description,
                src.c.prompt_history_ids,
            ).where(~exists(select(same.c.id))),
        )
        .returning(tv.c.id, tv.c.version)
        .cte(f"{prefix}toolset_inserted")
    )
    return union_all(select(inserted.c.id, inserted.c.version), select(same.c.id, same.c.version)).cte(
        f"{prefix}toolset_state"
    )


async def capture_toolset_state(conn: AsyncConnection, live_id: UUID, source_id: UUID) -> UUID:
    """CaptureToolsetState (see `toolset_state_capture`): the captured row's id."""
    captured = toolset_state_capture(live_id, source_id)
    version_id: UUID = (await conn.execute(select(captured.c.id))).scalar_one()
    return version_id


@dataclass(frozen=True, slots=True)
class VariationsState:
    global_version_id: UUID | None
    toolset_version_id: UUID | None


async def capture_variations_state(
    conn: AsyncConnection, project_id: UUID, toolset_group_id: UUID | None
) -> VariationsState:
    """CaptureVariationsState: a group version of the global group and of the toolset's own
    group, each reused when its group did not change since its latest group version.

    Two statements whatever the sizes: lock both groups, then capture both."""
    global_group = await variation_queries.lock_capture_groups(conn, project_id, toolset_group_id)
    global_version, toolset_version = await variation_queries.capture_group_versions(
        conn, global_group, toolset_group_id
    )
    return VariationsState(global_version_id=global_version, toolset_version_id=toolset_version)
