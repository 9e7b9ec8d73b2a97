"""Every statement of the toolsets domain (live rows and staging copies alike)."""

import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import (
    TEXT_ARRAY,
    http_tool_definitions,
    projects,
    prompt_templates,
    resource_definitions,
    toolset_prompts,
    toolset_releases,
    toolset_versions,
    toolsets,
)
from app.deployments.queries import active_deployment_id
from app.prompt_templates.queries import is_current, is_current_live


def latest_selection(toolset_id: UUID | ColumnElement[UUID], *columns: ColumnElement[Any]) -> Select[Any]:
    """A toolset's current tool and resource selection: its highest toolset_versions row
    (with more of its `columns` when given).

    The one definition of "current selection": served states and capture use it too.
    """
    return (
        select(
            toolset_versions.c.id.label("toolset_version_id"),
            toolset_versions.c.tool_urns,
            toolset_versions.c.resource_urns,
            *columns,
        )
        .where(toolset_versions.c.toolset_id == toolset_id)
        .order_by(toolset_versions.c.version.desc())
        .limit(1)
    )


_selection = latest_selection(toolsets.c.id).lateral("selection")

_prompt_names = (
    select(
        func.coalesce(
            func.array_agg(aggregate_order_by(toolset_prompts.c.prompt_name, toolset_prompts.c.prompt_name)),
            literal_column("'{}'::text[]"),
        )
    )
    .where(toolset_prompts.c.toolset_id == toolsets.c.id)
    .scalar_subquery()
)

CURRENT_RELEASE_NUMBER = (
    select(toolset_releases.c.release_number)
    .where(toolset_releases.c.id == toolsets.c.current_release_id)
    .scalar_subquery()
)

TOOLSET_VIEW = (
    select(
        toolsets.c.id,
        toolsets.c.project_id,
        toolsets.c.name,
        toolsets.c.slug,
        toolsets.c.description,
        toolsets.c.editing_mode,
        toolsets.c.version,
        toolsets.c.parent_toolset_id,
        toolsets.c.current_release_id,
        toolsets.c.tool_variations_group_id,
        toolsets.c.created_at,
        toolsets.c.updated_at,
        func.coalesce(_selection.c.tool_urns, literal_column("'{}'::text[]")).label("tool_urns"),
        func.coalesce(_selection.c.resource_urns, literal_column("'{}'::text[]")).label("resource_urns"),
        _selection.c.toolset_version_id,
        _prompt_names.label("prompt_template_names"),
        CURRENT_RELEASE_NUMBER.label("current_release_number"),
    )
    .select_from(toolsets)
    .outerjoin(_selection, literal_column("true"))
)


async def lock_live_toolset(conn: AsyncConnection, project_id: UUID, slug: str) -> UUID | None:
    """Row-lock the live toolset: every write to it, its staging copy or its releases takes this first."""
    stmt = (
        select(toolsets.c.id)
        .where(
            toolsets.c.project_id == project_id,
            toolsets.c.slug == slug,
            toolsets.c.parent_toolset_id.is_(None),
        )
        .with_for_update()
    )
    toolset_id: UUID | None = (await conn.execute(stmt)).scalar_one_or_none()
    return toolset_id


def _live_at(stmt: Select[Any], organization_id: str, project_slug: str, slug: str) -> Select[Any]:
    """`stmt` (of toolsets columns) for the live toolset at an address: organization,
    project slug, toolset slug."""
    return stmt.join(projects, projects.c.id == toolsets.c.project_id).where(
        projects.c.organization_id == organization_id,
        projects.c.slug == project_slug,
        toolsets.c.slug == slug,
        toolsets.c.parent_toolset_id.is_(None),
    )


async def lock_live_toolset_at(
    conn: AsyncConnection, organization_id: str, project_slug: str, slug: str
) -> UUID | None:
    """The same by address (organization, project slug, toolset slug), in one statement."""
    stmt = _live_at(select(toolsets.c.id), organization_id, project_slug, slug).with_for_update(of=toolsets)
    toolset_id: UUID | None = (await conn.execute(stmt)).scalar_one_or_none()
    return toolset_id


async def find_live_pointer(
    conn: AsyncConnection, organization_id: str, project_slug: str, slug: str
) -> RowMapping | None:
    """What the hot read path needs, in one indexed lookup: which state the live toolset serves."""
    pointer = select(
        toolsets.c.id, toolsets.c.project_id, toolsets.c.editing_mode, toolsets.c.current_release_id
    )
    stmt = _live_at(pointer, organization_id, project_slug, slug)
    row: RowMapping | None = (await conn.execute(stmt)).mappings().one_or_none()
    return row


async def find_live_toolset(conn: AsyncConnection, project_id: UUID, slug: str) -> RowMapping | None:
    stmt = TOOLSET_VIEW.where(
        toolsets.c.project_id == project_id,
        toolsets.c.slug == slug,
        toolsets.c.parent_toolset_id.is_(None),
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def get_toolset(conn: AsyncConnection, toolset_id: UUID) -> RowMapping:
    return (await conn.execute(TOOLSET_VIEW.where(toolsets.c.id == toolset_id))).mappings().one()


async def find_staging_copy(conn: AsyncConnection, live_id: UUID) -> RowMapping | None:
    stmt = TOOLSET_VIEW.where(toolsets.c.parent_toolset_id == live_id)
    return (await conn.execute(stmt)).mappings().first()


async def list_live_toolsets(
    conn: AsyncConnection, project_id: UUID, after_slug: str | None, limit: int
) -> list[RowMapping]:
    stmt = TOOLSET_VIEW.where(toolsets.c.project_id == project_id, toolsets.c.parent_toolset_id.is_(None))
    if after_slug is not None:
        stmt = stmt.where(toolsets.c.slug > after_slug)
    return list((await conn.execute(stmt.order_by(toolsets.c.slug).limit(limit))).mappings())


async def insert_toolset(conn: AsyncConnection, **values: Any) -> UUID | None:
    """Insert a toolset row; None when its slug is taken. A new live toolset is its own history."""
    toolset_id = uuid.uuid4()
    values.setdefault("history_id", toolset_id)
    stmt = insert(toolsets).values(id=toolset_id, **values).on_conflict_do_nothing().returning(toolsets.c.id)
    inserted: UUID | None = (await conn.execute(stmt)).scalar_one_or_none()
    return inserted


async def update_toolset(conn: AsyncConnection, toolset_id: UUID, **values: Any) -> None:
    stmt = update(toolsets).where(toolsets.c.id == toolset_id).values(updated_at=func.now(), **values)
    await conn.execute(stmt)


async def slug_taken(conn: AsyncConnection, project_id: UUID, slug: str, except_id: UUID) -> bool:
    stmt = select(
        select(toolsets.c.id)
        .where(
            toolsets.c.project_id == project_id,
            toolsets.c.slug == slug,
            toolsets.c.parent_toolset_id.is_(None),
            toolsets.c.id != except_id,
        )
        .exists()
    )
    return bool((await conn.execute(stmt)).scalar_one())


async def next_history_version(conn: AsyncConnection, live_id: UUID) -> int:
    """The version an accepted change takes: one past every row of the toolset's history.

    A staging copy and its parent share slug and history, so numbering across both
    keeps (project_id, slug, version) unique and each row's ETag strictly increasing.
    """
    stmt = select(func.max(toolsets.c.version) + 1).where(
        or_(toolsets.c.id == live_id, toolsets.c.parent_toolset_id == live_id)
    )
    version: int = (await conn.execute(stmt)).scalar_one()
    return version


async def insert_selection(
    conn: AsyncConnection,
    toolset_id: UUID,
    tool_urns: Sequence[str],
    resource_urns: Sequence[str],
    previous_id: UUID | None,
) -> UUID:
    """A new immutable toolset_versions row: version + 1 of the toolset's selection."""
    next_version = (
        select(func.coalesce(func.max(toolset_versions.c.version), 0) + 1)
        .where(toolset_versions.c.toolset_id == toolset_id)
        .scalar_subquery()
    )
    stmt = (
        insert(toolset_versions)
        .values(
            toolset_id=toolset_id,
            version=next_version,
            tool_urns=list(tool_urns),
            resource_urns=list(resource_urns),
            predecessor_id=previous_id,
        )
        .returning(toolset_versions.c.id)
    )
    version_id: UUID = (await conn.execute(stmt)).scalar_one()
    return version_id


async def replace_prompts(conn: AsyncConnection, toolset_id: UUID, prompts: Sequence[RowMapping]) -> None:
    """Attach exactly these prompt template histories (rows with history_id and name)."""
    await conn.execute(delete(toolset_prompts).where(toolset_prompts.c.toolset_id == toolset_id))
    if prompts:
        await conn.execute(
            insert(toolset_prompts),
            [
                {"toolset_id": toolset_id, "prompt_history_id": p["history_id"], "prompt_name": p["name"]}
                for p in prompts
            ],
        )


async def attached_prompt_histories(conn: AsyncConnection, toolset_id: UUID) -> set[UUID]:
    stmt = select(toolset_prompts.c.prompt_history_id).where(toolset_prompts.c.toolset_id == toolset_id)
    return set((await conn.execute(stmt)).scalars())


async def copy_prompts(conn: AsyncConnection, source_id: UUID, target_id: UUID) -> None:
    await conn.execute(delete(toolset_prompts).where(toolset_prompts.c.toolset_id == target_id))
    source = select(
        literal(target_id, toolset_prompts.c.toolset_id.type),
        toolset_prompts.c.prompt_history_id,
        toolset_prompts.c.prompt_name,
    ).where(toolset_prompts.c.toolset_id == source_id)
    await conn.execute(
        insert(toolset_prompts).from_select(["toolset_id", "prompt_history_id", "prompt_name"], source)
    )


async def delete_toolset(conn: AsyncConnection, toolset_id: UUID) -> None:
    """Deletes the live row; staging copies, selections and releases go with it (CASCADE)."""
    await conn.execute(delete(toolsets).where(toolsets.c.id == toolset_id))


async def _missing_urns(
    conn: AsyncConnection, project_id: UUID, urns: Sequence[str], definitions: Any, urn_column: Any
) -> list[str]:
    """The URNs that the project's active deployment does not define, in one statement."""
    if not urns:
        return []
    wanted = func.unnest(literal(list(urns), TEXT_ARRAY)).table_valued("urn").render_derived()
    defined = (
        select(definitions.c.id)
        .where(definitions.c.deployment_id == active_deployment_id(project_id), urn_column == wanted.c.urn)
        .exists()
    )
    stmt = select(wanted.c.urn).where(~defined).order_by(wanted.c.urn)
    return list((await conn.execute(stmt)).scalars())


async def missing_tool_urns(conn: AsyncConnection, project_id: UUID, urns: Sequence[str]) -> list[str]:
    return await _missing_urns(
        conn, project_id, urns, http_tool_definitions, http_tool_definitions.c.tool_urn
    )


async def missing_resource_urns(conn: AsyncConnection, project_id: UUID, urns: Sequence[str]) -> list[str]:
    return await _missing_urns(
        conn, project_id, urns, resource_definitions, resource_definitions.c.resource_urn
    )


async def current_templates_by_name(
    conn: AsyncConnection, project_id: UUID, names: Sequence[str]
) -> list[RowMapping]:
    """The current, not deleted revision of each named template (missing names are absent)."""
    if not names:
        return []
    stmt = select(prompt_templates.c.history_id, prompt_templates.c.name).where(
        prompt_templates.c.project_id == project_id,
        prompt_templates.c.name.in_(list(names)),
        is_current_live(),
    )
    return list((await conn.execute(stmt)).mappings())


async def tool_name(conn: AsyncConnection, project_id: UUID, tool_urn: str) -> str | None:
    stmt = select(http_tool_definitions.c.name).where(
        http_tool_definitions.c.deployment_id == active_deployment_id(project_id),
        http_tool_definitions.c.tool_urn == tool_urn,
    )
    name: str | None = (await conn.execute(stmt)).scalar_one_or_none()
    return name


async def get_toolset_version(conn: AsyncConnection, version_id: UUID) -> RowMapping:
    stmt = select(toolset_versions).where(toolset_versions.c.id == version_id)
    return (await conn.execute(stmt)).mappings().one()


async def attach_prompt_histories(
    conn: AsyncConnection, toolset_id: UUID, history_ids: Sequence[UUID]
) -> None:
    """Attach exactly these template histories, named by their newest revision (set-based)."""
    await conn.execute(delete(toolset_prompts).where(toolset_prompts.c.toolset_id == toolset_id))
    if not history_ids:
        return
    newest = select(
        literal(toolset_id, toolset_prompts.c.toolset_id.type),
        prompt_templates.c.history_id,
        prompt_templates.c.name,
    ).where(prompt_templates.c.history_id.in_(list(history_ids)), is_current())
    await conn.execute(
        insert(toolset_prompts).from_select(["toolset_id", "prompt_history_id", "prompt_name"], newest)
    )


async def history_of(conn: AsyncConnection, toolset_id: UUID) -> UUID:
    """A toolset's history id; rows from before the staging revision carry NULL, meaning their own id."""
    stmt = select(func.coalesce(toolsets.c.history_id, toolsets.c.id)).where(toolsets.c.id == toolset_id)
    history_id: UUID = (await conn.execute(stmt)).scalar_one()
    return history_id
