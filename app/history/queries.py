"""Every statement of the served history: each move of a toolset's served pointer or of a label.

`record_served_move` is the one way a pointer move is written down: every operation that
may change what a toolset serves (publish, createRelease, rollback, mode switch, restore)
calls it after its change, in its transaction, with the live row as it was before.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.queries import ACTING_KEY_COLUMNS, acted_as
from app.db.tables import api_keys, served_history

# What a live toolset serves: a release number in staging mode, nothing but "iteration" otherwise.
_RECORD_SERVED_MOVE = text(
    """
    INSERT INTO served_history
        (toolset_id, label, action, actor, reason,
         from_mode, from_release_number, to_mode, to_release_number, created_at)
    SELECT t.id, NULL, :action, :actor, :reason,
           CAST(:from_mode AS text), CAST(:from_number AS bigint), t.editing_mode,
           CASE WHEN t.editing_mode = 'staging' THEN r.release_number END, clock_timestamp()
    FROM toolsets t LEFT JOIN toolset_releases r ON r.id = t.current_release_id
    WHERE t.id = :toolset_id
      AND (t.editing_mode, CASE WHEN t.editing_mode = 'staging' THEN r.release_number END)
          IS DISTINCT FROM (CAST(:from_mode AS text), CAST(:from_number AS bigint))
    """
)


def served_by(live: RowMapping) -> tuple[str, int | None]:
    """(mode, release number) a live toolset row serves; the number only in staging mode."""
    mode: str = live["editing_mode"]
    return mode, live["current_release_number"] if mode == "staging" else None


async def record_served_move(
    conn: AsyncConnection, before: RowMapping, action: str, actor: str, reason: str | None = None
) -> None:
    """Record the move from what `before` (the live row read before the change) served to what
    the row serves now; nothing when the served state did not move (one statement)."""
    from_mode, from_number = served_by(before)
    await conn.execute(
        _RECORD_SERVED_MOVE,
        {
            "toolset_id": before["id"],
            "action": action,
            "actor": actor,
            "reason": reason,
            "from_mode": from_mode,
            "from_number": from_number,
        },
    )


async def record_label_move(
    conn: AsyncConnection,
    toolset_id: UUID,
    label: str,
    action: str,
    actor: str,
    from_number: int | None,
    to_number: int | None,
) -> None:
    await conn.execute(
        insert(served_history).values(
            toolset_id=toolset_id,
            label=label,
            action=action,
            actor=actor,
            from_release_number=from_number,
            to_release_number=to_number,
            created_at=func.clock_timestamp(),
        )
    )


HISTORY_COLUMNS = (
    served_history.c.id,
    served_history.c.label,
    served_history.c.action,
    served_history.c.actor,
    served_history.c.reason,
    served_history.c.from_mode,
    served_history.c.from_release_number,
    served_history.c.to_mode,
    served_history.c.to_release_number,
    served_history.c.created_at,
)


def _of(toolset_id: UUID, label: str | None) -> Any:
    column = served_history.c.label
    return (served_history.c.toolset_id == toolset_id) & (
        column.is_(None) if label is None else column == label
    )


async def list_moves(
    conn: AsyncConnection,
    toolset_id: UUID,
    label: str | None,
    all_pointers: bool,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[RowMapping]:
    """Newest first: every pointer's moves, or those of one (label None = the served pointer)."""
    condition = served_history.c.toolset_id == toolset_id if all_pointers else _of(toolset_id, label)
    stmt = (
        select(*HISTORY_COLUMNS, *ACTING_KEY_COLUMNS)
        .outerjoin(api_keys, acted_as(served_history.c.actor))
        .where(condition)
    )
    if after is not None:
        stmt = stmt.where(tuple_(served_history.c.created_at, served_history.c.id) < tuple_(*after))
    stmt = stmt.order_by(served_history.c.created_at.desc(), served_history.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def last_move_until(
    conn: AsyncConnection, toolset_id: UUID, label: str | None, time: datetime
) -> RowMapping | None:
    stmt = (
        select(*HISTORY_COLUMNS)
        .where(_of(toolset_id, label), served_history.c.created_at <= time)
        .order_by(served_history.c.created_at.desc(), served_history.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def first_move_after(
    conn: AsyncConnection, toolset_id: UUID, label: str | None, time: datetime
) -> RowMapping | None:
    stmt = (
        select(*HISTORY_COLUMNS)
        .where(_of(toolset_id, label), served_history.c.created_at > time)
        .order_by(served_history.c.created_at, served_history.c.id)
        .limit(1)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()
