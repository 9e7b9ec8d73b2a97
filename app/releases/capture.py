"""State capture: the three functions a release is made of.

Each runs inside the caller's transaction (the caller holds the live toolset's row
lock), captures by reference, reuses an identical earlier capture, and issues a
fixed number of statements whatever the number of tools or variations.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    exists,
    func,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import prompt_templates, source_states, system_source_states
from app.deployments.queries import active_deployment_id
from app.prompt_templates.queries import is_current_live
from app.variations import queries as variation_queries

# Captured rows (source states, group versions) are shared by the toolsets of a project and
# reused by later captures. Pruning deletes those no release refers to; a capture that
# reused one at that moment would then point at a deleted row. So every capture holds the
# project's capture lock shared, and pruning holds it exclusively: they never overlap.
_CAPTURE_LOCK_KEY = "hashtextextended('toolsets.capture:' || CAST(:project_id AS text), 0)"
_LOCK_SHARED = text(f"SELECT pg_advisory_xact_lock_shared({_CAPTURE_LOCK_KEY})")
_LOCK_EXCLUSIVE = text(f"SELECT pg_advisory_xact_lock({_CAPTURE_LOCK_KEY})")


async def lock_captures_shared(conn: AsyncConnection, project_id: UUID) -> None:
    await conn.execute(_LOCK_SHARED, {"project_id": str(project_id)})


async def lock_captures_exclusively(conn: AsyncConnection, project_id: UUID) -> None:
    await conn.execute(_LOCK_EXCLUSIVE, {"project_id": str(project_id)})


_EMPTY_UUIDS: ColumnElement[Any] = literal_column("'{}'::uuid[]")


def _current_template_ids(project_id: UUID) -> ScalarSelect[Any]:
    """The ids of the project's current template revisions, sorted (equal sets compare equal)."""
    pt = prompt_templates
    return (
        select(func.coalesce(func.array_agg(aggregate_order_by(pt.c.id, pt.c.id)), _EMPTY_UUIDS))
        .where(pt.c.project_id == project_id, is_current_live())
        .scalar_subquery()
    )


def _capture_source_state(project_id: UUID) -> Any:
    """The source state of the active deployment and the current template revisions: an
    existing row with that content, else a new one, in one statement."""
    ss, sys_ = source_states, system_source_states
    project = literal(project_id, ss.c.project_id.type)
    templates = select(_current_template_ids(project_id).label("ids")).cte("templates")
    existing_system = (
        select(sys_.c.id)
        .where(sys_.c.project_id == project_id, sys_.c.prompt_template_ids == templates.c.ids)
        .order_by(sys_.c.created_at)
        .limit(1)
        .cte("existing_system")
    )
    new_system = (
        insert(sys_)
        .from_select(
            ["project_id", "prompt_template_ids"],
            select(project, templates.c.ids).where(~exists(select(existing_system.c.id))),
        )
        .returning(sys_.c.id)
        .cte("new_system")
    )
    system = union_all(select(existing_system.c.id), select(new_system.c.id)).cte("system")
    deployment = active_deployment_id(project_id)
    inserted = (
        insert(ss)
        .from_select(
            ["project_id", "deployment_id", "system_source_state_id"],
            select(project, deployment, system.c.id),
        )
        .on_conflict_do_nothing(constraint="source_states_deployment_id_system_source_state_id_key")
        .returning(ss.c.id)
        .cte("inserted")
    )
    existing = select(ss.c.id).where(
        ss.c.deployment_id.is_not_distinct_from(deployment),
        ss.c.system_source_state_id == system.c.id,
        ~exists(select(inserted.c.id)),
    )
    return select(inserted.c.id).union_all(existing)


def _find_source_state(project_id: UUID) -> Any:
    """A source state made by a concurrent transaction that committed after the capture's
    snapshot: ON CONFLICT skipped it, so read it with a fresh snapshot."""
    ss, sys_ = source_states, system_source_states
    return (
        select(ss.c.id)
        .join(sys_, sys_.c.id == ss.c.system_source_state_id)
        .where(
            ss.c.project_id == project_id,
            ss.c.deployment_id.is_not_distinct_from(active_deployment_id(project_id)),
            sys_.c.prompt_template_ids == _current_template_ids(project_id),
        )
        .limit(1)
    )


async def capture_source_state(conn: AsyncConnection, project_id: UUID) -> UUID:
    """CaptureSourceState: the active deployment plus the current prompt template revisions."""
    source_state_id: UUID | None = (
        await conn.execute(_capture_source_state(project_id))
    ).scalar_one_or_none()
    if source_state_id is None:
        source_state_id = (await conn.execute(_find_source_state(project_id))).scalar_one()
    return source_state_id


_CAPTURE_TOOLSET_STATE = text(
    """
    WITH src AS (
        SELECT ts.name, ts.description,
               coalesce(sel.tool_urns, '{}') AS tool_urns,
               coalesce(sel.resource_urns, '{}') AS resource_urns,
               (SELECT coalesce(array_agg(tp.prompt_history_id ORDER BY tp.prompt_history_id), '{}'::uuid[])
                FROM toolset_prompts tp WHERE tp.toolset_id = ts.id) AS prompt_history_ids
        FROM toolsets ts
        LEFT JOIN LATERAL (
            SELECT tool_urns, resource_urns FROM toolset_versions
            WHERE toolset_id = ts.id ORDER BY version DESC LIMIT 1
        ) sel ON true
        WHERE ts.id = :source_id
    ),
    last AS (
        SELECT * FROM toolset_versions WHERE toolset_id = :live_id ORDER BY version DESC LIMIT 1
    ),
    same AS (
        SELECT last.id FROM last, src
        WHERE last.tool_urns = src.tool_urns
          AND last.resource_urns = src.resource_urns
          AND last.prompt_history_ids = src.prompt_history_ids
          AND last.name IS NOT DISTINCT FROM src.name
          AND last.description IS NOT DISTINCT FROM src.description
    ),
    inserted AS (
        INSERT INTO toolset_versions
            (toolset_id, version, tool_urns, resource_urns, predecessor_id,
             name, slug, description, prompt_history_ids)
        SELECT :live_id, coalesce((SELECT version FROM last), 0) + 1, src.tool_urns, src.resource_urns,
               (SELECT id FROM last), src.name, NULL, src.description, src.prompt_history_ids
        FROM src
        WHERE NOT EXISTS (SELECT 1 FROM same)
        RETURNING id
    )
    SELECT id FROM inserted UNION ALL SELECT id FROM same
    """
)


async def capture_toolset_state(conn: AsyncConnection, live_id: UUID, source_id: UUID) -> UUID:
    """CaptureToolsetState: a toolset_versions row of the live toolset holding the selection
    and metadata of `source_id` (the live row itself, or its staging copy at publish).

    Reuses the live toolset's latest version row when it already holds exactly that.
    """
    params = {"live_id": live_id, "source_id": source_id}
    version_id: UUID = (await conn.execute(_CAPTURE_TOOLSET_STATE, params)).scalar_one()
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
