"""Project use cases; also the one place that resolves a project slug within an organization."""

from typing import Any

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict, NotFound
from app.kit.pagination import encode_cursor
from app.projects import queries
from app.projects.schemas import Project, ProjectCreate


class ProjectNotFound(NotFound):
    code = "project_not_found"


class ProjectSlugTaken(Conflict):
    code = "project_slug_taken"


async def resolve_project(conn: AsyncConnection, organization_id: str, slug: str) -> RowMapping:
    """The project with this slug in the caller's organization; others' projects do not exist."""
    row = await queries.find_project(conn, organization_id, slug)
    if row is None:
        if slug != slug.lower():
            raise ProjectNotFound(
                f"Project '{slug}' does not exist: slugs are lowercase; try '{slug.lower()}'.",
                hint=f"GET /v1/projects/{slug.lower()}",
            )
        raise ProjectNotFound(f"Project '{slug}' does not exist.", hint="GET /v1/projects")
    return row


class ProjectService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id

    async def create(self, body: ProjectCreate) -> Project:
        async with self.conn.begin():
            row = await queries.insert_project(self.conn, self.org, body.name, body.slug)
        if row is None:
            raise ProjectSlugTaken(f"A project with slug '{body.slug}' already exists.")
        return Project.model_validate(row)

    async def get(self, slug: str) -> Project:
        async with self.conn.begin():
            row = await resolve_project(self.conn, self.org, slug)
        return Project.model_validate(row)

    async def list_projects(self, after: list[Any] | None, limit: int) -> tuple[list[Project], str | None]:
        after_slug = str(after[0]) if after else None
        async with self.conn.begin():
            rows = await queries.list_projects(self.conn, self.org, after_slug, limit + 1)
        items = [Project.model_validate(r) for r in rows[:limit]]
        cursor = encode_cursor([items[-1].slug]) if len(rows) > limit else None
        return items, cursor


async def project_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> ProjectService:
    return ProjectService(conn, principal)
