"""The OpenAPI document, with only the error statuses an operation can answer, and
parameters that Swagger UI fills in.

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


def _parameter_examples(document: dict[str, Any]) -> dict[str, Any]:
    """Give each parameter the parameter-level `example` Swagger UI fills in for "Try it out"
    (it ignores the schema's `examples`, which are what FastAPI writes): the first of them."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                examples = parameter.get("schema", {}).get("examples")
                if examples and "example" not in parameter and "examples" not in parameter:
                    parameter["example"] = examples[0]
    return document


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _parameter_examples(_without_framework_422(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
