"""Every statement of the projects domain."""

from uuid import UUID

from sqlalchemy import RowMapping, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import projects

PROJECT_COLUMNS = (projects.c.id, projects.c.name, projects.c.slug, projects.c.created_at)


async def insert_project(
    conn: AsyncConnection, organization_id: str, name: str, slug: str
) -> RowMapping | None:
    """None when the slug is taken in the organization."""
    stmt = (
        insert(projects)
        .values(organization_id=organization_id, name=name, slug=slug)
        .on_conflict_do_nothing(constraint="projects_organization_id_slug_key")
        .returning(*PROJECT_COLUMNS)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def find_project(conn: AsyncConnection, organization_id: str, slug: str) -> RowMapping | None:
    stmt = select(*PROJECT_COLUMNS).where(
        projects.c.organization_id == organization_id, projects.c.slug == slug
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def list_projects(
    conn: AsyncConnection, organization_id: str, after_slug: str | None, limit: int
) -> list[RowMapping]:
    stmt = select(*PROJECT_COLUMNS).where(projects.c.organization_id == organization_id)
    if after_slug is not None:
        stmt = stmt.where(tuple_(projects.c.slug) > tuple_(after_slug))
    return list((await conn.execute(stmt.order_by(projects.c.slug).limit(limit))).mappings())


async def addresses_of(conn: AsyncConnection, project_ids: list[str]) -> list[tuple[str, str]]:
    """(organization, slug) of each of these projects that still exists."""
    stmt = select(projects.c.organization_id, projects.c.slug).where(
        projects.c.id.in_([UUID(p) for p in project_ids])
    )
    return [(row.organization_id, row.slug) for row in await conn.execute(stmt)]
