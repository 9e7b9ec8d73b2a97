"""Request bodies: bad JSON is refused and never altered, non-JSON is 415, small requests
cannot make big work, and a large body never stalls other requests."""

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

import app.kit.json_body as json_body
from app.kit.errors import MAX_FIELD_ERRORS
from app.kit.json_body import JsonRoute
from app.main import create_app
from tests.factories import create_deployment, create_project, make_tools
from tests.test_limits import BODY_ROUTES, ROUTES, assert_problem, url_for

JSON = {"content-type": "application/json"}

# Each is refused as a whole body and wherever it sits inside one.
NOT_JSON_VALUES = {
    "nan": b"NaN",
    "infinity": b"Infinity",
    "minus_infinity": b"-Infinity",
    "overflowing_double": b"1e400",
    "negative_overflow": b"-1.5e309",
    "underflow_to_zero": b"1e-400",
    "more_precision_than_a_double": b"0.1000000000000000000000000001",
    "lone_high_surrogate": b'"\\ud800"',
    "lone_low_surrogate": b'"x\\uDC00y"',
    "reversed_surrogate_pair": b'"\\ude00\\ud83d"',
    "huge_integer": b"1" + b"0" * 5000,
}


def nested(value: bytes) -> bytes:
    """`value` deep inside a tool's input schema, as a deployment body."""
    return (
        b'{"tools": [{"urn": "tools:http:p:a", "name": "a", "description": "d", "http_method": "GET",'
        b' "path": "/a", "input_schema": {"type": "object", "properties": {"x": {"default": ['
        + value
        + b"]}}}}]}"
    )


@pytest.mark.parametrize("value", NOT_JSON_VALUES.values(), ids=NOT_JSON_VALUES.keys())
async def test_values_json_does_not_have_are_400_malformed_json_and_store_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], value: bytes
) -> None:
    await create_project(client, auth)
    for body in (nested(value), b'{"name": ' + value + b', "slug": "x"}'):
        path = "/v1/projects/p/deployments" if body.startswith(b'{"tools"') else "/v1/projects"
        response = await client.post(path, content=body, headers=auth | JSON)
        assert_problem(response, 400, "malformed_json")
    assert (await client.get("/v1/projects/p/deployments", headers=auth)).json()["items"] == []
    assert [p["slug"] for p in (await client.get("/v1/projects", headers=auth)).json()["items"]] == ["p"]


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in BODY_ROUTES])
async def test_every_operation_with_a_body_refuses_what_json_does_not_have(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    for value in (b"NaN", b"1e999", b'"\\udfff"', b"9" * 4301, b"[" * 101 + b"]" * 101):
        body = b'{"name": ' + value + b"}"
        response = await client.request(method, url_for(path), content=body, headers=auth | JSON)
        assert_problem(response, 400, "malformed_json")


async def test_deep_nesting_is_malformed_json_at_any_depth_python_could_parse_or_not(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    for depth in (101, 900, 5000, 100_000):
        body = nested(b"[" * depth + b"]" * depth)
        response = await client.post("/v1/projects/p/deployments", content=body, headers=auth | JSON)
        assert_problem(response, 400, "malformed_json")


async def test_what_is_stored_is_exactly_what_was_sent(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    schema = {
        "type": "object",
        "properties": {
            "emoji": {"default": "\U0001f43e paw \u00e9"},  # a surrogate pair on the wire
            "ratio": {"default": 0.1, "maximum": 1.7976931348623157e308, "minimum": 5e-324},
            "big": {"default": 123456789012345678901234567890},
            "nested": {"default": [[[[{"a": [1.5, -2, True, None]}]]]]},
        },
    }
    tools = [{**make_tools(1)[0], "input_schema": schema}]
    wire = json.dumps({"tools": tools}, ensure_ascii=True).encode()
    assert b"\\ud83d\\udc3e" in wire
    response = await client.post("/v1/projects/p/deployments", content=wire, headers=auth | JSON)
    assert response.status_code == 201, response.text
    # Numbers compared as the decimal values the JSON text holds (PostgreSQL writes 1e308 in
    # full); a float rounded on the way in would differ.
    listed = (await client.get("/v1/projects/p/tools", headers=auth)).text
    exact = {"parse_float": Decimal, "parse_int": Decimal}
    stored = json.loads(listed, **exact)["items"][0]["input_schema"]
    assert stored == json.loads(json.dumps(schema), **exact)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in BODY_ROUTES])
async def test_a_body_that_is_not_declared_json_is_415_naming_application_json(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml", None):
        headers = auth | ({"content-type": content_type} if content_type else {})
        response = await client.request(method, url_for(path), content=b'{"name": "x"}', headers=headers)
        problem = assert_problem(response, 415, "unsupported_media_type")
        assert "application/json" in problem["detail"]
        assert problem["accepted"] == ["application/json"]


async def test_json_media_types_with_parameters_or_a_json_suffix_are_json(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    for index, content_type in enumerate(
        ("application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json")
    ):
        body = {"name": f"P{index}", "slug": f"p{index}"}
        response = await client.post(
            "/v1/projects", content=json.dumps(body), headers=auth | {"content-type": content_type}
        )
        assert response.status_code == 201, response.text


def test_every_api_route_parses_its_body_through_json_route() -> None:
    """A router added without `route_class=JsonRoute` would read bodies leniently again."""
    assert BODY_ROUTES
    lenient = [path for _, path, route in ROUTES if not isinstance(route, JsonRoute)]
    assert lenient == [], "make these routers with APIRouter(route_class=JsonRoute)"


# --- bounded work ---


async def test_a_validation_error_answers_a_bounded_number_of_field_errors_with_the_count(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    bad_tools = [{"urn": "x" * 600, "name": "", "description": 1} for _ in range(2000)]
    body = json.dumps({"tools": bad_tools}).encode()
    response = await client.post("/v1/projects/p/deployments", content=body, headers=auth | JSON)
    problem = assert_problem(response, 422, "validation_error")
    assert len(problem["errors"]) == MAX_FIELD_ERRORS
    assert problem["error_count"] > 2000 * 3 - 1
    assert len(response.content) < 10_000

    unknown_fields = {f"field_{i}_{'k' * 300}": i for i in range(5000)}
    response = await client.post("/v1/projects", json={"name": "x", **unknown_fields}, headers=auth)
    problem = assert_problem(response, 422, "validation_error")
    assert problem["error_count"] == 5001  # every unknown field and the missing slug
    assert len(response.content) < 10_000


async def test_unknown_references_are_bounded_too(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    await create_deployment(client, auth, "p")
    urns = [f"tools:http:nowhere:{'n' * 400}_{i}" for i in range(5000)]
    response = await client.post(
        "/v1/projects/p/toolsets", json={"name": "T", "tool_urns": urns}, headers=auth
    )
    problem = assert_problem(response, 422, "unknown_references")
    assert len(problem["errors"]) == MAX_FIELD_ERRORS
    assert problem["error_count"] == 5000
    assert len(response.content) < 30_000  # 20 errors naming URNs of up to 500 characters


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in BODY_ROUTES])
async def test_an_unauthenticated_request_is_refused_before_its_body_is_read(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(1000):
            pulled += 1
            yield b" " * 16384

    for headers in ({}, {"Authorization": "Bearer tsk_unknown"}, {"Authorization": "Basic eDp5"}):
        response = await client.request(method, url_for(path), content=body(), headers=headers | JSON)
        assert_problem(response, 401, "unauthorized")
    assert pulled == 0


async def test_a_large_body_is_parsed_while_other_requests_are_answered(
    client: httpx.AsyncClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse waits (in its thread) until /healthz has answered: it can only answer when
    the parse leaves the event loop free. Were the parse on the loop, /healthz would wait
    for it, the wait would time out and the order below would be reversed."""
    await create_project(client, auth)
    parsing = threading.Event()
    healthz_answered = threading.Event()
    order: list[str] = []
    real_parse = json_body.parse_json

    def parse_after_healthz(body: bytes) -> Any:
        if len(body) > json_body.OFFLOAD_BYTES:
            parsing.set()
            healthz_answered.wait(timeout=10)
            order.append("parsed")
        return real_parse(body)

    monkeypatch.setattr(json_body, "parse_json", parse_after_healthz)
    body = json.dumps({"tools": make_tools(2000)}).encode()
    assert len(body) > json_body.OFFLOAD_BYTES
    deployment = asyncio.create_task(
        client.post("/v1/projects/p/deployments", content=body, headers=auth | JSON)
    )
    await asyncio.to_thread(parsing.wait, 30)
    assert (await client.get("/healthz")).status_code == 200
    order.append("healthz")
    healthz_answered.set()
    assert (await deployment).status_code == 201
    assert order == ["healthz", "parsed"]


# --- 500s ---


async def test_a_500_carries_the_request_id_and_its_log_line_has_it(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(database_url)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            with caplog.at_level(logging.ERROR, logger="app.errors"):
                given = await http.get("/broken", headers={"X-Request-ID": "req-42"})
                made = await http.get("/broken")
    problem = assert_problem(given, 500, "internal_error")
    assert given.headers["x-request-id"] == "req-42"
    assert problem["request_id"] == "req-42"
    assert "a bug" not in given.text
    assert made.headers["x-request-id"]
    ids = [getattr(record, "request_id", None) for record in caplog.records]
    assert ids == ["req-42", made.headers["x-request-id"]]
