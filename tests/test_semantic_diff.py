"""The semantic diff: each rule of SPEC §8 as a row of a table, tested both ways.

A row is (before, after, impact of before → after, impact of after → before): a change
that breaks clients is, reversed, a compatible one, and a cosmetic change stays cosmetic.
The API tests at the end check that every diff endpoint carries the classification.
"""

from typing import Any

import httpx
import pytest

from app.releases.diff import diff_states
from app.releases.semantic_diff import Impact, classify, compare_schemas
from tests.factories import create_deployment, make_tools
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch

OBJ: dict[str, Any] = {"type": "object"}


def props(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required is not None:
        schema["required"] = required
    return schema


STRING = {"type": "string"}
INTEGER = {"type": "integer"}

# (id, before, after, forward impact, reverse impact)
SCHEMA_RULES: list[tuple[str, Any, Any, Impact, Impact]] = [
    (
        "property removed / optional property added",
        props({"a": STRING, "b": STRING}),
        props({"a": STRING}),
        "breaking",
        "compatible",
    ),
    (
        "new required property / required property removed",
        props({"a": STRING}),
        props({"a": STRING, "b": STRING}, ["b"]),
        "breaking",
        "breaking",
    ),
    (
        "property becomes required / no longer required",
        props({"a": STRING}),
        props({"a": STRING}, ["a"]),
        "breaking",
        "compatible",
    ),
    ("type changed", props({"a": STRING}), props({"a": INTEGER}), "breaking", "breaking"),
    (
        "type narrowed from a union / widened",
        props({"a": {"type": ["string", "null"]}}),
        props({"a": STRING}),
        "breaking",
        "compatible",
    ),
    (
        "number narrowed to integer / integer widened to number",
        props({"a": {"type": "number"}}),
        props({"a": INTEGER}),
        "breaking",
        "compatible",
    ),
    ("type added / removed", props({"a": {}}), props({"a": STRING}), "breaking", "compatible"),
    (
        "OpenAPI nullable removed / added",
        props({"a": {"type": "string", "nullable": True}}),
        props({"a": STRING}),
        "breaking",
        "compatible",
    ),
    (
        "enum value removed / added",
        props({"a": {"enum": ["x", "y"]}}),
        props({"a": {"enum": ["x"]}}),
        "breaking",
        "compatible",
    ),
    (
        "enum introduced / dropped",
        props({"a": STRING}),
        props({"a": {"type": "string", "enum": ["x"]}}),
        "breaking",
        "compatible",
    ),
    (
        "enum reordered",
        props({"a": {"enum": ["x", "y"]}}),
        props({"a": {"enum": ["y", "x"]}}),
        "cosmetic",
        "cosmetic",
    ),
    (
        "const added / removed",
        props({"a": STRING}),
        props({"a": {"type": "string", "const": "x"}}),
        "breaking",
        "compatible",
    ),
    (
        "maxLength lowered / raised",
        props({"a": {"type": "string", "maxLength": 10}}),
        props({"a": {"type": "string", "maxLength": 5}}),
        "breaking",
        "compatible",
    ),
    (
        "maxLength added / removed",
        props({"a": STRING}),
        props({"a": {"type": "string", "maxLength": 5}}),
        "breaking",
        "compatible",
    ),
    (
        "minLength raised / lowered",
        props({"a": {"type": "string", "minLength": 1}}),
        props({"a": {"type": "string", "minLength": 3}}),
        "breaking",
        "compatible",
    ),
    (
        "maximum lowered / raised",
        props({"a": {"type": "integer", "maximum": 100}}),
        props({"a": {"type": "integer", "maximum": 10}}),
        "breaking",
        "compatible",
    ),
    (
        "minimum raised / lowered",
        props({"a": {"type": "integer", "minimum": 0}}),
        props({"a": {"type": "integer", "minimum": 1}}),
        "breaking",
        "compatible",
    ),
    (
        "exclusiveMaximum added / removed",
        props({"a": INTEGER}),
        props({"a": {"type": "integer", "exclusiveMaximum": 9}}),
        "breaking",
        "compatible",
    ),
    (
        "exclusiveMinimum raised / lowered",
        props({"a": {"type": "number", "exclusiveMinimum": 0}}),
        props({"a": {"type": "number", "exclusiveMinimum": 1}}),
        "breaking",
        "compatible",
    ),
    (
        "draft-4 exclusiveMaximum flag set / cleared",
        props({"a": {"type": "integer", "maximum": 5, "exclusiveMaximum": False}}),
        props({"a": {"type": "integer", "maximum": 5, "exclusiveMaximum": True}}),
        "breaking",
        "compatible",
    ),
    (
        "multipleOf added / removed",
        props({"a": INTEGER}),
        props({"a": {"type": "integer", "multipleOf": 2}}),
        "breaking",
        "compatible",
    ),
    (
        "multipleOf coarser / finer",
        props({"a": {"type": "integer", "multipleOf": 2}}),
        props({"a": {"type": "integer", "multipleOf": 4}}),
        "breaking",
        "compatible",
    ),
    (
        "pattern added / removed",
        props({"a": STRING}),
        props({"a": {"type": "string", "pattern": "^[a-z]+$"}}),
        "breaking",
        "compatible",
    ),
    (
        "pattern changed",
        props({"a": {"type": "string", "pattern": "^a"}}),
        props({"a": {"type": "string", "pattern": "^b"}}),
        "breaking",
        "breaking",
    ),
    (
        "format added / removed",
        props({"a": STRING}),
        props({"a": {"type": "string", "format": "email"}}),
        "breaking",
        "compatible",
    ),
    (
        "maxItems lowered / raised",
        props({"a": {"type": "array", "maxItems": 5}}),
        props({"a": {"type": "array", "maxItems": 2}}),
        "breaking",
        "compatible",
    ),
    (
        "minItems raised / lowered",
        props({"a": {"type": "array"}}),
        props({"a": {"type": "array", "minItems": 1}}),
        "breaking",
        "compatible",
    ),
    (
        "uniqueItems set / cleared",
        props({"a": {"type": "array"}}),
        props({"a": {"type": "array", "uniqueItems": True}}),
        "breaking",
        "compatible",
    ),
    (
        "nested object: property removed / added",
        props({"pet": props({"name": STRING, "age": INTEGER})}),
        props({"pet": props({"name": STRING})}),
        "breaking",
        "compatible",
    ),
    (
        "nested object: property required / optional",
        props({"pet": props({"name": STRING})}),
        props({"pet": props({"name": STRING}, ["name"])}),
        "breaking",
        "compatible",
    ),
    (
        "array items narrowed / widened",
        props({"tags": {"type": "array", "items": {"type": ["string", "integer"]}}}),
        props({"tags": {"type": "array", "items": STRING}}),
        "breaking",
        "compatible",
    ),
    (
        "array of objects: item property removed / added",
        props({"pets": {"type": "array", "items": props({"id": INTEGER, "name": STRING})}}),
        props({"pets": {"type": "array", "items": props({"id": INTEGER})}}),
        "breaking",
        "compatible",
    ),
    (
        "tuple position constrained / unconstrained",
        props({"p": {"type": "array", "prefixItems": [INTEGER]}}),
        props({"p": {"type": "array", "prefixItems": [INTEGER, STRING]}}),
        "breaking",
        "compatible",
    ),
    (
        "additionalProperties closed / opened",
        OBJ,
        {"type": "object", "additionalProperties": False},
        "breaking",
        "compatible",
    ),
    (
        "additionalProperties schema narrowed / widened",
        {"type": "object", "additionalProperties": {"type": ["string", "integer"]}},
        {"type": "object", "additionalProperties": STRING},
        "breaking",
        "compatible",
    ),
    (
        "anyOf alternative removed / added",
        props({"a": {"anyOf": [STRING, INTEGER]}}),
        props({"a": {"anyOf": [STRING]}}),
        "breaking",
        "compatible",
    ),
    (
        "oneOf branch narrowed / widened",
        props({"a": {"oneOf": [STRING, {"type": "integer", "maximum": 9}]}}),
        props({"a": {"oneOf": [STRING, {"type": "integer", "maximum": 5}]}}),
        "breaking",
        "compatible",
    ),
    (
        "anyOf introduced / dropped",
        props({"a": {}}),
        props({"a": {"anyOf": [STRING, INTEGER]}}),
        "breaking",
        "compatible",
    ),
    (
        "allOf schema added / removed",
        props({"a": {"allOf": [STRING]}}),
        props({"a": {"allOf": [STRING, {"maxLength": 3}]}}),
        "breaking",
        "compatible",
    ),
    (
        "dependentRequired added / removed",
        props({"a": STRING, "b": STRING}),
        props({"a": STRING, "b": STRING}, dependentRequired={"a": ["b"]}),
        "breaking",
        "compatible",
    ),
    (
        "not added / removed",
        props({"a": STRING}),
        props({"a": {"type": "string", "not": {"const": "x"}}}),
        "breaking",
        "compatible",
    ),
    (
        "unknown validation keyword changed",
        props({"a": {"type": "string", "x-foo": 1, "weird": 1}}),
        props({"a": {"type": "string", "x-foo": 1, "weird": 2}}),
        "breaking",
        "breaking",
    ),
    (
        "default changed",
        props({"a": {"type": "string", "default": "x"}}),
        props({"a": {"type": "string", "default": "y"}}),
        "compatible",
        "compatible",
    ),
    (
        "description changed",
        props({"a": {"type": "string", "description": "old"}}),
        props({"a": {"type": "string", "description": "new"}}),
        "cosmetic",
        "cosmetic",
    ),
    (
        "title, examples and x- extensions changed",
        props({"a": {"type": "string", "title": "A", "examples": ["1"]}}, **{"x-order": 1}),
        props({"a": {"type": "string", "title": "B", "examples": ["2"]}}, **{"x-order": 2}),
        "cosmetic",
        "cosmetic",
    ),
    (
        "$ref target narrowed / widened (resolved in $defs)",
        {
            "type": "object",
            "properties": {"pet": {"$ref": "#/$defs/Pet"}},
            "$defs": {"Pet": props({"id": INTEGER, "name": STRING})},
        },
        {
            "type": "object",
            "properties": {"pet": {"$ref": "#/$defs/Pet"}},
            "$defs": {"Pet": props({"id": INTEGER})},
        },
        "breaking",
        "compatible",
    ),
    (
        "$ref through draft-4 definitions: maximum lowered / raised",
        {
            "type": "object",
            "properties": {"n": {"$ref": "#/definitions/N"}},
            "definitions": {"N": {"type": "integer", "maximum": 9}},
        },
        {
            "type": "object",
            "properties": {"n": {"$ref": "#/definitions/N"}},
            "definitions": {"N": {"type": "integer", "maximum": 3}},
        },
        "breaking",
        "compatible",
    ),
    (
        "whole schema replaced by one rejecting everything / accepting everything",
        OBJ,
        False,
        "breaking",
        "compatible",
    ),
]


def impacts(changes: list[Any]) -> set[str]:
    return {c.impact for c in changes}


@pytest.mark.parametrize(
    ("before", "after", "forward", "reverse"), [r[1:] for r in SCHEMA_RULES], ids=[r[0] for r in SCHEMA_RULES]
)
def test_each_schema_rule_both_ways(before: Any, after: Any, forward: Impact, reverse: Impact) -> None:
    there = compare_schemas(before, after)
    back = compare_schemas(after, before)
    assert impacts(there) == {forward}, there
    assert impacts(back) == {reverse}, back
    assert all(c.reason for c in there + back)


def test_a_schema_equals_itself_and_its_inlined_ref() -> None:
    inline = props({"pet": props({"id": INTEGER}, ["id"])})
    with_ref = {
        "type": "object",
        "properties": {"pet": {"$ref": "#/$defs/Pet"}},
        "$defs": {"Pet": props({"id": INTEGER}, ["id"])},
    }
    assert compare_schemas(inline, inline) == []
    assert compare_schemas(inline, with_ref) == []
    assert compare_schemas(with_ref, inline) == []


def test_recursive_refs_terminate() -> None:
    node = {"$ref": "#/$defs/Node"}
    before = {**node, "$defs": {"Node": props({"children": {"type": "array", "items": node}, "v": INTEGER})}}
    after = {**node, "$defs": {"Node": props({"children": {"type": "array", "items": node}, "v": STRING})}}
    changes = compare_schemas(before, after)
    assert [(c.path, c.impact) for c in changes] == [("/properties/v/type", "breaking")]


def test_reasons_name_where_in_the_input_the_change_is() -> None:
    before = props({"pet": props({"tags": {"type": "array", "items": {"type": "string", "maxLength": 9}}})})
    after = props({"pet": props({"tags": {"type": "array", "items": {"type": "string", "maxLength": 3}}})})
    [change] = compare_schemas(before, after)
    assert change.path == "/properties/pet/properties/tags/items/maxLength"
    assert change.reason == "input `pet.tags[]`: maxLength lowered from 9 to 3"


def tool(**fields: Any) -> dict[str, Any]:
    base = {
        "urn": "tools:http:s:t",
        "name": "t",
        "summary": "s",
        "description": "d",
        "input_schema": OBJ,
        "http_method": "GET",
        "path": "/t",
        "tags": [],
        "title": None,
        "confirm": None,
        "confirm_prompt": None,
        "summarizer": None,
        "read_only_hint": None,
        "destructive_hint": None,
        "idempotent_hint": None,
        "open_world_hint": None,
    }
    return base | fields


def state(
    tools: list[dict[str, Any]] = (),
    prompts: list[dict[str, Any]] = (),
    resources: list[dict[str, Any]] = (),
    **meta: Any,
) -> dict[str, Any]:
    return {
        "name": "n",
        "slug": "s",
        "description": None,
        "tools": list(tools),
        "prompts": list(prompts),
        "resources": list(resources),
    } | meta


def prompt(**fields: Any) -> dict[str, Any]:
    return {"name": "greet", "description": None, "prompt": "Hi", "arguments": []} | fields


def resource(**fields: Any) -> dict[str, Any]:
    return {"urn": "r", "name": "r", "uri": "https://x/r", "description": None, "mime_type": None} | fields


STATE_RULES: list[tuple[str, dict[str, Any], dict[str, Any], Impact, Impact]] = [
    ("tool removed / added", state([tool()]), state(), "breaking", "compatible"),
    ("tool renamed", state([tool()]), state([tool(name="t2")]), "breaking", "breaking"),
    ("HTTP method changed", state([tool()]), state([tool(http_method="POST")]), "breaking", "breaking"),
    ("HTTP path changed", state([tool()]), state([tool(path="/t2")]), "breaking", "breaking"),
    (
        "read-only true → false / false → true",
        state([tool(read_only_hint=True)]),
        state([tool(read_only_hint=False)]),
        "breaking",
        "compatible",
    ),
    (
        "destructive false → true / true → false",
        state([tool(destructive_hint=False)]),
        state([tool(destructive_hint=True)]),
        "breaking",
        "compatible",
    ),
    (
        "idempotent true → unset (false) / set",
        state([tool(idempotent_hint=True)]),
        state([tool()]),
        "breaking",
        "compatible",
    ),
    (
        "open-world false → true / true → false",
        state([tool(open_world_hint=False)]),
        state([tool(open_world_hint=True)]),
        "breaking",
        "compatible",
    ),
    (
        "hint made explicit with its default",
        state([tool()]),
        state([tool(destructive_hint=True)]),
        "cosmetic",
        "cosmetic",
    ),
    (
        "confirmation removed / added",
        state([tool(confirm="always")]),
        state([tool()]),
        "breaking",
        "compatible",
    ),
    (
        "input schema narrowed / widened",
        state([tool(input_schema=props({"a": STRING}))]),
        state([tool(input_schema=props({"a": STRING}, ["a"]))]),
        "breaking",
        "compatible",
    ),
    (
        "description, summary, title and tags",
        state([tool()]),
        state([tool(description="d2", summary="s2", title="T", tags=["x"])]),
        "cosmetic",
        "cosmetic",
    ),
    ("summarizer set", state([tool()]), state([tool(summarizer="short")]), "compatible", "compatible"),
    ("prompt removed / added", state(prompts=[prompt()]), state(), "breaking", "compatible"),
    (
        "prompt argument removed / optional argument added",
        state(prompts=[prompt(arguments=[{"name": "who", "required": False}])]),
        state(prompts=[prompt()]),
        "breaking",
        "compatible",
    ),
    (
        "prompt argument made required / optional",
        state(prompts=[prompt(arguments=[{"name": "who", "required": False}])]),
        state(prompts=[prompt(arguments=[{"name": "who", "required": True}])]),
        "breaking",
        "compatible",
    ),
    (
        "prompt text changed",
        state(prompts=[prompt()]),
        state(prompts=[prompt(prompt="Hello")]),
        "compatible",
        "compatible",
    ),
    (
        "prompt description changed",
        state(prompts=[prompt()]),
        state(prompts=[prompt(description="x")]),
        "cosmetic",
        "cosmetic",
    ),
    ("resource removed / added", state(resources=[resource()]), state(), "breaking", "compatible"),
    (
        "resource URI changed",
        state(resources=[resource()]),
        state(resources=[resource(uri="https://x/r2")]),
        "breaking",
        "breaking",
    ),
    (
        "resource description changed",
        state(resources=[resource()]),
        state(resources=[resource(description="x")]),
        "cosmetic",
        "cosmetic",
    ),
    ("toolset name and description", state(), state(name="n2", description="d"), "cosmetic", "cosmetic"),
    ("toolset address (slug) moved", state(), state(slug="s2"), "breaking", "breaking"),
]


@pytest.mark.parametrize(
    ("before", "after", "forward", "reverse"), [r[1:] for r in STATE_RULES], ids=[r[0] for r in STATE_RULES]
)
def test_each_state_rule_both_ways(
    before: dict[str, Any], after: dict[str, Any], forward: Impact, reverse: Impact
) -> None:
    there = diff_states(before, after)
    back = diff_states(after, before)
    assert {c["impact"] for c in there["changes"]} == {forward}, there["changes"]
    assert {c["impact"] for c in back["changes"]} == {reverse}, back["changes"]
    assert there["impact"] == forward
    assert there["counts"][forward] == len(there["changes"])


def test_counts_and_order_over_a_mixed_diff() -> None:
    before = state([tool(), tool(urn="u2", name="u2")])
    after = state([tool(description="new", input_schema=props({"a": STRING}))], name="renamed")
    diff = diff_states(before, after)
    assert diff["counts"] == {"breaking": 1, "compatible": 1, "cosmetic": 2}
    assert [c["impact"] for c in diff["changes"]] == ["breaking", "compatible", "cosmetic", "cosmetic"]
    removed = diff["changes"][0]
    assert removed == {
        "section": "tools",
        "item": "u2",
        "field": None,
        "path": None,
        "change": "removed",
        "impact": "breaking",
        "reason": "tool `u2` removed",
    }
    assert diff_states(before, before)["impact"] is None
    renamed = diff_states(state(prompts=[prompt()]), state(prompts=[prompt(name="hello")]))
    assert [(c["item"], c["change"], c["impact"]) for c in renamed["changes"]] == [
        ("greet", "removed", "breaking"),
        ("hello", "added", "compatible"),
    ]
    assert classify({"metadata": {}}) == []


# --- over the API ---


async def test_every_diff_endpoint_classifies_its_changes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    await client.patch(f"{BASE}/staging", json={"tool_urns": [URNS[1], URNS[2]]}, headers=auth)
    await client.put(f"{BASE}/staging/variations/{URNS[1]}", json={"read_only_hint": False}, headers=auth)
    staged = (await client.get(f"{BASE}/staging/diff", headers=auth)).json()
    assert staged["counts"] == {"breaking": 2, "compatible": 1, "cosmetic": 0}
    assert staged["impact"] == "breaking"
    reasons = {(c["item"], c["impact"]): c["reason"] for c in staged["changes"]}
    assert reasons[(URNS[0], "breaking")] == f"tool `op_0000` ({URNS[0]}) removed"
    assert reasons[(URNS[2], "compatible")] == f"tool `op_0002` ({URNS[2]}) added"
    assert "no longer read-only" in reasons[(URNS[1], "breaking")]
    assert (await client.post(f"{BASE}/staging/publish", headers=auth)).status_code == 201

    # A new deployment narrows op_0001's input: release 2 → the next release is breaking.
    tools = make_tools(4)
    tools[1]["input_schema"] = props({"id": {"type": "integer", "maximum": 10}}, ["id"])
    await create_deployment(client, auth, "p", tools)
    await client.post(f"{BASE}/releases", headers=auth)
    diff = (
        await client.get(f"{BASE}/diff", params={"from": "release:2", "to": "release:3"}, headers=auth)
    ).json()
    assert [(c["path"], c["impact"]) for c in diff["changes"]] == [
        ("/properties/id/maximum", "breaking"),
        ("/required", "breaking"),
    ]
    assert diff["changes"][1]["reason"] == f"tool `op_0001` ({URNS[1]}): input `id`: now required"
    back = (
        await client.get(f"{BASE}/diff", params={"from": "release:3", "to": "release:2"}, headers=auth)
    ).json()
    assert back["counts"] == {"breaking": 0, "compatible": 2, "cosmetic": 0}
