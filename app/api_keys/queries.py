"""Every statement about API keys, other than verifying one (`kit/auth.py`)."""

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, RowMapping, case, cast, func, select, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import api_keys

KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.organization_id,
    api_keys.c.name,
    api_keys.c.key_prefix.label("prefix"),
    api_keys.c.scopes,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)

_UUID_TEXT = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

# Columns naming the key that acted, for a query outer-joined with `acted_as(...)`.
ACTING_KEY_COLUMNS = (api_keys.c.name.label("key_name"), api_keys.c.key_prefix.label("key_prefix"))


def acted_as(actor: ColumnElement[Any]) -> ColumnElement[bool]:
    """Join condition from a text actor column (a key id, as releases and audit entries store
    it) to api_keys by primary key. Anything that is not a UUID joins nothing, never fails."""
    return api_keys.c.id == case((actor.op("~")(_UUID_TEXT), cast(actor, PG_UUID(as_uuid=True))))


async def list_api_keys(conn: AsyncConnection, organization_id: str | None) -> list[RowMapping]:
    stmt = select(*KEY_COLUMNS).order_by(api_keys.c.organization_id, api_keys.c.created_at, api_keys.c.id)
    if organization_id is not None:
        stmt = stmt.where(api_keys.c.organization_id == organization_id)
    return list((await conn.execute(stmt)).mappings())


async def find_api_key(conn: AsyncConnection, key_id: UUID) -> RowMapping | None:
    return (await conn.execute(select(*KEY_COLUMNS).where(api_keys.c.id == key_id))).mappings().one_or_none()


async def revoke_api_key(conn: AsyncConnection, key_id: UUID) -> RowMapping | None:
    """Revoke a live key; None when there is no such live key."""
    stmt = (
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(*KEY_COLUMNS)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()
