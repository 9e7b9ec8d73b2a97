"""Every statement of the policies domain."""

from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.queries import ACTING_KEY_COLUMNS, acted_as
from app.db.tables import api_keys, toolset_policies

DEFAULTS: dict[str, Any] = {
    "block_breaking": False,
    "keep_last": None,
    "required_approvals": 0,
    "updated_at": None,
    "updated_by": None,
    "key_name": None,
    "key_prefix": None,
}

_COLUMNS = (
    toolset_policies.c.block_breaking,
    toolset_policies.c.keep_last,
    toolset_policies.c.required_approvals,
    toolset_policies.c.updated_at,
    toolset_policies.c.updated_by,
)


async def find_policy(conn: AsyncConnection, toolset_id: UUID) -> RowMapping | None:
    stmt = (
        select(*_COLUMNS, *ACTING_KEY_COLUMNS)
        .outerjoin(api_keys, acted_as(toolset_policies.c.updated_by))
        .where(toolset_policies.c.toolset_id == toolset_id)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def upsert_policy(conn: AsyncConnection, toolset_id: UUID, actor: str, **values: Any) -> None:
    written = {"updated_by": actor, "updated_at": func.now(), **values}
    stmt = (
        insert(toolset_policies)
        .values(toolset_id=toolset_id, **written)
        .on_conflict_do_update(index_elements=[toolset_policies.c.toolset_id], set_=written)
    )
    await conn.execute(stmt)
