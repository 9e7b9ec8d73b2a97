"""State capture: the three functions a release is made of.

Each runs inside the caller's transaction (the caller holds the live toolset's row
lock), captures by reference, reuses an identical earlier capture, and issues a
fixed number of statements whatever the number of tools or variations.
"""

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.variations import queries as variation_queries

_CAPTURE_SOURCE_STATE = text(
    """
    WITH deployment AS (
        SELECT id FROM deployments
        WHERE project_id = :project_id AND status = 'completed'
        ORDER BY seq DESC LIMIT 1
    ),
    templates AS (
        SELECT coalesce(array_agg(p.id ORDER BY p.id), '{}'::uuid[]) AS ids
        FROM prompt_templates p
        WHERE p.project_id = :project_id AND NOT p.deleted
          AND NOT EXISTS (SELECT 1 FROM prompt_templates s WHERE s.predecessor_id = p.id)
    ),
    existing_system AS (
        SELECT s.id FROM system_source_states s, templates
        WHERE s.project_id = :project_id AND s.prompt_template_ids = templates.ids
        ORDER BY s.created_at LIMIT 1
    ),
    new_system AS (
        INSERT INTO system_source_states (project_id, prompt_template_ids)
        SELECT :project_id, templates.ids FROM templates
        WHERE NOT EXISTS (SELECT 1 FROM existing_system)
        RETURNING id
    ),
    system AS (
        SELECT id FROM existing_system UNION ALL SELECT id FROM new_system
    ),
    inserted AS (
        INSERT INTO source_states (project_id, deployment_id, system_source_state_id)
        SELECT :project_id, (SELECT id FROM deployment), system.id FROM system
        ON CONFLICT ON CONSTRAINT source_states_deployment_id_system_source_state_id_key DO NOTHING
        RETURNING id
    )
    SELECT id FROM inserted
    UNION ALL
    SELECT ss.id FROM source_states ss, system
    WHERE ss.deployment_id IS NOT DISTINCT FROM (SELECT id FROM deployment)
      AND ss.system_source_state_id = system.id
      AND NOT EXISTS (SELECT 1 FROM inserted)
    """
)

# A source state made by a concurrent transaction that committed after this
# statement's snapshot: ON CONFLICT skipped it, so read it with a fresh snapshot.
_FIND_SOURCE_STATE = text(
    """
    SELECT ss.id FROM source_states ss
    JOIN system_source_states sys ON sys.id = ss.system_source_state_id
    WHERE ss.project_id = :project_id
      AND ss.deployment_id IS NOT DISTINCT FROM (
          SELECT id FROM deployments WHERE project_id = :project_id AND status = 'completed'
          ORDER BY seq DESC LIMIT 1)
      AND sys.prompt_template_ids = (
          SELECT coalesce(array_agg(p.id ORDER BY p.id), '{}'::uuid[]) FROM prompt_templates p
          WHERE p.project_id = :project_id AND NOT p.deleted
            AND NOT EXISTS (SELECT 1 FROM prompt_templates s WHERE s.predecessor_id = p.id))
    LIMIT 1
    """
)


async def capture_source_state(conn: AsyncConnection, project_id: UUID) -> UUID:
    """CaptureSourceState: the active deployment plus the current prompt template revisions."""
    params = {"project_id": project_id}
    source_state_id: UUID | None = (await conn.execute(_CAPTURE_SOURCE_STATE, params)).scalar_one_or_none()
    if source_state_id is None:
        source_state_id = (await conn.execute(_FIND_SOURCE_STATE, params)).scalar_one()
    return source_state_id


_CAPTURE_TOOLSET_STATE = text(
    """
    WITH src AS (
        SELECT ts.name, ts.slug, ts.description,
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
          AND last.slug IS NOT DISTINCT FROM src.slug
          AND last.description IS NOT DISTINCT FROM src.description
    ),
    inserted AS (
        INSERT INTO toolset_versions
            (toolset_id, version, tool_urns, resource_urns, predecessor_id,
             name, slug, description, prompt_history_ids)
        SELECT :live_id, coalesce((SELECT version FROM last), 0) + 1, src.tool_urns, src.resource_urns,
               (SELECT id FROM last), src.name, src.slug, src.description, src.prompt_history_ids
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
    group, each reused when its group did not change since its latest group version."""
    global_group = await variation_queries.find_global_group(conn, project_id)
    global_version = (
        await variation_queries.capture_group_version(conn, global_group) if global_group else None
    )
    toolset_version = (
        await variation_queries.capture_group_version(conn, toolset_group_id) if toolset_group_id else None
    )
    return VariationsState(
        global_version_id=global_version["id"] if global_version else None,
        toolset_version_id=toolset_version["id"] if toolset_version else None,
    )
