"""Every statement of retention: which releases go, and the captured rows that go with them.

Each statement is set-based. They run in order, each seeing the previous one's deletions:
releases first, then what only they referred to.
"""

from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Beyond the newest `keep` releases (by number), and none that is current, named, labelled
# or held by a project snapshot.
_DELETE_RELEASES = text(
    """
    DELETE FROM toolset_releases r
    USING toolsets t
    WHERE t.id = :toolset_id AND r.toolset_id = t.id
      AND r.release_number < coalesce((
          SELECT min(newest.release_number) FROM (
              SELECT release_number FROM toolset_releases WHERE toolset_id = :toolset_id
              ORDER BY release_number DESC LIMIT :keep) newest), 0)
      AND r.id IS DISTINCT FROM t.current_release_id
      AND r.name IS NULL
      AND NOT EXISTS (SELECT 1 FROM release_labels l WHERE l.release_id = r.id)
      AND NOT EXISTS (SELECT 1 FROM project_snapshot_toolsets s WHERE s.release_id = r.id)
    RETURNING r.release_number, r.toolset_version_id, r.source_state_id,
              r.global_variations_version_id, r.toolset_variations_version_id
    """
)

# A toolset version is also the toolset's selection history: its newest version is the live
# selection, so it stays whatever refers to it.
_DELETE_TOOLSET_VERSIONS = text(
    """
    DELETE FROM toolset_versions v
    WHERE v.id = ANY(:ids)
      AND NOT EXISTS (SELECT 1 FROM toolset_releases r WHERE r.toolset_version_id = v.id)
      AND v.version < (SELECT max(n.version) FROM toolset_versions n WHERE n.toolset_id = v.toolset_id)
    """
)

# A group's newest version stays: capture reuses it while the group is unchanged.
_DELETE_GROUP_VERSIONS = text(
    """
    DELETE FROM tool_variations_group_versions g
    WHERE g.id = ANY(:ids)
      AND NOT EXISTS (SELECT 1 FROM toolset_releases r WHERE r.global_variations_version_id = g.id)
      AND NOT EXISTS (SELECT 1 FROM toolset_releases r WHERE r.toolset_variations_version_id = g.id)
      AND g.version < (SELECT max(n.version) FROM tool_variations_group_versions n
                       WHERE n.group_id = g.group_id)
    """
)

_DELETE_SOURCE_STATES = text(
    """
    DELETE FROM source_states s
    WHERE s.id = ANY(:ids)
      AND NOT EXISTS (SELECT 1 FROM toolset_releases r WHERE r.source_state_id = s.id)
    RETURNING s.system_source_state_id
    """
)

_DELETE_SYSTEM_SOURCE_STATES = text(
    """
    DELETE FROM system_source_states x
    WHERE x.id = ANY(:ids)
      AND NOT EXISTS (SELECT 1 FROM source_states s WHERE s.system_source_state_id = x.id)
    """
)


def _ids(rows: list[Any], *columns: str) -> list[UUID]:
    return sorted({row[c] for row in rows for c in columns if row[c] is not None})


async def prune(conn: AsyncConnection, toolset_id: UUID, keep: int) -> tuple[list[int], dict[str, int]]:
    """Delete the toolset's prunable releases and the captured rows only they referred to.

    Returns the release numbers deleted and how many rows went from each capture table.
    The caller holds the toolset's row lock and the project's capture lock (exclusive).
    """
    releases = list(
        (await conn.execute(_DELETE_RELEASES, {"toolset_id": toolset_id, "keep": keep})).mappings()
    )
    versions = await conn.execute(_DELETE_TOOLSET_VERSIONS, {"ids": _ids(releases, "toolset_version_id")})
    groups = await conn.execute(
        _DELETE_GROUP_VERSIONS,
        {"ids": _ids(releases, "global_variations_version_id", "toolset_variations_version_id")},
    )
    sources = list(
        (await conn.execute(_DELETE_SOURCE_STATES, {"ids": _ids(releases, "source_state_id")})).mappings()
    )
    systems = await conn.execute(
        _DELETE_SYSTEM_SOURCE_STATES, {"ids": _ids(sources, "system_source_state_id")}
    )
    counts = {
        "toolset_releases": len(releases),
        "toolset_versions": versions.rowcount,
        "tool_variations_group_versions": groups.rowcount,
        "source_states": len(sources),
        "system_source_states": systems.rowcount,
    }
    return sorted(r["release_number"] for r in releases), counts
