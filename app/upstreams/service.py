"""Upstream use cases: where each source's API lives, and the secret headers it needs."""

import json
from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import NotFound, Unprocessable
from app.kit.pagination import encode_cursor
from app.kit.secrets import SecretBox, SecretsUnavailable, SecretUnreadable, secret_box
from app.projects.service import resolve_project
from app.upstreams import queries
from app.upstreams.client import ServedTool, Target
from app.upstreams.schemas import Upstream, UpstreamPut


class UpstreamNotFound(NotFound):
    code = "upstream_not_found"


def secret_context(project_id: UUID, source: str) -> str:
    """What a source's sealed headers belong to: they open on this row only."""
    return f"upstream:{project_id}:{source}"


def seal_headers(box: SecretBox, project_id: UUID, source: str, headers: dict[str, str]) -> bytes | None:
    if not headers:
        return None
    return box.seal(json.dumps(headers).encode(), secret_context(project_id, source))


def open_headers(box: SecretBox, project_id: UUID, source: str, sealed: bytes | None) -> dict[str, str]:
    if sealed is None:
        return {}
    opened: dict[str, str] = json.loads(box.open(sealed, secret_context(project_id, source)))
    return opened


def source_of(urn: str, kind: str = "tools") -> str | None:
    """`tools:http:petstore:get_pet` -> `petstore` (and `resources:http:petstore:…` for resources)."""
    parts = urn.split(":")
    return parts[2] if len(parts) >= 4 and parts[0] == kind else None


async def prepare_call(
    conn: AsyncConnection, toolset_id: UUID, release_id: UUID | None, toolset: str, tool: dict[str, Any]
) -> tuple[ServedTool, Target | None]:
    """A served tool (an item of the served state's `tools`) ready for `UpstreamClient.call`.

    The argument mapping comes from the deployment the served state was built on: the
    release's own (`release_id`) for a release, else the active one. The target is the
    source's upstream; without one, the document's absolute server URL; else None.
    """
    source = source_of(tool["urn"]) or ""
    row = await queries.find_call_definition(conn, toolset_id, release_id, tool["urn"], source)
    mapping = row["argument_mapping"] if row is not None else None
    served = ServedTool(
        toolset=toolset,
        name=tool["name"],
        http_method=tool["http_method"],
        path=tool["path"],
        input_schema=tool.get("input_schema") or {},
        argument_mapping=mapping,
        urn=tool["urn"],
    )
    target = None
    if row is not None and row["base_url"] is not None:
        target = _target(row, source)
    elif mapping is not None and mapping.get("server_url"):
        target = Target(mapping["server_url"])
    return served, target


async def prepare_read(conn: AsyncConnection, toolset_id: UUID, resource_urn: str) -> Target | None:
    """Where a served resource's source lives (`resources/read`); None without an upstream."""
    source = source_of(resource_urn, kind="resources") or ""
    row = await queries.find_upstream_of_toolset(conn, toolset_id, source)
    return _target(row, source) if row is not None else None


def _target(row: Any, source: str) -> Target | None:
    """The upstream's base URL and opened headers. Headers that cannot be opened (no key, or
    a key removed) are not silently dropped: there is no target, so nothing is sent."""
    if row["headers_sealed"] is None:
        return Target(row["base_url"])
    try:
        return Target(
            row["base_url"], open_headers(secret_box(), row["project_id"], source, row["headers_sealed"])
        )
    except (SecretsUnavailable, SecretUnreadable):
        return None


class UpstreamService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id

    async def put(self, project_slug: str, source: str, body: UpstreamPut) -> Upstream:
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            headers = None
            if body.headers is not None:
                # The key is needed only to store values: an upstream without headers needs none.
                sealed = (
                    seal_headers(secret_box(), project["id"], source, body.headers) if body.headers else None
                )
                headers = (sorted(body.headers, key=str.lower), sealed)
            row = await queries.upsert_upstream(self.conn, project["id"], source, body.base_url, headers)
        return Upstream.model_validate(row)

    async def get(self, project_slug: str, source: str) -> Upstream:
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            row = await queries.find_upstream(self.conn, project["id"], source)
        if row is None:
            raise UpstreamNotFound(f"Source '{source}' has no upstream in this project.")
        return Upstream.model_validate(row)

    async def list_upstreams(
        self, project_slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[Upstream], str | None]:
        if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
            raise Unprocessable("The cursor is not one this service issued.")
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            rows = await queries.list_upstreams(
                self.conn, project["id"], after[0] if after else None, limit + 1
            )
        items = [Upstream.model_validate(r) for r in rows[:limit]]
        cursor = encode_cursor([rows[limit - 1]["source"]]) if len(rows) > limit else None
        return items, cursor

    async def delete(self, project_slug: str, source: str) -> None:
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            if not await queries.delete_upstream(self.conn, project["id"], source):
                raise UpstreamNotFound(f"Source '{source}' has no upstream in this project.")


async def upstream_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> UpstreamService:
    return UpstreamService(conn, principal)
