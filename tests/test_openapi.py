import json
from pathlib import Path
from typing import Any

import httpx

from app.deployments.schemas import DeploymentCreate
from app.main import openapi_document
from app.projects.schemas import ProjectCreate
from app.prompt_templates.schemas import PromptTemplateCreate, PromptTemplateUpdate
from app.releases.schemas import ReleaseCreate
from app.staging.schemas import EditingModeSwitch
from app.toolsets.schemas import ToolsetCreate, ToolsetUpdate
from app.variations.schemas import VariationFields

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi_document(), (
        "openapi.json is stale: run `toolsets openapi` and commit the result"
    )


async def test_served_openapi_is_the_committed_one(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    assert served == json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_every_operation_has_an_id_and_a_known_tag() -> None:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    allowed = {"projects", "deployments", "toolsets", "variations", "prompt-templates", "staging", "releases"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert operation.get("operationId"), f"{method} {path} has no operationId"
            if path.startswith("/v1/"):
                assert len(operation["tags"]) == 1
                assert operation["tags"][0] in allowed, f"{method} {path}"


def test_bearer_auth_is_declared_for_swagger_ui() -> None:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    schemes = spec["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    ]


def test_every_error_an_operation_can_answer_is_a_documented_problem() -> None:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    for method, path, operation in _operations():
        responses = operation["responses"]
        codes = {int(c) for c in responses}
        where = f"{method} {path}"
        assert {401, 403} <= codes, where
        if "requestBody" in operation:
            assert {400, 413, 422} <= codes, where
        if "{project}" in path:
            assert 404 in codes, where
        if any(p["name"] == "If-Match" for p in operation.get("parameters", [])):
            assert 412 in codes, where
        if any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert 422 in codes, where
        for code in codes - {200, 201, 202, 204}:
            content = responses[str(code)]["content"]
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }, (where, code)
    # FastAPI's own 422 shape is never documented: this API answers 422 as a problem.
    assert "HTTPValidationError" not in spec["components"]["schemas"]


# These hold every route to the same standard, including routes added later: describe each
# operation, each field a user sees, give each path parameter an example Swagger UI fills in,
# and show a realistic example of each error.


def _all_operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return [(method, path, op) for path, item in spec["paths"].items() for method, op in item.items()]


def test_every_operation_has_a_description() -> None:
    undescribed = [
        op["operationId"] for _, _, op in _all_operations() if not op.get("description", "").strip()
    ]
    assert undescribed == [], "add a docstring to these routes"


def test_every_path_parameter_is_described_with_an_example_swagger_ui_fills_in() -> None:
    for method, path, operation in _operations():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                where = (method, path, parameter["name"])
                assert parameter.get("description"), where
                # Swagger UI's "Try it out" fills in a parameter-level `example`, not the schema's.
                assert "example" in parameter, where
                assert parameter["example"] in parameter["schema"]["examples"], where


def test_every_required_query_parameter_has_an_example_swagger_ui_fills_in() -> None:
    for method, path, operation in _operations():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter.get("required"):
                assert "example" in parameter, (method, path, parameter["name"])


def test_every_field_a_user_sees_is_described() -> None:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    undescribed = [
        f"{name}.{field}"
        for name, schema in spec["components"]["schemas"].items()
        for field, definition in schema.get("properties", {}).items()
        if not definition.get("description", "").strip()
    ]
    assert undescribed == [], "describe these fields (Field(description=...))"


def test_every_error_response_shows_a_realistic_example() -> None:
    for method, path, operation in _operations():
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/problem+json")
            if media is None:
                continue
            example = media.get("example")
            where = (method, path, status)
            assert example is not None, where
            assert example["status"] == int(status), where
            assert example["type"] == f"urn:toolsets:problem:{example['code']}", where
            assert example["detail"] not in ("", "string"), where


def test_every_created_response_says_where_it_is() -> None:
    for method, path, operation in _operations():
        if "201" in operation["responses"]:
            assert "Location" in operation["responses"]["201"].get("headers", {}), (method, path)


BODY_EXAMPLES = {
    "createProject": ProjectCreate,
    "createDeployment": DeploymentCreate,
    "createPromptTemplate": PromptTemplateCreate,
    "updatePromptTemplate": PromptTemplateUpdate,
    "createToolset": ToolsetCreate,
    "updateToolset": ToolsetUpdate,
    "updateStagingVersion": ToolsetUpdate,
    "upsertGlobalVariation": VariationFields,
    "upsertToolsetVariation": VariationFields,
    "upsertStagingVariation": VariationFields,
    "switchEditingMode": EditingModeSwitch,
    "createRelease": ReleaseCreate,
    "publishStagingVersion": ReleaseCreate,
}


def test_the_main_request_bodies_carry_examples_that_validate() -> None:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    by_id = {operation["operationId"]: operation for _, _, operation in _operations()}
    for operation_id, model in BODY_EXAMPLES.items():
        schema = by_id[operation_id]["requestBody"]["content"]["application/json"]["schema"]
        ref = schema.get("$ref") or next(s["$ref"] for s in schema["anyOf"] if "$ref" in s)
        examples = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]["examples"]
        assert examples, operation_id
        for example in examples:
            model.model_validate(example)


def test_etag_location_and_replay_headers_are_documented() -> None:
    by_id = {operation["operationId"]: operation for _, _, operation in _operations()}
    expected = {
        "createToolset": ("201", {"ETag", "Location"}),
        "getToolset": ("200", {"ETag"}),
        "updateToolset": ("200", {"ETag"}),
        "switchEditingMode": ("200", {"ETag"}),
        "createStagingVersion": ("201", {"ETag", "Location"}),
        "getStagingVersion": ("200", {"ETag"}),
        "updateStagingVersion": ("200", {"ETag"}),
        "upsertGlobalVariation": ("200", {"ETag"}),
        "upsertToolsetVariation": ("200", {"ETag"}),
        "deleteToolsetVariation": ("204", {"ETag"}),
        "upsertStagingVariation": ("200", {"ETag"}),
        "deleteStagingVariation": ("204", {"ETag"}),
        "rollbackToRelease": ("200", {"ETag"}),
        "createProject": ("201", {"Location"}),
        "createDeployment": ("201", {"Location"}),
        "createPromptTemplate": ("201", {"Location"}),
        "createGlobalGroupVersion": ("201", {"Location"}),
        "createRelease": ("201", {"Location", "Idempotent-Replayed"}),
        "publishStagingVersion": ("201", {"Location", "Idempotent-Replayed"}),
    }
    for operation_id, (status, names) in expected.items():
        assert set(by_id[operation_id]["responses"][status]["headers"]) == names, operation_id
