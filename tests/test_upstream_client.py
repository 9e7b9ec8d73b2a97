"""The upstream client against a real HTTP server on 127.0.0.1: what arrives, and every failure
turned into a tool error result."""

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.upstreams.client import ServedTool, Target, UpstreamClient
from app.upstreams.service import prepare_call
from tests.factories import create_project
from tests.processes import free_port
from tests.upstream_server import Upstream, running_upstream

SECRET = "tok_3c1d-upstream-secret"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[UpstreamClient]:
    client = UpstreamClient(
        total_timeout=2.5, max_response_bytes=64 * 1024
    )  # 2.5 s: a loaded machine is slow too
    yield client
    await client.aclose()


async def served_tools(
    client: httpx.AsyncClient, auth: dict[str, str], upstream: Upstream, with_upstream: bool = True
) -> tuple[UUID, dict[str, dict[str, Any]]]:
    """Import the upstream's document, set its upstream, and make toolset `pets` of every tool."""
    await create_project(client, auth)
    imported = await client.post(
        "/v1/projects/p/deployments/openapi",
        params={"source": "petstore"},
        json=upstream.document(),
        headers=auth,
    )
    assert imported.status_code == 201, imported.text
    if with_upstream:
        body = {"base_url": upstream.base_url, "headers": {"Authorization": f"Bearer {SECRET}"}}
        response = await client.put("/v1/projects/p/upstreams/petstore", json=body, headers=auth)
        assert response.status_code == 200, response.text
    urns = [t["urn"] for t in imported.json()["imported_tools"]]
    toolset = await client.post(
        "/v1/projects/p/toolsets", json={"name": "pets", "tool_urns": urns}, headers=auth
    )
    assert toolset.status_code == 201, toolset.text
    effective = (await client.get("/v1/projects/p/toolsets/pets/effective", headers=auth)).json()
    return UUID(toolset.json()["id"]), {t["name"]: t for t in effective["tools"]}


def timeouts_counted(metrics: httpx.Response) -> float:
    """Calls of `slow` in toolset `pets` that timed out, as Prometheus counts them (this process)."""
    line = 'toolsets_tool_calls_total{outcome="timeout",tool="slow",toolset="pets"} '
    found = [row for row in metrics.text.splitlines() if row.startswith(line)]
    return float(found[0].removeprefix(line)) if found else 0.0


async def prepared(
    engine: AsyncEngine, toolset_id: UUID, tool: dict[str, Any]
) -> tuple[ServedTool, Target | None]:
    async with engine.connect() as conn:
        return await prepare_call(conn, toolset_id, None, "pets", tool)


async def test_path_query_header_and_body_arguments_arrive_as_the_document_says(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    engine: AsyncEngine,
    upstream: Upstream,
    http: UpstreamClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    toolset_id, tools = await served_tools(client, auth, upstream)
    upstream.received.clear()

    tool, target = await prepared(engine, toolset_id, tools["list_pets"])
    assert target is not None
    assert target.base_url == upstream.base_url
    result = await http.call(tool, {"limit": 5, "tags": ["a", "b"], "X-Request-Tag": "t-1"}, target)
    assert (result.is_error, result.status) == (False, 200), result.text
    assert result.structured == {"pets": [{"id": 1, "name": "Rex"}], "limit": "5"}
    listed = upstream.received[-1]
    assert (listed.method, listed.path) == ("GET", "/v1/pets")
    assert listed.query == [("limit", "5"), ("tags", "a"), ("tags", "b")]
    assert listed.headers["x-request-tag"] == "t-1"
    assert listed.headers["authorization"] == f"Bearer {SECRET}"

    tool, target = await prepared(engine, toolset_id, tools["show_pet_by_id"])
    result = await http.call(tool, {"petId": 1}, target)
    assert result.structured is not None
    assert result.structured["name"] == "Rex"
    assert upstream.received[-1].path == "/v1/pets/1"

    tool, target = await prepared(engine, toolset_id, tools["create_pet"])
    result = await http.call(tool, {"body": {"name": "Tom", "tag": None}}, target)
    assert (result.is_error, result.status) == (False, 201), result.text
    created = upstream.received[-1]
    assert (created.method, created.headers["content-type"]) == ("POST", "application/json")
    assert created.body == b'{"name": "Tom", "tag": null}'

    assert SECRET not in caplog.text
    assert "Tom" not in caplog.text  # argument values are never logged


async def test_invalid_arguments_are_a_tool_error_and_nothing_is_sent(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    engine: AsyncEngine,
    upstream: Upstream,
    http: UpstreamClient,
) -> None:
    toolset_id, tools = await served_tools(client, auth, upstream)
    upstream.received.clear()
    tool, target = await prepared(engine, toolset_id, tools["show_pet_by_id"])
    for arguments, where in (({"petId": "one"}, "/petId"), ({}, "the arguments"), ({"petId": 1, "x": 2}, "")):
        result = await http.call(tool, arguments, target)
        assert (result.is_error, result.outcome) == (True, "invalid_arguments")
        assert where in result.text
    tool, target = await prepared(engine, toolset_id, tools["list_pets"])
    result = await http.call(tool, {"limit": 1000}, target)
    assert result.outcome == "invalid_arguments"
    assert "maximum" in result.text
    assert upstream.received == []


async def test_upstream_errors_timeouts_redirects_and_refusals_become_tool_errors(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    engine: AsyncEngine,
    upstream: Upstream,
    http: UpstreamClient,
) -> None:
    toolset_id, tools = await served_tools(client, auth, upstream)

    async def call(name: str, arguments: dict[str, Any] | None = None, target: Target | None = None) -> Any:
        tool, default_target = await prepared(engine, toolset_id, tools[name])
        return await http.call(tool, arguments or {}, target or default_target)

    missing = await call("show_pet_by_id", {"petId": 2})
    assert (missing.is_error, missing.status, missing.outcome) == (True, 404, "upstream_error")
    assert "404" in missing.text
    assert "no such pet" in missing.text

    failed = await call("delete_pet", {"petId": 1})
    assert (failed.is_error, failed.status) == (True, 500)
    assert "database on fire" in failed.text

    timeouts_before = timeouts_counted(await client.get("/metrics"))
    late = await call("slow")
    assert (late.is_error, late.outcome) == (True, "timeout")

    upstream.received.clear()
    away = await call("elsewhere")
    assert (away.is_error, away.outcome, away.status) == (True, "redirect_refused", 302)
    assert [(r.path, r.headers["host"]) for r in upstream.received] == [
        ("/v1/elsewhere", f"127.0.0.1:{upstream.port}")
    ]

    followed = await call("moved")
    assert (followed.is_error, followed.status) == (False, 200)
    assert upstream.received[-1].query == [("limit", "3")]

    too_big = await call("big")
    assert (too_big.is_error, too_big.outcome) == (True, "response_too_large")

    refused = await call("text", target=Target(f"http://127.0.0.1:{free_port()}/v1"))
    assert (refused.is_error, refused.outcome) == (True, "connect_error")

    text = await call("text")
    assert (text.is_error, text.text, text.structured) == (False, "plain words", None)

    metrics = await client.get("/metrics")
    assert timeouts_counted(metrics) == timeouts_before + 1
    assert 'outcome="upstream_error",tool="show_pet_by_id",toolset="pets"' in metrics.text
    assert "toolsets_tool_call_duration_seconds_bucket" in metrics.text


async def test_without_an_upstream_the_documents_server_url_is_the_base_url(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    engine: AsyncEngine,
    upstream: Upstream,
    http: UpstreamClient,
) -> None:
    toolset_id, tools = await served_tools(client, auth, upstream, with_upstream=False)
    tool, target = await prepared(engine, toolset_id, tools["show_pet_by_id"])
    assert target == Target(upstream.base_url)
    result = await http.call(tool, {"petId": 1}, target)
    assert result.is_error is False
    assert "authorization" not in upstream.received[-1].headers


async def test_a_hand_made_tool_has_no_mapping_and_says_so(http: UpstreamClient) -> None:
    tool = ServedTool("pets", "get_pet", "GET", "/pets/{id}", {"type": "object"}, None)
    result = await http.call(tool, {}, Target("http://127.0.0.1:1"))
    assert (result.is_error, result.outcome) == (True, "not_configured")
    no_target = await http.call(
        ServedTool("pets", "get_pet", "GET", "/pets", {"type": "object"}, {"arguments": {}}), {}, None
    )
    assert no_target.outcome == "not_configured"
    assert "upstream" in no_target.text
