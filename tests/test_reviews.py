"""Reviews and approvals: a policy's `required_approvals` makes publish need approvals of the
staging copy as it is, given by other keys with the `approve` scope; any edit voids them."""

import asyncio
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api_keys.queries import revoke_api_key
from tests.conftest import MakeHeaders
from tests.factories import create_deployment, make_tools
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch
from tests.test_api_keys import Cli, cli  # noqa: F401  (the `cli` fixture)
from tests.test_schedules import finished, schedule, soon
from tests.test_webhooks import verify_standard_webhook
from tests.webhook_receiver import receiver

REVIEW = f"{BASE}/staging/review"
APPROVALS = f"{REVIEW}/approvals"
PUBLISH = f"{BASE}/staging/publish"
SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


async def staged(client: httpx.AsyncClient, auth: dict[str, str], required: int = 1) -> dict[str, Any]:
    """`pets` in staging mode under a policy requiring `required` approvals, with a staging copy
    of three tools (release 1 serves two)."""
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    policy = await client.put(f"{BASE}/policy", json={"required_approvals": required}, headers=auth)
    assert policy.status_code == 200, policy.text
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    edited = await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth)
    assert edited.status_code == 200, edited.text
    staging: dict[str, Any] = edited.json()
    return staging


async def approver(headers: MakeHeaders) -> dict[str, str]:
    return await headers(scopes=("read", "approve"))


async def request_review(client: httpx.AsyncClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(REVIEW, json=body, headers=auth)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == REVIEW
    review: dict[str, Any] = response.json()
    return review


async def approve(client: httpx.AsyncClient, key: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(APPROVALS, json=body, headers=key)
    assert response.status_code == 201, response.text
    review: dict[str, Any] = response.json()
    return review


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def audit(client: httpx.AsyncClient, auth: dict[str, str], action: str) -> list[dict[str, Any]]:
    items = (await client.get(f"{BASE}/audit", headers=auth)).json()["items"]
    return [e for e in items if e["action"] == action]


async def test_request_approve_publish(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    staging = await staged(client, auth, required=2)
    refused = problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")
    assert refused["hint"] == f"POST {REVIEW}"
    assert (refused["required_approvals"], refused["valid_approvals"]) == (2, 0)

    review = await request_review(client, auth, note="three tools now")
    assert review["staging_version"] == staging["version"]
    assert (review["status"], review["approved"], review["valid_approvals"]) == ("open", False, 0)
    assert review["required_approvals"] == 2
    assert review["note"] == "three tools now"

    first, second = await approver(headers), await approver(headers)
    after_one = await approve(client, first, comment="fine")
    assert (after_one["valid_approvals"], after_one["approved"]) == (1, False)
    assert after_one["approvals"][0]["comment"] == "fine"
    assert after_one["approvals"][0]["approved_by"]["prefix"].startswith("tsk_")
    still = problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")
    assert still["hint"] == f"POST {APPROVALS}"
    assert still["valid_approvals"] == 1
    after_two = await approve(client, second)
    assert (after_two["valid_approvals"], after_two["approved"]) == (2, True)
    got = await client.get(REVIEW, headers=auth)
    assert got.json() == after_two
    assert got.headers["etag"] == f'"{staging["version"]}"'

    published = await client.post(PUBLISH, json={"notes": "reviewed"}, headers=auth)
    assert published.status_code == 201, published.text
    assert published.json()["release_number"] == 2
    # The publish consumed the review: it names its release and counts for nothing more.
    done = (await client.get(REVIEW, headers=auth)).json()
    assert (done["status"], done["release_number"], done["valid_approvals"]) == ("published", 2, 0)
    assert len(done["approvals"]) == 2

    [requested] = await audit(client, auth, "review_request")
    assert requested["details"]["staging_version"] == staging["version"]
    assert requested["actor"] == review["requested_by"]
    approvals = await audit(client, auth, "review_approve")
    assert sorted(e["details"]["approvals"] for e in approvals) == [1, 2]
    assert {e["actor"]["id"] for e in approvals} == {a["approved_by"]["id"] for a in done["approvals"]}
    [publish] = await audit(client, auth, "publish")
    assert publish["details"]["review_id"] == review["id"]
    assert publish["details"]["approvals"] == 2

    # The next staging copy needs a review of its own.
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    assert (await client.get(REVIEW, headers=auth)).json()["status"] == "published"
    problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")


async def test_the_requesting_key_cannot_approve_and_a_key_approves_once(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await staged(client, auth)
    await request_review(client, auth)  # `auth` holds every scope, `approve` too
    self_approval = problem(await client.post(APPROVALS, json={}, headers=auth), 403, "self_approval")
    assert "another key" in self_approval["detail"]
    other = await approver(headers)
    await approve(client, other)
    problem(await client.post(APPROVALS, json={}, headers=other), 409, "already_approved")
    review = (await client.get(REVIEW, headers=auth)).json()
    assert [a["approved_by"]["id"] for a in review["approvals"]] == [
        (await audit(client, auth, "review_approve"))[0]["actor"]["id"]
    ]
    assert review["valid_approvals"] == 1


async def test_create_api_key_grants_the_approve_scope(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    cli: Cli,  # noqa: F811 (the imported fixture)
) -> None:
    await staged(client, auth)
    await request_review(client, auth)
    status, out, _ = await cli(
        "create-api-key", "--organization", "org-a", "--scopes", "read,approve", "--name", "alice"
    )
    assert status == 0
    assert "with scopes approve,read" in out
    reviewer = {"Authorization": f"Bearer {out.strip().splitlines()[-1]}"}
    review = await approve(client, reviewer)
    assert review["approvals"][0]["approved_by"]["name"] == "alice"
    problem(await client.post(f"{BASE}/staging", headers=reviewer), 403, "forbidden")


async def test_approving_needs_the_approve_scope(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await staged(client, auth)
    reader = await headers(scopes=("read",))
    problem(await client.post(REVIEW, json={}, headers=reader), 403, "forbidden")
    await request_review(client, auth)
    releaser = await headers(scopes=("read", "write", "release"))
    refused = problem(await client.post(APPROVALS, json={}, headers=releaser), 403, "forbidden")
    assert "`approve`" in refused["detail"]
    assert (await client.get(REVIEW, headers=reader)).json()["approvals"] == []
    assert await audit(client, auth, "review_approve") == []


async def test_an_edit_after_approval_voids_it(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    staging = await staged(client, auth)
    key = await approver(headers)
    await request_review(client, auth)
    assert (await approve(client, key))["approved"] is True

    edited = await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:4]}, headers=auth)
    assert edited.status_code == 200
    review = (await client.get(REVIEW, headers=auth)).json()
    assert (review["status"], review["valid_approvals"], review["approved"]) == ("outdated", 0, False)
    assert review["staging_version"] == staging["version"]
    refused = problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")
    assert refused["hint"] == f"POST {REVIEW}"
    outdated = problem(await client.post(APPROVALS, json={}, headers=key), 409, "review_outdated")
    assert outdated["hint"] == f"POST {REVIEW}"

    # A variation written in the staging copy is an edit too.
    again = await request_review(client, auth)
    assert again["staging_version"] == edited.json()["version"]
    assert (again["approvals"], again["valid_approvals"]) == ([], 0)  # the old approval stays behind
    await approve(client, key)
    variation = await client.put(
        f"{BASE}/staging/variations/{URNS[0]}", json={"description": "Find pets."}, headers=auth
    )
    assert variation.status_code == 200, variation.text
    problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")

    await request_review(client, auth)
    await approve(client, key)
    published = await client.post(PUBLISH, json={}, headers=auth)
    assert published.status_code == 201, published.text
    served = (await client.get(f"{BASE}/effective", headers=auth)).json()
    assert [t["urn"] for t in served["tools"]] == URNS[:4]


async def test_approvals_count_only_for_the_reviewed_copy_and_version(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    staging = await staged(client, auth)
    key = await approver(headers)
    problem(await client.get(REVIEW, headers=auth), 404, "review_not_found")
    problem(await client.post(APPROVALS, json={}, headers=key), 404, "review_not_found")
    await request_review(client, auth)
    problem(await client.post(REVIEW, json={}, headers=auth), 409, "review_exists")
    await approve(client, key)

    # Discarded and made again: the new copy may reach the very same version number, yet it
    # is not what was approved.
    assert (await client.delete(f"{BASE}/staging", headers=auth)).status_code == 204
    problem(await client.post(REVIEW, json={}, headers=auth), 404, "staging_not_found")
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    remade = await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth)
    assert remade.json()["version"] == staging["version"]
    assert (await client.get(REVIEW, headers=auth)).json()["status"] == "outdated"
    problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")
    problem(await client.post(APPROVALS, json={}, headers=key), 409, "review_outdated")

    # If-Match on an approval: approve only the version you read.
    fresh = await request_review(client, auth)
    stale = await client.post(APPROVALS, json={}, headers=key | {"If-Match": '"1"'})
    problem(stale, 412, "precondition_failed")
    await approve(client, key | {"If-Match": f'"{fresh["staging_version"]}"'})
    assert (await client.post(PUBLISH, json={}, headers=auth)).status_code == 201


async def test_without_required_approvals_publish_needs_none_and_create_release_never_does(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staged(client, auth, required=0)
    review = await request_review(client, auth)
    assert (review["approved"], review["required_approvals"]) == (True, 0)
    assert (await client.post(PUBLISH, json={}, headers=auth)).status_code == 201
    # createRelease captures what the live toolset serves, never the staging copy: no review.
    assert (
        await client.put(f"{BASE}/policy", json={"required_approvals": 1}, headers=auth)
    ).status_code == 200
    assert (await client.post(f"{BASE}/releases", json={}, headers=auth)).status_code == 201


async def test_review_approved_is_delivered_signed(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    staging = await staged(client, auth)
    key = await approver(headers)
    async with receiver() as hook:
        body = {"url": hook.url, "events": ["review.approved"], "secret": SECRET}
        assert (await client.post("/v1/projects/p/webhooks", json=body, headers=auth)).status_code == 201
        review = await request_review(client, auth)
        approved = await approve(client, key)
        [request] = await hook.wait_for(1)
    verify_standard_webhook(SECRET, request)
    event = request.json
    assert event["type"] == "review.approved"
    assert event["data"]["toolset"] == "pets"
    assert event["data"]["review_id"] == review["id"]
    assert event["data"]["staging_version"] == staging["version"]
    assert (event["data"]["approvals"], event["data"]["required_approvals"]) == (1, 1)
    assert event["data"]["approved"] is True
    assert event["data"]["actor"] == approved["approvals"][0]["approved_by"]["id"]


async def test_a_scheduled_publish_without_the_approvals_fails_and_says_why(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staged(client, auth)
    async with receiver() as hook:
        body = {"url": hook.url, "events": ["schedule.failed"]}
        assert (await client.post("/v1/projects/p/webhooks", json=body, headers=auth)).status_code == 201
        scheduled = await schedule(client, auth, seconds=0.5)
        done = await finished(client, auth, scheduled["id"])
        [request] = await hook.wait_for(1)
    assert (done["status"], done["reason"]) == ("failed", "approval_required")
    assert "approval" in done["detail"]
    assert (request.json["data"]["reason"], request.json["data"]["status"]) == ("approval_required", "failed")
    assert (await client.get(f"{BASE}/releases/2", headers=auth)).status_code == 404
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 200


async def test_a_scheduled_publish_counts_the_approvals_its_policy_requires_when_it_runs(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await staged(client, auth)
    await request_review(client, auth)
    await approve(client, await approver(headers))
    scheduled = await schedule(client, auth, seconds=1.0)
    raised = await client.put(f"{BASE}/policy", json={"required_approvals": 2}, headers=auth)
    assert raised.status_code == 200
    done = await finished(client, auth, scheduled["id"])
    assert (done["status"], done["reason"]) == ("failed", "approval_required")
    assert "needs 2 approval(s)" in done["detail"]
    assert (await client.get(f"{BASE}/releases/2", headers=auth)).status_code == 404


async def test_approvals_given_before_the_time_let_a_scheduled_publish_run(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await staged(client, auth)
    scheduled = await schedule(client, auth, seconds=2.0, name="3.0.0")
    assert scheduled["name"] == "3.0.0"
    await request_review(client, auth)
    await approve(client, await approver(headers))
    done = await finished(client, auth, scheduled["id"])
    assert (done["status"], done["release_number"]) == ("published", 2), done
    assert (await client.get(f"{BASE}/releases/2", headers=auth)).json()["name"] == "3.0.0"
    [entry] = await audit(client, auth, "publish")
    assert entry["details"]["scheduled_publish_id"] == scheduled["id"]
    assert entry["details"]["approvals"] == 1


async def test_a_scheduled_publish_obeys_block_breaking_as_it_was_acknowledged(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staged(client, auth, required=0)
    # Tool 0 removed: a breaking change.
    swap = await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[1:3]}, headers=auth)
    assert swap.status_code == 200
    scheduled = await schedule(client, auth, seconds=1.0)
    assert scheduled["acknowledge_breaking"] is False
    # The policy changed after it was scheduled: the run checks the policy of its time.
    policy = await client.put(f"{BASE}/policy", json={"block_breaking": True}, headers=auth)
    assert policy.status_code == 200
    done = await finished(client, auth, scheduled["id"])
    assert (done["status"], done["reason"]) == ("failed", "breaking_changes")

    refused = await client.post(PUBLISH, json={"publish_at": soon(60), "notes": "swap"}, headers=auth)
    problem(refused, 409, "breaking_changes")  # refused at once, as a publish now would be
    acknowledged = await schedule(client, auth, seconds=0.5, acknowledge_breaking=True)
    assert acknowledged["acknowledge_breaking"] is True
    done = await finished(client, auth, acknowledged["id"])
    assert done["status"] == "published", done
    release = (await client.get(f"{BASE}/releases/2", headers=auth)).json()
    assert release["acknowledged_breaking"] is True


async def test_racing_approvals_edits_and_publishes_never_publish_an_unapproved_version(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await staged(client, auth, required=2)
    keys = [await approver(headers) for _ in range(3)]
    await request_review(client, auth)
    # An approval racing an edit: it approves the version it finds, or is refused; either way
    # the edit leaves no valid approval.
    await approve(client, keys[0])
    approval, edit = await asyncio.gather(
        client.post(APPROVALS, json={}, headers=keys[1]),
        client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:4]}, headers=auth),
    )
    assert edit.status_code == 200
    assert approval.status_code in (201, 409), approval.text
    review = (await client.get(REVIEW, headers=auth)).json()
    assert (review["status"], review["valid_approvals"]) == ("outdated", 0)
    problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")

    # Two approvals at once: both count.
    await request_review(client, auth)
    both = await asyncio.gather(*(client.post(APPROVALS, json={}, headers=k) for k in keys[1:]))
    assert [r.status_code for r in both] == [201, 201]
    assert (await client.get(REVIEW, headers=auth)).json()["valid_approvals"] == 2

    # A publish racing an edit: either the reviewed version is published (and the edit finds
    # no staging copy), or the edit lands first and the publish is refused.
    publish, edit = await asyncio.gather(
        client.post(PUBLISH, json={}, headers=auth),
        client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth),
    )
    served = [t["urn"] for t in (await client.get(f"{BASE}/effective", headers=auth)).json()["tools"]]
    if publish.status_code == 201:
        assert edit.status_code == 404
        assert served == URNS[:4]
    else:
        problem(publish, 409, "approval_required")
        assert edit.status_code == 200
        assert served == URNS[:2]


async def test_approvals_are_for_the_state_served_so_a_shared_change_voids_them(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    """What the project shares (a deployment's tool definitions) is part of what a staging
    copy serves: a change to a selected tool voids the approvals though the copy's version
    did not move; a change to tools the copy does not select voids nothing."""
    staging = await staged(client, auth)
    key = await approver(headers)
    await request_review(client, auth)
    await approve(client, key)

    # A new deployment that changes only a tool the copy does not select: still approved.
    unselected = make_tools(4)
    unselected[3]["description"] = "Operation 3, reworded."
    await create_deployment(client, auth, "p", unselected)
    assert (await client.get(REVIEW, headers=auth)).json()["approved"] is True

    # One that rewrites a selected tool: what the reviewer approved is no longer what publish
    # would release.
    rewritten = make_tools(4)
    rewritten[0]["description"] = "Deletes every pet."
    await create_deployment(client, auth, "p", rewritten)
    review = (await client.get(REVIEW, headers=auth)).json()
    assert (review["status"], review["valid_approvals"], review["approved"]) == ("outdated", 0, False)
    assert review["staging_version"] == staging["version"]
    refused = problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")
    assert "changed after its review" in refused["detail"]
    assert (refused["hint"], refused["valid_approvals"]) == (f"POST {REVIEW}", 0)
    problem(await client.post(APPROVALS, json={}, headers=key), 409, "review_outdated")

    # The same copy and version is reviewed again, and that review's approvals count.
    again = await request_review(client, auth)
    assert (again["id"] != review["id"], again["staging_version"]) == (True, staging["version"])
    problem(await client.post(REVIEW, json={}, headers=auth), 409, "review_exists")
    await approve(client, key)
    published = await client.post(PUBLISH, json={}, headers=auth)
    assert published.status_code == 201, published.text
    served = (await client.get(f"{BASE}/effective", headers=auth)).json()
    assert served["tools"][0]["description"] == "Deletes every pet."
    [publish] = await audit(client, auth, "publish")
    assert publish["details"]["review_id"] == again["id"]
    assert (await client.get(REVIEW, headers=auth)).json()["status"] == "published"


async def test_an_approval_by_a_key_revoked_since_does_not_count(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders, engine: AsyncEngine
) -> None:
    await staged(client, auth)
    await request_review(client, auth)
    approved = await approve(client, await approver(headers))
    [approval] = approved["approvals"]
    assert (approval["counts"], approved["approved"]) == (True, True)

    async with engine.begin() as conn:
        assert await revoke_api_key(conn, UUID(approval["approved_by"]["id"])) is not None
    review = (await client.get(REVIEW, headers=auth)).json()
    assert review["status"] == "open"
    assert [a["counts"] for a in review["approvals"]] == [False]
    assert (review["valid_approvals"], review["approved"]) == (0, False)
    refused = problem(await client.post(PUBLISH, json={}, headers=auth), 409, "approval_required")
    assert refused["valid_approvals"] == 0

    await approve(client, await approver(headers))
    assert (await client.post(PUBLISH, json={}, headers=auth)).status_code == 201
