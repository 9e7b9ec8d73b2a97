"""The OpenAPI document, with only the error statuses an operation can answer.

FastAPI documents a 422 (with its own `HTTPValidationError` shape) on every operation
that has any parameter. Operations that can answer 422 declare it themselves, as a
problem document (`kit.schemas.INVALID`); the framework's entry is dropped from the
others, where no input can fail validation (an unconstrained slug that matches
nothing is a 404).
"""

from typing import Any

from fastapi import FastAPI

_FRAMEWORK_422 = {"$ref": "#/components/schemas/HTTPValidationError"}


def _without_framework_422(document: dict[str, Any]) -> dict[str, Any]:
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            content = responses.get("422", {}).get("content", {})
            if content.get("application/json", {}).get("schema") == _FRAMEWORK_422:
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _without_framework_422(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
