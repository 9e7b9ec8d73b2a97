"""`emit`: the one call a use case makes to tell webhooks about a change.

It runs inside the use case's transaction: the deliveries and their jobs commit with
the change, or vanish with it. A project with no webhook listening costs one
statement that inserts nothing.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.jobs.queue import DELIVER_WEBHOOK, enqueue
from app.webhooks import queries
from app.webhooks.schemas import EventType


async def enqueue_deliveries(
    conn: AsyncConnection, delivery_ids: list[UUID], execute_after: timedelta | None = None
) -> None:
    """One `deliver_webhook` job per delivery, due now or after `execute_after`."""
    await enqueue(conn, DELIVER_WEBHOOK, [d.bytes for d in delivery_ids], execute_after=execute_after)


def event_payload(event_type: EventType, data: dict[str, Any]) -> tuple[UUID, dict[str, Any]]:
    """A new event's id and its Standard Webhooks payload `{type, timestamp, data}`."""
    event_id = uuid4()
    payload = {
        "type": event_type,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"event_id": str(event_id), **data},
    }
    return event_id, payload


def toolset_event_data(project: str, live: Mapping[Any, Any], actor: str, **fields: Any) -> dict[str, Any]:
    """An event about a live toolset names the project, toolset and acting key."""
    data = {"project": project, "toolset": live["slug"], "toolset_id": str(live["id"]), "actor": actor}
    return data | fields


async def emit(conn: AsyncConnection, project_id: UUID, event_type: EventType, data: dict[str, Any]) -> None:
    """Record `event_type` for each webhook of the project that listens to it, and enqueue
    the deliveries."""
    event_id, payload = event_payload(event_type, data)
    delivery_ids = await queries.insert_deliveries(conn, project_id, event_type, event_id, payload)
    if delivery_ids:
        await enqueue_deliveries(conn, delivery_ids)


async def emit_toolset_event(
    conn: AsyncConnection,
    event_type: EventType,
    project: str,
    live: RowMapping,
    actor: str,
    **fields: Any,
) -> None:
    """`emit` for an event about a live toolset: names the project, toolset and acting key."""
    await emit(conn, live["project_id"], event_type, toolset_event_data(project, live, actor, **fields))
