import asyncio
import base64
import json
import random
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from app.releases.capture import lock_captures_shared
from tests.conftest import MakeHeaders
from tests.factories import create_deployment, create_project, make_tools


def _tool(urn: str, **fields: Any) -> dict[str, Any]:
    return {"urn": urn, "name": "t", "description": "d", "http_method": "GET", "path": "/t"} | fields


async def _all_pages(client: httpx.AsyncClient, url: str, auth: dict[str, str], limit: int) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=params, headers=auth)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_a_deployment_is_answered_with_its_id_and_read_back_with_every_field(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    body = {
        "tools": [
            {
                "urn": "tools:http:petstore:list_pets",
                "name": "list_pets",
                "description": "List pets.",
                "http_method": "get",
                "path": "/pets",
            },
            {
                "urn": "tools:http:petstore:delete_pet",
                "name": "delete_pet",
                "summary": "Delete a pet",
                "description": "Deletes a pet for good.",
                "http_method": "DELETE",
                "path": "/pets/{petId}",
                "input_schema": {"type": "object", "required": ["petId"]},
                "tags": ["pets", "admin"],
                "read_only_hint": False,
                "destructive_hint": True,
                "idempotent_hint": True,
                "open_world_hint": False,
            },
        ],
        "resources": [
            {"urn": "resources:petstore:catalog", "name": "catalog", "uri": "https://pets.example/catalog"}
        ],
    }
    created = await client.post("/v1/projects/p/deployments", json=body, headers=auth)
    assert created.status_code == 201, created.text
    deployment = created.json()
    assert deployment["status"] == "completed"
    assert (deployment["tool_count"], deployment["resource_count"]) == (2, 1)

    got = await client.get(f"/v1/projects/p/deployments/{deployment['id']}", headers=auth)
    assert got.status_code == 200
    detail = got.json()
    assert detail["id"] == deployment["id"]
    assert [t["urn"] for t in detail["tools"]] == [
        "tools:http:petstore:delete_pet",
        "tools:http:petstore:list_pets",
    ]
    delete_pet, list_pets = detail["tools"]
    assert delete_pet == {
        "urn": "tools:http:petstore:delete_pet",
        "name": "delete_pet",
        "summary": "Delete a pet",
        "description": "Deletes a pet for good.",
        "input_schema": {"type": "object", "required": ["petId"]},
        "http_method": "DELETE",
        "path": "/pets/{petId}",
        "tags": ["pets", "admin"],
        "read_only_hint": False,
        "destructive_hint": True,
        "idempotent_hint": True,
        "open_world_hint": False,
        "argument_mapping": None,  # made by hand, not imported from an OpenAPI document
    }
    # Omitted fields read back as their documented defaults; the method is upper-cased.
    assert list_pets["http_method"] == "GET"
    assert (list_pets["summary"], list_pets["input_schema"], list_pets["tags"]) == (None, {}, [])
    assert list_pets["read_only_hint"] is None
    assert detail["resources"] == [
        {
            "urn": "resources:petstore:catalog",
            "name": "catalog",
            "uri": "https://pets.example/catalog",
            "description": None,
            "mime_type": None,
        }
    ]


async def test_the_active_deployment_is_the_newest_one(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    none_yet = await client.get("/v1/projects/p/deployments/active", headers=auth)
    assert none_yet.status_code == 404
    assert none_yet.headers["content-type"] == "application/problem+json"
    assert none_yet.json()["code"] == "no_active_deployment"

    first = await create_deployment(client, auth, "p", tools=make_tools(2, source="v1"))
    active = (await client.get("/v1/projects/p/deployments/active", headers=auth)).json()
    assert active["id"] == first["id"]

    second = await create_deployment(client, auth, "p", tools=make_tools(3, source="v2"))
    active = (await client.get("/v1/projects/p/deployments/active", headers=auth)).json()
    assert active["id"] == second["id"]
    assert [t["urn"] for t in active["tools"]] == [f"tools:http:v2:op_{i:04d}" for i in range(3)]

    tools = (await client.get("/v1/projects/p/tools", headers=auth)).json()["items"]
    assert [t["urn"] for t in tools] == [f"tools:http:v2:op_{i:04d}" for i in range(3)]
    # The earlier deployment is still readable, unchanged.
    old = (await client.get(f"/v1/projects/p/deployments/{first['id']}", headers=auth)).json()
    assert [t["urn"] for t in old["tools"]] == ["tools:http:v1:op_0000", "tools:http:v1:op_0001"]


async def test_list_deployments_is_newest_first_and_pages(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    made = [(await create_deployment(client, auth, "p", tools=make_tools(i + 1)))["id"] for i in range(5)]
    listed = await _all_pages(client, "/v1/projects/p/deployments", auth, limit=2)
    assert [d["id"] for d in listed] == list(reversed(made))
    assert [d["tool_count"] for d in listed] == [5, 4, 3, 2, 1]


async def test_list_tools_pages_through_the_active_deployment_by_urn(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    assert (await client.get("/v1/projects/p/tools", headers=auth)).json() == {
        "items": [],
        "next_cursor": None,
    }

    tools = make_tools(7)
    random.Random(7).shuffle(tools)
    await create_deployment(client, auth, "p", tools=tools)
    listed = await _all_pages(client, "/v1/projects/p/tools", auth, limit=3)
    assert [t["urn"] for t in listed] == [f"tools:http:petstore:op_{i:04d}" for i in range(7)]
    assert listed[0] == {
        "urn": "tools:http:petstore:op_0000",
        "name": "op_0000",
        "summary": "op 0",
        "description": "Operation 0 of petstore.",
        "input_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "http_method": "GET",
        "path": "/petstore/op/0",
        "tags": ["petstore"],
        "read_only_hint": True,
        "destructive_hint": None,
        "idempotent_hint": None,
        "open_world_hint": None,
        "argument_mapping": None,
    }


async def test_a_tools_cursor_keeps_reading_the_deployment_it_started_on(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    await create_deployment(client, auth, "p", tools=make_tools(4, source="old"))
    first = (await client.get("/v1/projects/p/tools", params={"limit": 2}, headers=auth)).json()
    await create_deployment(client, auth, "p", tools=make_tools(4, source="new"))
    rest = await client.get(
        "/v1/projects/p/tools", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth
    )
    urns = [t["urn"] for t in first["items"] + rest.json()["items"]]
    assert urns == [f"tools:http:old:op_{i:04d}" for i in range(4)]
    fresh = (await client.get("/v1/projects/p/tools", headers=auth)).json()["items"]
    assert {t["urn"].split(":")[2] for t in fresh} == {"new"}


@pytest.mark.parametrize(
    ("url", "position"),
    [
        ("/v1/projects/p/tools", [5, "x"]),
        ("/v1/projects/p/tools", ["not-a-uuid", "x"]),
        ("/v1/projects/p/tools", ["00000000-0000-0000-0000-000000000000", "a\x00"]),
        ("/v1/projects/p/tools", ["x"]),
        ("/v1/projects/p/deployments", ["7"]),
        ("/v1/projects/p/deployments", [True]),
    ],
)
async def test_a_cursor_this_service_did_not_issue_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], url: str, position: list[Any]
) -> None:
    await create_project(client, auth)
    cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode()
    response = await client.get(url, params={"cursor": cursor}, headers=auth)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_duplicate_urns_are_a_422_that_names_them(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    tools = [*make_tools(3), *make_tools(2)]
    response = await client.post("/v1/projects/p/deployments", json={"tools": tools}, headers=auth)
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    [error] = problem["errors"]
    assert error["field"] == "body.tools"
    assert "tools:http:petstore:op_0000" in error["message"]
    assert "tools:http:petstore:op_0001" in error["message"]
    assert "op_0002" not in error["message"]

    resources = [{"urn": "r:1", "name": "a", "uri": "u"}, {"urn": "r:1", "name": "b", "uri": "v"}]
    response = await client.post(
        "/v1/projects/p/deployments", json={"tools": [], "resources": resources}, headers=auth
    )
    assert response.status_code == 422
    assert "r:1" in response.json()["errors"][0]["message"]
    assert (await client.get("/v1/projects/p/deployments", headers=auth)).json()["items"] == []


@pytest.mark.parametrize(
    "urn",
    [
        "tools:http:pet store:get",
        "tools:http:\tx",
        "tools:http:x\n",
        "tools:\x00:x",
        "tools:\x7f",
        "tools:\x85:next-line",
        "tools:http:petstore:get_pet/{id}",
        "tools:http:petstore:list?x=1",
        "tools:http:petstore:frag#x",
        "",
        "u" * 501,
    ],
)
async def test_a_tool_urn_that_cannot_be_one_path_segment_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str], urn: str
) -> None:
    await create_project(client, auth)
    response = await client.post("/v1/projects/p/deployments", json={"tools": [_tool(urn)]}, headers=auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.tools.0.urn"


async def test_permissive_urns_are_accepted(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    urns = ["tools:function:acme:ünïcode-名前", "tools:http:petstore:get_pet{id}&x=1;v=2", "x" * 500]
    deployment = await create_deployment(client, auth, "p", tools=[_tool(u) for u in urns])
    got = (await client.get(f"/v1/projects/p/deployments/{deployment['id']}", headers=auth)).json()
    assert sorted(t["urn"] for t in got["tools"]) == sorted(urns)


async def test_malformed_tool_definitions_are_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    bad = [
        {"tools": [_tool("a", http_method="FETCH")]},
        {"tools": [{k: v for k, v in _tool("a").items() if k != "description"}]},
        {"tools": [_tool("a", input_schema=["not", "an", "object"])]},
        {"tools": [_tool("a", surprise=True)]},
        {"tools": [_tool("a", tags=["x"] * 51)]},
        {"tools": [_tool("a")], "resources": [{"urn": "r", "name": "r"}]},
        {"tools": "nope"},
        {},
        # PostgreSQL text cannot hold NUL: a 422 here, never a 500 from the database.
        {"tools": [_tool("a", description="a\x00b")]},
        {"tools": [_tool("a", name="a\x00b")]},
        {"tools": [_tool("a", tags=["a\x00"])]},
        {"tools": [_tool("a", input_schema={"properties": {"x": {"default": ["a\x00"]}}})]},
        {"tools": [_tool("a", input_schema={"a\x00": 1})]},
        {"tools": [_tool("a")], "resources": [{"urn": "r", "name": "r", "uri": "u\x00"}]},
    ]
    for body in bad:
        response = await client.post("/v1/projects/p/deployments", json=body, headers=auth)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_error"
    assert (await client.get("/v1/projects/p/deployments", headers=auth)).json()["items"] == []


async def test_a_deployment_holds_at_most_10000_tools(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    tools = [_tool(f"t:{i}") for i in range(10_001)]
    too_many = await client.post("/v1/projects/p/deployments", json={"tools": tools}, headers=auth)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "body.tools"
    at_cap = await client.post("/v1/projects/p/deployments", json={"tools": tools[:10_000]}, headers=auth)
    assert at_cap.status_code == 201
    assert at_cap.json()["tool_count"] == 10_000


@pytest.fixture
def statements(app_and_tables: FastAPI) -> Iterator[list[str]]:
    """SQL statements the app sends while the test runs."""
    seen: list[str] = []
    sync_engine: Engine = app_and_tables.state.engine.sync_engine

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(sync_engine, "before_cursor_execute", record)


async def test_creating_a_deployment_costs_the_same_statements_for_10_or_3000_tools(
    client: httpx.AsyncClient, auth: dict[str, str], statements: list[str]
) -> None:
    await create_project(client, auth)
    counts = []
    for n in (10, 3000):
        statements.clear()
        resources = [{"urn": f"r:{i}", "name": "r", "uri": "u"} for i in range(n)]
        await create_deployment(client, auth, "p", tools=make_tools(n), resources=resources)
        counts.append(len(statements))
        assert sum(s.startswith("INSERT INTO http_tool_definitions") for s in statements) == 1
    assert counts[0] == counts[1]


async def test_unknown_deployments_are_404_and_a_malformed_id_is_422(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth, slug="a")
    await create_project(client, auth, slug="b")
    in_a = await create_deployment(client, auth, "a")
    unknown = await client.get(
        "/v1/projects/a/deployments/00000000-0000-0000-0000-000000000000", headers=auth
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "deployment_not_found"
    other_project = await client.get(f"/v1/projects/b/deployments/{in_a['id']}", headers=auth)
    assert other_project.status_code == 404
    malformed = await client.get("/v1/projects/a/deployments/not-a-uuid", headers=auth)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "path.deployment_id"


async def test_an_unknown_project_is_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for method, path in [
        ("POST", "/v1/projects/nope/deployments"),
        ("GET", "/v1/projects/nope/deployments"),
        ("GET", "/v1/projects/nope/deployments/active"),
        ("GET", "/v1/projects/NOT_A_SLUG/tools"),
    ]:
        body = {"tools": make_tools(1)} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=auth)
        assert response.status_code == 404, path
        assert response.json()["code"] == "project_not_found"


async def test_auth_answers_for_every_deployment_route(
    client: httpx.AsyncClient, headers: MakeHeaders
) -> None:
    mine = await headers(org="org-a")
    await create_project(client, mine)
    deployment = await create_deployment(client, mine, "p")
    routes = [
        ("POST", "/v1/projects/p/deployments", "write"),
        ("GET", "/v1/projects/p/deployments", "read"),
        ("GET", "/v1/projects/p/deployments/active", "read"),
        ("GET", f"/v1/projects/p/deployments/{deployment['id']}", "read"),
        ("GET", "/v1/projects/p/tools", "read"),
    ]
    read_only = await headers(org="org-a", scopes=("read",))
    write_only = await headers(org="org-a", scopes=("write",))
    other_org = await headers(org="org-b")
    for method, path, scope in routes:
        body = {"tools": make_tools(1)} if method == "POST" else None
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, path
        lacking = read_only if scope == "write" else write_only
        forbidden = await client.request(method, path, json=body, headers=lacking)
        assert forbidden.status_code == 403, path
        assert forbidden.json()["code"] == "forbidden"
        hidden = await client.request(method, path, json=body, headers=other_org)
        assert hidden.status_code == 404, path
        allowed = await client.request(method, path, json=body, headers=mine)
        assert allowed.status_code == (201 if method == "POST" else 200), path


async def test_a_new_deployment_waits_for_a_capture_in_flight_in_its_project(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    """A capture (publish, createRelease, the switch to staging) holds its project's capture
    lock shared until it commits; a deployment takes it exclusively, so no deployment becomes
    active between a capture's statements (what a publish checks is what it captures)."""
    project = await create_project(client, auth)
    async with engine.connect() as capture, capture.begin():
        await lock_captures_shared(capture, UUID(project["id"]))
        deploying = asyncio.create_task(
            client.post("/v1/projects/p/deployments", json={"tools": make_tools(2)}, headers=auth)
        )
        await asyncio.sleep(0.3)
        assert not deploying.done()  # waiting for the capture to commit
    assert (await deploying).status_code == 201
