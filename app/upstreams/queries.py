"""Every statement of the upstreams domain."""

from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import upstreams

PUBLIC_COLUMNS = (
    upstreams.c.source,
    upstreams.c.base_url,
    upstreams.c.header_names,
    upstreams.c.created_at,
    upstreams.c.updated_at,
)


async def upsert_upstream(
    conn: AsyncConnection,
    project_id: UUID,
    source: str,
    base_url: str,
    headers: tuple[list[str], bytes | None] | None,
) -> RowMapping:
    """Insert or replace; `headers` None keeps the stored ones."""
    values: dict[str, Any] = {"project_id": project_id, "source": source, "base_url": base_url}
    if headers is not None:
        values["header_names"], values["headers_sealed"] = headers
    stmt = insert(upstreams).values(**values)
    update = {k: stmt.excluded[k] for k in values if k not in ("project_id", "source")}
    upsert = stmt.on_conflict_do_update(
        constraint="upstreams_project_id_source_key", set_={**update, "updated_at": func.now()}
    ).returning(*PUBLIC_COLUMNS)
    return (await conn.execute(upsert)).mappings().one()


async def find_upstream(conn: AsyncConnection, project_id: UUID, source: str) -> RowMapping | None:
    stmt = select(*PUBLIC_COLUMNS).where(upstreams.c.project_id == project_id, upstreams.c.source == source)
    return (await conn.execute(stmt)).mappings().one_or_none()


async def find_upstream_secrets(conn: AsyncConnection, project_id: UUID, source: str) -> RowMapping | None:
    """The base URL and the sealed headers: for the upstream client only."""
    stmt = select(upstreams.c.base_url, upstreams.c.headers_sealed).where(
        upstreams.c.project_id == project_id, upstreams.c.source == source
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def list_upstreams(
    conn: AsyncConnection, project_id: UUID, after_source: str | None, limit: int
) -> list[RowMapping]:
    stmt = select(*PUBLIC_COLUMNS).where(upstreams.c.project_id == project_id)
    if after_source is not None:
        stmt = stmt.where(upstreams.c.source > after_source)
    return list((await conn.execute(stmt.order_by(upstreams.c.source).limit(limit))).mappings())


async def delete_upstream(conn: AsyncConnection, project_id: UUID, source: str) -> bool:
    stmt = upstreams.delete().where(upstreams.c.project_id == project_id, upstreams.c.source == source)
    return (await conn.execute(stmt)).rowcount > 0


_CALL_DEFINITION = text(
    """
    SELECT ts.project_id, t.argument_mapping, u.base_url, u.headers_sealed
    FROM toolsets ts
    JOIN http_tool_definitions t ON t.project_id = ts.project_id AND t.tool_urn = :urn
    LEFT JOIN upstreams u ON u.project_id = ts.project_id AND u.source = :source
    WHERE ts.id = :toolset_id
      AND t.deployment_id = coalesce(
          (SELECT ss.deployment_id FROM toolset_releases r
           JOIN source_states ss ON ss.id = r.source_state_id
           WHERE r.id = :release_id),
          (SELECT d.id FROM deployments d
           WHERE d.project_id = ts.project_id AND d.status = 'completed'
           ORDER BY d.seq DESC LIMIT 1))
    """
)


async def find_call_definition(
    conn: AsyncConnection, toolset_id: UUID, release_id: UUID | None, urn: str, source: str
) -> RowMapping | None:
    """A served tool's argument mapping, from the deployment the served state was built on (the
    release's, or the active one for current data), with its source's upstream: one round trip."""
    params = {"toolset_id": toolset_id, "release_id": release_id, "urn": urn, "source": source}
    return (await conn.execute(_CALL_DEFINITION, params)).mappings().one_or_none()


async def find_upstream_of_toolset(conn: AsyncConnection, toolset_id: UUID, source: str) -> RowMapping | None:
    """The upstream of `source` in the toolset's project (for `resources/read`)."""
    stmt = text(
        "SELECT u.project_id, u.base_url, u.headers_sealed FROM upstreams u "
        "JOIN toolsets ts ON ts.project_id = u.project_id WHERE ts.id = :toolset_id AND u.source = :source"
    )
    return (await conn.execute(stmt, {"toolset_id": toolset_id, "source": source})).mappings().one_or_none()
