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
        for code in codes - {200, 201, 204}:
            content = responses[str(code)]["content"]
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }, (where, code)
    # FastAPI's own 422 shape is never documented: this API answers 422 as a problem.
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_project_and_toolset_path_parameters_are_described_with_an_example() -> None:
    for method, path, operation in _operations():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert parameter.get("description"), (method, path, parameter["name"])
                if parameter["name"] in ("project", "toolset", "tool_urn", "name"):
                    assert parameter["schema"]["examples"], (method, path, parameter["name"])


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
        "createRelease": ("201", {"Location", "Idempotent-Replayed"}),
        "publishStagingVersion": ("201", {"Location", "Idempotent-Replayed"}),
    }
    for operation_id, (status, names) in expected.items():
        assert set(by_id[operation_id]["responses"][status]["headers"]) == names, operation_id
