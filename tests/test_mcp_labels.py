"""MCP clients following a label: `/mcp/{project}/{toolset}/labels/{label}` serves the release
the label points at, and its listeners hear when the label moves, on any process."""

import asyncio

import httpx

from tests.helpers_mcp import Heard, legacy_session, modern_session, serve
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch
from tests.test_mcp_sdk import publish, tool_names


async def test_a_label_endpoint_follows_its_label_and_hears_it_move(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")  # release 1: op_0000, op_0001
    assert await publish(client, auth, URNS[:3]) == 2
    await client.put(f"{BASE}/labels/stable", json={"release_number": 1}, headers=auth)
    heard = Heard()
    app = second_app.app  # type: ignore[attr-defined]
    async with serve(app) as url, legacy_session(f"{url}/mcp/p/pets/labels/stable", auth, heard) as session:
        init = session.initialize_result
        assert init is not None
        assert (init.server_info.name, init.server_info.version) == ("pets", "release-1")
        assert tool_names(await session.list_tools()) == ["op_0000", "op_0001"]

        # Publishing moves the served pointer, not the label: nothing to hear here.
        assert await publish(client, auth, URNS[:1]) == 3
        await asyncio.sleep(0.3)
        assert heard.methods == []

        moved = await client.put(f"{BASE}/labels/stable", json={"release_number": 2}, headers=auth)
        assert moved.status_code == 200
        await heard.wait_for("notifications/tools/list_changed", within=1.0)
        assert tool_names(await session.list_tools()) == ["op_0000", "op_0001", "op_0002"]

    async with serve(app) as url, modern_session(f"{url}/mcp/p/pets/labels/current", auth) as session:
        assert session.server_info is not None
        assert session.server_info.version == "release-3"  # `current` is the served pointer
        listed = await session.list_tools()
        assert tool_names(listed) == ["op_0000"]
        assert 0 < listed.ttl_ms <= 1000


async def test_label_endpoints_answer_404_for_an_unknown_label(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    await client.put(f"{BASE}/labels/stable", json={"release_number": 1}, headers=auth)
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    missing = await client.post("/mcp/p/pets/labels/nope", json=body, headers=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "label_not_found"
    deleted = await client.delete(f"{BASE}/labels/stable", headers=auth)
    assert deleted.status_code == 204
    assert (await client.post("/mcp/p/pets/labels/stable", json=body, headers=auth)).status_code == 404
    assert (await client.post("/mcp/p/pets/labels/Bad", json=body, headers=auth)).status_code == 404
