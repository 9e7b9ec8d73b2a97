"""MCP clients built on the official SDK, against the service served on 127.0.0.1.

Changes are made through one server process (the `client` app) while the MCP client
listens on another (`second_app`, its own caches and NOTIFY listener), as behind a
load balancer.
"""

import asyncio
from typing import Any

import httpx
import pytest
from mcp.client.subscriptions import listen
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import PromptsListChanged, ToolsListChanged

from tests.factories import ok
from tests.helpers_mcp import Heard, RoundRobin, legacy_session, modern_session, serve
from tests.helpers_toolsets import BASE, URNS, effective, project_with_toolset, switch


async def publish(client: httpx.AsyncClient, auth: dict[str, str], tool_urns: list[str]) -> int:
    await ok(client.post(f"{BASE}/staging", headers=auth))
    patched = await client.patch(f"{BASE}/staging", json={"tool_urns": tool_urns}, headers=auth)
    assert patched.status_code == 200, patched.text
    published = await client.post(f"{BASE}/staging/publish", headers=auth)
    assert published.status_code == 201, published.text
    number: int = published.json()["release_number"]
    return number


def tool_names(result: Any) -> list[str]:
    return [tool.name for tool in result.tools]


async def test_a_session_client_hears_publish_and_rollback_made_on_another_process(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")  # release 1: op_0000, op_0001
    heard = Heard()
    async with serve(second_app.app) as url, legacy_session(f"{url}/mcp/p/pets", auth, heard) as session:  # type: ignore[attr-defined]
        init = session.initialize_result
        assert init is not None
        assert (init.server_info.name, init.server_info.version) == ("pets", "release-1")
        assert init.capabilities.tools is not None
        assert init.capabilities.tools.list_changed
        assert init.capabilities.prompts is not None
        assert init.capabilities.prompts.list_changed
        assert init.capabilities.resources is not None
        assert init.capabilities.resources.list_changed
        assert tool_names(await session.list_tools()) == ["op_0000", "op_0001"]

        assert await publish(client, auth, URNS[:3]) == 2
        await heard.wait_for("notifications/tools/list_changed", within=1.0)
        assert tool_names(await session.list_tools()) == ["op_0000", "op_0001", "op_0002"]

        heard.methods.clear()
        rolled = await client.post(f"{BASE}/releases/1/rollback", headers=auth)
        assert rolled.status_code == 200, rolled.text
        await heard.wait_for("notifications/tools/list_changed", within=1.0)
        assert tool_names(await session.list_tools()) == ["op_0000", "op_0001"]
        assert (await session.send_ping()) is not None


async def test_a_pinned_release_serves_that_release_and_never_notifies(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    heard = Heard()
    async with (
        serve(client._transport.app) as url,
        legacy_session(f"{url}/mcp/p/pets/releases/1", auth, heard) as session,
    ):  # type: ignore[attr-defined]
        assert session.initialize_result is not None
        assert session.initialize_result.server_info.version == "release-1"
        await publish(client, auth, URNS)
        assert (await effective(client, auth))["release_number"] == 2
        await asyncio.sleep(0.3)
        assert tool_names(await session.list_tools()) == ["op_0000", "op_0001"]
        assert heard.methods == []
    async with (
        serve(client._transport.app) as url,
        modern_session(f"{url}/mcp/p/pets/releases/1", auth) as session,
    ):  # type: ignore[attr-defined]
        listed = await session.list_tools()
        assert listed.ttl_ms >= 365 * 24 * 3600 * 1000  # cache it for as long as you like
        assert listed.cache_scope == "private"
        assert [t.meta for t in listed.tools] == [
            {"urn": URNS[0], "release_number": 1},
            {"urn": URNS[1], "release_number": 1},
        ]


async def test_the_newest_revision_listens_and_hears_changes_made_on_another_process(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)  # iteration mode
    app = second_app.app  # type: ignore[attr-defined]
    async with serve(app) as url, modern_session(f"{url}/mcp/p/pets", auth) as session:
        assert session.protocol_version == "2026-07-28"
        assert session.server_info is not None
        assert (session.server_info.name, session.server_info.version) == ("pets", "iteration")
        listed = await session.list_tools()
        assert tool_names(listed) == ["op_0000", "op_0001"]
        assert 0 < listed.ttl_ms <= 1000  # a served endpoint changes at any publish
        async with listen(session, tools_list_changed=True, prompts_list_changed=True) as subscription:
            switched = await switch(client, auth, "staging")  # release 1: nothing clients see changes
            assert switched.status_code == 200
            await publish(client, auth, URNS[:1])

            async def next_event() -> object:
                return await subscription.__anext__()

            event = await asyncio.wait_for(next_event(), timeout=1.0)
            assert event == ToolsListChanged()
        assert tool_names(await session.list_tools()) == ["op_0000"]
        assert session.server_info.version in ("iteration", "release-2")  # stamped per result


async def test_prompts_render_arguments_and_a_missing_required_one_is_an_mcp_error(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    template = {
        "name": "adopt",
        "prompt": "Adopt {{pet}} for {{ owner }} {{unknown}} {{note}}",
        "description": "Adoption letter",
        "arguments": [
            {"name": "pet", "required": True},
            {"name": "owner", "description": "who", "required": True},
            {"name": "note"},
        ],
    }
    assert (
        await client.post("/v1/projects/p/prompt-templates", json=template, headers=auth)
    ).status_code == 201
    patched = await client.patch(BASE, json={"prompt_template_names": ["greet", "adopt"]}, headers=auth)
    assert patched.status_code == 200
    async with serve(client._transport.app) as url, legacy_session(f"{url}/mcp/p/pets", auth) as session:  # type: ignore[attr-defined]
        prompts = (await session.list_prompts()).prompts
        assert [p.name for p in prompts] == ["adopt", "greet"]
        assert [(a.name, a.required) for a in prompts[0].arguments or []] == [
            ("pet", True),
            ("owner", True),
            ("note", False),
        ]
        rendered = await session.get_prompt("adopt", {"pet": "Rex", "owner": "Ada"})
        assert rendered.description == "Adoption letter"
        text = rendered.messages[0].content
        assert getattr(text, "text", None) == "Adopt Rex for Ada {{unknown}} "
        with pytest.raises(MCPError, match="owner"):
            await session.get_prompt("adopt", {"pet": "Rex"})
        with pytest.raises(MCPError, match="Unknown prompt"):
            await session.get_prompt("nope", {})


async def test_tools_call_and_resources_read_answer_until_upstreams_are_configured(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    async with serve(client._transport.app) as url, legacy_session(f"{url}/mcp/p/pets", auth) as session:  # type: ignore[attr-defined]
        result = await session.call_tool("op_0000", {"id": 1})
        assert result.is_error
        assert "petstore" in getattr(result.content[0], "text", "")
        with pytest.raises(MCPError, match="Unknown tool"):
            await session.call_tool("op_0003", {})  # in the project, not in the toolset


async def test_staging_preview_needs_write_and_hears_staging_edits(
    client: httpx.AsyncClient, auth: dict[str, str], headers: Any
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    await ok(client.post(f"{BASE}/staging", headers=auth))
    read_only = await headers(scopes=("read",))
    async with serve(client._transport.app) as url:  # type: ignore[attr-defined]
        with pytest.raises(Exception):  # noqa: B017,PT011 - the SDK surfaces an HTTP 403 as an error
            async with legacy_session(f"{url}/mcp/p/pets/staging", read_only):
                pass
        async with modern_session(f"{url}/mcp/p/pets/staging", auth) as session:
            assert session.server_info is not None
            assert session.server_info.version == "staging"
            listed = await session.list_tools()
            assert listed.ttl_ms == 0
            assert tool_names(listed) == ["op_0000", "op_0001"]
            async with listen(session, tools_list_changed=True) as subscription:
                edited = await client.patch(f"{BASE}/staging", json={"tool_urns": URNS}, headers=auth)
                assert edited.status_code == 200
                # Staging edits move no pointer: the hub hears them through the served-state signal.
                event = await asyncio.wait_for(subscription.__anext__(), timeout=2.0)
                assert event in (ToolsListChanged(), PromptsListChanged())
            assert tool_names(await session.list_tools()) == [u.rsplit(":", 1)[1] for u in URNS]


async def test_refusals_are_http_answers_before_any_mcp_message(
    client: httpx.AsyncClient, auth: dict[str, str], headers: Any
) -> None:
    await project_with_toolset(client, auth)
    other_org = await headers(org="org-b")
    async with serve(client._transport.app) as url:  # type: ignore[attr-defined]
        for target, key in [
            ("/mcp/p/pets", {}),
            ("/mcp/p/pets", other_org),
            ("/mcp/p/pets/releases/7", auth),
            ("/mcp/p/nope", auth),
        ]:
            with pytest.raises(Exception):  # noqa: B017,PT011 - the SDK raises on 401 and 404
                async with legacy_session(f"{url}{target}", key):
                    pass


async def test_a_session_works_behind_a_load_balancer_that_alternates_processes(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """Without adoption every such session broke at its second request (404 Session not found)."""
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    first = client._transport.app  # type: ignore[attr-defined]
    async with serve(first) as a, serve(second_app.app) as b:  # type: ignore[attr-defined]
        balancer = RoundRobin([a, b])
        heard = Heard()
        async with legacy_session(f"{a}/mcp/p/pets", auth, heard, transport=balancer) as session:
            for _ in range(4):
                assert tool_names(await session.list_tools()) == ["op_0000", "op_0001"]
            await publish(client, auth, URNS[:3])
            await heard.wait_for("notifications/tools/list_changed", within=1.0)
            assert tool_names(await session.list_tools()) == ["op_0000", "op_0001", "op_0002"]
        ports = {port for _, port, _ in balancer.sent}
        assert len(ports) == 2
        assert all(status < 400 for _, _, status in balancer.sent), balancer.sent
