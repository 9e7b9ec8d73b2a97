"""Tool names are unique within a served state (SPEC section 6): MCP clients call tools by name.

A write that would make two tools of a state computed from current data share a name is
refused in its own transaction. Which states a write can change:

- the toolset it edits (its selection or own variations), live or staging copy;
- for a global variation or a new deployment: every state of the project computed from
  current data (iteration-mode toolsets and staging copies);
- a capture (createRelease, publish, the switch to staging mode) checks the state it is
  about to capture, so no release ever serves two tools with one name.

One statement for any number of toolsets, and the names checked are exactly the names
served: it runs the served-state statement's own definitions, names only
(`state.duplicate_names`), for each toolset, laterally.
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.errors import Conflict
from app.serving import state

MAX_REPORTED = 10
_PLACEHOLDER = UUID(int=0xF00D)  # rendered as a literal, then replaced by the lateral column


def _duplicates_statement() -> str:
    duplicates = state.explainable("names", _PLACEHOLDER)
    assert duplicates.count(f"'{_PLACEHOLDER}'") == 1, "the statement names its toolset once"
    duplicates = duplicates.replace(f"'{_PLACEHOLDER}'", "target.id")
    return f"""
    SELECT target.id AS toolset_id, duplicate.name, duplicate.urns
    FROM unnest(CAST(:ids AS uuid[])) AS target(id)
    CROSS JOIN LATERAL ({duplicates}) AS duplicate
    ORDER BY 2
    """


_DUPLICATES = text(_duplicates_statement())

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
    if rows:
        raise refusal([{"name": r["name"], "tool_urns": list(r["urns"])} for r in rows])


def refusal(duplicates: Sequence[dict[str, Any]]) -> DuplicateToolNames:
    """The 409 for these shared names (each `{name, tool_urns}`), the first few listed."""
    shown = list(duplicates[:MAX_REPORTED])
    listed = "; ".join(f"{d['name']} ({', '.join(d['tool_urns'][:3])})" for d in shown)
    return DuplicateToolNames(
        f"Two served tools would share a name, which MCP clients cannot tell apart: {listed}. "
        "Rename one with a variation (`name`) or leave one out of the selection.",
        duplicates=shown,
        duplicate_count=len(duplicates),
    )


async def refuse_duplicate_names_in_project(conn: AsyncConnection, project_id: UUID) -> None:
    """The same for every state of the project computed from current data: after a write
    that changes all of them (a global variation, a new deployment)."""
    ids = list((await conn.execute(_CURRENT_DATA_TOOLSETS, {"project_id": project_id})).scalars())
    await refuse_duplicate_names(conn, ids)
