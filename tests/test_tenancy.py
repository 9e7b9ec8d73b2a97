"""Every route, called with a key of another organization, a read-only and a write-only key.

Routes are enumerated from the app itself, so a new route is covered the day it is added.
"""

from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import API_PREFIX, API_ROUTERS
from tests.conftest import MakeHeaders
from tests.factories import ok
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch

ROUTES = sorted(
    (
        (method, API_PREFIX + route.path, route)
        for router in API_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    ),
    key=lambda item: (item[1], item[0]),
)

PATH_VALUES = {
    "project": "p",
    "toolset": "pets",
    "tool_urn": URNS[0],
    "name": "greet",
    "version": "1",
    "release_number": "1",
    "delivery_id": "00000000-0000-0000-0000-000000000000",
    "source": "petstore",
    "schedule_id": "00000000-0000-0000-0000-000000000000",
    "label": "stable",
}

# A body valid for each operation that takes one, so that a refusal is about who asks.
BODIES: dict[str, Any] = {
    "createProject": {"name": "Other", "slug": "other"},
    "createDeployment": {"tools": []},
    "createPromptTemplate": {"name": "other", "prompt": "x"},
    "updatePromptTemplate": {"prompt": "y"},
    "createToolset": {"name": "Other", "tool_urns": []},
    "updateToolset": {"name": "Changed"},
    "updateStagingVersion": {"name": "Changed"},
    "switchEditingMode": {"mode": "iteration"},
    "upsertGlobalVariation": {"name": "x"},
    "upsertToolsetVariation": {"name": "x"},
    "upsertStagingVariation": {"name": "x"},
    "createWebhook": {"url": "https://example.com/hooks", "events": ["release.published"]},
    "importOpenApiDeployment": {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}},
    "putUpstream": {"base_url": "https://other.example"},
    "putToolsetPolicy": {"block_breaking": True},
    "putReleaseLabel": {"release_number": 1},
}
QUERIES: dict[str, dict[str, str]] = {
    "diffToolsetStates": {"from": "live", "to": "release:1"},
    "importOpenApiDeployment": {"source": "petstore"},
    "getServedAt": {"time": "2026-01-01T00:00:00Z"},
}


def required_scope(route: APIRoute) -> str:
    names = {d.call.__name__ for d in route.dependant.dependencies if d.call is not None}
    scopes = [n.removeprefix("require_") for n in names if n.startswith("require_")]
    assert len(scopes) == 1, f"{route.path} must require exactly one scope, has {scopes}"
    return scopes[0]


async def world(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, str]:
    """Organization A with one of everything; returns ids for the paths that need them."""
    await project_with_toolset(client, auth)
    await ok(client.put(f"/v1/projects/p/variations/{URNS[0]}", json={"name": "v"}, headers=auth))
    await ok(client.post(f"{BASE}/releases", headers=auth))
    await ok(switch(client, auth, "staging"))
    await ok(client.post(f"{BASE}/staging", headers=auth))
    await ok(client.put(f"{BASE}/staging/variations/{URNS[0]}", json={"name": "s"}, headers=auth))
    await ok(
        client.put("/v1/projects/p/upstreams/petstore", json={"base_url": "https://a.example"}, headers=auth)
    )
    await client.put(f"{BASE}/labels/stable", json={"release_number": 1}, headers=auth)
    snapshot = (await client.post("/v1/projects/p/snapshots", headers=auth)).json()
    deployment = (await client.get("/v1/projects/p/deployments/active", headers=auth)).json()
    hook = {"url": "http://127.0.0.1:9/hooks", "events": ["schedule.failed"]}  # never fires here
    webhook = (await client.post("/v1/projects/p/webhooks", json=hook, headers=auth)).json()
    return {"deployment_id": deployment["id"], "webhook_id": webhook["id"], "snapshot_id": snapshot["id"]}


async def snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Every row of every table, to prove a refused request changed nothing."""
    async with engine.connect() as conn:
        tables = [
            r[0]
            for r in await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'api_keys'"
                )
            )
        ]
        return {t: sorted(str(r) for r in await conn.execute(text(f"SELECT * FROM {t}"))) for t in tables}


def url_for(path: str, ids: dict[str, str]) -> str:
    values = PATH_VALUES | ids
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in ROUTES])
async def test_another_organization_cannot_see_or_change_anything(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    headers: MakeHeaders,
    engine: AsyncEngine,
    method: str,
    path: str,
) -> None:
    ids = await world(client, auth)
    route = next(r for m, p, r in ROUTES if (m, p) == (method, path))
    before = await snapshot(engine)
    stranger = await headers(org="org-b")
    response = await client.request(
        method,
        url_for(path, ids),
        json=BODIES.get(route.operation_id or ""),
        params=QUERIES.get(route.operation_id or ""),
        headers=stranger,
    )
    if path == "/v1/projects":
        # The collection itself: org B sees only its own (empty) list, or makes its own project.
        assert response.status_code in (200, 201)
        if method == "GET":
            assert response.json()["items"] == []
        return
    assert response.status_code == 404, (method, path, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert await snapshot(engine) == before


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in ROUTES])
async def test_keys_without_the_needed_scope_are_refused(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    headers: MakeHeaders,
    engine: AsyncEngine,
    method: str,
    path: str,
) -> None:
    ids = await world(client, auth)
    route = next(r for m, p, r in ROUTES if (m, p) == (method, path))
    needed = required_scope(route)
    before = await snapshot(engine)
    for scopes in (("read",), ("write",), ("release",), ("approve",), ("read", "write")):
        if needed in scopes:
            continue
        key = await headers(scopes=scopes)
        response = await client.request(
            method,
            url_for(path, ids),
            json=BODIES.get(route.operation_id or ""),
            params=QUERIES.get(route.operation_id or ""),
            headers=key,
        )
        assert response.status_code == 403, (method, path, scopes, response.text)
    assert await snapshot(engine) == before


def test_scopes_follow_the_spec() -> None:
    release_ops = {
        "createRelease",
        "publishStagingVersion",
        "rollbackToRelease",
        "switchEditingMode",
        "cancelScheduledPublish",
        "putToolsetPolicy",
        "putReleaseLabel",
        "deleteReleaseLabel",
        "pruneReleases",
        "restoreProjectSnapshot",
    }
    for method, _, route in ROUTES:
        scope = required_scope(route)
        if route.operation_id in release_ops:
            assert scope == "release", route.operation_id
        elif route.operation_id == "approveReview":
            assert scope == "approve", route.operation_id
        elif method == "GET":
            assert scope == "read", route.operation_id
        else:
            assert scope == "write", route.operation_id
