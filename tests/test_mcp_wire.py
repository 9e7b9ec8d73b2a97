"""The MCP endpoints driven as raw JSON-RPC over httpx, following the transport spec.

Not through the SDK's client: the wire itself (headers, status codes, bodies), so the
server is not only tested by the library that implements it.
"""

import asyncio
from typing import Any

import httpx

from tests.helpers_toolsets import BASE, project_with_toolset, switch

MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"


def rpc(method: str, request_id: int | None = 1, **params: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        message["id"] = request_id
    if params:
        message["params"] = params
    return message


def modern(method: str, request_id: int = 1, **params: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 request: the `_meta` envelope in the body, its routing headers beside it."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-httpx", "version": "1"},
    }
    headers = {"Accept": ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if "name" in params:
        headers["Mcp-Name"] = params["name"]
    return rpc(method, request_id, _meta=meta, **params), headers


async def test_a_session_over_the_handshake_revision(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    url = "/mcp/p/pets"
    headers = {**auth, "Accept": ACCEPT}
    init = rpc(
        "initialize",
        protocolVersion="2025-11-25",
        capabilities={},
        clientInfo={"name": "raw-httpx", "version": "1"},
    )
    response = await client.post(url, json=init, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    session_id = response.headers["mcp-session-id"]
    result = response.json()["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["serverInfo"] == {"name": "pets", "version": "iteration"}
    assert result["capabilities"]["tools"] == {"listChanged": True}

    session = {**headers, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
    initialized = await client.post(url, json=rpc("notifications/initialized", None), headers=session)
    assert initialized.status_code == 202

    for attempt in range(2):  # the second answer comes from the pre-serialized cache
        listed = await client.post(url, json=rpc("tools/list", 10 + attempt), headers=session)
        assert listed.status_code == 200, listed.text
        assert listed.headers["mcp-session-id"] == session_id
        body = listed.json()
        assert body["id"] == 10 + attempt
        assert [t["name"] for t in body["result"]["tools"]] == ["op_0000", "op_0001"]
        assert "ttlMs" not in body["result"]  # cache hints belong to 2026-07-28

    assert (await client.post(url, json=rpc("ping", 3), headers=session)).json()["result"] == {}
    unknown = await client.post(url, json=rpc("tools/call", 4, name="nope", arguments={}), headers=session)
    assert unknown.json()["error"]["code"] == -32602

    elsewhere = await client.post("/mcp/p/pets/staging", json=rpc("tools/list", 5), headers=session)
    assert elsewhere.status_code == 404  # the session belongs to its endpoint, not to the key alone
    assert (await client.delete(url, headers=session)).status_code in (200, 204)
    gone = await client.post(url, json=rpc("tools/list", 6), headers=session)
    assert gone.status_code == 404


async def test_a_stateless_request_of_the_newest_revision(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    for attempt in range(2):
        body, headers = modern("tools/list", 7 + attempt)
        response = await client.post("/mcp/p/pets", json=body, headers={**auth, **headers})
        assert response.status_code == 200, response.text
        assert "mcp-session-id" not in response.headers
        answer = response.json()
        assert answer["id"] == 7 + attempt
        result = answer["result"]
        assert result["resultType"] == "complete"
        assert result["ttlMs"] == 1000
        assert result["cacheScope"] == "private"
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == {
            "name": "pets",
            "version": "release-1",
        }
        assert [t["_meta"] for t in result["tools"]] == [
            {"urn": "tools:http:petstore:op_0000", "release_number": 1},
            {"urn": "tools:http:petstore:op_0001", "release_number": 1},
        ]

    body, headers = modern("tools/list")
    mismatched = await client.post("/mcp/p/pets", json=body, headers={**auth, **headers, "Mcp-Method": "x"})
    assert mismatched.status_code == 400
    assert mismatched.json()["error"]["code"] == -32020  # HEADER_MISMATCH: the SDK's own checks

    body, headers = modern("tools/call", name="op_0000", arguments={"id": 1})
    called = (await client.post("/mcp/p/pets", json=body, headers={**auth, **headers})).json()
    assert called["result"]["isError"] is True

    body, headers = modern("prompts/get", name="greet")
    prompt = (await client.post("/mcp/p/pets", json=body, headers={**auth, **headers})).json()
    assert prompt["result"]["messages"][0]["content"] == {"type": "text", "text": "Hello"}


async def test_http_refusals_come_before_any_mcp_message(
    client: httpx.AsyncClient, auth: dict[str, str], headers: Any
) -> None:
    await project_with_toolset(client, auth)
    body, mcp_headers = modern("tools/list")

    async def post(path: str, key: dict[str, str]) -> httpx.Response:
        return await client.post(path, json=body, headers={**mcp_headers, **key})

    anonymous = await post("/mcp/p/pets", {})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert (await post("/mcp/p/pets", {"Authorization": "Bearer tsk_nope"})).status_code == 401

    other_org = await post("/mcp/p/pets", await headers(org="org-b"))
    assert other_org.status_code == 404
    assert other_org.json()["code"] == "project_not_found" or other_org.json()["status"] == 404

    read_only = await headers(scopes=("read",))
    assert (await post("/mcp/p/pets", read_only)).status_code == 200
    assert (await post("/mcp/p/pets/staging", read_only)).status_code == 403
    assert (await post("/mcp/p/pets/staging", auth)).status_code == 404  # no staging copy
    assert (await post("/mcp/p/pets/releases/1", auth)).status_code == 404  # iteration: no release yet
    assert (await post("/mcp/p/ghost", auth)).status_code == 404
    assert (await post("/mcp/p/pets/other", auth)).status_code == 404
    assert (await client.get(f"{BASE}/effective", headers=auth)).status_code == 200


async def test_a_session_ended_on_one_process_is_ended_on_every_process(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    headers = {**auth, "Accept": ACCEPT}
    init = rpc(
        "initialize", protocolVersion="2025-11-25", capabilities={}, clientInfo={"name": "x", "version": "1"}
    )
    opened = await client.post("/mcp/p/pets", json=init, headers=headers)
    session = {
        **headers,
        "Mcp-Session-Id": opened.headers["mcp-session-id"],
        "MCP-Protocol-Version": "2025-11-25",
    }
    # The second process adopts the session at its first request...
    adopted = await second_app.post("/mcp/p/pets", json=rpc("tools/list", 2), headers=session)
    assert adopted.status_code == 200, adopted.text
    assert [t["name"] for t in adopted.json()["result"]["tools"]] == ["op_0000", "op_0001"]
    # ...and ends it when the client ends it on the first one.
    assert (await client.delete("/mcp/p/pets", headers=session)).status_code in (200, 204)
    for _ in range(100):
        ended = await second_app.post("/mcp/p/pets", json=rpc("tools/list", 3), headers=session)
        if ended.status_code == 404:
            break
        await asyncio.sleep(0.02)
    assert ended.status_code == 404


async def test_another_key_cannot_use_a_session(
    client: httpx.AsyncClient, auth: dict[str, str], headers: Any
) -> None:
    await project_with_toolset(client, auth)
    init = rpc(
        "initialize", protocolVersion="2025-11-25", capabilities={}, clientInfo={"name": "x", "version": "1"}
    )
    opened = await client.post("/mcp/p/pets", json=init, headers={**auth, "Accept": ACCEPT})
    session_id = opened.headers["mcp-session-id"]
    other = {
        **(await headers()),
        "Accept": ACCEPT,
        "Mcp-Session-Id": session_id,
        "MCP-Protocol-Version": "2025-11-25",
    }
    assert (await client.post("/mcp/p/pets", json=rpc("tools/list", 2), headers=other)).status_code == 404
