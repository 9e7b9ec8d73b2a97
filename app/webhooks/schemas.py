import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app.kit.schemas import Schema

EventType = Literal[
    "release.published",
    "release.rolled_back",
    "toolset.mode_changed",
    "label.moved",
    "review.approved",
    "schedule.failed",
]
SECRET_PREFIX = "whsec_"


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError("not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; the signature authenticates the sender")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    return value


def _secret(value: str) -> str:
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with '{SECRET_PREFIX}'")
    try:
        key = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be whsec_ followed by base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("the base64 part must decode to 24 to 64 bytes")
    return value


WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_http_url)]
WebhookSecret = Annotated[str, StringConstraints(max_length=200), AfterValidator(_secret)]


class WebhookCreate(Schema):
    url: WebhookUrl = Field(description="Where events are POSTed.", examples=["https://example.com/hooks"])
    events: list[EventType] = Field(
        min_length=1,
        max_length=6,
        description="The event types to send; each at most once.",
        examples=[["release.published", "release.rolled_back"]],
    )
    secret: WebhookSecret | None = Field(
        None,
        description=(
            "A Standard Webhooks signing secret, `whsec_` and base64 of 24 to 64 bytes. "
            "Made for you when absent; answered only by createWebhook."
        ),
    )


class Webhook(BaseModel):
    id: UUID = Field(description="The webhook's id.")
    url: str = Field(description="Where events are POSTed.")
    events: list[EventType] = Field(description="The event types it receives, sorted.")
    created_by: str = Field(description="The id of the API key that made it.")
    created_at: datetime = Field(description="When it was made.")


class WebhookCreated(Webhook):
    secret: str = Field(description="The signing secret. Shown only here: store it now.")


class DeliveryAttempt(BaseModel):
    attempt: int = Field(description="1 for the first attempt, then 2, 3… (redeliveries continue the count).")
    started_at: datetime = Field(description="When the request was sent; also its `webhook-timestamp`.")
    duration_ms: int = Field(description="How long the receiver took to answer, in milliseconds.")
    status_code: int | None = Field(description="The receiver's HTTP status; null when none came back.")
    succeeded: bool = Field(description="True for a 2xx answer.")
    error: str | None = Field(description="Why it failed (`HTTP 503`, `timed out`, …); null on success.")


class WebhookDelivery(BaseModel):
    id: UUID = Field(description="The delivery's id: one event sent to one webhook.")
    message_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    event_id: UUID = Field(description="The same for every webhook that heard this event.")
    event_type: EventType = Field(description="The event's type, as in the body's `type`.")
    status: Literal["pending", "delivered", "failed"] = Field(
        description="`pending` until an attempt succeeds (`delivered`) or the last one fails (`failed`)."
    )
    attempt_count: int = Field(description="Attempts made so far.")
    next_attempt_at: datetime | None = Field(description="When the next attempt is due; null unless pending.")
    created_at: datetime = Field(description="When the event happened.")
    updated_at: datetime = Field(description="When the delivery last changed.")
    payload: dict[str, Any] = Field(description="The JSON body sent: `{type, timestamp, data}`.")
    attempts: list[DeliveryAttempt] = Field(description="Every attempt, newest first (at most 50).")
