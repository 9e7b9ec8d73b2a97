"""Deployment use cases: immutable uploads of tool and resource definitions, and the active one."""

import asyncio
from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.deployments import openapi_import, queries
from app.deployments.schemas import (
    MAX_TOOLS,
    Deployment,
    DeploymentCreate,
    DeploymentDetail,
    ImportedTool,
    OpenApiImport,
    ToolDefinition,
)
from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import NotFound, Unprocessable
from app.kit.pagination import encode_cursor
from app.projects.service import resolve_project
from app.releases.capture import lock_captures_exclusively
from app.serving.names import refuse_duplicate_names_in_project


async def become_active(conn: AsyncConnection, project_id: UUID) -> None:
    """The last statement of a new deployment's transaction: the project's capture lock,
    exclusively. The deployment then commits when no capture (publish, createRelease, the
    switch to staging) is in flight in the project, and none starts until it has: a capture
    sees one deployment in all its statements, so what it checks is what it captures. Taken
    last, the lock is held only for the commit."""
    await lock_captures_exclusively(conn, project_id)


class DeploymentNotFound(NotFound):
    code = "deployment_not_found"


class NoActiveDeployment(NotFound):
    code = "no_active_deployment"


class DeploymentService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id

    async def create(self, project_slug: str, body: DeploymentCreate) -> Deployment:
        tools = [t.model_dump(mode="json") for t in body.tools]
        resources = [r.model_dump(mode="json") for r in body.resources]
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            row = await queries.insert_deployment(self.conn, self.org, project["id"])
            tool_count = await queries.insert_tools(self.conn, project["id"], row["id"], tools)
            resource_count = await queries.insert_resources(self.conn, project["id"], row["id"], resources)
            # The new active deployment feeds every state computed from current data.
            await refuse_duplicate_names_in_project(self.conn, project["id"])
            await become_active(self.conn, project["id"])
        return Deployment.model_validate({**row, "tool_count": tool_count, "resource_count": resource_count})

    async def import_openapi(
        self, project_slug: str, source: str, raw: bytes, content_type: str | None
    ) -> OpenApiImport:
        """A new deployment: the document's tools under `source`, every other source's tools and
        every resource of the active deployment unchanged. Parsing and validating run in a worker
        thread (a large document takes a while); nothing is written unless it is valid."""
        document = await asyncio.to_thread(openapi_import.load_document, raw, content_type)
        prefix = f"tools:http:{source}:"
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            await queries.lock_project_deployments(self.conn, project["id"])
            active = await queries.find_active_deployment(self.conn, project["id"])
            taken = (
                await queries.other_source_tool_names(self.conn, active["id"], prefix) if active else set()
            )
            imported = await asyncio.to_thread(openapi_import.tools_from_document, document, source, taken)
            if len(imported.tools) + len(taken) > MAX_TOOLS:
                raise openapi_import.InvalidOpenApiDocument(
                    "/paths", f"The deployment would hold more than {MAX_TOOLS} tools."
                )
            row = await queries.insert_deployment(self.conn, self.org, project["id"])
            tool_count = await queries.insert_tools(self.conn, project["id"], row["id"], imported.tools)
            carried = resources = 0
            if active is not None:
                carried = await queries.copy_tools_except_source(self.conn, active["id"], row["id"], prefix)
                resources = await queries.copy_resources(self.conn, active["id"], row["id"])
            await become_active(self.conn, project["id"])
        return OpenApiImport.model_validate(
            {
                **row,
                "tool_count": tool_count + carried,
                "resource_count": resources,
                "source": source,
                "base_url": imported.base_url,
                "imported_tools": [ImportedTool.model_validate(t) for t in imported.tools],
                "carried_over_tool_count": carried,
                "warnings": imported.warnings,
            }
        )

    async def list_deployments(
        self, project_slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[Deployment], str | None]:
        before_seq = _int_position(after)
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            rows = await queries.list_deployments(self.conn, project["id"], before_seq, limit + 1)
        items = [Deployment.model_validate(r) for r in rows[:limit]]
        cursor = encode_cursor([rows[limit - 1]["seq"]]) if len(rows) > limit else None
        return items, cursor

    async def get(self, project_slug: str, deployment_id: UUID) -> DeploymentDetail:
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            row = await queries.find_deployment(self.conn, project["id"], deployment_id)
            if row is None:
                raise DeploymentNotFound(f"Deployment '{deployment_id}' does not exist in this project.")
            return await self._detail(row)

    async def get_active(self, project_slug: str) -> DeploymentDetail:
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            row = await queries.find_active_deployment(self.conn, project["id"])
            if row is None:
                raise NoActiveDeployment(f"Project '{project_slug}' has no completed deployment yet.")
            return await self._detail(row)

    async def list_tools(
        self, project_slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[ToolDefinition], str | None]:
        """The active deployment's tools by URN. A cursor keeps reading the deployment its first
        page came from, so a deployment made meanwhile never mixes two tool sets in one listing."""
        deployment_id, after_urn = _tools_position(after)
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            rows = await queries.list_tools_page(
                self.conn, project["id"], deployment_id, after_urn, limit + 1
            )
        items = [ToolDefinition.model_validate(r) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        cursor = encode_cursor([str(last["deployment_id"]), last["urn"]]) if last is not None else None
        return items, cursor

    async def _detail(self, row: RowMapping) -> DeploymentDetail:
        tools = await queries.list_deployment_tools(self.conn, row["id"])
        resources = await queries.list_deployment_resources(self.conn, row["id"])
        return DeploymentDetail.model_validate({**row, "tools": tools, "resources": resources})


def _int_position(after: list[Any] | None) -> int | None:
    if not after:
        return None
    if len(after) != 1 or not isinstance(after[0], int) or isinstance(after[0], bool):
        raise Unprocessable("The cursor is not one this service issued.")
    return after[0]


def _tools_position(after: list[Any] | None) -> tuple[UUID | None, str | None]:
    if not after:
        return None, None
    if len(after) == 2 and all(isinstance(part, str) for part in after):
        try:
            return UUID(after[0]), after[1]
        except ValueError:
            pass
    raise Unprocessable("The cursor is not one this service issued.")


async def deployment_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> DeploymentService:
    return DeploymentService(conn, principal)
