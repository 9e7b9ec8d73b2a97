"""importOpenApiDeployment: an OpenAPI 3.0/3.1 document becomes one tool per operation."""

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from tests.factories import create_deployment, create_project, make_tools

DOCUMENTS = Path(__file__).parent / "data" / "openapi"
YAML = {"Content-Type": "application/yaml"}


def document(name: str) -> bytes:
    return (DOCUMENTS / name).read_bytes()


async def import_document(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    body: bytes | dict[str, Any],
    source: str = "petstore",
    project: str = "p",
    content_type: str | None = None,
) -> httpx.Response:
    if isinstance(body, dict):
        raw, media = json.dumps(body).encode(), content_type or "application/json"
    else:
        raw, media = body, content_type or "application/yaml"
    return await client.post(
        f"/v1/projects/{project}/deployments/openapi",
        params={"source": source},
        content=raw,
        headers=auth | {"Content-Type": media},
    )


async def active_tools(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/projects/p/deployments/active", headers=auth)
    assert response.status_code == 200, response.text
    return {t["urn"]: t for t in response.json()["tools"]}


@pytest.mark.parametrize(
    ("name", "tool_count"),
    [
        ("petstore.yaml", 3),
        ("petstore-expanded.yaml", 4),
        ("uspto.yaml", 3),
        ("swagger-petstore-v3.yaml", 19),
        ("webhook-example.yaml", 0),
    ],
)
async def test_every_shared_document_imports_one_tool_per_operation(
    client: httpx.AsyncClient, auth: dict[str, str], name: str, tool_count: int
) -> None:
    await create_project(client, auth)
    response = await import_document(client, auth, document(name))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["tool_count"] == len(body["imported_tools"]) == tool_count
    tools = await active_tools(client, auth)
    assert len(tools) == tool_count
    for tool in tools.values():
        assert tool["urn"] == f"tools:http:petstore:{tool['name']}"
        assert len(tool["name"]) <= 64
        schema = tool["input_schema"]
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "$ref" not in json.dumps(schema)  # every reference inlined (none of these recurse)
        assert set(tool["argument_mapping"]["arguments"]) == set(schema["properties"])
    if tool_count == 0:
        assert body["warnings"]
        assert "no tool" in body["warnings"][0]
        assert "webhooks only" in body["warnings"][0]
    else:
        assert body["warnings"] == []


async def test_petstore_operations_map_parameters_body_names_and_hints(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    response = await import_document(client, auth, document("swagger-petstore-v3.yaml"))
    assert response.status_code == 201, response.text
    assert response.json()["base_url"] == "https://petstore3.swagger.io/api/v3"
    tools = await active_tools(client, auth)

    get_pet = tools["tools:http:petstore:get_pet_by_id"]
    assert get_pet["http_method"] == "GET"
    assert get_pet["path"] == "/pet/{petId}"
    assert get_pet["summary"] == "Find pet by ID."
    assert get_pet["description"].startswith("Find pet by ID.")
    assert get_pet["tags"] == ["pet"]
    assert (get_pet["read_only_hint"], get_pet["destructive_hint"], get_pet["idempotent_hint"]) == (
        True,
        False,
        True,
    )
    assert get_pet["input_schema"]["required"] == ["petId"]
    assert get_pet["input_schema"]["properties"]["petId"]["type"] == "integer"
    assert get_pet["argument_mapping"]["arguments"] == {"petId": {"in": "path", "name": "petId"}}
    assert get_pet["argument_mapping"]["server_url"] == "https://petstore3.swagger.io/api/v3"

    delete_pet = tools["tools:http:petstore:delete_pet"]
    assert (delete_pet["read_only_hint"], delete_pet["destructive_hint"], delete_pet["idempotent_hint"]) == (
        False,
        True,
        True,
    )
    assert delete_pet["argument_mapping"]["arguments"]["api_key"] == {"in": "header", "name": "api_key"}

    add_pet = tools["tools:http:petstore:add_pet"]
    assert add_pet["idempotent_hint"] is False
    body = add_pet["input_schema"]["properties"]["body"]
    assert body["required"] == ["name", "photoUrls"]  # components/schemas/Pet, inlined
    assert body["properties"]["category"]["properties"]["name"]["type"] == "string"
    assert add_pet["input_schema"]["required"] == ["body"]
    assert add_pet["argument_mapping"]["arguments"]["body"] == {
        "in": "body",
        "content_type": "application/json",
    }
    find = tools["tools:http:petstore:find_pets_by_status"]["argument_mapping"]["arguments"]
    assert find["status"]["in"] == "query"


async def test_reimporting_a_source_replaces_its_tools_and_carries_other_sources_over(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    resource = {"urn": "resources:http:docs:guide", "name": "guide", "uri": "https://docs.example/guide"}
    await create_deployment(client, auth, "p", make_tools(2, source="billing"), resources=[resource])
    first = await import_document(client, auth, document("petstore.yaml"))
    assert first.status_code == 201, first.text
    assert first.json()["carried_over_tool_count"] == 2
    assert first.json()["resource_count"] == 1

    second = await import_document(client, auth, document("petstore-expanded.yaml"))
    assert second.status_code == 201, second.text
    tools = await active_tools(client, auth)
    assert sorted(tools) == [
        "tools:http:billing:op_0000",
        "tools:http:billing:op_0001",
        "tools:http:petstore:add_pet",
        "tools:http:petstore:delete_pet",
        "tools:http:petstore:find_pet_by_id",
        "tools:http:petstore:find_pets",
    ]
    assert tools["tools:http:billing:op_0000"]["description"] == "Operation 0 of billing."
    active = (await client.get("/v1/projects/p/deployments/active", headers=auth)).json()
    assert [r["urn"] for r in active["resources"]] == ["resources:http:docs:guide"]
    # The first import's deployment is untouched: releases that point at it still read it.
    old = (await client.get(f"/v1/projects/p/deployments/{first.json()['id']}", headers=auth)).json()
    assert "tools:http:petstore:list_pets" in [t["urn"] for t in old["tools"]]


async def test_imported_names_never_collide_with_another_sources_tools(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    manual = make_tools(1, source="manual")
    manual[0]["name"] = "list_pets"
    await create_deployment(client, auth, "p", manual)
    response = await import_document(client, auth, document("petstore.yaml"))
    assert response.status_code == 201, response.text
    names = [t["name"] for t in response.json()["imported_tools"]]
    assert names == ["list_pets_2", "create_pets", "show_pet_by_id"]


async def test_an_invalid_document_answers_422_with_a_pointer_and_changes_nothing(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    await create_deployment(client, auth, "p")
    before = (await client.get("/v1/projects/p/deployments", headers=auth)).json()

    spec = yaml.safe_load(document("petstore.yaml"))
    spec["paths"]["/pets"]["get"]["parameters"][0]["in"] = "body"
    response = await import_document(client, auth, spec)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_openapi_document"
    assert problem["pointer"] == "/paths/~1pets/get/parameters/0"
    assert problem["errors"][0]["field"] == problem["pointer"]

    spec = yaml.safe_load(document("petstore.yaml"))
    spec["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] = (
        "#/components/schemas/Nope"
    )
    response = await import_document(client, auth, spec)
    assert response.status_code == 422, response.text
    assert (
        response.json()["pointer"] == "/paths/~1pets/post/requestBody/content/application~1json/schema/$ref"
    )

    spec["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] = (
        "https://elsewhere.example/pet.json"
    )
    response = await import_document(client, auth, spec)
    assert response.status_code == 422
    assert "not a local reference" in response.json()["detail"]

    response = await import_document(client, auth, {"swagger": "2.0", "info": {}, "paths": {}})
    assert response.status_code == 422
    assert response.json()["pointer"] == "/openapi"

    assert (await client.get("/v1/projects/p/deployments", headers=auth)).json() == before


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"openapi: [unclosed", "application/yaml", 400, "malformed_document"),
        (b"a: 1\na: 2\n", "application/yaml", 400, "malformed_document"),
        (b'{"openapi": NaN}', "application/json", 400, "malformed_json"),
        (b'{"info": ' + b"[" * 200 + b"]" * 200 + b"}", "application/json", 400, "malformed_json"),
        (b'{"openapi": 1' + b"0" * 5000 + b"}", "application/json", 400, "malformed_json"),
        (b'openapi: "\\udfff"', "application/yaml", 422, "invalid_openapi_document"),
        (b"\xff\xfe", "application/yaml", 400, "malformed_document"),
        (b"- a list", "application/yaml", 422, "invalid_openapi_document"),
        (b"openapi: 3.0.0", "text/plain", 415, "unsupported_media_type"),
        (b"x: !!python/object:os.system {}", "application/yaml", 400, "malformed_document"),
    ],
)
async def test_unreadable_documents_are_refused_cleanly(
    client: httpx.AsyncClient, auth: dict[str, str], raw: bytes, content_type: str, status: int, code: str
) -> None:
    await create_project(client, auth)
    response = await import_document(client, auth, raw, content_type=content_type)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_a_yaml_alias_bomb_is_refused_without_expanding(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    response = await import_document(client, auth, "\n".join(lines).encode())
    assert response.status_code == 422, response.text
    assert "values" in response.json()["detail"]


def _openapi_31(schemas: dict[str, Any], body_ref: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/nodes/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "put": {
                    "operationId": "putNode",
                    "parameters": [
                        {"name": "dryRun", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                        {"name": "id", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": body_ref}}},
                    },
                    "responses": {"200": {"description": "ok"}},
                },
            }
        },
        "components": {"schemas": schemas},
    }


async def test_recursive_schemas_become_defs_and_still_validate(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    node = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        },
        "required": ["name"],
    }
    response = await import_document(client, auth, _openapi_31({"Node": node}, "#/components/schemas/Node"))
    assert response.status_code == 201, response.text
    tool = (await active_tools(client, auth))["tools:http:petstore:put_node"]
    schema = tool["input_schema"]
    assert schema["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    # The path-item parameter and the operation's query parameter of the same name both survive.
    assert tool["argument_mapping"]["arguments"] == {
        "id": {"in": "path", "name": "id"},
        "dryRun": {"in": "query", "name": "dryRun"},
        "query_id": {"in": "query", "name": "id"},
        "X-Trace": {"in": "header", "name": "X-Trace"},
        "body": {"in": "body", "content_type": "application/json"},
    }
    assert schema["required"] == ["id", "body"]
    validator = jsonschema.Draft202012Validator(schema)
    good = {"id": "n1", "body": {"name": "root", "children": [{"name": "leaf", "children": []}]}}
    assert validator.is_valid(good)
    assert not validator.is_valid({"id": "n1", "body": {"name": "root", "children": [{"children": []}]}})
    assert not validator.is_valid({"id": "n1", "body": {"name": "r"}, "unknown": 1})


async def test_openapi_30_nullable_and_exclusive_bounds_become_json_schema(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}
                    },
                    "responses": {"201": {"description": "made"}},
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "note": {"type": "string", "nullable": True},
                        "size": {"type": "string", "enum": ["s", "m"], "nullable": True},
                        "weight": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                        "owner": {"allOf": [{"$ref": "#/components/schemas/Owner"}], "nullable": True},
                    },
                },
                "Owner": {"type": "object", "properties": {"id": {"type": "integer"}}, "x-internal": True},
            }
        },
    }
    response = await import_document(client, auth, spec)
    assert response.status_code == 201, response.text
    tool = (await active_tools(client, auth))["tools:http:petstore:post_things"]
    assert tool["input_schema"].get("required") is None  # the body is optional
    thing = tool["input_schema"]["properties"]["body"]["properties"]
    assert thing["note"] == {"type": ["string", "null"]}
    assert thing["size"] == {"type": ["string", "null"], "enum": ["s", "m", None]}
    assert thing["weight"] == {"type": "number", "exclusiveMinimum": 0}
    assert thing["owner"] == {
        "anyOf": [
            {"allOf": [{"type": "object", "properties": {"id": {"type": "integer"}}}]},
            {"type": "null"},
        ]
    }
    validator = jsonschema.Draft202012Validator(tool["input_schema"])
    assert validator.is_valid({"body": {"note": None, "size": None, "owner": None, "weight": 1}})
    assert not validator.is_valid({"body": {"weight": 0}})


async def test_too_many_operations_is_refused_with_the_documented_limit(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    from app.deployments.openapi_import import MAX_OPERATIONS

    await create_project(client, auth)
    paths = {
        f"/r{i}": {"get": {"responses": {"200": {"description": "ok"}}}} for i in range(MAX_OPERATIONS + 1)
    }
    spec = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}
    response = await import_document(client, auth, spec)
    assert response.status_code == 422, response.text
    assert response.json()["pointer"] == "/paths"
    assert str(MAX_OPERATIONS) in response.json()["detail"]


async def test_import_needs_the_write_scope_and_a_project_of_ones_own(
    client: httpx.AsyncClient, auth: dict[str, str], headers: Any
) -> None:
    await create_project(client, auth)
    reader = await headers(scopes=("read",))
    assert (await import_document(client, reader, document("petstore.yaml"))).status_code == 403
    stranger = await headers(org="org-b")
    assert (await import_document(client, stranger, document("petstore.yaml"))).status_code == 404
    response = await import_document(client, auth, document("petstore.yaml"), source="Bad Source")
    assert response.status_code == 422
