"""Tool names are unique within a served state (SPEC section 6): MCP clients call tools by name.

A write that would make two tools of a state computed from current data share a name is
refused in its own transaction. Which states a write can change:

- the toolset it edits (its selection or own variations), live or staging copy;
- for a global variation or a new deployment: every state of the project computed from
  current data (iteration-mode toolsets and staging copies);
- a capture (createRelease, publish, the switch to staging mode) checks the state it is
  about to capture, so no release ever serves two tools with one name.

One statement for any number of toolsets, built on the served state's own references
(`state.CURRENT_REFS`), so the names checked are exactly the names served.
"""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.errors import Conflict
from app.serving import state

MAX_REPORTED = 10

_DUPLICATES = text(
    f"""
    SELECT named.toolset_id, named.name, array_agg(named.urn ORDER BY named.urn) AS urns
    FROM unnest(CAST(:ids AS uuid[])) AS target(id)
    CROSS JOIN LATERAL (
        WITH refs AS ({state.CURRENT_REFS.replace(":id", "target.id")})
        , gv AS (SELECT v.src_tool_urn, v.name
                 FROM tool_variations v, refs WHERE v.id = ANY(refs.global_ids))
        , sv AS (SELECT v.src_tool_urn, v.name
                 FROM tool_variations v, refs WHERE v.id = ANY(refs.toolset_ids))
        SELECT target.id AS toolset_id, coalesce(sv.name, gv.name, t.name) AS name, t.tool_urn AS urn
        FROM refs
        JOIN http_tool_definitions t
          ON t.deployment_id = refs.deployment_id AND t.tool_urn = ANY(refs.tool_urns)
        LEFT JOIN gv ON gv.src_tool_urn = t.tool_urn
        LEFT JOIN sv ON sv.src_tool_urn = t.tool_urn
    ) AS named
    GROUP BY named.toolset_id, named.name
    HAVING count(*) > 1
    ORDER BY named.name
    """
)

_CURRENT_DATA_TOOLSETS = text(
    """
    SELECT id FROM toolsets
    WHERE project_id = :project_id AND (parent_toolset_id IS NOT NULL OR editing_mode = 'iteration')
    """
)


class DuplicateToolNames(Conflict):
    code = "duplicate_tool_names"
    title = "Tool names would collide"


async def refuse_duplicate_names(conn: AsyncConnection, toolset_ids: Sequence[UUID]) -> None:
    """409 when the current state of any of these toolset rows serves two tools with one name."""
    if not toolset_ids:
        return
    rows = (await conn.execute(_DUPLICATES, {"ids": list(toolset_ids)})).mappings().all()
    if not rows:
        return
    duplicates = [{"name": r["name"], "tool_urns": list(r["urns"])} for r in rows[:MAX_REPORTED]]
    listed = "; ".join(f"{d['name']} ({', '.join(d['tool_urns'][:3])})" for d in duplicates)
    raise DuplicateToolNames(
        f"Two served tools would share a name, which MCP clients cannot tell apart: {listed}. "
        "Rename one with a variation (`name`) or leave one out of the selection.",
        duplicates=duplicates,
        duplicate_count=len(rows),
    )


async def refuse_duplicate_names_in_project(conn: AsyncConnection, project_id: UUID) -> None:
    """The same for every state of the project computed from current data: after a write
    that changes all of them (a global variation, a new deployment)."""
    ids = list((await conn.execute(_CURRENT_DATA_TOOLSETS, {"project_id": project_id})).scalars())
    await refuse_duplicate_names(conn, ids)
