"""SPEC section 6: tool names are unique within a served state; a write that would make two
served tools share a name is refused (409 `duplicate_tool_names`) and changes nothing."""

from typing import Any

import httpx

from tests.factories import create_deployment, create_project, make_tools, ok

P = "/v1/projects/p"
T = f"{P}/toolsets/t"
# Two sources with the same operation names: a:op_0000 and b:op_0000 are both `op_0000`.
A0, A1 = "tools:http:a:op_0000", "tools:http:a:op_0001"
B0, B1 = "tools:http:b:op_0000", "tools:http:b:op_0001"


def assert_refused(response: httpx.Response, name: str) -> None:
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "duplicate_tool_names"
    assert name in [d["name"] for d in problem["duplicates"]]


async def setup(client: httpx.AsyncClient, auth: dict[str, str], urns: list[str] | None = None) -> Any:
    await create_project(client, auth, "p")
    await create_deployment(client, auth, "p", make_tools(2, "a") + make_tools(2, "b"))
    body = {"name": "T", "slug": "t", "tool_urns": urns or [A0, B1]}
    return await ok(client.post(f"{P}/toolsets", json=body, headers=auth), 201)


async def names(client: httpx.AsyncClient, auth: dict[str, str], url: str = f"{T}/effective") -> list[str]:
    state = await ok(client.get(url, headers=auth))
    return sorted(tool["name"] for tool in state["tools"])


async def test_a_selection_with_two_tools_of_one_name_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    toolset = await setup(client, auth)
    both = {"name": "Both", "tool_urns": [A0, B0]}
    assert_refused(await client.post(f"{P}/toolsets", json=both, headers=auth), "op_0000")
    assert_refused(await client.patch(T, json={"tool_urns": [A0, B0, B1]}, headers=auth), "op_0000")
    assert (await ok(client.get(T, headers=auth)))["version"] == toolset["version"]
    assert await names(client, auth) == ["op_0000", "op_0001"]
    assert [t["slug"] for t in (await ok(client.get(f"{P}/toolsets", headers=auth)))["items"]] == ["t"]


async def test_variations_that_would_make_names_collide_are_refused(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup(client, auth)
    assert_refused(
        await client.put(f"{T}/variations/{B1}", json={"name": "op_0000"}, headers=auth), "op_0000"
    )
    assert_refused(
        await client.put(f"{P}/variations/{A0}", json={"name": "op_0001"}, headers=auth), "op_0001"
    )
    assert (await client.get(f"{T}/variations/{B1}/versions", headers=auth)).status_code == 404
    assert (await client.get(f"{P}/variations/{A0}/versions", headers=auth)).status_code == 404
    assert await names(client, auth) == ["op_0000", "op_0001"]

    # A rename that separates them lets the pair be selected; undoing it is refused.
    await ok(client.put(f"{P}/variations/{B0}", json={"name": "b_op_0000"}, headers=auth))
    await ok(client.patch(T, json={"tool_urns": [A0, B0, B1]}, headers=auth))
    assert await names(client, auth) == ["b_op_0000", "op_0000", "op_0001"]
    assert_refused(await client.delete(f"{P}/variations/{B0}", headers=auth), "op_0000")
    assert await names(client, auth) == ["b_op_0000", "op_0000", "op_0001"]


async def test_a_deployment_that_would_make_names_collide_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup(client, auth)
    active = await ok(client.get(f"{P}/deployments/active", headers=auth))
    renamed = make_tools(2, "a") + make_tools(2, "b")
    renamed[3]["name"] = "op_0000"  # b:op_0001, selected beside a:op_0000, now named op_0000
    refused = await client.post(f"{P}/deployments", json={"tools": renamed}, headers=auth)
    assert_refused(refused, "op_0000")
    assert (await ok(client.get(f"{P}/deployments/active", headers=auth)))["id"] == active["id"]


async def test_staging_copies_and_captures_are_checked_too(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup(client, auth)
    await ok(client.put(f"{T}/editing-mode", json={"mode": "staging"}, headers=auth))
    await ok(client.post(f"{T}/staging", headers=auth), 201)
    assert_refused(await client.patch(f"{T}/staging", json={"tool_urns": [A0, B0]}, headers=auth), "op_0000")
    staged = await client.put(f"{T}/staging/variations/{A0}", json={"name": "op_0001"}, headers=auth)
    assert_refused(staged, "op_0001")
    # A global variation changes the staging copy's state: refused for it.
    assert_refused(
        await client.put(f"{P}/variations/{B1}", json={"name": "op_0000"}, headers=auth), "op_0000"
    )
    await ok(client.delete(f"{T}/staging", headers=auth))

    # With no staging copy the live toolset serves its release, so the global edit is
    # accepted; the next capture of current data is what would serve it, and is refused.
    await ok(client.put(f"{P}/variations/{B1}", json={"name": "op_0000"}, headers=auth))
    assert await names(client, auth) == ["op_0000", "op_0001"]
    assert_refused(await client.post(f"{T}/releases", headers=auth), "op_0000")
    releases = (await ok(client.get(f"{T}/releases", headers=auth)))["items"]
    assert [r["release_number"] for r in releases] == [1]
    assert_refused(await client.put(f"{T}/editing-mode", json={"mode": "iteration"}, headers=auth), "op_0000")
