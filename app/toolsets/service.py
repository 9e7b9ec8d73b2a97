"""Toolset use cases: create, read, edit and delete live toolsets (what they serve: `app.serving`)."""

import re
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict, NotFound, Unprocessable, violated_constraint
from app.kit.etag import check_if_match
from app.kit.pagination import encode_cursor
from app.projects.service import resolve_project
from app.releases import queries as release_queries
from app.serving.names import refuse_duplicate_names
from app.serving.pointers import PointerCache
from app.toolsets import queries
from app.toolsets.schemas import Toolset, ToolsetCreate, ToolsetUpdate
from app.variations import queries as variation_queries

# The unique indexes a toolset slug can collide with (live rows; and rows of one version).
SLUG_CONSTRAINTS = ("toolsets_project_id_slug_live_key", "toolsets_project_id_slug_version_key")


class ToolsetNotFound(NotFound):
    code = "toolset_not_found"


class StagingNotFound(NotFound):
    code = "staging_not_found"


class ToolsetSlugTaken(Conflict):
    code = "toolset_slug_taken"


class ToolsetInStagingMode(Conflict):
    code = "toolset_in_staging_mode"


class UnknownReferences(Unprocessable):
    code = "unknown_references"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-")
    if not slug:
        raise Unprocessable(
            "Cannot derive a slug from this name; send `slug`.",
            errors=[{"field": "body.slug", "message": "required when the name has no letter or digit"}],
        )
    return slug


def _unique_sorted(values: Sequence[str]) -> list[str]:
    # Stored sorted and without duplicates, so equal selections compare equal.
    return sorted(set(values))


async def validate_references(
    conn: AsyncConnection,
    project_id: UUID,
    tool_urns: Sequence[str] | None,
    resource_urns: Sequence[str] | None,
    prompt_names: Sequence[str] | None,
) -> list[RowMapping] | None:
    """422 naming every tool, resource or template the project does not have.

    Returns the prompt templates to attach (None when `prompt_names` is None).
    """
    errors: list[dict[str, Any]] = []
    if tool_urns:
        for urn in await queries.missing_tool_urns(conn, project_id, tool_urns):
            errors.append({"field": "body.tool_urns", "message": f"unknown tool {urn}", "value": urn})
    if resource_urns:
        for urn in await queries.missing_resource_urns(conn, project_id, resource_urns):
            errors.append({"field": "body.resource_urns", "message": f"unknown resource {urn}", "value": urn})
    prompts = None
    if prompt_names is not None:
        prompts = await queries.current_templates_by_name(conn, project_id, prompt_names)
        for name in sorted(set(prompt_names) - {p["name"] for p in prompts}):
            errors.append(
                {"field": "body.prompt_template_names", "message": f"unknown template {name}", "value": name}
            )
    if errors:
        names = ", ".join(e["value"] for e in errors[:10])
        raise UnknownReferences(
            f"The project's active deployment or templates do not have: {names}.", errors=errors
        )
    return prompts


def toolset_path(project: str, slug: str) -> str:
    return f"/v1/projects/{project}/toolsets/{slug}"


def to_staging_mode(project: str, slug: str) -> str:
    """The hint that switches a toolset to staging mode."""
    return f'PUT {toolset_path(project, slug)}/editing-mode {{"mode": "staging"}}'


def toolset_not_found(project: str, slug: str) -> ToolsetNotFound:
    if slug != slug.lower():
        lower = slug.lower()
        return ToolsetNotFound(
            f"Toolset '{slug}' does not exist: slugs are lowercase; try '{lower}'.",
            hint=f"GET {toolset_path(project, lower)}",
        )
    return ToolsetNotFound(
        f"Toolset '{slug}' does not exist in project '{project}'.",
        hint=f"GET /v1/projects/{project}/toolsets",
    )


def no_staging_copy(project: str, live: Mapping[Any, Any]) -> StagingNotFound:
    """404 for a live toolset (its `slug` and `editing_mode`) without a staging copy."""
    slug = live["slug"]
    if live["editing_mode"] != "staging":
        return StagingNotFound(
            f"Toolset '{slug}' is in iteration mode, which has no staging copy: its edits are served at "
            f"once. To stage changes before clients see them, switch it to staging mode first "
            f"({to_staging_mode(project, slug)}).",
            hint=to_staging_mode(project, slug),
        )
    path = toolset_path(project, slug) + "/staging"
    return StagingNotFound(
        f"Toolset '{slug}' has no staging copy; create one with POST {path}.", hint=f"POST {path}"
    )


def staging_mode_refusal(project: str, slug: str) -> ToolsetInStagingMode:
    base = toolset_path(project, slug) + "/staging"
    return ToolsetInStagingMode(
        f"Toolset '{slug}' is in staging mode: edit its staging copy (POST {base} to create it, "
        f"PATCH {base} to edit, POST {base}/publish to release).",
        hint=f"POST {base}",
    )


async def apply_toolset_update(
    conn: AsyncConnection, row: RowMapping, live_id: UUID, project_id: UUID, body: ToolsetUpdate
) -> bool:
    """Apply an update to a toolset row (live or staging copy); True when anything changed.

    Shared by updateToolset and updateStagingVersion: same shapes, same rules.
    """
    changes = body.model_dump(exclude_unset=True)  # the schema refuses null where it means nothing
    prompts = await validate_references(
        conn,
        project_id,
        changes.get("tool_urns"),
        changes.get("resource_urns"),
        changes.get("prompt_template_names"),
    )
    changed = False
    tool_urns = _unique_sorted(changes.get("tool_urns", row["tool_urns"]))
    resource_urns = _unique_sorted(changes.get("resource_urns", row["resource_urns"]))
    if tool_urns != list(row["tool_urns"]) or resource_urns != list(row["resource_urns"]):
        await queries.insert_selection(conn, row["id"], tool_urns, resource_urns, row["toolset_version_id"])
        await refuse_duplicate_names(conn, [row["id"]])
        changed = True
    # Compared by history, not by name: a template deleted and created again under its name is
    # another template, and naming it attaches the new one.
    if prompts is not None and {p["history_id"] for p in prompts} != await queries.attached_prompt_histories(
        conn, row["id"]
    ):
        await queries.replace_prompts(conn, row["id"], prompts)
        changed = True
    metadata = {
        k: changes[k] for k in ("name", "slug", "description") if k in changes and changes[k] != row[k]
    }
    if (
        "slug" in metadata
        and row["parent_toolset_id"] is None
        and await queries.slug_taken(conn, project_id, metadata["slug"], row["id"])
    ):
        raise ToolsetSlugTaken(f"A toolset with slug '{metadata['slug']}' already exists.")
    if metadata or changed:
        version = await queries.next_history_version(conn, live_id)
        await queries.update_toolset(conn, row["id"], version=version, **metadata)
        return True
    return False


async def live_toolset(conn: AsyncConnection, org: str, project: str, slug: str) -> RowMapping:
    """The live toolset `slug` of the caller's project (404 for anything else)."""
    project_id = (await resolve_project(conn, org, project))["id"]
    row = await queries.find_live_toolset(conn, project_id, slug)
    if row is None:
        raise toolset_not_found(project, slug)
    return row


async def locked_live_toolset(conn: AsyncConnection, org: str, project: str, slug: str) -> RowMapping:
    """The same, row-locked: every write to a toolset, its staging copy or releases takes this first."""
    return await queries.get_toolset(conn, await lock_live_toolset(conn, org, project, slug))


async def lock_live_toolset(conn: AsyncConnection, org: str, project: str, slug: str) -> UUID:
    """Row-lock the live toolset `slug` of the caller's project and return its id (404 for
    anything else). Read the row after this, in another statement: one that waited for the
    lock would read what others committed meanwhile only for the locked row itself."""
    live_id = await queries.lock_live_toolset_at(conn, org, project, slug)
    if live_id is None:
        await resolve_project(conn, org, project)  # the project's own 404 first
        raise toolset_not_found(project, slug)
    return live_id


class ToolsetService:
    def __init__(self, conn: AsyncConnection, principal: Principal, pointers: PointerCache) -> None:
        self.conn = conn
        # Dropped after each commit that moves what a toolset serves: this process
        # reads its own writes at once; the others hear the trigger's NOTIFY.
        self.pointers = pointers
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def _project_id(self, project: str) -> UUID:
        project_id: UUID = (await resolve_project(self.conn, self.org, project))["id"]
        return project_id

    async def create(self, project: str, body: ToolsetCreate) -> Toolset:
        slug = body.slug or slugify(body.name)
        try:
            async with self.conn.begin():
                project_id = await self._project_id(project)
                prompts = await validate_references(
                    self.conn, project_id, body.tool_urns, body.resource_urns, body.prompt_template_names
                )
                toolset_id = await queries.insert_toolset(
                    self.conn,
                    organization_id=self.org,
                    project_id=project_id,
                    name=body.name,
                    slug=slug,
                    description=body.description,
                )
                if toolset_id is None:
                    raise ToolsetSlugTaken(f"A toolset with slug '{slug}' already exists.")
                await queries.insert_selection(
                    self.conn,
                    toolset_id,
                    _unique_sorted(body.tool_urns),
                    _unique_sorted(body.resource_urns),
                    None,
                )
                await queries.replace_prompts(self.conn, toolset_id, prompts or [])
                await refuse_duplicate_names(self.conn, [toolset_id])
                row = await queries.get_toolset(self.conn, toolset_id)
        except IntegrityError as exc:
            if violated_constraint(exc) not in SLUG_CONSTRAINTS:
                raise
            raise ToolsetSlugTaken(f"A toolset with slug '{slug}' already exists.") from exc
        return Toolset.model_validate(row)

    async def get(self, project: str, slug: str) -> Toolset:
        async with self.conn.begin():
            row = await live_toolset(self.conn, self.org, project, slug)
        return Toolset.model_validate(row)

    async def list_toolsets(
        self, project: str, after: list[Any] | None, limit: int
    ) -> tuple[list[Toolset], str | None]:
        async with self.conn.begin():
            project_id = await self._project_id(project)
            rows = await queries.list_live_toolsets(
                self.conn, project_id, str(after[0]) if after else None, limit + 1
            )
        items = [Toolset.model_validate(r) for r in rows[:limit]]
        return items, encode_cursor([items[-1].slug]) if len(rows) > limit else None

    async def update(self, project: str, slug: str, body: ToolsetUpdate, if_match: str | None) -> Toolset:
        try:
            async with self.conn.begin():
                row = await locked_live_toolset(self.conn, self.org, project, slug)
                check_if_match(if_match, row["version"])
                # The slug is the toolset's address, not part of what it serves: in staging mode
                # it is the one field edited on the live toolset.
                if row["editing_mode"] == "staging" and body.model_fields_set - {"slug"}:
                    raise staging_mode_refusal(project, slug)
                await apply_toolset_update(self.conn, row, row["id"], row["project_id"], body)
                renamed = await queries.get_toolset(self.conn, row["id"])
                if renamed["slug"] != row["slug"]:
                    await self._follow_rename(row, renamed["slug"])
                row = renamed
        except IntegrityError as exc:
            if violated_constraint(exc) not in SLUG_CONSTRAINTS:
                raise
            raise ToolsetSlugTaken(f"A toolset with slug '{body.slug}' already exists.") from exc
        self.pointers.invalidate(row["id"])
        return Toolset.model_validate(row)

    async def _follow_rename(self, live: RowMapping, new_slug: str) -> None:
        """A staging copy carries its live toolset's slug; the move is audited."""
        staging = await queries.find_staging_copy(self.conn, live["id"])
        if staging is not None:
            await queries.update_toolset(self.conn, staging["id"], slug=new_slug)
        number = live["current_release_number"]
        details = {"from_slug": live["slug"], "to_slug": new_slug}
        await release_queries.insert_audit_entry(
            self.conn, live["id"], "rename", self.actor, number, number, details
        )

    async def delete(self, project: str, slug: str, if_match: str | None) -> None:
        async with self.conn.begin():
            row = await locked_live_toolset(self.conn, self.org, project, slug)
            check_if_match(if_match, row["version"])
            staging = await queries.find_staging_copy(self.conn, row["id"])
            groups = [
                row["tool_variations_group_id"],
                staging["tool_variations_group_id"] if staging else None,
            ]
            await queries.delete_toolset(self.conn, row["id"])
            # The toolset's own groups serve nothing once it is gone (its releases went with it).
            await variation_queries.delete_groups(self.conn, [g for g in groups if g is not None])
        self.pointers.invalidate(row["id"])


async def toolset_service(
    request: Request,
    conn: AsyncConnection = Depends(get_connection),
    principal: Principal = Depends(authenticate),
) -> ToolsetService:
    return ToolsetService(conn, principal, request.app.state.pointers)
