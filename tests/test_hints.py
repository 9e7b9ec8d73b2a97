"""Errors say what to do next (one `hint` field, the full path), and responses say where things are."""

import re
from typing import Any

import httpx

from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch
from tests.test_mcp_wire import modern

# A hint is one request: a method and a full path (never `.../editing-mode`), maybe a body.
HINT = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /v1/projects(/[a-z0-9-]+)*[^.…]*$")


def hint_of(response: httpx.Response, status: int, code: str) -> str:
    body: dict[str, Any] = response.json()
    assert response.status_code == status, body
    assert body["code"] == code, body
    assert HINT.match(body["hint"]), body["hint"]
    assert "..." not in body["detail"]
    assert "…" not in body["detail"]
    hint: str = body["hint"]
    return hint


async def test_the_root_points_at_the_docs_and_the_openapi_document(client: httpx.AsyncClient) -> None:
    answer = await client.get("/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["docs"] == "/docs"
    assert body["openapi"] == "/openapi.json"
    assert "/docs" in body["detail"]
    browser = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 307
    assert browser.headers["location"] == "/docs"


async def test_publishing_in_iteration_mode_says_so_and_how_to_switch(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    answer = await client.post(f"{BASE}/staging/publish", headers=auth)
    assert hint_of(answer, 409, "not_in_staging_mode") == f'PUT {BASE}/editing-mode {{"mode": "staging"}}'
    assert "iteration mode" in answer.json()["detail"]
    assert f"POST {BASE}/releases" in answer.json()["detail"]


async def test_creating_a_staging_copy_or_rolling_back_in_iteration_mode_points_at_the_switch(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    switch_hint = f'PUT {BASE}/editing-mode {{"mode": "staging"}}'
    created = await client.post(f"{BASE}/staging", headers=auth)
    assert hint_of(created, 409, "not_in_staging_mode") == switch_hint
    assert (await client.post(f"{BASE}/releases", headers=auth)).status_code == 201
    rolled = await client.post(f"{BASE}/releases/1/rollback", headers=auth)
    assert hint_of(rolled, 409, "rollback_in_iteration_mode") == switch_hint
    staging = await client.get(f"{BASE}/staging", headers=auth)
    assert hint_of(staging, 404, "staging_not_found") == switch_hint


async def test_no_staging_copy_points_at_creating_one(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    for answer in (
        await client.get(f"{BASE}/staging", headers=auth),
        await client.patch(f"{BASE}/staging", json={"name": "x"}, headers=auth),
        await client.get(f"{BASE}/staging/diff", headers=auth),
        await client.get(f"{BASE}/diff?from=live&to=staging", headers=auth),
    ):
        assert hint_of(answer, 404, "staging_not_found") == f"POST {BASE}/staging"
    published = await client.post(f"{BASE}/staging/publish", headers=auth)
    assert hint_of(published, 409, "no_staging_copy") == f"POST {BASE}/staging"


async def test_the_mcp_staging_endpoint_without_a_staging_copy_says_how_to_make_one(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    body, mcp_headers = modern("tools/list")

    async def staging_endpoint() -> httpx.Response:
        return await client.post("/mcp/p/pets/staging", json=body, headers={**auth, **mcp_headers})

    switch_hint = f'PUT {BASE}/editing-mode {{"mode": "staging"}}'
    assert hint_of(await staging_endpoint(), 404, "staging_not_found") == switch_hint
    await switch(client, auth, "staging")
    assert hint_of(await staging_endpoint(), 404, "staging_not_found") == f"POST {BASE}/staging"


async def test_editing_a_staging_mode_toolset_directly_points_at_its_staging_copy(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    edited = await client.put(f"{BASE}/variations/{URNS[0]}", json={"name": "x"}, headers=auth)
    assert hint_of(edited, 409, "toolset_in_staging_mode") == f"POST {BASE}/staging"


async def test_a_staging_copy_with_changes_blocks_the_switch_with_a_hint(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    await client.post(f"{BASE}/staging", headers=auth)
    await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:1]}, headers=auth)
    changed = await switch(client, auth, "iteration")
    hint = hint_of(changed, 409, "staging_exists")
    assert hint == f'PUT {BASE}/editing-mode {{"mode": "iteration", "discard_staging": true}}'
    assert "unpublished changes" in changed.json()["detail"]
    # An untouched copy does not stop the switch at all (issue 11): nothing is lost.
    await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:2]}, headers=auth)
    assert (await switch(client, auth, "iteration")).status_code == 200


async def test_a_slug_with_capitals_answers_that_slugs_are_lowercase(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    toolset = await client.get("/v1/projects/p/toolsets/Pets", headers=auth)
    assert hint_of(toolset, 404, "toolset_not_found") == "GET /v1/projects/p/toolsets/pets"
    assert "slugs are lowercase" in toolset.json()["detail"]
    effective = await client.get("/v1/projects/p/toolsets/PETS/effective", headers=auth)
    assert "slugs are lowercase" in effective.json()["detail"]
    project = await client.get("/v1/projects/P/toolsets/pets", headers=auth)
    assert hint_of(project, 404, "project_not_found") == "GET /v1/projects/p"
    missing = await client.get("/v1/projects/p/toolsets/cats", headers=auth)
    assert hint_of(missing, 404, "toolset_not_found") == "GET /v1/projects/p/toolsets"


async def test_every_created_resource_is_where_location_says(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    created = [
        await client.post("/v1/projects", json={"name": "Shop", "slug": "shop"}, headers=auth),
        await client.post(
            "/v1/projects/p/prompt-templates", json={"name": "bye", "prompt": "Bye"}, headers=auth
        ),
        await client.post(
            "/v1/projects/p/deployments",
            json={
                "tools": [
                    {"urn": URNS[0], "name": "a", "description": "A.", "http_method": "GET", "path": "/a"}
                ]
            },
            headers=auth,
        ),
        await client.post("/v1/projects/p/variations/group-versions", headers=auth),
    ]
    for answer in created:
        assert answer.status_code == 201, answer.text
        located = await client.get(answer.headers["location"], headers=auth)
        assert located.status_code == 200, answer.headers["location"]
        assert located.json()["id"] == answer.json()["id"]


async def test_variation_writes_and_rollback_answer_the_toolsets_etag(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)

    async def toolset_etag() -> str:
        etag: str = (await client.get(BASE, headers=auth)).headers["etag"]
        return etag

    upserted = await client.put(f"{BASE}/variations/{URNS[0]}", json={"name": "first"}, headers=auth)
    assert upserted.headers["etag"] == await toolset_etag()
    # The ETag guards the next write, as If-Match.
    deleted = await client.delete(
        f"{BASE}/variations/{URNS[0]}", headers={**auth, "If-Match": upserted.headers["etag"]}
    )
    assert deleted.status_code == 204
    assert deleted.headers["etag"] == await toolset_etag()

    await switch(client, auth, "staging")
    await client.post(f"{BASE}/staging", headers=auth)
    staged = await client.put(f"{BASE}/staging/variations/{URNS[1]}", json={"name": "second"}, headers=auth)
    assert staged.headers["etag"] == (await client.get(f"{BASE}/staging", headers=auth)).headers["etag"]
    await client.post(f"{BASE}/staging/publish", headers=auth)
    rolled = await client.post(f"{BASE}/releases/1/rollback", headers=auth)
    assert rolled.status_code == 200
    assert rolled.headers["etag"] == await toolset_etag()

    global_variation = await client.put(
        f"/v1/projects/p/variations/{URNS[0]}", json={"name": "everywhere"}, headers=auth
    )
    assert global_variation.headers["etag"] == f'"{global_variation.json()["version"]}"'
