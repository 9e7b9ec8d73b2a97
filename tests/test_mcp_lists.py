"""What MCP lists serve equals the JSON API's served state, and iteration-mode edits notify."""

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
from mcp.client.subscriptions import listen
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged

from app.mcp.changes import EndpointBus
from tests.factories import create_deployment, create_project, make_tools, ok
from tests.helpers_mcp import modern_session, serve
from tests.helpers_toolsets import BASE, URNS, project_with_toolset
from tests.test_mcp_wire import modern

HINTS = {
    "read_only_hint": "readOnlyHint",
    "destructive_hint": "destructiveHint",
    "idempotent_hint": "idempotentHint",
    "open_world_hint": "openWorldHint",
}


def expected_tools(state: dict[str, Any]) -> list[dict[str, Any]]:
    """tools/list as SPEC §6 derives it from an effective state (written out independently)."""
    tools = []
    for tool in state["tools"]:
        schema = (
            tool["input_schema"]
            if "type" in tool["input_schema"]
            else {"type": "object", **tool["input_schema"]}
        )
        entry: dict[str, Any] = {"name": tool["name"], "inputSchema": schema}
        annotations = {wire: tool[field] for field, wire in HINTS.items() if tool[field] is not None}
        if tool["title"] is not None:
            entry["title"] = tool["title"]
            annotations["title"] = tool["title"]
        if tool["description"] is not None:
            entry["description"] = tool["description"]
        if annotations:
            entry["annotations"] = annotations
        meta: dict[str, Any] = {"urn": tool["urn"]}
        if state["release_number"] is not None:
            meta["release_number"] = state["release_number"]
        entry["_meta"] = meta
        tools.append(entry)
    return tools


def expected_prompts(state: dict[str, Any]) -> list[dict[str, Any]]:
    prompts = []
    for prompt in state["prompts"]:
        entry: dict[str, Any] = {"name": prompt["name"]}
        if prompt["description"] is not None:
            entry["description"] = prompt["description"]
        entry["arguments"] = [
            {k: v for k, v in {**a, "required": a.get("required", False)}.items() if v is not None}
            for a in prompt["arguments"]
        ]
        prompts.append(entry)
    return prompts


def expected_resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    resources = []
    for resource in state["resources"]:
        entry = {"uri": resource["uri"], "name": resource["name"], "_meta": {"urn": resource["urn"]}}
        if resource["description"] is not None:
            entry["description"] = resource["description"]
        if resource["mime_type"] is not None:
            entry["mimeType"] = resource["mime_type"]
        resources.append(entry)
    return resources


async def mcp_list(client: httpx.AsyncClient, auth: dict[str, str], path: str, method: str) -> Any:
    body, headers = modern(method)
    response = await client.post(path, json=body, headers={**auth, **headers})
    assert response.status_code == 200, response.text
    return response.json()["result"][method.split("/")[0]]


async def assert_lists_equal_state(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, state: dict[str, Any]
) -> None:
    for _ in range(2):  # through the SDK, then from the pre-serialized cache
        assert await mcp_list(client, auth, path, "tools/list") == expected_tools(state)
        assert await mcp_list(client, auth, path, "prompts/list") == expected_prompts(state)
        assert await mcp_list(client, auth, path, "resources/list") == expected_resources(state)


async def test_tools_list_equals_get_effective_toolset_over_varied_toolsets(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth, "p")
    tools = make_tools(6)
    tools[1]["input_schema"] = {}  # a tool without a schema
    tools[2] |= {
        "read_only_hint": None,
        "destructive_hint": True,
        "idempotent_hint": False,
        "open_world_hint": True,
    }
    resources = [
        {
            "urn": "resources:docs",
            "name": "Docs",
            "uri": "https://example.test/docs",
            "mime_type": "text/html",
        },
        {
            "urn": "resources:faq",
            "name": "FAQ",
            "uri": "https://example.test/faq",
            "description": "Questions",
        },
    ]
    await create_deployment(client, auth, "p", tools, resources)
    urns = [t["urn"] for t in tools]
    v = "/v1/projects/p/variations"
    await ok(
        client.put(
            f"{v}/{urns[0]}", json={"name": "fetch", "title": "Fetch", "read_only_hint": False}, headers=auth
        )
    )
    await ok(client.put(f"{v}/{urns[3]}", json={"description": "Global description"}, headers=auth))
    await ok(client.put(f"{v}/{urns[4]}", json={"name": "gone_soon"}, headers=auth))
    assert (await client.delete(f"{v}/{urns[4]}", headers=auth)).status_code == 204  # a tombstone
    template = {
        "name": "adopt",
        "prompt": "Adopt {{pet}}",
        "description": "A letter",
        "arguments": [{"name": "pet", "description": "which", "required": True}, {"name": "tone"}],
    }
    assert (
        await client.post("/v1/projects/p/prompt-templates", json=template, headers=auth)
    ).status_code == 201
    await ok(
        client.post("/v1/projects/p/prompt-templates", json={"name": "plain", "prompt": "Hi"}, headers=auth)
    )
    for slug, selection in [("all", urns), ("few", urns[2:5]), ("none", [])]:
        created = await client.post(
            "/v1/projects/p/toolsets",
            json={
                "name": slug,
                "slug": slug,
                "description": f"The {slug} toolset",
                "tool_urns": selection,
                "resource_urns": ["resources:docs", "resources:faq"] if slug == "all" else [],
                "prompt_template_names": ["adopt", "plain"] if slug != "none" else [],
            },
            headers=auth,
        )
        assert created.status_code == 201, created.text
    t = "/v1/projects/p/toolsets/all/variations"
    await ok(client.put(f"{t}/{urns[0]}", json={"description": "Toolset description"}, headers=auth))
    await ok(client.put(f"{t}/{urns[3]}", json={"title": "Own title", "idempotent_hint": True}, headers=auth))

    for slug in ("all", "few", "none"):  # iteration mode
        state = (await client.get(f"/v1/projects/p/toolsets/{slug}/effective", headers=auth)).json()
        await assert_lists_equal_state(client, auth, f"/mcp/p/{slug}", state)

    switched = await client.put(
        "/v1/projects/p/toolsets/all/editing-mode", json={"mode": "staging"}, headers=auth
    )
    assert switched.status_code == 200
    await client.put(f"{v}/{urns[5]}", json={"name": "after_release"}, headers=auth)  # reaches release 2 only
    await ok(client.post("/v1/projects/p/toolsets/all/staging", headers=auth))
    await ok(
        client.put(
            f"/v1/projects/p/toolsets/all/staging/variations/{urns[1]}", json={"title": "T"}, headers=auth
        )
    )
    assert (await client.post("/v1/projects/p/toolsets/all/staging/publish", headers=auth)).status_code == 201

    served = (await client.get("/v1/projects/p/toolsets/all/effective", headers=auth)).json()
    assert served["release_number"] == 2
    await assert_lists_equal_state(client, auth, "/mcp/p/all", served)
    for number in (1, 2):
        release = (
            await client.get(f"/v1/projects/p/toolsets/all/releases/{number}/state", headers=auth)
        ).json()
        await assert_lists_equal_state(client, auth, f"/mcp/p/all/releases/{number}", release)


async def test_iteration_mode_edits_notify_only_when_what_is_served_changes(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)  # iteration mode: op_0000, op_0001 and template greet
    app = second_app.app  # type: ignore[attr-defined]
    async with (
        serve(app) as url,
        modern_session(f"{url}/mcp/p/pets", auth) as session,
        listen(session, tools_list_changed=True, prompts_list_changed=True) as subscription,
    ):

        async def next_event(within: float = 1.0) -> object:
            async with asyncio.timeout(within):
                return await subscription.__anext__()

        # A variation of a tool the toolset does not select: nothing its clients see.
        await ok(client.put(f"/v1/projects/p/variations/{URNS[3]}", json={"name": "other"}, headers=auth))
        # A global variation of a selected tool: its list changes.
        await ok(client.put(f"/v1/projects/p/variations/{URNS[0]}", json={"name": "renamed"}, headers=auth))
        assert await next_event() == ToolsListChanged()
        assert [t.name for t in (await session.list_tools()).tools] == ["renamed", "op_0001"]

        updated = await client.put(
            "/v1/projects/p/prompt-templates/greet", json={"prompt": "Hello again"}, headers=auth
        )
        assert updated.status_code == 200, updated.text
        assert await next_event() == PromptsListChanged()  # prompts/get now answers other words

        await ok(client.patch(BASE, json={"tool_urns": URNS[:3]}, headers=auth))
        event = await next_event()
        assert event == ToolsListChanged()
        await create_deployment(client, auth, "p", make_tools(4))  # same definitions: no change
        await client.patch(BASE, json={"description": "New words"}, headers=auth)  # not a list
        await ok(client.put(f"/v1/projects/p/variations/{URNS[1]}", json={"description": "d"}, headers=auth))
        assert await next_event() == ToolsListChanged()


async def test_an_event_published_on_one_process_reaches_listeners_on_another(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """`EndpointBus.publish` (the SDK's fan-out seam) goes through PostgreSQL."""
    await project_with_toolset(client, auth)
    first_hub = client._transport.app.state.mcp.hub  # type: ignore[attr-defined]
    async with (
        serve(second_app.app) as url,  # type: ignore[attr-defined]
        modern_session(f"{url}/mcp/p/pets", auth) as session,
        listen(session, resources_list_changed=True) as subscription,
    ):
        bus = EndpointBus(first_hub, SimpleNamespace(key=("org-a", "p", "pets", "")))  # type: ignore[arg-type]
        await bus.publish(ResourcesListChanged())
        async with asyncio.timeout(1.0):
            assert await subscription.__anext__() == ResourcesListChanged()


async def test_listeners_hear_when_their_toolset_is_deleted(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    async with (
        serve(client._transport.app) as url,  # type: ignore[attr-defined]
        modern_session(f"{url}/mcp/p/pets", auth) as session,
        listen(session, tools_list_changed=True) as subscription,
    ):
        assert (await client.delete(BASE, headers=auth)).status_code == 204
        async with asyncio.timeout(1.0):
            assert await subscription.__anext__() == ToolsListChanged()
