import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import MakeHeaders
from tests.factories import create_deployment, make_tools, ok
from tests.helpers_toolsets import BASE, URNS, effective, project_with_toolset, switch


async def release(client: httpx.AsyncClient, auth: dict[str, str], **headers: str) -> httpx.Response:
    return await client.post(f"{BASE}/releases", json={"notes": "n"}, headers=auth | headers)


async def test_create_get_and_list_releases(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    first = await release(client, auth)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["release_number"] == 1
    assert body["notes"] == "n"
    assert body["current"] is True
    assert body["released_by"]
    assert first.headers["location"] == f"{BASE}/releases/1"
    second = (await release(client, auth)).json()
    assert second["release_number"] == 2

    got = (await client.get(f"{BASE}/releases/1", headers=auth)).json()
    assert got["id"] == body["id"]
    assert got["current"] is False
    assert (await client.get(f"{BASE}", headers=auth)).json()["current_release_number"] == 2

    page = (await client.get(f"{BASE}/releases", params={"limit": 1}, headers=auth)).json()
    assert [r["release_number"] for r in page["items"]] == [2]
    rest = (
        await client.get(f"{BASE}/releases", params={"limit": 1, "cursor": page["next_cursor"]}, headers=auth)
    ).json()
    assert [r["release_number"] for r in rest["items"]] == [1]
    assert rest["next_cursor"] is None
    assert (await client.get(f"{BASE}/releases/3", headers=auth)).status_code == 404


async def test_release_of_an_unchanged_toolset_writes_one_release_row(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await project_with_toolset(client, auth)
    await release(client, auth)
    tables = ("toolset_versions", "source_states", "system_source_states", "tool_variations_group_versions")
    query = text("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables))
    async with engine.connect() as conn:
        before = (await conn.execute(query)).one()
    second = await release(client, auth)
    assert (
        second.json()["source_state_id"]
        == (await client.get(f"{BASE}/releases/1", headers=auth)).json()["source_state_id"]
    )
    async with engine.connect() as conn:
        after = (await conn.execute(query)).one()
    assert before == after


async def test_release_state_stays_identical_after_every_kind_of_later_edit(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await ok(client.put(f"/v1/projects/p/variations/{URNS[0]}", json={"name": "global"}, headers=auth))
    await ok(client.put(f"{BASE}/variations/{URNS[1]}", json={"description": "mine"}, headers=auth))
    await release(client, auth)
    published = (await client.get(f"{BASE}/releases/1/state", headers=auth)).json()
    assert published["release_number"] == 1
    assert published["tools"][0]["name"] == "global"
    assert published["tools"][1]["description"] == "mine"
    assert published["prompts"][0]["prompt"] == "Hello"

    # Every kind of later edit, none of which may reach release 1.
    await ok(client.patch(BASE, json={"name": "Renamed", "tool_urns": URNS}, headers=auth))
    await ok(client.put(f"/v1/projects/p/variations/{URNS[0]}", json={"name": "global2"}, headers=auth))
    await ok(client.delete(f"{BASE}/variations/{URNS[1]}", headers=auth))
    await ok(client.put("/v1/projects/p/prompt-templates/greet", json={"prompt": "Bye"}, headers=auth))
    changed_tools = make_tools(4)
    for tool in changed_tools:
        tool["description"] = "redeployed"
    await create_deployment(client, auth, "p", changed_tools)
    await ok(client.delete("/v1/projects/p/prompt-templates/greet", headers=auth))
    await release(client, auth)

    assert (await client.get(f"{BASE}/releases/1/state", headers=auth)).json() == published
    now = await effective(client, auth)
    assert now["name"] == "Renamed"
    assert len(now["tools"]) == 4
    assert now["prompts"] == []


async def test_releases_need_the_release_scope(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await project_with_toolset(client, auth)
    editor = await headers(scopes=("read", "write"))
    assert (await release(client, editor)).status_code == 403
    await release(client, auth)
    assert (await client.post(f"{BASE}/releases/1/rollback", headers=editor)).status_code == 403
    other_org = await headers(org="org-b")
    assert (await release(client, other_org)).status_code == 404
    assert (await client.get(f"{BASE}/releases/1", headers=other_org)).status_code == 404


async def test_an_idempotency_key_makes_a_retry_return_the_same_release(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    first = await release(client, auth, **{"Idempotency-Key": "abc"})
    retry = await release(client, auth, **{"Idempotency-Key": "abc"})
    assert retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["idempotent-replayed"] == "true"
    other_body = await client.post(
        f"{BASE}/releases", json={"notes": "different"}, headers=auth | {"Idempotency-Key": "abc"}
    )
    assert other_body.status_code == 409
    assert other_body.json()["code"] == "idempotency_key_reused"
    fresh = await release(client, auth, **{"Idempotency-Key": "def"})
    assert fresh.json()["release_number"] == 2


async def test_30_concurrent_releases_are_numbered_1_to_30(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    clients = [client, second_app]
    responses = await asyncio.gather(*(release(clients[i % 2], auth) for i in range(30)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    assert sorted(r.json()["release_number"] for r in responses) == list(range(1, 31))
    listed = (await client.get(f"{BASE}/releases", params={"limit": 100}, headers=auth)).json()["items"]
    assert [r["release_number"] for r in listed] == list(range(30, 0, -1))


async def test_rollback_and_roll_forward(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200  # captures release 1
    one = await effective(client, auth)
    await ok(client.post(f"{BASE}/staging", headers=auth))
    await ok(client.patch(f"{BASE}/staging", json={"name": "Two", "tool_urns": URNS[:3]}, headers=auth))
    assert (await client.post(f"{BASE}/staging/publish", headers=auth)).status_code == 201
    two = await effective(client, auth)
    assert two["release_number"] == 2
    assert two["name"] == "Two"

    back = await client.post(f"{BASE}/releases/1/rollback", headers=auth)
    assert back.status_code == 200
    assert back.json()["release_number"] == 1
    assert await effective(client, auth) == one
    live = (await client.get(BASE, headers=auth)).json()
    assert live["current_release_number"] == 1
    assert live["name"] == "Pets"
    assert live["tool_urns"] == URNS[:2]

    forward = await client.post(f"{BASE}/releases/2/rollback", headers=auth)
    assert forward.status_code == 200
    assert await effective(client, auth) == two

    missing = await client.post(f"{BASE}/releases/9/rollback", headers=auth)
    assert missing.status_code == 404
    audit = (await client.get(f"{BASE}/audit", headers=auth)).json()["items"]
    assert [(e["action"], e["from_release_number"], e["to_release_number"]) for e in audit[:2]] == [
        ("rollback", 1, 2),
        ("rollback", 2, 1),
    ]


async def test_rollback_in_iteration_mode_is_refused(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    await release(client, auth)
    response = await client.post(f"{BASE}/releases/1/rollback", headers=auth)
    assert response.status_code == 409
    assert response.json()["code"] == "rollback_in_iteration_mode"


async def test_a_release_of_another_toolset_is_not_found(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    other = await client.post(
        "/v1/projects/p/toolsets", json={"name": "Other", "tool_urns": []}, headers=auth
    )
    assert other.status_code == 201
    await ok(client.post("/v1/projects/p/toolsets/other/releases", headers=auth))
    await ok(client.post("/v1/projects/p/toolsets/other/releases", headers=auth))
    await ok(switch(client, auth, "staging"))
    assert (await client.post(f"{BASE}/releases/2/rollback", headers=auth)).status_code == 404


async def test_diff_between_releases_and_live(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    await release(client, auth)
    await ok(
        client.patch(
            BASE,
            json={"name": "Pets v2", "tool_urns": [URNS[1], URNS[2]], "prompt_template_names": []},
            headers=auth,
        )
    )
    await ok(client.put(f"{BASE}/variations/{URNS[1]}", json={"summary": "new summary"}, headers=auth))
    diff = await client.get(f"{BASE}/diff", params={"from": "release:1", "to": "live"}, headers=auth)
    assert diff.status_code == 200, diff.text
    body = diff.json()
    assert body["from"] == "release:1"
    assert body["metadata"] == {"name": {"from": "Pets", "to": "Pets v2"}}
    assert body["tools"]["added"] == [URNS[2]]
    assert body["tools"]["removed"] == [URNS[0]]
    assert body["tools"]["changed"] == [
        {"urn": URNS[1], "name": None, "fields": {"summary": {"from": "op 1", "to": "new summary"}}}
    ]
    assert body["prompts"]["removed"] == ["greet"]
    same = (await client.get(f"{BASE}/diff", params={"from": "live", "to": "live"}, headers=auth)).json()
    assert same["tools"] == {"added": [], "removed": [], "changed": []}
    bad = await client.get(f"{BASE}/diff", params={"from": "yesterday", "to": "live"}, headers=auth)
    assert bad.status_code == 422
    no_staging = await client.get(f"{BASE}/diff", params={"from": "live", "to": "staging"}, headers=auth)
    assert no_staging.status_code == 404


async def test_deleting_a_toolset_removes_its_releases(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await project_with_toolset(client, auth)
    await release(client, auth)
    await ok(switch(client, auth, "staging"))
    await ok(client.post(f"{BASE}/staging", headers=auth))
    assert (await client.delete(BASE, headers=auth)).status_code == 204
    async with engine.connect() as conn:
        counts = (
            await conn.execute(
                text("SELECT (SELECT count(*) FROM toolsets), (SELECT count(*) FROM toolset_releases)")
            )
        ).one()
    assert tuple(counts) == (0, 0)
