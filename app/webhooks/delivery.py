"""The `deliver_webhook` job: one signed POST of one delivery, then success, a retry, or failure.

The attempt is recorded and, when it failed and attempts remain, the next attempt is
enqueued due after an exponential backoff, in one transaction: a worker killed at any
point leaves either the attempt and its follow-up, or neither (then pgqueuer offers the
unfinished job again once its heartbeat is stale). Delivery is therefore at least once.

The delivery's row stays locked (`FOR UPDATE SKIP LOCKED`) while its attempt runs, so a
second worker that is handed the same delivery (a redelivery, or a job re-offered
after a lost heartbeat) skips it: a delivery is never attempted twice at once.
Attempts are bounded by the HTTP timeout, which bounds how long the lock is held.
"""

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
from standardwebhooks import Webhook as Signer

from app.jobs.tasks import JobDeps
from app.settings import Settings
from app.webhooks import queries
from app.webhooks.events import enqueue_deliveries

logger = logging.getLogger("app.webhooks")

USER_AGENT = "toolsets-webhooks/1"


def message_id(delivery_id: UUID) -> str:
    return f"msg_{delivery_id.hex}"


def backoff(settings: Settings, attempt: int) -> timedelta:
    """Exponential: base, 2 x base, 4 x base, … after attempts 1, 2, 3, … capped."""
    seconds = settings.toolsets_webhook_backoff_seconds * 2 ** (attempt - 1)
    return timedelta(seconds=min(seconds, settings.toolsets_webhook_max_backoff_seconds))


def signed_headers(secret: str, msg_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Signer(secret).sign(msg_id, sent_at, body),
    }


async def _post(
    http: httpx.AsyncClient, url: str, body: str, headers: dict[str, str]
) -> tuple[int | None, str | None]:
    """The receiver's status code and, unless it is 2xx, a short error; never raises."""
    try:
        response = await http.post(url, content=body.encode(), headers=headers)
    except httpx.TimeoutException:
        return None, "timed out"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


async def deliver_webhook(deps: JobDeps, payload: bytes) -> None:
    delivery_id = UUID(bytes=payload)
    settings = deps.settings
    opened = time.monotonic()  # no later than the transaction's start, which is its NOW()
    async with deps.engine.connect() as conn, conn.begin():
        row = await queries.lock_delivery_for_attempt(conn, delivery_id)
        if row is None or row["status"] != "pending":
            return  # deleted with its webhook, being attempted elsewhere, or already done
        attempt = row["attempt_count"] + 1
        body = json.dumps(row["payload"], separators=(",", ":"), ensure_ascii=False)
        started_at = datetime.now(UTC)
        clock = time.monotonic()
        headers = signed_headers(row["secret"], message_id(delivery_id), started_at, body)
        status_code, error = await _post(deps.http, row["url"], body, headers)
        duration_ms = int((time.monotonic() - clock) * 1000)
        if error is None:
            status, next_attempt_at = "delivered", None
        elif attempt >= settings.toolsets_webhook_max_attempts:
            status, next_attempt_at = "failed", None
        else:
            retry_in = backoff(settings, attempt)
            status, next_attempt_at = "pending", started_at + retry_in
            # The queue counts `execute_after` from NOW(), this transaction's start, which was
            # before the attempt: add the time since, so the wait counts from the attempt.
            since_start = timedelta(seconds=time.monotonic() - opened)
            await enqueue_deliveries(conn, [delivery_id], execute_after=retry_in + since_start)
        await queries.record_attempt(
            conn,
            delivery_id,
            attempt=attempt,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=status_code,
            succeeded=error is None,
            error=error,
            status=status,
            next_attempt_at=next_attempt_at,
        )
    logger.info(
        "webhook attempt",
        extra={"delivery_id": str(delivery_id), "attempt": attempt, "status": status, "code": status_code},
    )
