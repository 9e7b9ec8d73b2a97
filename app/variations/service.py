"""Variation use cases: the project's global group and each toolset's own group.

Every write is a new version (CreateVariationVersion); reads can go back to any
version (GetVariationAtVersion); CreateGroupVersion snapshots a group.
"""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import NotFound, Unprocessable
from app.kit.etag import check_if_match
from app.kit.pagination import encode_cursor
from app.projects.service import resolve_project
from app.serving.names import refuse_duplicate_names, refuse_duplicate_names_in_project
from app.toolsets import queries as toolset_queries
from app.toolsets.service import live_toolset, locked_live_toolset, staging_mode_refusal
from app.variations import queries
from app.variations.schemas import GroupVersion, Variation, VariationFields


class VariationNotFound(NotFound):
    code = "variation_not_found"


class GroupVersionNotFound(NotFound):
    code = "group_version_not_found"


class TooManyVariations(Unprocessable):
    code = "too_many_variations"


# A variations group (a project's global one, or a toolset's own) holds the variations of
# at most this many tools. Reads never touch variations of tools they do not serve, but
# capture and group versions are linear in a group's size, so it stays bounded.
MAX_TOOLS_PER_GROUP = 20_000


def as_variation(row: RowMapping) -> Variation:
    return Variation.model_validate({**row, "tool_urn": row["src_tool_urn"]})


async def write_variation(
    conn: AsyncConnection, project_id: UUID, group_id: UUID, tool_urn: str, fields: dict[str, Any] | None
) -> tuple[RowMapping, bool]:
    """Insert the next version of a tool's variation; `fields=None` writes a tombstone.

    Returns the variation and whether a version was written: an upsert identical to
    the current variation writes nothing, so retries are harmless.
    """
    await queries.lock_group(conn, group_id)
    previous = await queries.latest_variation(conn, group_id, tool_urn)
    current = previous if previous is not None and not previous["deleted"] else None
    if fields is None:
        if current is None:
            raise VariationNotFound(f"No variation of {tool_urn} to delete.")
        tool_name = await _tool_name(conn, project_id, tool_urn)
        row = await queries.insert_variation_version(
            conn, group_id, tool_urn, tool_name, previous, {}, tombstone=True
        )
        return row, True
    if current is not None and all(current[f] == fields.get(f) for f in queries.VARIATION_FIELDS):
        return current, False
    if current is None and await queries.count_current_variations(conn, group_id) >= MAX_TOOLS_PER_GROUP:
        raise TooManyVariations(
            f"This variations group already holds variations of {MAX_TOOLS_PER_GROUP:,} tools, the "
            "limit; delete variations of tools that are no longer deployed first."
        )
    tool_name = await _tool_name(conn, project_id, tool_urn)
    return await queries.insert_variation_version(conn, group_id, tool_urn, tool_name, previous, fields), True


async def _tool_name(conn: AsyncConnection, project_id: UUID, tool_urn: str) -> str:
    name = await toolset_queries.tool_name(conn, project_id, tool_urn)
    return name or tool_urn.rsplit(":", 1)[-1]


async def ensure_toolset_group(conn: AsyncConnection, toolset: Mapping[Any, Any]) -> UUID:
    """A toolset's own group is made on its first variation (call with the live row locked)."""
    group_id: UUID | None = toolset["tool_variations_group_id"]
    if group_id is None:
        group_id = await queries.insert_group(conn, toolset["project_id"], f"toolset:{toolset['slug']}")
        await toolset_queries.update_toolset(conn, toolset["id"], tool_variations_group_id=group_id)
    return group_id


VariationPage = tuple[list[Variation], str | None]


async def versions_of(
    conn: AsyncConnection, group_id: UUID | None, tool_urn: str, after: list[Any] | None, limit: int
) -> VariationPage:
    """A page of a tool's variation versions, newest first (cursor: version, deleted, id)."""
    position = (after[0], after[1], UUID(after[2])) if after else None
    rows = await queries.variation_versions(conn, group_id, tool_urn, position, limit + 1) if group_id else []
    if not rows and after is None:
        raise VariationNotFound(f"{tool_urn} has no variation here.")
    items = [as_variation(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return items, encode_cursor([last["version"], last["deleted"], str(last["id"])]) if last else None


async def at_version(conn: AsyncConnection, group_id: UUID | None, tool_urn: str, version: int) -> Variation:
    row = await queries.variation_at_version(conn, group_id, tool_urn, version) if group_id else None
    if row is None:
        raise VariationNotFound(f"{tool_urn} has no variation version {version} here.")
    return as_variation(row)


async def current_of(
    conn: AsyncConnection, group_id: UUID | None, after: list[Any] | None, limit: int
) -> VariationPage:
    """A page of a group's current variations by tool URN (cursor: the last URN)."""
    after_urn = after[0] if after else None
    rows = await queries.current_variations(conn, group_id, after_urn, limit + 1) if group_id else []
    items = [as_variation(r) for r in rows[:limit]]
    return items, encode_cursor([items[-1].tool_urn]) if len(rows) > limit else None


class VariationService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id

    async def _project_id(self, project: str) -> UUID:
        project_id: UUID = (await resolve_project(self.conn, self.org, project))["id"]
        return project_id

    # --- the project's global group ---

    async def list_global(self, project: str, after: list[Any] | None, limit: int) -> VariationPage:
        async with self.conn.begin():
            group_id = await queries.find_global_group(self.conn, await self._project_id(project))
            return await current_of(self.conn, group_id, after, limit)

    async def upsert_global(self, project: str, tool_urn: str, body: VariationFields) -> Variation:
        async with self.conn.begin():
            project_id = await self._project_id(project)
            group_id = await queries.find_global_group(self.conn, project_id)
            if group_id is None:
                group_id = await queries.create_global_group(self.conn, project_id)
            row, changed = await write_variation(self.conn, project_id, group_id, tool_urn, body.model_dump())
            if changed:
                await refuse_duplicate_names_in_project(self.conn, project_id)
        return as_variation(row)

    async def delete_global(self, project: str, tool_urn: str) -> None:
        async with self.conn.begin():
            project_id = await self._project_id(project)
            group_id = await queries.find_global_group(self.conn, project_id)
            if group_id is None:
                raise VariationNotFound(f"No variation of {tool_urn} to delete.")
            await write_variation(self.conn, project_id, group_id, tool_urn, None)
            # The tool's own name comes back: it may be another tool's served name.
            await refuse_duplicate_names_in_project(self.conn, project_id)

    async def global_versions(
        self, project: str, tool_urn: str, after: list[Any] | None, limit: int
    ) -> VariationPage:
        async with self.conn.begin():
            group_id = await queries.find_global_group(self.conn, await self._project_id(project))
            return await versions_of(self.conn, group_id, tool_urn, after, limit)

    async def global_at_version(self, project: str, tool_urn: str, version: int) -> Variation:
        async with self.conn.begin():
            group_id = await queries.find_global_group(self.conn, await self._project_id(project))
            return await at_version(self.conn, group_id, tool_urn, version)

    async def create_global_group_version(self, project: str) -> GroupVersion:
        async with self.conn.begin():
            project_id = await self._project_id(project)
            group_id = await queries.find_global_group(self.conn, project_id)
            if group_id is None:
                group_id = await queries.create_global_group(self.conn, project_id)
            row = await queries.capture_group_version(self.conn, group_id)
        return GroupVersion.model_validate(row)

    async def global_group_version(self, project: str, version: int) -> GroupVersion:
        async with self.conn.begin():
            group_id = await queries.find_global_group(self.conn, await self._project_id(project))
            row = None if group_id is None else await queries.find_group_version(self.conn, group_id, version)
        if row is None:
            raise GroupVersionNotFound(
                f"Project '{project}' has no global group version {version}; "
                f"POST /v1/projects/{project}/variations/group-versions makes one.",
                hint=f"POST /v1/projects/{project}/variations/group-versions",
            )
        return GroupVersion.model_validate({**row, "created": False})

    # --- a toolset's own group ---

    async def _toolset(self, project: str, slug: str, *, lock: bool) -> RowMapping:
        find = locked_live_toolset if lock else live_toolset
        return await find(self.conn, self.org, project, slug)

    async def list_toolset(
        self, project: str, slug: str, after: list[Any] | None, limit: int
    ) -> VariationPage:
        async with self.conn.begin():
            toolset = await self._toolset(project, slug, lock=False)
            return await current_of(self.conn, toolset["tool_variations_group_id"], after, limit)

    async def write_toolset(
        self, project: str, slug: str, tool_urn: str, body: VariationFields | None, if_match: str | None
    ) -> tuple[Variation, int]:
        """Upsert (body) or delete (None) a variation of a toolset in iteration mode. Returns the
        variation version and the toolset's version (its ETag) after the write."""
        async with self.conn.begin():
            toolset = await self._toolset(project, slug, lock=True)
            check_if_match(if_match, toolset["version"])
            if toolset["editing_mode"] == "staging":
                raise staging_mode_refusal(project, slug)
            if body is None and toolset["tool_variations_group_id"] is None:
                raise VariationNotFound(f"No variation of {tool_urn} to delete.")
            group_id = await ensure_toolset_group(self.conn, toolset)
            fields = body.model_dump() if body is not None else None
            row, changed = await write_variation(self.conn, toolset["project_id"], group_id, tool_urn, fields)
            version: int = toolset["version"]
            if changed:
                await refuse_duplicate_names(self.conn, [toolset["id"]])
                version = await toolset_queries.next_history_version(self.conn, toolset["id"])
                await toolset_queries.update_toolset(self.conn, toolset["id"], version=version)
        return as_variation(row), version

    async def toolset_versions(
        self, project: str, slug: str, tool_urn: str, after: list[Any] | None, limit: int
    ) -> VariationPage:
        async with self.conn.begin():
            toolset = await self._toolset(project, slug, lock=False)
            return await versions_of(self.conn, toolset["tool_variations_group_id"], tool_urn, after, limit)

    async def toolset_at_version(self, project: str, slug: str, tool_urn: str, version: int) -> Variation:
        async with self.conn.begin():
            toolset = await self._toolset(project, slug, lock=False)
            return await at_version(self.conn, toolset["tool_variations_group_id"], tool_urn, version)


async def variation_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> VariationService:
    return VariationService(conn, principal)
