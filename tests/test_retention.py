"""Retention: pruneReleases keeps the newest N and every protected release, and deletes the
captured rows that nothing refers to any more."""

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_deployment, make_tools
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch

CAPTURE_TABLES = (
    "toolset_releases",
    "toolset_versions",
    "tool_variations_group_versions",
    "source_states",
    "system_source_states",
)


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in CAPTURE_TABLES
        }


async def release_states(client: httpx.AsyncClient, auth: dict[str, str], base: str = BASE) -> dict[int, Any]:
    releases = (await client.get(f"{base}/releases", params={"limit": 100}, headers=auth)).json()["items"]
    return {
        r["release_number"]: (
            await client.get(f"{base}/releases/{r['release_number']}/state", headers=auth)
        ).json()
        for r in releases
    }


async def eight_releases(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    """`pets` with releases 1 to 8, each capturing something of its own: a selection, own and
    global variations, a template revision, a deployment (every third). Release 3 is
    named, 4 labelled, 2 held by a snapshot; 8 is current."""
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")  # release 1
    for n in range(2, 9):
        if n % 3 == 0:
            await create_deployment(client, auth, "p", make_tools(4 + n))
        await client.put(f"/v1/projects/p/variations/{URNS[0]}", json={"title": f"global {n}"}, headers=auth)
        await client.put("/v1/projects/p/prompt-templates/greet", json={"prompt": f"Hello {n}"}, headers=auth)
        await client.post(f"{BASE}/staging", headers=auth)
        await client.put(f"{BASE}/staging/variations/{URNS[1]}", json={"title": f"own {n}"}, headers=auth)
        await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[: 2 + n % 2]}, headers=auth)
        body = {"name": "v3"} if n == 3 else {}
        assert (await client.post(f"{BASE}/staging/publish", json=body, headers=auth)).status_code == 201
        if n == 2:
            assert (await client.post("/v1/projects/p/snapshots", headers=auth)).status_code == 201
    await client.put(f"{BASE}/labels/stable", json={"release_number": 4}, headers=auth)


async def test_prune_keeps_the_newest_and_the_protected_and_deletes_what_only_they_used(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await eight_releases(client, auth)
    # Another toolset of the project shares source states and global group versions.
    await client.post("/v1/projects/p/toolsets", json={"name": "Other", "tool_urns": URNS[:1]}, headers=auth)
    await client.put("/v1/projects/p/toolsets/other/editing-mode", json={"mode": "staging"}, headers=auth)
    await client.post(f"{BASE}/releases/7/rollback", headers=auth)  # 7 is current; 8 the newest
    states = await release_states(client, auth)
    other_states = await release_states(client, auth, "/v1/projects/p/toolsets/other")

    no_policy = await client.post(f"{BASE}/releases/prune", headers=auth)
    assert no_policy.status_code == 409
    assert no_policy.json()["code"] == "no_retention_policy"
    await client.put(f"{BASE}/policy", json={"keep_last": 2}, headers=auth)

    before = await row_counts(engine)
    dry = await client.post(f"{BASE}/releases/prune", params={"dry_run": "true"}, headers=auth)
    assert dry.status_code == 200, dry.text
    plan = dry.json()
    # Newest 2 are 8 and 7; 7 is also current, 4 labelled, 3 named, 2 snapshotted.
    assert (plan["dry_run"], plan["keep_last"], plan["pruned_release_numbers"]) == (True, 2, [1, 5, 6])
    assert plan["deleted_rows"]["toolset_releases"] == 3
    assert await row_counts(engine) == before
    assert await release_states(client, auth) == states

    done = await client.post(f"{BASE}/releases/prune", headers=auth)
    assert done.status_code == 200
    result = done.json()
    assert result["pruned_release_numbers"] == [1, 5, 6]
    assert result["deleted_rows"] == plan["deleted_rows"]
    after = await row_counts(engine)
    assert {t: before[t] - after[t] for t in CAPTURE_TABLES} == result["deleted_rows"]
    # Each capture table lost rows that only the pruned releases referred to.
    assert all(n > 0 for n in result["deleted_rows"].values()), result["deleted_rows"]

    remaining = await release_states(client, auth)
    assert sorted(remaining) == [2, 3, 4, 7, 8]
    assert remaining == {n: s for n, s in states.items() if n in remaining}
    assert await release_states(client, auth, "/v1/projects/p/toolsets/other") == other_states
    assert (await client.get(f"{BASE}/releases/1", headers=auth)).status_code == 404
    assert (await client.get(f"{BASE}/effective", headers=auth)).json() == states[7]

    # Numbers are never reused; the live selection and capture still work after pruning.
    made = await client.post(f"{BASE}/releases", headers=auth)
    assert made.json()["release_number"] == 9
    entry = (await client.get(f"{BASE}/audit", headers=auth)).json()["items"][1]
    assert (entry["action"], entry["details"]["release_numbers"]) == ("prune", [1, 5, 6])
    # The newest two are now 9 (current) and 8: 7, no longer current, goes.
    again = (await client.post(f"{BASE}/releases/prune", headers=auth)).json()
    assert again["pruned_release_numbers"] == [7]
