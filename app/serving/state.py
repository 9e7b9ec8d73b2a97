"""The effective toolset: what an MCP client of a toolset sees, in one statement.

Both reads share one body and differ only in where the references come from:

- *current* state (a toolset in iteration mode, or a staging copy): the project's
  active deployment, the current variations of the global and the toolset's own
  group, the current revision of each attached prompt template;
- *release* state: exactly what the release points at (its source state, toolset
  version and group versions), so it never changes after publication.

Tools are the deployment's definitions filtered by the selected URNs, with global
then toolset variations applied field by field (NULL inherits).
"""

import json
from typing import Any
from uuid import UUID

from cachetools import LRUCache
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.toolsets.schemas import EffectiveToolset

_CURRENT_IDS_OF_GROUP = """
    (SELECT coalesce(array_agg(l.id), '{{}}'::uuid[])
     FROM (SELECT DISTINCT ON (v.src_tool_urn) v.id, v.deleted
           FROM tool_variations v WHERE v.group_id = {group}
           ORDER BY v.src_tool_urn, v.version DESC, v.deleted ASC) l
     WHERE NOT l.deleted)
"""

CURRENT_REFS = f"""
    SELECT ts.name, ts.slug, ts.description, NULL::bigint AS release_number,
           (SELECT d.id FROM deployments d
            WHERE d.project_id = ts.project_id AND d.status = 'completed'
            ORDER BY d.seq DESC LIMIT 1) AS deployment_id,
           coalesce(sel.tool_urns, '{{}}') AS tool_urns,
           coalesce(sel.resource_urns, '{{}}') AS resource_urns,
           {_CURRENT_IDS_OF_GROUP.format(group="ptv.group_id")} AS global_ids,
           {_CURRENT_IDS_OF_GROUP.format(group="ts.tool_variations_group_id")} AS toolset_ids,
           (SELECT coalesce(array_agg(p.id), '{{}}'::uuid[])
            FROM prompt_templates p
            JOIN toolset_prompts tp ON tp.toolset_id = ts.id AND tp.prompt_history_id = p.history_id
            WHERE NOT p.deleted
              AND NOT EXISTS (SELECT 1 FROM prompt_templates s WHERE s.predecessor_id = p.id)
           ) AS template_ids
    FROM toolsets ts
    LEFT JOIN project_tool_variations ptv ON ptv.project_id = ts.project_id
    LEFT JOIN LATERAL (
        SELECT tool_urns, resource_urns FROM toolset_versions
        WHERE toolset_id = ts.id ORDER BY version DESC LIMIT 1
    ) sel ON true
    WHERE ts.id = :id
"""

RELEASE_REFS = """
    SELECT tv.name, tv.slug, tv.description, r.release_number,
           ss.deployment_id,
           tv.tool_urns,
           tv.resource_urns,
           coalesce(gv.variation_ids, '{}'::uuid[]) AS global_ids,
           coalesce(sv.variation_ids, '{}'::uuid[]) AS toolset_ids,
           (SELECT coalesce(array_agg(p.id), '{}'::uuid[])
            FROM prompt_templates p
            WHERE p.id = ANY(sss.prompt_template_ids) AND p.history_id = ANY(tv.prompt_history_ids)
           ) AS template_ids
    FROM toolset_releases r
    JOIN toolset_versions tv ON tv.id = r.toolset_version_id
    JOIN source_states ss ON ss.id = r.source_state_id
    JOIN system_source_states sss ON sss.id = ss.system_source_state_id
    LEFT JOIN tool_variations_group_versions gv ON gv.id = r.global_variations_version_id
    LEFT JOIN tool_variations_group_versions sv ON sv.id = r.toolset_variations_version_id
    WHERE r.id = :id
"""

_FIELDS = ("name", "summary", "description", "tags", "title", "confirm", "confirm_prompt", "summarizer")
_HINTS = ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint")


def _layered(field: str, base: str | None) -> str:
    """Toolset variation, then global variation, then the tool's own value."""
    parts = [f"sv.{field}", f"gv.{field}"] + ([f"t.{base}"] if base else [])
    return f"coalesce({', '.join(parts)})"


_TOOL_OBJECT = ", ".join(
    [
        "'urn', t.tool_urn",
        f"'name', {_layered('name', 'name')}",
        f"'summary', {_layered('summary', 'summary')}",
        f"'description', {_layered('description', 'description')}",
        "'input_schema', t.input_schema",
        "'http_method', t.http_method",
        "'path', t.path",
        f"'tags', to_jsonb({_layered('tags', 'tags')})",
        f"'title', {_layered('title', None)}",
        f"'confirm', {_layered('confirm', None)}",
        f"'confirm_prompt', {_layered('confirm_prompt', None)}",
        f"'summarizer', {_layered('summarizer', None)}",
        *(f"'{h}', {_layered(h, h)}" for h in _HINTS),
    ]
)

_STATE_BODY = f"""
    , gv AS (SELECT v.* FROM tool_variations v, refs WHERE v.id = ANY(refs.global_ids))
    , sv AS (SELECT v.* FROM tool_variations v, refs WHERE v.id = ANY(refs.toolset_ids))
    SELECT refs.name, refs.slug, refs.description, refs.release_number,
      (SELECT coalesce(jsonb_agg(jsonb_build_object({_TOOL_OBJECT}) ORDER BY t.tool_urn), '[]')
       FROM http_tool_definitions t
       LEFT JOIN gv ON gv.src_tool_urn = t.tool_urn
       LEFT JOIN sv ON sv.src_tool_urn = t.tool_urn
       WHERE t.deployment_id = refs.deployment_id AND t.tool_urn = ANY(refs.tool_urns)) AS tools,
      (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'urn', r.resource_urn, 'name', r.name, 'uri', r.uri,
                'description', r.description, 'mime_type', r.mime_type) ORDER BY r.resource_urn), '[]')
       FROM resource_definitions r
       WHERE r.deployment_id = refs.deployment_id AND r.resource_urn = ANY(refs.resource_urns)) AS resources,
      (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'name', p.name, 'description', p.description,
                'prompt', p.prompt, 'arguments', p.arguments) ORDER BY p.name), '[]')
       FROM prompt_templates p WHERE p.id = ANY(refs.template_ids)) AS prompts
    FROM refs
"""

_CURRENT_STATE = text(f"WITH refs AS ({CURRENT_REFS}) {_STATE_BODY}")
_RELEASE_STATE = text(f"WITH refs AS ({RELEASE_REFS}) {_STATE_BODY}")


def _as_dict(row: Any) -> dict[str, Any]:
    state = dict(row)
    for key in ("tools", "resources", "prompts"):
        if isinstance(state[key], str):  # asyncpg hands jsonb back as text without a codec
            state[key] = json.loads(state[key])
    return state


async def current_state(conn: AsyncConnection, toolset_id: UUID) -> dict[str, Any]:
    """The effective state computed from current data (iteration mode, staging copies)."""
    row = (await conn.execute(_CURRENT_STATE, {"id": toolset_id})).mappings().one()
    return _as_dict(row)


async def release_state(conn: AsyncConnection, release_id: UUID) -> dict[str, Any]:
    """The effective state exactly as a release published it."""
    row = (await conn.execute(_RELEASE_STATE, {"id": release_id})).mappings().one()
    return _as_dict(row)


# A release's state never changes, so its serialised form is kept per process,
# keyed by release id; nothing ever needs invalidating. Bounded: least recently used go.
RELEASE_STATE_CACHE_SIZE = 1024
_release_json: LRUCache[UUID, bytes] = LRUCache(maxsize=RELEASE_STATE_CACHE_SIZE)


def cached_release_json(release_id: UUID) -> bytes | None:
    return _release_json.get(release_id)


async def release_state_json(conn: AsyncConnection, release_id: UUID) -> bytes:
    cached = _release_json.get(release_id)
    if cached is None:
        state = EffectiveToolset.model_validate(await release_state(conn, release_id))
        cached = _release_json[release_id] = state.model_dump_json().encode()
    return cached


async def served_state_json(conn: AsyncConnection, live: Any) -> bytes:
    """The served state, serialised: the hot read path (a cache hit in staging mode)."""
    if live["editing_mode"] == "staging" and live["current_release_id"] is not None:
        return await release_state_json(conn, live["current_release_id"])
    return EffectiveToolset.model_validate(await current_state(conn, live["id"])).model_dump_json().encode()


async def served_state(conn: AsyncConnection, live: Any) -> dict[str, Any]:
    """What the live toolset's clients see: its current release in staging mode, else current data."""
    if live["editing_mode"] == "staging" and live["current_release_id"] is not None:
        return await release_state(conn, live["current_release_id"])
    return await current_state(conn, live["id"])
