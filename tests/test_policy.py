"""Toolset policy: stored and returned, audited, and `block_breaking` guarding every pointer move."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.deployments import queries as deployment_queries
from app.deployments.service import become_active
from tests.factories import create_deployment, make_tools
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch

MakeHeaders = Any


async def put_policy(client: httpx.AsyncClient, auth: dict[str, str], **fields: Any) -> httpx.Response:
    return await client.put(f"{BASE}/policy", json=fields, headers=auth)


async def audit(client: httpx.AsyncClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.get(f"{BASE}/audit", headers=auth)).json()["items"]
    return items


async def staging_toolset(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    """`pets` in staging mode serving release 1 (tools 0 and 1), blocking breaking changes."""
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    assert (await put_policy(client, auth, block_breaking=True)).status_code == 200


async def test_a_toolset_has_the_default_policy_until_one_is_set(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await project_with_toolset(client, auth)
    got = await client.get(f"{BASE}/policy", headers=auth)
    assert got.status_code == 200
    assert got.json() == {
        "block_breaking": False,
        "keep_last": None,
        "required_approvals": 0,
        "updated_at": None,
        "updated_by": None,
    }
    writer = await headers(scopes=("read", "write"))
    assert (await put_policy(client, writer, block_breaking=True)).status_code == 403

    put = await put_policy(client, auth, block_breaking=True, keep_last=5, required_approvals=2)
    assert put.status_code == 200, put.text
    assert put.json()["keep_last"] == 5
    assert put.json()["required_approvals"] == 2
    assert put.json()["updated_by"]
    assert (await client.get(f"{BASE}/policy", headers=auth)).json() == put.json()

    # A PUT replaces the policy whole: omitted fields go back to their defaults.
    again = (await put_policy(client, auth, block_breaking=True)).json()
    assert (again["keep_last"], again["required_approvals"]) == (None, 0)
    [latest, first] = [e for e in await audit(client, auth) if e["action"] == "policy_update"]
    assert first["details"]["changed"]["keep_last"] == {"from": None, "to": 5}
    assert latest["details"]["changed"] == {
        "keep_last": {"from": 5, "to": None},
        "required_approvals": {"from": 2, "to": 0},
    }
    # An identical PUT changes nothing and audits nothing.
    await put_policy(client, auth, block_breaking=True)
    assert len([e for e in await audit(client, auth) if e["action"] == "policy_update"]) == 2


async def test_invalid_policies_are_refused(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    for body in ({"keep_last": 0}, {"required_approvals": -1}, {"block_breaking": "yes"}, {"nope": 1}):
        response = await client.put(f"{BASE}/policy", json=body, headers=auth)
        assert response.status_code == 422, body
    assert (await client.get(f"{BASE}/policy", headers=auth)).json()["updated_at"] is None
    missing = await client.get("/v1/projects/p/toolsets/nope/policy", headers=auth)
    assert missing.status_code == 404


async def test_block_breaking_refuses_a_breaking_publish_until_acknowledged(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staging_toolset(client, auth)
    await client.post(f"{BASE}/staging", headers=auth)
    await client.patch(f"{BASE}/staging", json={"tool_urns": [URNS[1], URNS[2]]}, headers=auth)

    refused = await client.post(f"{BASE}/staging/publish", json={"notes": "swap"}, headers=auth)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "breaking_changes"
    assert [(c["item"], c["change"], c["impact"]) for c in problem["changes"]] == [
        (URNS[0], "removed", "breaking")
    ]
    assert "acknowledge_breaking" in problem["detail"]
    # Nothing moved: still release 1, and the staging copy is still there.
    assert (await client.get(BASE, headers=auth)).json()["current_release_number"] == 1
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 200

    published = await client.post(
        f"{BASE}/staging/publish", json={"notes": "swap", "acknowledge_breaking": True}, headers=auth
    )
    assert published.status_code == 201, published.text
    assert published.json()["acknowledged_breaking"] is True
    entry = (await audit(client, auth))[0]
    assert entry["action"] == "publish"
    assert entry["details"]["acknowledged_breaking"] is True
    assert entry["details"]["breaking_changes"] == 1
    assert entry["details"]["breaking_reasons"] == [f"tool `op_0000` ({URNS[0]}) removed"]
    assert (await client.get(f"{BASE}/releases/2", headers=auth)).json()["acknowledged_breaking"] is True


async def test_compatible_changes_pass_a_blocking_policy(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staging_toolset(client, auth)
    await client.post(f"{BASE}/staging", headers=auth)
    await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth)
    published = await client.post(f"{BASE}/staging/publish", headers=auth)
    assert published.status_code == 201, published.text
    assert published.json()["acknowledged_breaking"] is False
    assert "acknowledged_breaking" not in (await audit(client, auth))[0]["details"]


async def test_block_breaking_guards_create_release_with_upstream_changes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staging_toolset(client, auth)
    tools = make_tools(4)
    tools[1]["input_schema"] = {"type": "object", "properties": {"id": {"type": "string"}}}
    await create_deployment(client, auth, "p", tools)

    refused = await client.post(f"{BASE}/releases", json={}, headers=auth)
    assert refused.status_code == 409
    [change] = refused.json()["changes"]
    assert change["path"] == "/properties/id/type"
    assert change["reason"] == f"tool `op_0001` ({URNS[1]}): input `id`: type changed from integer to string"
    assert len((await client.get(f"{BASE}/releases", headers=auth)).json()["items"]) == 1

    made = await client.post(f"{BASE}/releases", json={"acknowledge_breaking": True}, headers=auth)
    assert made.status_code == 201
    assert made.json()["acknowledged_breaking"] is True
    assert (await audit(client, auth))[0]["details"]["acknowledged_breaking"] is True

    # Without the policy, the same kind of change goes through unremarked.
    await put_policy(client, auth)
    tools[1]["input_schema"] = {"type": "object", "properties": {"id": {"type": "boolean"}}}
    await create_deployment(client, auth, "p", tools)
    plain = await client.post(f"{BASE}/releases", headers=auth)
    assert plain.status_code == 201
    assert plain.json()["acknowledged_breaking"] is False


async def test_rollback_with_reason_dry_run_and_the_breaking_guard(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staging_toolset(client, auth)
    await client.post(f"{BASE}/staging", headers=auth)
    await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth)
    assert (await client.post(f"{BASE}/staging/publish", headers=auth)).status_code == 201

    preview = await client.post(f"{BASE}/releases/1/rollback", params={"dry_run": "true"}, headers=auth)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["from"], body["to"]) == ("live", "release:1")
    assert body["tools"]["removed"] == [URNS[2]]
    assert body["counts"]["breaking"] == 1
    assert (await client.get(BASE, headers=auth)).json()["current_release_number"] == 2

    refused = await client.post(f"{BASE}/releases/1/rollback", json={"reason": "bad"}, headers=auth)
    assert refused.status_code == 409
    assert refused.json()["code"] == "breaking_changes"
    assert (await client.get(BASE, headers=auth)).json()["current_release_number"] == 2

    rolled = await client.post(
        f"{BASE}/releases/1/rollback",
        json={"reason": "op_0002 misbehaves", "acknowledge_breaking": True},
        headers=auth,
    )
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["release_number"] == 1
    entry = (await audit(client, auth))[0]
    assert (entry["action"], entry["from_release_number"], entry["to_release_number"]) == ("rollback", 2, 1)
    assert entry["details"]["reason"] == "op_0002 misbehaves"
    assert entry["details"]["acknowledged_breaking"] is True

    # Rolling forward adds a tool: compatible, so no acknowledgement needed; the reason is optional.
    forward = await client.post(f"{BASE}/releases/2/rollback", headers=auth)
    assert forward.status_code == 200
    assert "reason" not in (await audit(client, auth))[0]["details"]
    assert (
        await client.post(f"{BASE}/releases/9/rollback", params={"dry_run": True}, headers=auth)
    ).status_code == 404


async def test_create_release_judges_the_deployment_it_captures_even_one_committed_meanwhile(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    """A deployment commits only when no capture is in flight in its project (it takes the
    capture lock last, exclusively), and createRelease takes that lock before it reads current
    data: a deployment about to commit is either wholly before the release (and judged by the
    guard) or wholly after it, never judged-before-but-captured-after."""
    await staging_toolset(client, auth)
    tools = make_tools(4)
    tools[1]["input_schema"] = {"type": "object", "properties": {"id": {"type": "string"}}}
    # A deployment up to its last statement (DeploymentService.create), then its commit.
    async with engine.connect() as conn, conn.begin():
        project = (
            await conn.execute(text("SELECT id, organization_id FROM projects WHERE slug = 'p'"))
        ).one()
        row = await deployment_queries.insert_deployment(conn, project.organization_id, project.id)
        await deployment_queries.insert_tools(conn, project.id, row["id"], tools)
        await become_active(conn, project.id)
        releasing = asyncio.create_task(client.post(f"{BASE}/releases", json={}, headers=auth))
        await asyncio.sleep(0.3)
        assert not releasing.done()  # waits for the deployment before reading anything
    refused = await releasing
    assert refused.status_code == 409, refused.text  # the type change of op_0001 was judged
    assert refused.json()["code"] == "breaking_changes"
