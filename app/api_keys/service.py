"""API key use cases for the command line (there is no HTTP route for keys): create, list, revoke."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys import queries
from app.api_keys.schemas import ApiKey
from app.db.tables import api_keys
from app.kit.auth import hash_key, insert_api_key


class ApiKeyError(Exception):
    """A command-line mistake; the message says what to do instead."""


class ApiKeyService:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(self, organization_id: str, scopes: Sequence[str], name: str) -> tuple[str, ApiKey]:
        """The raw key (shown once) and its row."""
        async with self.conn.begin():
            try:
                raw = await insert_api_key(self.conn, organization_id, scopes, name)
            except ValueError as exc:
                raise ApiKeyError(str(exc)) from exc
            key_id = (
                await self.conn.execute(select(api_keys.c.id).where(api_keys.c.key_hash == hash_key(raw)))
            ).scalar_one()
            row = await queries.find_api_key(self.conn, key_id)
        assert row is not None
        return raw, ApiKey.model_validate(row)

    async def list_keys(self, organization_id: str | None) -> list[ApiKey]:
        async with self.conn.begin():
            rows = await queries.list_api_keys(self.conn, organization_id)
        return [ApiKey.model_validate(row) for row in rows]

    async def revoke(self, key_id: str) -> tuple[ApiKey, bool]:
        """The key, and whether this call revoked it (False: it already was)."""
        try:
            parsed = UUID(key_id)
        except ValueError:
            raise ApiKeyError(
                f"'{key_id}' is not a key id; `toolsets list-api-keys` shows each key's id."
            ) from None
        async with self.conn.begin():
            revoked = await queries.revoke_api_key(self.conn, parsed)
            row = revoked or await queries.find_api_key(self.conn, parsed)
        if row is None:
            raise ApiKeyError(f"No API key has id {key_id}; `toolsets list-api-keys` lists them.")
        return ApiKey.model_validate(row), revoked is not None
