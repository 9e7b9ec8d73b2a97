"""Every operation, fuzzed with schemathesis against the real database.

The schema is the one the app serves. Each operation first gets its documented examples
(path parameters name the objects of the documented request-body examples: project
`petstore`, toolset `pets`, tool `tools:http:petstore:get_pet`, template `summarize_pet`),
then generated cases, positive and negative. They are sent with an all-scopes key to a
second instance of the app (its own engine, in schemathesis's own event loop) over the
same database, which is seeded before each operation by posting those same examples.

Checks (see CHECKS): no 5xx, and every answer as documented (status, content type,
headers, body), with schema-breaking input refused. State changes made by fuzzing are
fine: the next operation starts from a fresh seed.

The run is bounded (25 generated cases per operation, plus the documented examples and
schemathesis's deterministic coverage cases) and reproducible: inputs come from a fixed
seed. To explore further, set TOOLSETS_FUZZ_SEED and TOOLSETS_FUZZ_EXAMPLES.
"""

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app

DOCUMENT = create_app("postgresql://fuzz@localhost/unused").openapi()  # no connection is made
schema = schemathesis.openapi.from_dict(DOCUMENT)
# Bounded, reproducible, and no example database left on disk.
# Negative cases leave out unknown query parameters: the API ignores those by design, as
# HTTP APIs do so that older servers accept newer clients' optional parameters.
schema.config.generation.update(
    max_examples=int(os.environ.get("TOOLSETS_FUZZ_EXAMPLES", "25")),
    database="none",
    allow_extra_parameters=False,
)
schema.config.seed = int(os.environ.get("TOOLSETS_FUZZ_SEED", "20261128"))

# The checks that hold for every answer of this API: no 5xx; the status, content type,
# headers and body as documented; and input that breaks the schema refused with a 4xx.
# Not enabled: `positive_data_acceptance` expects a 2xx for every schema-valid request,
# but a valid body is still refused, as documented, when it names tools the project lacks
# (422), conflicts with the state (409) or addresses nothing (404); and `use_after_free` /
# `ensure_resource_availability` judge sequences of calls, which belong to stateful runs.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


def example(component: str) -> dict[str, Any]:
    """The first documented example of a request body schema."""
    value: dict[str, Any] = DOCUMENT["components"]["schemas"][component]["examples"][0]
    return value


@pytest.fixture(scope="module")
def fuzz_client(database_url: str) -> Iterator[asgi.ASGIClient]:
    app = create_app(database_url)
    with asgi.get_client(app) as client:
        yield client
    asgi.shutdown_lifespans()


@pytest.fixture
async def seeded(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, auth: dict[str, str]
) -> dict[str, str]:
    """A clean database holding the documented examples; returns the key's headers.

    Staging operations and rollback find `pets` in staging mode with a staging copy (but
    createStagingVersion finds none, so that it can make one); the others find it in
    iteration mode, where its own edits are allowed. Either way it has release 1.
    """
    label = request.node.name
    project = "/v1/projects/petstore"
    pets = f"{project}/toolsets/pets"
    urn = "tools:http:petstore:get_pet"
    steps: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/v1/projects", example("ProjectCreate")),
        ("POST", f"{project}/deployments", example("DeploymentCreate")),
        ("POST", f"{project}/prompt-templates", example("PromptTemplateCreate")),
        ("POST", f"{project}/toolsets", example("ToolsetCreate")),
        ("PUT", f"{project}/variations/{urn}", example("VariationFields")),
        ("PUT", f"{pets}/variations/{urn}", example("VariationFields")),
        ("POST", f"{pets}/releases", example("ReleaseCreate")),
    ]
    if "/staging" in label or "/rollback" in label:
        steps.append(("PUT", f"{pets}/editing-mode", {"mode": "staging"}))
        if not label.endswith("[POST /v1/projects/{project}/toolsets/{toolset}/staging]"):
            steps.append(("POST", f"{pets}/staging", None))
            steps.append(("PUT", f"{pets}/staging/variations/{urn}", {"name": "staged_get_pet"}))
    for method, url, body in steps:
        response = await client.request(method, url, json=body, headers=auth)
        assert response.status_code in (200, 201), (method, url, response.text)
    return auth


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_survives_fuzzing(
    case: schemathesis.Case, fuzz_client: asgi.ASGIClient, seeded: dict[str, str]
) -> None:
    case.call_and_validate(session=fuzz_client, headers=seeded, checks=CHECKS)
