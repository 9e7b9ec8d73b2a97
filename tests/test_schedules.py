"""Scheduled publish: 202 and a job; it runs once at its time on any worker, re-checks the
staging version it was given, is audited like a publish, and reports what stopped it."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import MakeHeaders
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch
from tests.webhook_receiver import receiver

PUBLISH = f"{BASE}/staging/publish"


async def staged_edit(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    edited = await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth)
    assert edited.status_code == 200, edited.text
    staging: dict[str, Any] = edited.json()
    return staging


def soon(seconds: float = 1.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def schedule(
    client: httpx.AsyncClient, auth: dict[str, str], seconds: float = 1.0, **extra: Any
) -> dict[str, Any]:
    response = await client.post(PUBLISH, json={"publish_at": soon(seconds), **extra}, headers=auth)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"{BASE}/scheduled-publishes/{response.json()['id']}"
    scheduled: dict[str, Any] = response.json()
    return scheduled


async def finished(client: httpx.AsyncClient, auth: dict[str, str], schedule_id: str) -> dict[str, Any]:
    """The scheduled publish once it has run (a safety timeout, not a time limit)."""
    async with asyncio.timeout(60):
        while True:
            response = await client.get(f"{BASE}/scheduled-publishes/{schedule_id}", headers=auth)
            assert response.status_code == 200, response.text
            if response.json()["status"] != "scheduled":
                body: dict[str, Any] = response.json()
                return body
            await asyncio.sleep(0.05)


async def test_a_scheduled_publish_runs_at_its_time_and_is_audited_like_a_publish(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    staging = await staged_edit(client, auth)
    scheduled = await schedule(client, auth, notes="three tools, at nine")
    assert scheduled["status"] == "scheduled"
    assert scheduled["staging_version"] == staging["version"]
    assert scheduled["requested_by"]["prefix"].startswith("tsk_")
    assert (await client.get(f"{BASE}/releases/2", headers=auth)).status_code == 404  # not yet

    done = await finished(client, auth, scheduled["id"])
    assert done["status"] == "published"
    assert done["release_number"] == 2
    assert done["reason"] is None
    release = (await client.get(f"{BASE}/releases/2", headers=auth)).json()
    assert release["notes"] == "three tools, at nine"
    assert release["released_by"] == scheduled["requested_by"]
    assert datetime.fromisoformat(release["created_at"]) >= datetime.fromisoformat(scheduled["publish_at"])
    served = (await client.get(f"{BASE}/effective", headers=auth)).json()
    assert [t["urn"] for t in served["tools"]] == URNS[:3]
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 404
    [entry] = [
        e
        for e in (await client.get(f"{BASE}/audit", headers=auth)).json()["items"]
        if e["action"] == "publish"
    ]
    assert entry["details"]["scheduled_publish_id"] == scheduled["id"]
    assert entry["to_release_number"] == 2
    listed = (await client.get(f"{BASE}/scheduled-publishes", headers=auth)).json()["items"]
    assert [s["id"] for s in listed] == [scheduled["id"]]


async def test_it_runs_once_however_many_workers_there_are(
    client: httpx.AsyncClient, auth: dict[str, str], second_app: httpx.AsyncClient
) -> None:
    """This app and `second_app` each run a worker on the same database."""
    await staged_edit(client, auth)
    scheduled = await schedule(client, auth, seconds=0.5)
    assert (await finished(client, auth, scheduled["id"]))["status"] == "published"
    await asyncio.sleep(0.5)
    releases = (await client.get(f"{BASE}/releases", headers=auth)).json()["items"]
    assert [r["release_number"] for r in releases] == [2, 1]


async def test_a_later_edit_cancels_it_records_why_and_tells_webhooks(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    staging = await staged_edit(client, auth)
    async with receiver() as hook:
        body = {"url": hook.url, "events": ["schedule.failed"]}
        assert (await client.post("/v1/projects/p/webhooks", json=body, headers=auth)).status_code == 201
        scheduled = await schedule(client, auth, seconds=1.0)
        edited = await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:4]}, headers=auth)
        assert edited.status_code == 200
        done = await finished(client, auth, scheduled["id"])
        [request] = await hook.wait_for(1)

    assert done["status"] == "cancelled"
    assert done["reason"] == "staging_changed"
    assert str(staging["version"]) in done["detail"]
    assert (await client.get(f"{BASE}/releases/2", headers=auth)).status_code == 404
    assert (await client.get(f"{BASE}/staging", headers=auth)).json()["tool_urns"] == URNS[:4]
    event = request.json
    assert event["type"] == "schedule.failed"
    assert event["data"]["scheduled_publish_id"] == scheduled["id"]
    assert event["data"]["reason"] == "staging_changed"
    assert event["data"]["status"] == "cancelled"


async def test_a_discarded_staging_copy_cancels_it(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await staged_edit(client, auth)
    scheduled = await schedule(client, auth, seconds=0.5)
    assert (await client.delete(f"{BASE}/staging", headers=auth)).status_code == 204
    done = await finished(client, auth, scheduled["id"])
    assert (done["status"], done["reason"]) == ("cancelled", "staging_gone")


async def test_a_cancelled_schedule_does_not_publish(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await staged_edit(client, auth)
    scheduled = await schedule(client, auth, seconds=0.5)
    url = f"{BASE}/scheduled-publishes/{scheduled['id']}"
    reader = await headers(scopes=("read", "write"))
    assert (await client.delete(url, headers=reader)).status_code == 403
    cancelled = await client.delete(url, headers=auth)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["reason"]) == ("cancelled", "cancelled_by_request")
    await asyncio.sleep(1.0)  # past its time: the job ran and found it cancelled
    assert (await client.get(url, headers=auth)).json()["status"] == "cancelled"
    assert (await client.get(f"{BASE}/releases/2", headers=auth)).status_code == 404
    again = await client.delete(url, headers=auth)
    assert again.status_code == 409
    assert again.json()["code"] == "scheduled_publish_finished"
    # With the first one cancelled, a new one may be scheduled.
    await schedule(client, auth, seconds=60)


async def test_one_pending_schedule_per_toolset(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await staged_edit(client, auth)
    first = await schedule(client, auth, seconds=60)
    second = await client.post(PUBLISH, json={"publish_at": soon(120)}, headers=auth)
    assert second.status_code == 409
    assert second.json()["code"] == "publish_already_scheduled"
    assert second.json()["location"] == f"{BASE}/scheduled-publishes/{first['id']}"


@pytest.mark.parametrize(
    ("body", "extra_headers", "status"),
    [
        ({"publish_at": "2020-01-01T00:00:00Z"}, {}, 422),
        ({"publish_at": "2999-01-01T00:00:00Z"}, {}, 422),
        ({"publish_at": "2030-01-01T00:00:00"}, {}, 422),  # no time zone
        ({"publish_at": "tomorrow"}, {}, 422),
        ({"publish_at": "soon"}, {"Idempotency-Key": "k1"}, 422),
        ({"publish_at": "soon"}, {"If-Match": '"1"'}, 412),
    ],
)
async def test_invalid_schedules_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    body: dict[str, Any],
    extra_headers: dict[str, str],
    status: int,
) -> None:
    await staged_edit(client, auth)
    if body["publish_at"] == "soon":
        body = {"publish_at": soon(60)}
    response = await client.post(PUBLISH, json=body, headers=auth | extra_headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"{BASE}/scheduled-publishes", headers=auth)).json()["items"] == []


async def test_without_a_staging_copy_there_is_nothing_to_schedule(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    response = await client.post(PUBLISH, json={"publish_at": soon(60)}, headers=auth)
    assert response.status_code == 409
    assert response.json()["code"] == "no_staging_copy"
    missing = await client.get(
        f"{BASE}/scheduled-publishes/00000000-0000-0000-0000-000000000000", headers=auth
    )
    assert missing.status_code == 404
