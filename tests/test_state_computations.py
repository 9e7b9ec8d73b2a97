"""What an operation computes: a served state (the one large statement) only when the answer
depends on it, once per side, and never to compare what is known equal by construction."""

from typing import Any

import httpx

from tests.factories import ok
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch
from tests.test_publish import app_statements


def states_computed(statements: list[str]) -> int:
    """Statements that compute an effective state (current data or a release's)."""
    return sum(1 for s in statements if s.rstrip().endswith("FROM refs") and " AS state" in s)


async def counted(client: httpx.AsyncClient, app: Any, request: Any) -> tuple[httpx.Response, int]:
    await client.get("/healthz")
    with app_statements(app) as statements:
        response = await request
    return response, states_computed(statements)


async def test_switching_to_staging_with_nothing_changed_computes_no_state(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any
) -> None:
    await project_with_toolset(client, auth)
    await ok(client.post(f"{BASE}/releases", json={}, headers=auth), 201)  # release 1 of current data
    switched, states = await counted(
        client, app_and_tables, client.put(f"{BASE}/editing-mode", json={"mode": "staging"}, headers=auth)
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["current_release_number"] == 1  # reused: clients see no change
    assert states == 0  # the capture itself says nothing changed

    # After a change, the switch compares the two states, and captures a new release.
    assert (await switch(client, auth, "iteration")).status_code == 200
    await ok(client.patch(BASE, json={"tool_urns": URNS[:3]}, headers=auth))
    switched, states = await counted(
        client, app_and_tables, client.put(f"{BASE}/editing-mode", json={"mode": "staging"}, headers=auth)
    )
    assert switched.json()["current_release_number"] == 2
    assert states == 2


async def test_without_a_blocking_policy_a_release_or_rollback_computes_no_state(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any
) -> None:
    await project_with_toolset(client, auth)
    released, states = await counted(
        client, app_and_tables, client.post(f"{BASE}/releases", json={}, headers=auth)
    )
    assert released.status_code == 201
    assert states == 0
    assert (await switch(client, auth, "staging")).status_code == 200
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    await ok(client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth))
    await ok(client.post(f"{BASE}/staging/publish", json={}, headers=auth), 201)
    rolled, states = await counted(
        client, app_and_tables, client.post(f"{BASE}/releases/1/rollback", json={}, headers=auth)
    )
    assert rolled.status_code == 200, rolled.text
    assert states == 0

    # Under a blocking policy the rollback compares what is served with the release.
    await ok(client.put(f"{BASE}/policy", json={"block_breaking": True}, headers=auth))
    refused, states = await counted(
        client, app_and_tables, client.post(f"{BASE}/releases/2/rollback", json={}, headers=auth)
    )
    assert refused.status_code == 200  # release 2 only adds a tool: compatible
    assert states >= 1


async def test_a_diff_of_two_sides_that_are_one_state_computes_it_once_and_finds_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any
) -> None:
    await project_with_toolset(client, auth)
    diff, states = await counted(
        client,
        app_and_tables,
        client.get(f"{BASE}/diff", params={"from": "live", "to": "next"}, headers=auth),
    )
    assert diff.status_code == 200
    body = diff.json()
    assert body["tools"] == {"added": [], "removed": [], "changed": []}
    assert (body["metadata"], body["changes"], body["impact"]) == ({}, [], None)
    assert body["counts"] == {"breaking": 0, "compatible": 0, "cosmetic": 0}
    assert states == 1
