"""Small async helpers that set up state through the API, as a client would."""

from collections.abc import Awaitable
from typing import Any

import httpx


def make_tools(n: int, source: str = "petstore") -> list[dict[str, Any]]:
    """`n` HTTP tool definitions with URNs `tools:http:<source>:op_0000`, `…op_0001`, …"""
    return [
        {
            "urn": f"tools:http:{source}:op_{i:04d}",
            "name": f"op_{i:04d}",
            "description": f"Operation {i} of {source}.",
            "summary": f"op {i}",
            "http_method": "GET",
            "path": f"/{source}/op/{i}",
            "input_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
            "tags": [source],
            "read_only_hint": True,
        }
        for i in range(n)
    ]


async def create_project(
    client: httpx.AsyncClient, auth: dict[str, str], slug: str = "p", name: str | None = None
) -> dict[str, Any]:
    response = await client.post("/v1/projects", json={"name": name or slug, "slug": slug}, headers=auth)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def create_deployment(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    project: str,
    tools: list[dict[str, Any]] | None = None,
    resources: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A deployment of `tools` (three petstore tools when None) into the project with this slug."""
    body: dict[str, Any] = {"tools": make_tools(3) if tools is None else tools}
    if resources is not None:
        body["resources"] = resources
    response = await client.post(f"/v1/projects/{project}/deployments", json=body, headers=auth)
    assert response.status_code == 201, response.text
    deployment: dict[str, Any] = response.json()
    return deployment


async def create_prompt_template(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    project: str,
    name: str = "greet",
    prompt: str = "Hello {{who}}",
    **fields: Any,
) -> dict[str, Any]:
    body = {"name": name, "prompt": prompt, **fields}
    response = await client.post(f"/v1/projects/{project}/prompt-templates", json=body, headers=auth)
    assert response.status_code == 201, response.text
    template: dict[str, Any] = response.json()
    return template


async def ok(call: Awaitable[httpx.Response], status: int | None = None) -> Any:
    """Await a setup request and fail the test at once unless it succeeded (any 2xx, or
    exactly `status`): a setup edit that fails must not let a test pass silently.
    Returns the response's JSON (None for an empty body)."""
    response = await call
    where = f"{response.request.method} {response.request.url.path}"
    if status is None:
        assert response.is_success, f"{where} answered {response.status_code}: {response.text}"
    else:
        assert response.status_code == status, f"{where} answered {response.status_code}: {response.text}"
    return response.json() if response.content else None
