"""Every statement of the deployments domain."""

from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    ColumnElement,
    RowMapping,
    ScalarSelect,
    Text,
    column,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import TEXT_ARRAY, deployments, http_tool_definitions, projects, resource_definitions

tools_t = http_tool_definitions
resources_t = resource_definitions

TOOL_COLUMNS = (
    tools_t.c.tool_urn.label("urn"),
    tools_t.c.name,
    tools_t.c.summary,
    tools_t.c.description,
    tools_t.c.input_schema,
    tools_t.c.http_method,
    tools_t.c.path,
    tools_t.c.tags,
    tools_t.c.read_only_hint,
    tools_t.c.destructive_hint,
    tools_t.c.idempotent_hint,
    tools_t.c.open_world_hint,
    tools_t.c.argument_mapping,
)
RESOURCE_COLUMNS = (
    resources_t.c.resource_urn.label("urn"),
    resources_t.c.name,
    resources_t.c.uri,
    resources_t.c.description,
    resources_t.c.mime_type,
)


def _tool_count() -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(tools_t)
        .where(tools_t.c.deployment_id == deployments.c.id)
        .scalar_subquery()
    )


def _resource_count() -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(resources_t)
        .where(resources_t.c.deployment_id == deployments.c.id)
        .scalar_subquery()
    )


DEPLOYMENT_COLUMNS = (
    deployments.c.id,
    deployments.c.status,
    deployments.c.seq,
    deployments.c.created_at,
    _tool_count().label("tool_count"),
    _resource_count().label("resource_count"),
)


def active_deployment_id(project_id: UUID | ColumnElement[UUID]) -> ScalarSelect[UUID]:
    """The project's active deployment: its latest completed one (by `seq`, never by clock).

    The one definition of "current deployment": served states and capture use it too.
    """
    return (
        select(deployments.c.id)
        .where(deployments.c.project_id == project_id, deployments.c.status == "completed")
        .order_by(deployments.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


async def insert_deployment(conn: AsyncConnection, organization_id: str, project_id: UUID) -> RowMapping:
    stmt = (
        deployments.insert()
        .values(organization_id=organization_id, project_id=project_id, status="completed")
        .returning(deployments.c.id, deployments.c.status, deployments.c.seq, deployments.c.created_at)
    )
    return (await conn.execute(stmt)).mappings().one()


async def insert_tools(
    conn: AsyncConnection, project_id: UUID, deployment_id: UUID, tools: list[dict[str, Any]]
) -> int:
    """All tools in one statement: the list travels as one JSON parameter and is unpacked in SQL."""
    if not tools:
        return 0
    rows = (
        func.jsonb_to_recordset(literal(tools, JSONB))
        .table_valued(
            column("urn", Text),
            column("name", Text),
            column("summary", Text),
            column("description", Text),
            column("input_schema", JSONB),
            column("http_method", Text),
            column("path", Text),
            column("tags", TEXT_ARRAY),
            column("read_only_hint", Boolean),
            column("destructive_hint", Boolean),
            column("idempotent_hint", Boolean),
            column("open_world_hint", Boolean),
            column("argument_mapping", JSONB),
        )
        .render_derived(name="t", with_types=True)
    )
    source = select(
        literal(project_id, tools_t.c.project_id.type),
        literal(deployment_id, tools_t.c.deployment_id.type),
        rows.c.urn,
        rows.c.name,
        rows.c.summary,
        rows.c.description,
        rows.c.input_schema,
        rows.c.http_method,
        rows.c.path,
        rows.c.tags,
        rows.c.read_only_hint,
        rows.c.destructive_hint,
        rows.c.idempotent_hint,
        rows.c.open_world_hint,
        rows.c.argument_mapping,
    )
    stmt = tools_t.insert().from_select(
        [
            "project_id",
            "deployment_id",
            "tool_urn",
            "name",
            "summary",
            "description",
            "input_schema",
            "http_method",
            "path",
            "tags",
            "read_only_hint",
            "destructive_hint",
            "idempotent_hint",
            "open_world_hint",
            "argument_mapping",
        ],
        source,
    )
    return (await conn.execute(stmt)).rowcount


async def insert_resources(
    conn: AsyncConnection, project_id: UUID, deployment_id: UUID, resources: list[dict[str, Any]]
) -> int:
    if not resources:
        return 0
    rows = (
        func.jsonb_to_recordset(literal(resources, JSONB))
        .table_valued(
            column("urn", Text),
            column("name", Text),
            column("uri", Text),
            column("description", Text),
            column("mime_type", Text),
        )
        .render_derived(name="r", with_types=True)
    )
    source = select(
        literal(project_id, resources_t.c.project_id.type),
        literal(deployment_id, resources_t.c.deployment_id.type),
        rows.c.urn,
        rows.c.name,
        rows.c.uri,
        rows.c.description,
        rows.c.mime_type,
    )
    stmt = resources_t.insert().from_select(
        ["project_id", "deployment_id", "resource_urn", "name", "uri", "description", "mime_type"],
        source,
    )
    return (await conn.execute(stmt)).rowcount


async def find_deployment(conn: AsyncConnection, project_id: UUID, deployment_id: UUID) -> RowMapping | None:
    stmt = select(*DEPLOYMENT_COLUMNS).where(
        deployments.c.project_id == project_id, deployments.c.id == deployment_id
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def find_active_deployment(conn: AsyncConnection, project_id: UUID) -> RowMapping | None:
    stmt = select(*DEPLOYMENT_COLUMNS).where(deployments.c.id == active_deployment_id(project_id))
    return (await conn.execute(stmt)).mappings().one_or_none()


async def list_deployments(
    conn: AsyncConnection, project_id: UUID, before_seq: int | None, limit: int
) -> list[RowMapping]:
    """Newest first."""
    stmt = select(*DEPLOYMENT_COLUMNS).where(deployments.c.project_id == project_id)
    if before_seq is not None:
        stmt = stmt.where(deployments.c.seq < before_seq)
    stmt = stmt.order_by(deployments.c.seq.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def list_deployment_tools(conn: AsyncConnection, deployment_id: UUID) -> list[RowMapping]:
    stmt = select(*TOOL_COLUMNS).where(tools_t.c.deployment_id == deployment_id).order_by(tools_t.c.tool_urn)
    return list((await conn.execute(stmt)).mappings())


async def list_deployment_resources(conn: AsyncConnection, deployment_id: UUID) -> list[RowMapping]:
    stmt = (
        select(*RESOURCE_COLUMNS)
        .where(resources_t.c.deployment_id == deployment_id)
        .order_by(resources_t.c.resource_urn)
    )
    return list((await conn.execute(stmt)).mappings())


async def list_tools_page(
    conn: AsyncConnection,
    project_id: UUID,
    deployment_id: UUID | None,
    after_urn: str | None,
    limit: int,
) -> list[RowMapping]:
    """A page of one deployment's tools by URN; of the active deployment when `deployment_id` is None.

    Each row carries `deployment_id`, so a cursor can pin the deployment its first page read.
    """
    source: ColumnElement[UUID] | ScalarSelect[UUID] = (
        active_deployment_id(project_id) if deployment_id is None else literal(deployment_id)
    )
    stmt = select(tools_t.c.deployment_id, *TOOL_COLUMNS).where(
        tools_t.c.project_id == project_id, tools_t.c.deployment_id == source
    )
    if after_urn is not None:
        stmt = stmt.where(tools_t.c.tool_urn > after_urn)
    stmt = stmt.order_by(tools_t.c.tool_urn).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def lock_project_deployments(conn: AsyncConnection, project_id: UUID) -> None:
    """Serialise imports of one project: each carries over what the previous one made.

    FOR NO KEY UPDATE conflicts with itself only, not with the KEY SHARE locks that
    foreign-key checks on the project take, so nothing else waits on it.
    """
    await conn.execute(
        select(projects.c.id).where(projects.c.id == project_id).with_for_update(key_share=True)
    )


def _of_source(source_prefix: str) -> ColumnElement[bool]:
    return func.starts_with(tools_t.c.tool_urn, source_prefix)


async def other_source_tool_names(conn: AsyncConnection, deployment_id: UUID, source_prefix: str) -> set[str]:
    stmt = select(tools_t.c.name).where(tools_t.c.deployment_id == deployment_id, ~_of_source(source_prefix))
    return set((await conn.execute(stmt)).scalars())


async def copy_tools_except_source(
    conn: AsyncConnection, from_deployment_id: UUID, to_deployment_id: UUID, source_prefix: str
) -> int:
    """Every tool of another source, carried over into the new deployment in one statement."""
    copied = [c for c in tools_t.c if c.name not in ("id", "deployment_id", "created_at")]
    source = select(literal(to_deployment_id, tools_t.c.deployment_id.type), *copied).where(
        tools_t.c.deployment_id == from_deployment_id, ~_of_source(source_prefix)
    )
    stmt = tools_t.insert().from_select(["deployment_id", *(c.name for c in copied)], source)
    return (await conn.execute(stmt)).rowcount


async def copy_resources(conn: AsyncConnection, from_deployment_id: UUID, to_deployment_id: UUID) -> int:
    copied = [c for c in resources_t.c if c.name not in ("id", "deployment_id", "created_at")]
    source = select(literal(to_deployment_id, resources_t.c.deployment_id.type), *copied).where(
        resources_t.c.deployment_id == from_deployment_id
    )
    stmt = resources_t.insert().from_select(["deployment_id", *(c.name for c in copied)], source)
    return (await conn.execute(stmt)).rowcount
