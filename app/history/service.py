"""Served history (listServedHistory) and what clients were served at an instant (getServedAt)."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.schemas import key_ref
from app.history import queries
from app.history.schemas import CURRENT, ServedAt, ServedMove
from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import NotFound, Unprocessable
from app.kit.pagination import encode_cursor
from app.toolsets.service import live_toolset


class NothingServed(NotFound):
    code = "nothing_served"


def as_move(row: Any) -> ServedMove:
    actor = key_ref(row["actor"], row["key_name"], row["key_prefix"])
    return ServedMove.model_validate({**row, "label": row["label"] or CURRENT, "actor": actor})


class HistoryService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id

    async def list_moves(
        self, project: str, slug: str, label: str | None, after: list[Any] | None, limit: int
    ) -> tuple[list[ServedMove], str | None]:
        position = None
        if after is not None:
            try:
                position = (datetime.fromisoformat(str(after[0])), UUID(str(after[1])))
            except (ValueError, IndexError, TypeError) as exc:
                raise Unprocessable("The cursor is not one this service issued.") from exc
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            rows = await queries.list_moves(
                self.conn,
                live["id"],
                None if label == CURRENT else label,
                label is None,
                position,
                limit + 1,
            )
        items = [as_move(r) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        cursor = encode_cursor([last["created_at"].isoformat(), str(last["id"])]) if last else None
        return items, cursor

    async def served_at(self, project: str, slug: str, time: datetime, label: str) -> ServedAt:
        """The latest move at or before `time`; before the first recorded move, what that move
        moved away from; with no move at all, what the toolset serves now."""
        if time.tzinfo is None:
            time = time.replace(tzinfo=UTC)
        key = None if label == CURRENT else label
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            if time < live["created_at"]:
                raise NothingServed(f"Toolset '{slug}' did not exist at {time.isoformat()}.")
            mode: str | None
            number: int | None
            since: datetime | None
            last = await queries.last_move_until(self.conn, live["id"], key, time)
            if last is not None:
                mode, number, since = last["to_mode"], last["to_release_number"], last["created_at"]
            elif (first := await queries.first_move_after(self.conn, live["id"], key, time)) is not None:
                mode, number, since = first["from_mode"], first["from_release_number"], None
            elif key is None:
                (mode, number), since = queries.served_by(live), live["created_at"]
            else:
                mode, number, since = None, None, None
        if key is not None and number is None:
            raise NothingServed(f"Toolset '{slug}' had no label '{label}' at {time.isoformat()}.")
        return ServedAt(time=time, label=label, editing_mode=mode, release_number=number, since=since)


async def history_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> HistoryService:
    return HistoryService(conn, principal)
