"""Webhook use cases: create, list, get, delete; list and redeliver deliveries."""

import base64
import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.kit.pagination import encode_cursor
from app.projects.service import resolve_project
from app.webhooks import queries
from app.webhooks.delivery import message_id
from app.webhooks.events import enqueue_deliveries
from app.webhooks.schemas import (
    SECRET_PREFIX,
    DeliveryAttempt,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookDelivery,
)

MAX_WEBHOOKS_PER_PROJECT = 50


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


class TooManyWebhooks(Conflict):
    code = "too_many_webhooks"


class DeliveryPending(Conflict):
    code = "delivery_pending"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _position(after: list[Any] | None) -> tuple[datetime, UUID] | None:
    if after is None:
        return None
    try:
        return datetime.fromisoformat(str(after[0])), UUID(str(after[1]))
    except (ValueError, IndexError, TypeError) as exc:
        raise Unprocessable("The cursor is not one this service issued.") from exc


def _cursor(rows: list[RowMapping], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor([last["created_at"].isoformat(), str(last["id"])])


def as_delivery(row: RowMapping, attempts: list[RowMapping]) -> WebhookDelivery:
    return WebhookDelivery.model_validate(
        {
            **row,
            "message_id": message_id(row["id"]),
            "attempts": [DeliveryAttempt.model_validate(a) for a in attempts],
        }
    )


class WebhookService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def _project_id(self, project: str) -> UUID:
        project_id: UUID = (await resolve_project(self.conn, self.org, project))["id"]
        return project_id

    async def _webhook(self, project_id: UUID, webhook_id: UUID) -> RowMapping:
        row = await queries.find_webhook(self.conn, project_id, webhook_id)
        if row is None:
            raise WebhookNotFound(f"Webhook {webhook_id} does not exist.")
        return row

    async def create(self, project: str, body: WebhookCreate) -> WebhookCreated:
        events = sorted(set(body.events))
        if len(events) != len(body.events):
            raise Unprocessable(
                "Each event type may be listed once.",
                errors=[{"field": "body.events", "message": "duplicate event type"}],
            )
        async with self.conn.begin():
            project_id = await self._project_id(project)
            # Serialises creates of one project, so the limit holds under concurrency.
            await queries.lock_project(self.conn, project_id)
            if await queries.count_webhooks(self.conn, project_id) >= MAX_WEBHOOKS_PER_PROJECT:
                raise TooManyWebhooks(f"A project has at most {MAX_WEBHOOKS_PER_PROJECT} webhooks.")
            row = await queries.insert_webhook(
                self.conn, self.org, project_id, body.url, events, body.secret or new_secret(), self.actor
            )
        return WebhookCreated.model_validate(row)

    async def list_webhooks(
        self, project: str, after: list[Any] | None, limit: int
    ) -> tuple[list[Webhook], str | None]:
        position = _position(after)
        async with self.conn.begin():
            project_id = await self._project_id(project)
            rows = await queries.list_webhooks(self.conn, project_id, position, limit + 1)
        return [Webhook.model_validate(r) for r in rows[:limit]], _cursor(rows, limit)

    async def get(self, project: str, webhook_id: UUID) -> Webhook:
        async with self.conn.begin():
            row = await self._webhook(await self._project_id(project), webhook_id)
        return Webhook.model_validate(row)

    async def delete(self, project: str, webhook_id: UUID) -> None:
        """Its deliveries go with it; a queued delivery job then finds nothing to send."""
        async with self.conn.begin():
            if not await queries.delete_webhook(self.conn, await self._project_id(project), webhook_id):
                raise WebhookNotFound(f"Webhook {webhook_id} does not exist.")

    async def list_deliveries(
        self, project: str, webhook_id: UUID, after: list[Any] | None, limit: int
    ) -> tuple[list[WebhookDelivery], str | None]:
        position = _position(after)
        async with self.conn.begin():
            await queries.read_from_one_snapshot(self.conn)
            await self._webhook(await self._project_id(project), webhook_id)
            rows = await queries.list_deliveries(self.conn, webhook_id, position, limit + 1)
            attempts = await queries.attempts_of(self.conn, [r["id"] for r in rows[:limit]])
        return [as_delivery(r, attempts[r["id"]]) for r in rows[:limit]], _cursor(rows, limit)

    async def redeliver(self, project: str, webhook_id: UUID, delivery_id: UUID) -> WebhookDelivery:
        """Send a delivered or failed delivery again: same message id and body, a fresh
        signature; its attempts continue the same count and are retried as before."""
        async with self.conn.begin():
            await self._webhook(await self._project_id(project), webhook_id)
            row = await queries.find_delivery(self.conn, webhook_id, delivery_id)
            if row is None:
                raise DeliveryNotFound(f"Webhook {webhook_id} has no delivery {delivery_id}.")
            if row["status"] == "pending":
                raise DeliveryPending(
                    "This delivery is still pending: its next attempt is already scheduled "
                    f"for {row['next_attempt_at'] or 'now'}."
                )
            await queries.mark_pending(self.conn, delivery_id)
            await enqueue_deliveries(self.conn, [delivery_id])
            row = await queries.find_delivery(self.conn, webhook_id, delivery_id)
            assert row is not None
            attempts = await queries.attempts_of(self.conn, [delivery_id])
        return as_delivery(row, attempts[delivery_id])


async def webhook_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> WebhookService:
    return WebhookService(conn, principal)
