"""`tools/call` and `resources/read` through the official MCP client, forwarded to a real
upstream on 127.0.0.1: what arrives there, failures as tool errors, and pinned releases
calling what they described."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from app.upstreams.client import UpstreamClient
from tests.factories import create_project
from tests.helpers_mcp import legacy_session, modern_session, serve
from tests.upstream_server import Upstream, running_upstream

SECRET = "tok_mcp-upstream-secret"
BASE = "/v1/projects/p/toolsets/pets"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


async def import_document(
    client: httpx.AsyncClient, auth: dict[str, str], document: dict[str, Any]
) -> list[str]:
    response = await client.post(
        "/v1/projects/p/deployments/openapi", params={"source": "petstore"}, json=document, headers=auth
    )
    assert response.status_code == 201, response.text
    return [t["urn"] for t in response.json()["imported_tools"]]


async def petstore_toolset(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    upstream: Upstream,
    resources: list[dict[str, Any]] | None = None,
) -> None:
    """Project `p`: the upstream's document imported, its upstream set with a secret header,
    and toolset `pets` of every tool in staging mode (release 1)."""
    await create_project(client, auth)
    if resources:
        made = await client.post(
            "/v1/projects/p/deployments", json={"tools": [], "resources": resources}, headers=auth
        )
        assert made.status_code == 201, made.text
    urns = await import_document(client, auth, upstream.document())
    body = {"base_url": upstream.base_url, "headers": {"Authorization": f"Bearer {SECRET}"}}
    assert (await client.put("/v1/projects/p/upstreams/petstore", json=body, headers=auth)).status_code == 200
    toolset = {"name": "pets", "tool_urns": urns, "resource_urns": [r["urn"] for r in resources or []]}
    assert (await client.post("/v1/projects/p/toolsets", json=toolset, headers=auth)).status_code == 201
    switched = await client.put(f"{BASE}/editing-mode", json={"mode": "staging"}, headers=auth)
    assert switched.status_code == 200, switched.text


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def test_tool_calls_through_the_official_client_reach_the_upstream_as_the_document_says(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str], upstream: Upstream
) -> None:
    await petstore_toolset(client, auth, upstream)
    upstream.received.clear()
    async with serve(second_app.app) as url, modern_session(f"{url}/mcp/p/pets", auth) as session:  # type: ignore[attr-defined]
        listed = await session.call_tool(
            "list_pets", {"limit": 2, "tags": ["a", "b"], "X-Request-Tag": "t-9"}
        )
        assert not listed.is_error, text_of(listed)
        assert listed.structured_content == {"pets": [{"id": 1, "name": "Rex"}], "limit": "2"}
        arrived = upstream.received[-1]
        assert (arrived.method, arrived.path) == ("GET", "/v1/pets")
        assert arrived.query == [("limit", "2"), ("tags", "a"), ("tags", "b")]
        assert arrived.headers["x-request-tag"] == "t-9"
        assert arrived.headers["authorization"] == f"Bearer {SECRET}"

        shown = await session.call_tool("show_pet_by_id", {"petId": 1})
        assert (shown.is_error, upstream.received[-1].path) == (False, "/v1/pets/1")

        created = await session.call_tool("create_pet", {"body": {"name": "Tom"}})
        assert not created.is_error, text_of(created)
        assert upstream.received[-1].body == b'{"name": "Tom"}'
        assert created.structured_content == {"id": 7, "name": "Tom"}

    async with serve(second_app.app) as url, legacy_session(f"{url}/mcp/p/pets", auth) as session:  # type: ignore[attr-defined]
        shown = await session.call_tool("show_pet_by_id", {"petId": 1})
        assert not shown.is_error, text_of(shown)
        assert '"name":"Rex"' in text_of(shown).replace(" ", "")


async def test_upstream_failures_are_tool_errors_never_protocol_errors_or_hangs(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str], upstream: Upstream
) -> None:
    await petstore_toolset(client, auth, upstream)
    app = second_app.app  # type: ignore[attr-defined]
    patient = app.state.upstream_client
    app.state.upstream_client = UpstreamClient(total_timeout=2.5)
    try:
        async with serve(app) as url, modern_session(f"{url}/mcp/p/pets", auth) as session:
            missing = await session.call_tool("show_pet_by_id", {"petId": 2})
            assert missing.is_error
            assert "404" in text_of(missing)
            assert "no such pet" in text_of(missing)

            failed = await session.call_tool("delete_pet", {"petId": 1})
            assert failed.is_error
            assert "500" in text_of(failed)

            upstream.received.clear()
            invalid = await session.call_tool("show_pet_by_id", {"petId": "one"})
            assert invalid.is_error
            assert "/petId" in text_of(invalid)
            assert upstream.received == []

            late = await session.call_tool("slow", {})
            assert late.is_error
            assert "did not answer" in text_of(late)

            away = await session.call_tool("elsewhere", {})
            assert away.is_error
            assert "another host" in text_of(away)
            assert [r.path for r in upstream.received] == ["/v1/slow", "/v1/elsewhere"]

            with pytest.raises(MCPError):
                await session.call_tool("no_such_tool", {})
    finally:
        await app.state.upstream_client.aclose()
        app.state.upstream_client = patient


async def test_a_pinned_or_rolled_back_endpoint_calls_what_its_release_described(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str], upstream: Upstream
) -> None:
    await petstore_toolset(client, auth, upstream)  # release 1: showPetById at /pets/{petId}
    await import_document(client, auth, upstream.document(pet_path="/animals/{petId}"))
    released = await client.post(f"{BASE}/releases", json={"notes": "pets moved"}, headers=auth)
    assert released.status_code == 201, released.text
    assert released.json()["release_number"] == 2

    async def path_called(endpoint: str) -> str:
        async with serve(second_app.app) as url, modern_session(f"{url}{endpoint}", auth) as session:  # type: ignore[attr-defined]
            result = await session.call_tool("show_pet_by_id", {"petId": 1})
            assert not result.is_error, text_of(result)
        return upstream.received[-1].path

    assert await path_called("/mcp/p/pets") == "/v1/animals/1"
    assert await path_called("/mcp/p/pets/releases/1") == "/v1/pets/1"
    rolled = await client.post(f"{BASE}/releases/1/rollback", headers=auth)
    assert rolled.status_code == 200, rolled.text
    assert await path_called("/mcp/p/pets") == "/v1/pets/1"
    assert await path_called("/mcp/p/pets/releases/2") == "/v1/animals/1"


async def test_resources_are_read_from_under_their_sources_base_url_only(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str], upstream: Upstream
) -> None:
    resources = [
        {
            "urn": "resources:http:petstore:catalog",
            "name": "catalog",
            "uri": f"{upstream.base_url}/text",
            "mime_type": "text/plain",
        },
        {
            "urn": "resources:http:petstore:outside",
            "name": "outside",
            "uri": f"http://localhost:{upstream.port}/v1/text",
        },
    ]
    await petstore_toolset(client, auth, upstream, resources)
    async with serve(second_app.app) as url, modern_session(f"{url}/mcp/p/pets", auth) as session:  # type: ignore[attr-defined]
        read = await session.read_resource(f"{upstream.base_url}/text")
        assert [(c.uri, c.mime_type, c.text) for c in read.contents] == [  # type: ignore[union-attr]
            (f"{upstream.base_url}/text", "text/plain", "plain words")
        ]
        assert upstream.received[-1].headers["authorization"] == f"Bearer {SECRET}"
        upstream.received.clear()
        with pytest.raises(MCPError):
            await session.read_resource(f"http://localhost:{upstream.port}/v1/text")
        assert upstream.received == []
