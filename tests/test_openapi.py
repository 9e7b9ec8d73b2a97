import json
from pathlib import Path

import httpx

from app.main import openapi_document

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
