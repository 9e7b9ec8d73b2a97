"""API keys: `Authorization: Bearer <key>`, one organization per key, scopes per operation."""

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cachetools import TTLCache
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.tables import api_keys
from app.kit.database import get_engine
from app.kit.errors import Forbidden, Unauthorized

Scope = Literal["read", "write", "release", "approve"]
SCOPES: tuple[Scope, ...] = ("read", "write", "release", "approve")
KEY_PREFIX = "tsk_"

# Verified keys are remembered briefly so the hot read path does not query api_keys on
# every request; a revoked key therefore stops working within this many seconds.
KEY_CACHE_SECONDS = 10
_verified: TTLCache[str, "Principal"] = TTLCache(maxsize=10_000, ttl=KEY_CACHE_SECONDS)
# `last_used_at` is written at most this often per key: it is for people, not for auditing.
LAST_USED_PRECISION = timedelta(minutes=1)

bearer = HTTPBearer(auto_error=False, description="An API key made with `toolsets create-api-key`.")


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: str
    key_id: str
    scopes: frozenset[str]


def hash_key(raw_key: str) -> str:
    # Keys are 256-bit random tokens, so a fast digest is enough; there is nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def insert_api_key(
    conn: AsyncConnection, organization_id: str, scopes: Sequence[str], name: str
) -> str:
    """Store a new key (hashed) and return the raw key; it is shown once. Its id and prefix are
    those of the api_keys row whose `key_prefix` is the raw key's first 12 characters."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}")
    if not organization_id.strip():
        raise ValueError("organization must not be empty")
    if not name.strip():
        raise ValueError("name must not be empty")
    raw = new_raw_key()
    await conn.execute(
        api_keys.insert().values(
            organization_id=organization_id,
            name=name,
            key_prefix=raw[:12],
            key_hash=hash_key(raw),
            scopes=sorted(set(scopes)),
        )
    )
    return raw


def cached_principal(authorization: str) -> Principal | None:
    """The principal of a recently verified `Bearer` key, or None (never a database read)."""
    scheme, _, raw_key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not raw_key:
        return None
    return _verified.get(hash_key(raw_key.strip()))


async def authenticate(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    engine: AsyncEngine = Depends(get_engine),
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    key_hash = hash_key(credentials.credentials)
    cached = _verified.get(key_hash)
    if cached is not None:
        return cached
    # Its own short connection, only on a cache miss: a request served from caches
    # (the hot read path) then never checks a connection out of the pool.
    async with engine.connect() as conn, conn.begin():
        row = (
            await conn.execute(
                select(
                    api_keys.c.id, api_keys.c.organization_id, api_keys.c.scopes, api_keys.c.last_used_at
                ).where(
                    api_keys.c.key_hash == key_hash,
                    api_keys.c.revoked_at.is_(None),
                )
            )
        ).one_or_none()
        if row is not None and (
            row.last_used_at is None or row.last_used_at < datetime.now(UTC) - LAST_USED_PRECISION
        ):
            await conn.execute(
                update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=func.now())
            )
    if row is None:
        raise Unauthorized("The API key is unknown or revoked.")
    principal = Principal(
        organization_id=row.organization_id, key_id=str(row.id), scopes=frozenset(row.scopes)
    )
    _verified[key_hash] = principal
    return principal


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"This operation needs an API key with the `{scope}` scope.")
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


RequireRead = Depends(require("read"))
RequireWrite = Depends(require("write"))
RequireRelease = Depends(require("release"))
RequireApprove = Depends(require("approve"))
