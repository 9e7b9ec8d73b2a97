import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import MakeHeaders
from tests.factories import create_deployment, make_tools, ok
from tests.helpers_toolsets import BASE, URNS, effective, project_with_toolset, switch


async def staging_mode_with_copy(client: httpx.AsyncClient, auth: dict[str, str]) -> httpx.Response:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    created = await client.post(f"{BASE}/staging", headers=auth)
    assert created.status_code == 201, created.text
    return created


async def test_switching_to_staging_captures_release_1_and_serves_it(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    before = await effective(client, auth)
    switched = await switch(client, auth, "staging")
    assert switched.status_code == 200
    assert switched.json()["editing_mode"] == "staging"
    assert switched.json()["current_release_number"] == 1
    after = await effective(client, auth)
    assert after == before | {"release_number": 1}
    # Switching again, back and forth without changes, reuses release 1.
    assert (await switch(client, auth, "iteration")).status_code == 200
    assert (await switch(client, auth, "staging")).json()["current_release_number"] == 1
    releases = (await client.get(f"{BASE}/releases", headers=auth)).json()["items"]
    assert len(releases) == 1


async def test_the_whole_cycle(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await staging_mode_with_copy(client, auth)
    staging = created.json()
    live = (await client.get(BASE, headers=auth)).json()
    assert staging["slug"] == live["slug"]
    assert staging["version"] == live["version"] + 1
    assert staging["id"] != live["id"]
    assert staging["editing_mode"] == "staging"
    assert staging["tool_urns"] == live["tool_urns"]
    assert staging["prompt_template_names"] == ["greet"]
    assert created.headers["etag"] == f'"{staging["version"]}"'

    edited = await client.patch(
        f"{BASE}/staging",
        json={"name": "Pets 2", "tool_urns": URNS[1:3]},
        headers=auth | {"If-Match": created.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    variation = await client.put(
        f"{BASE}/staging/variations/{URNS[1]}", json={"title": "Staged"}, headers=auth
    )
    assert variation.status_code == 200
    assert [
        v["title"] for v in (await client.get(f"{BASE}/staging/variations", headers=auth)).json()["items"]
    ] == ["Staged"]

    # Nothing reaches clients before publishing.
    served = await effective(client, auth)
    assert served["name"] == "Pets"
    diff = (await client.get(f"{BASE}/staging/diff", headers=auth)).json()
    assert diff["metadata"] == {"name": {"from": "Pets", "to": "Pets 2"}}
    assert diff["tools"]["added"] == [URNS[2]]
    assert diff["tools"]["removed"] == [URNS[0]]
    assert diff["tools"]["changed"][0]["fields"] == {"title": {"from": None, "to": "Staged"}}

    published = await client.post(f"{BASE}/staging/publish", json={"notes": "second"}, headers=auth)
    assert published.status_code == 201, published.text
    assert published.json()["release_number"] == 2
    served = await effective(client, auth)
    assert served["name"] == "Pets 2"
    assert [t["urn"] for t in served["tools"]] == URNS[1:3]
    assert served["tools"][0]["title"] == "Staged"
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 404
    live = (await client.get(BASE, headers=auth)).json()
    assert (live["name"], live["tool_urns"], live["current_release_number"]) == ("Pets 2", URNS[1:3], 2)
    assert [v["title"] for v in (await client.get(f"{BASE}/variations", headers=auth)).json()["items"]] == [
        "Staged"
    ]

    # The published release stays reproducible after the staging copy is gone.
    assert (await client.get(f"{BASE}/releases/2/state", headers=auth)).json() == served

    # A new staging copy starts from what is served; discarding it leaves releases alone.
    again = await client.post(f"{BASE}/staging", headers=auth)
    assert again.json()["name"] == "Pets 2"
    assert [
        v["title"] for v in (await client.get(f"{BASE}/staging/variations", headers=auth)).json()["items"]
    ] == ["Staged"]
    assert (await client.delete(f"{BASE}/staging", headers=auth)).status_code == 204
    assert await effective(client, auth) == served
    audit = [e["action"] for e in (await client.get(f"{BASE}/audit", headers=auth)).json()["items"]]
    assert audit == ["discard", "publish", "mode_switch"]


async def test_live_edits_in_staging_mode_are_refused_with_a_pointer_to_staging(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await ok(switch(client, auth, "staging"))
    edit = await client.patch(BASE, json={"name": "x"}, headers=auth)
    assert edit.status_code == 409
    assert edit.json()["code"] == "toolset_in_staging_mode"
    assert f"{BASE}/staging" in edit.json()["detail"]
    variation = await client.put(f"{BASE}/variations/{URNS[0]}", json={"name": "x"}, headers=auth)
    assert variation.status_code == 409


async def test_staging_refusals(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    not_staging = await client.post(f"{BASE}/staging", headers=auth)
    assert not_staging.status_code == 409
    assert not_staging.json()["code"] == "not_in_staging_mode"
    await ok(switch(client, auth, "staging"))
    first = await client.post(f"{BASE}/staging", headers=auth)
    second = await client.post(f"{BASE}/staging", headers=auth)
    assert second.status_code == 409
    assert second.json()["hint"] == f"PATCH {BASE}/staging"

    edited = await client.patch(f"{BASE}/staging", json={"description": "unpublished"}, headers=auth)
    assert edited.status_code == 200, edited.text
    refused = await switch(client, auth, "iteration")
    assert refused.status_code == 409
    assert refused.json()["code"] == "staging_exists"

    stale = await client.post(f"{BASE}/staging/publish", headers=auth | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.get(f"{BASE}/staging", headers=auth)).json()["id"] == first.json()["id"]
    assert len((await client.get(f"{BASE}/releases", headers=auth)).json()["items"]) == 1

    stale_edit = await client.patch(f"{BASE}/staging", json={"name": "x"}, headers=auth | {"If-Match": '"1"'})
    assert stale_edit.status_code == 412

    discarded = await switch(client, auth, "iteration", discard_staging=True)
    assert discarded.status_code == 200
    assert discarded.json()["editing_mode"] == "iteration"
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 404
    nothing = await client.post(f"{BASE}/staging/publish", headers=auth)
    assert nothing.status_code == 409


async def test_two_concurrent_publishes_make_exactly_one_release(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    created = await staging_mode_with_copy(client, auth)
    etag = created.headers["etag"]
    responses = await asyncio.gather(
        *(client.post(f"{BASE}/staging/publish", headers=auth | {"If-Match": etag}) for _ in range(2))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 201
    assert statuses[1] in (409, 412)
    releases = (await client.get(f"{BASE}/releases", headers=auth)).json()["items"]
    assert [r["release_number"] for r in releases] == [2, 1]


async def test_a_publish_aborted_halfway_leaves_no_release_and_the_staging_copy_intact(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    created = await staging_mode_with_copy(client, auth)
    await ok(client.patch(f"{BASE}/staging", json={"name": "Half"}, headers=auth))
    # The release row is inserted after every capture; failing there aborts the whole transaction.
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION fail_release() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'killed mid-publish'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER fail_release BEFORE INSERT ON toolset_releases "
                "EXECUTE FUNCTION fail_release()"
            )
        )
    try:
        failed = await client.post(f"{BASE}/staging/publish", headers=auth)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER fail_release ON toolset_releases"))
            await conn.execute(text("DROP FUNCTION fail_release()"))
    assert failed.status_code == 500
    assert "killed" not in failed.text  # no SQL or internals in the answer
    assert len((await client.get(f"{BASE}/releases", headers=auth)).json()["items"]) == 1
    staging = (await client.get(f"{BASE}/staging", headers=auth)).json()
    assert staging["id"] == created.json()["id"]
    assert staging["name"] == "Half"
    live = (await client.get(BASE, headers=auth)).json()
    assert live["name"] == "Pets"
    assert (await client.post(f"{BASE}/staging/publish", headers=auth)).status_code == 201


async def test_global_edits_reach_a_staging_mode_toolset_only_at_its_next_publish(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await ok(switch(client, auth, "staging"))
    served = await effective(client, auth)
    await ok(client.put(f"/v1/projects/p/variations/{URNS[0]}", json={"name": "global"}, headers=auth))
    await ok(client.put("/v1/projects/p/prompt-templates/greet", json={"prompt": "Changed"}, headers=auth))
    tools = make_tools(4)
    tools[1]["description"] = "redeployed"
    await create_deployment(client, auth, "p", tools)
    assert await effective(client, auth) == served

    await ok(client.post(f"{BASE}/staging", headers=auth))
    await ok(client.post(f"{BASE}/staging/publish", headers=auth))
    now = await effective(client, auth)
    assert now["tools"][0]["name"] == "global"
    assert now["tools"][1]["description"] == "redeployed"
    assert now["prompts"][0]["prompt"] == "Changed"


async def test_publish_is_idempotent_with_a_key(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await staging_mode_with_copy(client, auth)
    first = await client.post(f"{BASE}/staging/publish", headers=auth | {"Idempotency-Key": "k1"})
    retry = await client.post(f"{BASE}/staging/publish", headers=auth | {"Idempotency-Key": "k1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]


async def test_staging_scopes_and_tenancy(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await staging_mode_with_copy(client, auth)
    editor = await headers(scopes=("read", "write"))
    assert (await client.patch(f"{BASE}/staging", json={"name": "ok"}, headers=editor)).status_code == 200
    assert (await client.post(f"{BASE}/staging/publish", headers=editor)).status_code == 403
    assert (await switch(client, editor, "iteration")).status_code == 403
    other = await headers(org="org-b")
    assert (await client.get(f"{BASE}/staging", headers=other)).status_code == 404
    assert (await client.delete(f"{BASE}/staging", headers=other)).status_code == 404
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 200


async def test_deleting_the_live_toolset_removes_its_staging_copy(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await staging_mode_with_copy(client, auth)
    await ok(client.put(f"{BASE}/staging/variations/{URNS[0]}", json={"name": "x"}, headers=auth))
    assert (await client.delete(BASE, headers=auth)).status_code == 204
    async with engine.connect() as conn:
        remaining = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM toolsets), (SELECT count(*) FROM toolset_releases),"
                    " (SELECT count(*) FROM tool_variations_groups WHERE name LIKE 'toolset:%')"
                )
            )
        ).one()
    assert tuple(remaining) == (0, 0, 0)
