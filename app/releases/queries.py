"""Every statement of the releases domain: releases, the audit log and idempotency keys."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.queries import ACTING_KEY_COLUMNS, acted_as
from app.db.tables import (
    api_keys,
    idempotency_keys,
    toolset_audit_entries,
    toolset_releases,
    toolset_versions,
    toolsets,
)

RELEASE_COLUMNS = (
    toolset_releases.c.id,
    toolset_releases.c.toolset_id,
    toolset_releases.c.release_number,
    toolset_releases.c.notes,
    toolset_releases.c.released_by_user_id.label("released_by"),
    toolset_releases.c.created_at,
    toolset_releases.c.source_state_id,
    toolset_releases.c.toolset_version_id,
    toolset_releases.c.global_variations_version_id,
    toolset_releases.c.toolset_variations_version_id,
    toolset_releases.c.acknowledged_breaking,
    toolset_releases.c.name,
)

_RELEASE_VIEW = (
    select(*RELEASE_COLUMNS, toolset_versions.c.version.label("toolset_version"), *ACTING_KEY_COLUMNS)
    .join_from(
        toolset_releases, toolset_versions, toolset_versions.c.id == toolset_releases.c.toolset_version_id
    )
    .outerjoin(api_keys, acted_as(toolset_releases.c.released_by_user_id))
)


async def next_release_number(conn: AsyncConnection, toolset_id: UUID) -> int:
    """Gapless per toolset because every caller holds the live toolset's row lock."""
    stmt = select(func.coalesce(func.max(toolset_releases.c.release_number), 0) + 1).where(
        toolset_releases.c.toolset_id == toolset_id
    )
    number: int = (await conn.execute(stmt)).scalar_one()
    return number


async def insert_release(conn: AsyncConnection, **values: Any) -> UUID:
    # clock_timestamp(), not now(): a transaction that waited for the toolset's lock
    # started earlier but releases later, and listing is newest first by created_at.
    stmt = (
        insert(toolset_releases)
        .values(created_at=func.clock_timestamp(), **values)
        .returning(toolset_releases.c.id)
    )
    release_id: UUID = (await conn.execute(stmt)).scalar_one()
    return release_id


async def insert_current_release(conn: AsyncConnection, toolset_id: UUID, **values: Any) -> tuple[UUID, int]:
    """The toolset's next release, made its current one, in one statement.

    Numbers are gapless because every caller holds the live toolset's row lock.
    """
    number = (
        select(func.coalesce(func.max(toolset_releases.c.release_number), 0) + 1)
        .where(toolset_releases.c.toolset_id == toolset_id)
        .scalar_subquery()
    )
    released = (
        insert(toolset_releases)
        .values(toolset_id=toolset_id, release_number=number, created_at=func.clock_timestamp(), **values)
        .returning(toolset_releases.c.id, toolset_releases.c.release_number)
        .cte("released")
    )
    pointed = (
        update(toolsets)
        .where(toolsets.c.id == toolset_id)
        .values(current_release_id=select(released.c.id).scalar_subquery(), updated_at=func.now())
        .cte("pointed")
    )
    row = (await conn.execute(select(released.c.id, released.c.release_number).add_cte(pointed))).one()
    return row[0], row[1]


async def get_release(conn: AsyncConnection, release_id: UUID) -> RowMapping:
    return (await conn.execute(_RELEASE_VIEW.where(toolset_releases.c.id == release_id))).mappings().one()


async def find_release(conn: AsyncConnection, toolset_id: UUID, number: int) -> RowMapping | None:
    stmt = _RELEASE_VIEW.where(
        toolset_releases.c.toolset_id == toolset_id, toolset_releases.c.release_number == number
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def find_release_by_name(conn: AsyncConnection, toolset_id: UUID, name: str) -> RowMapping | None:
    stmt = _RELEASE_VIEW.where(toolset_releases.c.toolset_id == toolset_id, toolset_releases.c.name == name)
    return (await conn.execute(stmt)).mappings().one_or_none()


async def list_releases(
    conn: AsyncConnection, toolset_id: UUID, after: tuple[datetime, int] | None, limit: int
) -> list[RowMapping]:
    """Newest first, walking the (toolset_id, created_at DESC) index."""
    stmt = _RELEASE_VIEW.where(toolset_releases.c.toolset_id == toolset_id)
    if after is not None:
        stmt = stmt.where(
            tuple_(toolset_releases.c.created_at, toolset_releases.c.release_number) < tuple_(*after)
        )
    stmt = stmt.order_by(toolset_releases.c.created_at.desc(), toolset_releases.c.release_number.desc())
    return list((await conn.execute(stmt.limit(limit))).mappings())


async def insert_audit_entry(
    conn: AsyncConnection,
    toolset_id: UUID,
    action: str,
    actor: str,
    from_release: int | None = None,
    to_release: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        insert(toolset_audit_entries).values(
            toolset_id=toolset_id,
            action=action,
            actor=actor,
            from_release_number=from_release,
            to_release_number=to_release,
            details=details or {},
            created_at=func.clock_timestamp(),
        )
    )


AUDIT_COLUMNS = (
    toolset_audit_entries.c.id,
    toolset_audit_entries.c.action,
    toolset_audit_entries.c.actor,
    toolset_audit_entries.c.from_release_number,
    toolset_audit_entries.c.to_release_number,
    toolset_audit_entries.c.details,
    toolset_audit_entries.c.created_at,
)


async def list_audit_entries(
    conn: AsyncConnection, toolset_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[RowMapping]:
    stmt = (
        select(*AUDIT_COLUMNS, *ACTING_KEY_COLUMNS)
        .outerjoin(api_keys, acted_as(toolset_audit_entries.c.actor))
        .where(toolset_audit_entries.c.toolset_id == toolset_id)
    )
    if after is not None:
        stmt = stmt.where(
            tuple_(toolset_audit_entries.c.created_at, toolset_audit_entries.c.id) < tuple_(*after)
        )
    stmt = stmt.order_by(toolset_audit_entries.c.created_at.desc(), toolset_audit_entries.c.id.desc())
    return list((await conn.execute(stmt.limit(limit))).mappings())


async def find_idempotency_key(
    conn: AsyncConnection, toolset_id: UUID, operation: str, key: str
) -> RowMapping | None:
    stmt = select(idempotency_keys.c.request_hash, idempotency_keys.c.release_id).where(
        idempotency_keys.c.toolset_id == toolset_id,
        idempotency_keys.c.operation == operation,
        idempotency_keys.c.key == key,
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def insert_idempotency_key(
    conn: AsyncConnection, toolset_id: UUID, operation: str, key: str, request_hash: str, release_id: UUID
) -> None:
    await conn.execute(
        insert(idempotency_keys).values(
            toolset_id=toolset_id,
            operation=operation,
            key=key,
            request_hash=request_hash,
            release_id=release_id,
        )
    )
