"""Every statement of the MCP domain."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

EVENTS_CHANNEL = "mcp_events"


async def notify_event(conn: AsyncConnection, payload: str) -> None:
    """Send an MCP event to every process (delivered when the caller's transaction commits)."""
    await conn.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": EVENTS_CHANNEL, "payload": payload}
    )
