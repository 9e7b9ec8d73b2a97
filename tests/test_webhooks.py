"""Webhooks: signed Standard Webhooks deliveries of releases, rollbacks and mode switches,
enqueued in the change's transaction, retried with backoff, listed and redeliverable.

Receivers listen on 127.0.0.1; the test app's in-process worker delivers.
"""

import asyncio
import base64
import hashlib
import hmac
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import pgqueuer, projects, webhook_deliveries
from app.settings import Settings
from app.webhooks.events import emit
from tests.conftest import MakeHeaders
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch
from tests.webhook_receiver import Received, receiver

HOOKS = "/v1/projects/p/webhooks"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def verify_standard_webhook(secret: str, request: Received) -> None:
    """The Standard Webhooks algorithm, written from the specification (not the library that
    signs): HMAC-SHA256, keyed by the base64 part of the secret, over `id.timestamp.body`,
    sent as `v1,<base64>` among space-separated signatures."""
    msg_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    assert abs(int(timestamp) - time.time()) < 300
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    signatures = request.headers["webhook-signature"].split(" ")
    assert f"v1,{expected}" in signatures, signatures


async def create_webhook(
    client: httpx.AsyncClient, auth: dict[str, str], url: str, events: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(HOOKS, json={"url": url, "events": events, **extra}, headers=auth)
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()
    return webhook


async def publish_staging_edit(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    edit = await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth)
    assert edit.status_code == 200, edit.text
    published = await client.post(f"{BASE}/staging/publish", json={"notes": "three tools"}, headers=auth)
    assert published.status_code == 201, published.text
    release: dict[str, Any] = published.json()
    return release


async def deliveries(
    client: httpx.AsyncClient, auth: dict[str, str], webhook_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"{HOOKS}/{webhook_id}/deliveries", headers=auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settled(client: httpx.AsyncClient, auth: dict[str, str], webhook_id: str) -> list[dict[str, Any]]:
    """The deliveries once none is pending (the worker records an attempt after its answer)."""
    async with asyncio.timeout(60):
        while True:
            items = await deliveries(client, auth, webhook_id)
            if items and all(d["status"] != "pending" for d in items):
                return items
            await asyncio.sleep(0.05)


@pytest.fixture
def worker_settings(app_and_tables: Any) -> Settings:
    """The settings the test app's in-process worker reads (get_settings() may be another
    object by now: tests clear its cache)."""
    settings: Settings = app_and_tables.state.worker.settings
    return settings


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch, worker_settings: Settings) -> None:
    monkeypatch.setattr(worker_settings, "toolsets_webhook_backoff_seconds", 0.2)


async def test_publish_sends_a_release_published_event_signed_as_standard_webhooks(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    async with receiver() as hook:
        webhook = await create_webhook(client, auth, hook.url, ["release.published"], secret=SECRET)
        assert webhook["secret"] == SECRET
        assert (await switch(client, auth, "staging")).status_code == 200  # not subscribed
        await publish_staging_edit(client, auth)
        [request] = await hook.wait_for(1)
        items = await settled(client, auth, webhook["id"])

    verify_standard_webhook(SECRET, request)
    assert request.headers["content-type"] == "application/json"
    event = request.json
    assert event["type"] == "release.published"
    data = event["data"]
    assert {k: data[k] for k in ("project", "toolset", "release_number", "previous_release_number")} == {
        "project": "p",
        "toolset": "pets",
        "release_number": 2,
        "previous_release_number": 1,
    }
    assert data["trigger"] == "publish"
    assert data["actor"]
    assert data["toolset_id"]
    assert data["event_id"]
    [delivery] = items
    assert delivery["status"] == "delivered"
    assert delivery["message_id"] == request.headers["webhook-id"]
    assert delivery["payload"] == event
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in delivery["attempts"]] == [
        (1, 200, True)
    ]


async def test_rollback_and_mode_switch_send_their_events_in_order(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    async with receiver() as hook:
        events = ["release.published", "release.rolled_back", "toolset.mode_changed"]
        webhook = await create_webhook(client, auth, hook.url, events)
        assert (await switch(client, auth, "staging")).status_code == 200
        await publish_staging_edit(client, auth)
        assert (await client.post(f"{BASE}/releases/1/rollback", headers=auth)).status_code == 200
        requests = await hook.wait_for(3)

    for request in requests:
        verify_standard_webhook(webhook["secret"], request)
    by_type = {r.json["type"]: r.json["data"] for r in requests}
    assert by_type["toolset.mode_changed"]["from"] == "iteration"
    assert by_type["toolset.mode_changed"]["to"] == "staging"
    assert by_type["toolset.mode_changed"]["release_number"] == 1
    assert by_type["release.published"]["release_number"] == 2
    assert by_type["release.rolled_back"]["from_release_number"] == 2
    assert by_type["release.rolled_back"]["to_release_number"] == 1
    assert len({r.headers["webhook-id"] for r in requests}) == 3


async def test_a_failing_receiver_is_retried_with_exponential_backoff(
    client: httpx.AsyncClient, auth: dict[str, str], fast_backoff: None
) -> None:
    await project_with_toolset(client, auth)
    async with receiver(statuses=[500, 503]) as hook:
        webhook = await create_webhook(client, auth, hook.url, ["toolset.mode_changed"])
        assert (await switch(client, auth, "staging")).status_code == 200
        requests = await hook.wait_for(3)
        [delivery] = await settled(client, auth, webhook["id"])

    assert [r.headers["webhook-id"] for r in requests] == [requests[0].headers["webhook-id"]] * 3
    for request in requests:
        verify_standard_webhook(webhook["secret"], request)
    first_gap = requests[1].started - requests[0].started
    second_gap = requests[2].started - requests[1].started
    assert first_gap >= 0.2
    assert second_gap >= 0.4  # doubled
    assert delivery["status"] == "delivered"
    assert delivery["attempt_count"] == 3
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in delivery["attempts"]] == [
        (3, 200, True),
        (2, 503, False),
        (1, 500, False),
    ]
    assert delivery["attempts"][1]["error"] == "HTTP 503"


async def test_a_delivery_that_keeps_failing_stops_and_can_be_redelivered(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    fast_backoff: None,
    monkeypatch: pytest.MonkeyPatch,
    worker_settings: Settings,
) -> None:
    monkeypatch.setattr(worker_settings, "toolsets_webhook_max_attempts", 2)
    await project_with_toolset(client, auth)
    async with receiver(statuses=[500, 500]) as hook:
        webhook = await create_webhook(client, auth, hook.url, ["toolset.mode_changed"])
        assert (await switch(client, auth, "staging")).status_code == 200
        [failed] = await settled(client, auth, webhook["id"])
        assert failed["status"] == "failed"
        assert failed["next_attempt_at"] is None
        assert [a["status_code"] for a in failed["attempts"]] == [500, 500]

        url = f"{HOOKS}/{webhook['id']}/deliveries/{failed['id']}/redeliver"
        redelivered = await client.post(url, headers=auth)
        assert redelivered.status_code == 202, redelivered.text
        assert redelivered.json()["status"] == "pending"
        requests = await hook.wait_for(3)
        [delivery] = await settled(client, auth, webhook["id"])

    assert delivery["status"] == "delivered"
    assert delivery["attempt_count"] == 3
    assert requests[2].headers["webhook-id"] == requests[0].headers["webhook-id"]
    assert requests[2].body == requests[0].body
    verify_standard_webhook(webhook["secret"], requests[2])


async def test_a_pending_delivery_is_not_redelivered(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    worker_settings: Settings,
) -> None:
    monkeypatch.setattr(worker_settings, "toolsets_webhook_backoff_seconds", 3600.0)
    await project_with_toolset(client, auth)
    async with receiver(statuses=[500]) as hook:
        webhook = await create_webhook(client, auth, hook.url, ["toolset.mode_changed"])
        assert (await switch(client, auth, "staging")).status_code == 200
        await hook.wait_for(1)
        async with asyncio.timeout(60):
            while not (items := await deliveries(client, auth, webhook["id"]))[0]["attempts"]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    [delivery] = items
    assert delivery["status"] == "pending"
    assert delivery["next_attempt_at"] is not None
    url = f"{HOOKS}/{webhook['id']}/deliveries/{delivery['id']}/redeliver"
    refused = await client.post(url, headers=auth)
    assert refused.status_code == 409
    assert refused.json()["code"] == "delivery_pending"


async def test_a_rolled_back_change_sends_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    """`emit` is what publish, rollback and mode switch call in their transaction."""
    await project_with_toolset(client, auth)
    async with receiver() as hook:
        webhook = await create_webhook(client, auth, hook.url, ["release.published"])
        async with engine.begin() as conn:
            project_id = (await conn.execute(select(projects.c.id))).scalar_one()

        async def failing_change() -> None:
            async with engine.begin() as conn:
                await emit(conn, project_id, "release.published", {"which": "rolled back"})
                raise RuntimeError("the change failed")

        with pytest.raises(RuntimeError, match="the change failed"):
            await failing_change()
        async with engine.begin() as conn:
            await emit(conn, project_id, "release.published", {"which": "committed"})
        [request] = await hook.wait_for(1)
        await settled(client, auth, webhook["id"])
        await asyncio.sleep(0.3)  # a stray delivery would have arrived by now
        assert len(hook.requests) == 1

    assert request.json["data"]["which"] == "committed"
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(webhook_deliveries))).scalar_one() == 1
        assert (await conn.execute(select(func.count()).select_from(pgqueuer))).scalar_one() == 0


async def test_a_refused_publish_sends_nothing(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    async with receiver() as hook:
        webhook = await create_webhook(client, auth, hook.url, ["release.published"])
        assert (await switch(client, auth, "staging")).status_code == 200
        assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
        stale = await client.post(f"{BASE}/staging/publish", headers=auth | {"If-Match": '"1"'})
        assert stale.status_code == 412
        assert await deliveries(client, auth, webhook["id"]) == []
        assert hook.requests == []


async def test_webhooks_are_created_listed_read_and_deleted(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await project_with_toolset(client, auth)
    first = await create_webhook(client, auth, "https://example.com/a", ["release.published"])
    second = await create_webhook(
        client, auth, "http://127.0.0.1:9/b", ["schedule.failed", "release.rolled_back"]
    )
    assert first["secret"].startswith("whsec_")
    assert len(base64.b64decode(first["secret"].removeprefix("whsec_"))) == 32
    assert second["events"] == ["release.rolled_back", "schedule.failed"]

    listed = (await client.get(HOOKS, headers=auth)).json()
    assert [w["id"] for w in listed["items"]] == [second["id"], first["id"]]
    assert all("secret" not in w for w in listed["items"])
    page = (await client.get(HOOKS, params={"limit": 1}, headers=auth)).json()
    rest = (await client.get(HOOKS, params={"cursor": page["next_cursor"]}, headers=auth)).json()
    assert [w["id"] for w in page["items"] + rest["items"]] == [second["id"], first["id"]]

    got = await client.get(f"{HOOKS}/{first['id']}", headers=auth)
    assert got.status_code == 200
    assert "secret" not in got.json()

    other_org = await headers(org="org-b")
    assert (await client.get(f"{HOOKS}/{first['id']}", headers=other_org)).status_code == 404
    reader = await headers(scopes=("read",))
    assert (await client.delete(f"{HOOKS}/{first['id']}", headers=reader)).status_code == 403
    refused = await client.post(
        HOOKS, json={"url": "https://x.test", "events": ["label.moved"]}, headers=reader
    )
    assert refused.status_code == 403

    assert (await client.delete(f"{HOOKS}/{first['id']}", headers=auth)).status_code == 204
    assert (await client.get(f"{HOOKS}/{first['id']}", headers=auth)).status_code == 404
    assert (await client.delete(f"{HOOKS}/{first['id']}", headers=auth)).status_code == 404
    missing = await client.get(f"{HOOKS}/{first['id']}/deliveries", headers=auth)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "events": ["release.published"]},
        {"url": "example.com/x", "events": ["release.published"]},
        {"url": "https://user:pw@example.com/x", "events": ["release.published"]},
        {"url": "https://example.com:99999/x", "events": ["release.published"]},
        {"url": "https://example.com/x", "events": []},
        {"url": "https://example.com/x", "events": ["release.deleted"]},
        {"url": "https://example.com/x", "events": ["release.published", "release.published"]},
        {"url": "https://example.com/x", "events": ["release.published"], "secret": "s3cret"},
        {"url": "https://example.com/x", "events": ["release.published"], "secret": "whsec_c2hvcnQ="},
        {"url": "https://example.com/x", "events": ["release.published"], "color": "red"},
    ],
)
async def test_invalid_webhooks_are_refused(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]
) -> None:
    await project_with_toolset(client, auth)
    response = await client.post(HOOKS, json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(HOOKS, headers=auth)).json()["items"] == []


async def test_deleting_a_webhook_stops_its_retries(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine, fast_backoff: None
) -> None:
    await project_with_toolset(client, auth)
    async with receiver(statuses=[500] * 100) as hook:
        webhook = await create_webhook(client, auth, hook.url, ["toolset.mode_changed"])
        assert (await switch(client, auth, "staging")).status_code == 200
        await hook.wait_for(1)
        assert (await client.delete(f"{HOOKS}/{webhook['id']}", headers=auth)).status_code == 204
        seen = len(hook.requests)
        async with asyncio.timeout(60):  # the queued retry runs, finds nothing and ends
            while True:
                async with engine.connect() as conn:
                    if not (await conn.execute(select(func.count()).select_from(pgqueuer))).scalar_one():
                        break
                await asyncio.sleep(0.05)
        assert len(hook.requests) <= seen + 1  # at most an attempt already under way
