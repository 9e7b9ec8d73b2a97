"""Limits and odd input: body size, page size, NUL characters, malformed JSON, odd URNs.

Every one of these is a documented 4xx problem, never a 500.
"""

import base64
import json
from collections.abc import AsyncIterator
from typing import Any, get_origin
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from app.kit.limits import BodySizeLimitMiddleware
from app.kit.pagination import MAX_LIMIT, Page
from app.kit.schemas import Page as PageModel
from app.main import API_PREFIX, API_ROUTERS
from app.settings import get_settings
from tests.factories import create_project, make_tools, ok
from tests.helpers_toolsets import BASE, URNS, project_with_toolset

ROUTES = [
    (method, API_PREFIX + route.path, route)
    for router in API_ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods
]
PATH_VALUES = {
    "project": "p",
    "toolset": "pets",
    "tool_urn": URNS[0],
    "name": "greet",
    "version": "1",
    "release_number": "1",
    "deployment_id": "00000000-0000-0000-0000-000000000000",
    "webhook_id": "00000000-0000-0000-0000-000000000000",  # every_list_has_something makes one
    "delivery_id": "00000000-0000-0000-0000-000000000000",
    "source": "petstore",
    "schedule_id": "00000000-0000-0000-0000-000000000000",
    "label": "stable",
    "snapshot_id": "00000000-0000-0000-0000-000000000000",
}
BODY_ROUTES = [(m, p, r) for m, p, r in ROUTES if r.body_field is not None]
LIST_ROUTES = [(m, p, r) for m, p, r in ROUTES if any(d.call is Page for d in r.dependant.dependencies)]


def url_for(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    if code is not None:
        assert problem["code"] == code
    return problem


# --- body size ---


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the body it read, to show that the middleware hands it on unchanged."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _limited(max_body_bytes: int) -> httpx.AsyncClient:
    app = BodySizeLimitMiddleware(_echo, max_body_bytes=max_body_bytes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_body_at_the_limit_passes_unchanged_in_one_piece_or_streamed() -> None:
    async with _limited(10) as client:
        assert (await client.post("/", content=b"0123456789")).content == b"0123456789"
        streamed = await client.post("/", content=_chunks(b"01234", b"56789"))
        assert streamed.content == b"0123456789"
        assert (await client.get("/")).content == b""


async def test_a_declared_length_over_the_limit_is_413_before_reading() -> None:
    async with _limited(10) as client:
        response = await client.post("/", content=b"0123456789x")
    problem = assert_problem(response, 413, "payload_too_large")
    assert problem["max_body_bytes"] == 10


async def test_a_streamed_body_without_length_is_counted_and_refused() -> None:
    async with _limited(10) as client:
        response = await client.post("/", content=_chunks(b"01234", b"56789", b"x"))
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")


async def test_the_api_refuses_a_body_over_its_limit_with_413(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    limit = get_settings().toolsets_max_body_bytes
    assert limit == 16 * 1024 * 1024  # documented in the README and in openapi.json
    body = b'{"name": "x", "slug": "x", "pad": "' + b"x" * limit + b'"}'
    response = await client.post(
        "/v1/projects", content=body, headers={**auth, "content-type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")
    assert (await client.get("/v1/projects", headers=auth)).json()["items"] == []


async def test_a_deployment_of_10000_tools_fits_in_the_body_limit(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    tools = make_tools(10_000)
    for tool in tools:
        tool["description"] = "A tool with a description of about a kibibyte. " * 22  # 1,034 bytes
    body = json.dumps({"tools": tools}).encode()
    assert 12 * 1024 * 1024 < len(body) < get_settings().toolsets_max_body_bytes
    response = await client.post(
        "/v1/projects/p/deployments", content=body, headers={**auth, "content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["tool_count"] == 10_000


# --- page size ---


def test_every_list_operation_takes_limit_and_cursor() -> None:
    ids = {r.operation_id for _, _, r in LIST_ROUTES}
    assert ids == {
        "listProjects",
        "listDeployments",
        "listTools",
        "listPromptTemplates",
        "listPromptTemplateRevisions",
        "listToolsets",
        "listReleases",
        "listToolsetAuditEntries",
        "listGlobalVariations",
        "listGlobalVariationVersions",
        "listToolsetVariations",
        "listToolsetVariationVersions",
        "listStagingVariations",
        "listWebhooks",
        "listWebhookDeliveries",
        "listUpstreams",
        "listScheduledPublishes",
        "listReleaseLabels",
        "listServedHistory",
        "listProjectSnapshots",
    }
    # ... and answers a page: no operation answers a bare JSON array.
    for _, path, route in ROUTES:
        model = route.response_model
        is_page = isinstance(model, type) and issubclass(model, PageModel)
        assert is_page == (route in [r for _, _, r in LIST_ROUTES]), path
        assert get_origin(model) is not list, path


async def every_list_has_something(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    """Project `p` with toolset `pets` in staging mode with a staging copy, and a global and a
    toolset variation of URNS[0], and a webhook: every list of PATH_VALUES answers 200."""
    await project_with_toolset(client, auth)
    for url in (f"/v1/projects/p/variations/{URNS[0]}", f"{BASE}/variations/{URNS[0]}"):
        assert (await client.put(url, json={"name": "v"}, headers=auth)).status_code == 200
    switched = await client.put(f"{BASE}/editing-mode", json={"mode": "staging"}, headers=auth)
    assert switched.status_code == 200, switched.text
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    hook = {"url": "http://127.0.0.1:9/hooks", "events": ["schedule.failed"]}  # an event that never fires
    webhook = await client.post("/v1/projects/p/webhooks", json=hook, headers=auth)
    assert webhook.status_code == 201, webhook.text
    PATH_VALUES["webhook_id"] = webhook.json()["id"]


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in LIST_ROUTES])
async def test_a_page_holds_at_most_100_items(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    await every_list_has_something(client, auth)
    url = url_for(path)
    assert (await client.get(url, params={"limit": MAX_LIMIT}, headers=auth)).status_code == 200
    for limit in (MAX_LIMIT + 1, 0, -1, "many"):
        problem = assert_problem(await client.get(url, params={"limit": limit}, headers=auth), 422)
        assert problem["errors"][0]["field"] == "query.limit"


async def test_a_long_list_pages_in_hundreds(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    await ok(client.post("/v1/projects/p/deployments", json={"tools": make_tools(250)}, headers=auth))
    page = (await client.get("/v1/projects/p/tools", params={"limit": 100}, headers=auth)).json()
    assert len(page["items"]) == 100
    assert page["next_cursor"]


# --- NUL characters ---


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in ROUTES if "{" in p])
async def test_a_nul_in_any_path_segment_is_404_not_500(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    await project_with_toolset(client, auth)
    for name in ("project", "toolset", "tool_urn", "name"):
        if "{" + name + "}" in path:
            url = url_for(path.replace("{" + name + "}", "a%00b"))
            assert_problem(await client.request(method, url, headers=auth), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in BODY_ROUTES])
async def test_a_nul_anywhere_in_a_json_body_is_422_not_500(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    await project_with_toolset(client, auth)
    bodies = [
        {"name": "a\x00b"},
        {"notes": "\x00"},
        {"tools": [{"urn": "u", "name": "n", "description": "d", "http_method": "GET", "path": "/"}]},
        {"tools": [], "resources": [{"urn": "r", "name": "r", "uri": "u", "description": "\x00"}]},
        {"deep": {"list": [{"k\x00": 1}]}},
    ]
    bodies[2]["tools"][0]["input_schema"] = {"properties": {"x": {"default": ["a\x00"]}}}
    for body in bodies:
        response = await client.request(method, url_for(path), json=body, headers=auth)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_error"


async def test_the_nul_error_names_the_field(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    tool = make_tools(1)[0] | {"input_schema": {"properties": {"x\x00": {}}}}
    response = await client.post("/v1/projects/p/deployments", json={"tools": [tool]}, headers=auth)
    [error] = assert_problem(response, 422, "validation_error")["errors"]
    assert error["field"] == "body.tools.0.input_schema.properties.x\x00"
    assert error["type"] == "nul_character"


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in LIST_ROUTES])
async def test_a_nul_in_a_cursor_is_422_not_500(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    await project_with_toolset(client, auth)
    for position in (["a\x00"], ["00000000-0000-0000-0000-000000000000", "a\x00"], ["\x00", 1]):
        cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode()
        response = await client.get(url_for(path), params={"cursor": cursor}, headers=auth)
        assert_problem(response, 422, "validation_error")
    assert_problem(await client.get(url_for(path), params={"cursor": "\x00"}, headers=auth), 422)


# --- malformed JSON ---


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in BODY_ROUTES])
async def test_malformed_json_is_400_on_every_operation_with_a_body(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    await project_with_toolset(client, auth)
    for content in (b"{", b'{"name": "x",}', b"\xff\xfe"):
        response = await client.request(
            method, url_for(path), content=content, headers={**auth, "content-type": "application/json"}
        )
        assert_problem(response, 400, "malformed_json")


async def test_values_are_not_coerced(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    for body in ({"mode": "staging", "discard_staging": 0}, {"mode": "staging", "discard_staging": "true"}):
        response = await client.put(f"{BASE}/editing-mode", json=body, headers=auth)
        assert_problem(response, 422, "validation_error")


# --- tool URNs in a path segment ---

ODD_URNS = [
    "tools:http:petstore:get_pet",
    "tools:http:pet.store:v1.2:get",
    "tools:function:acme:user@example.com",
    "tools:http:petstore:a+b=c;d,e",
    "tools:http:petstore:100%_sure",
    "tools:http:petstore:%2F-looks-encoded",
    "tools:function:acme:ünïcode-名前-🐾",
    "tools:http:petstore:get_pet{id}&x=1",
    "tools:http:petstore:[brackets]!$'()*~",
]


@pytest.mark.parametrize("urn", ODD_URNS)
async def test_a_tool_urn_round_trips_through_a_percent_encoded_path_segment(
    client: httpx.AsyncClient, auth: dict[str, str], urn: str
) -> None:
    await create_project(client, auth)
    segment = quote(urn, safe="")
    put = await client.put(f"/v1/projects/p/variations/{segment}", json={"name": "renamed"}, headers=auth)
    assert put.status_code == 200, put.text
    assert put.json()["tool_urn"] == urn
    versions = await client.get(f"/v1/projects/p/variations/{segment}/versions", headers=auth)
    assert [v["tool_urn"] for v in versions.json()["items"]] == [urn]
    at_version = await client.get(f"/v1/projects/p/variations/{segment}/versions/1", headers=auth)
    assert at_version.json()["name"] == "renamed"
    listed = (await client.get("/v1/projects/p/variations", headers=auth)).json()["items"]
    assert [v["tool_urn"] for v in listed] == [urn]
    deleted = await client.delete(f"/v1/projects/p/variations/{segment}", headers=auth)
    assert deleted.status_code == 204


async def test_a_tool_urn_longer_than_500_is_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    response = await client.put(f"/v1/projects/p/variations/{'u' * 501}", json={"name": "x"}, headers=auth)
    assert_problem(response, 422, "validation_error")
