"""SPEC section 2: the slug is the toolset's address. It changes only on the live toolset (409
when taken), never through the staging copy (422), and releases do not capture it."""

import asyncio
from typing import Any

import httpx

from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch

P = "/v1/projects/p/toolsets"


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def staging_with_copy(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    await ok(await switch(client, auth, "staging"))
    await ok(await client.post(f"{BASE}/staging", headers=auth), 201)


async def test_the_staging_copy_refuses_a_slug_with_422_and_changes_nothing(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staging_with_copy(client, auth)
    before = await ok(await client.get(f"{BASE}/staging", headers=auth))
    for body in ({"slug": "other"}, {"slug": "pets"}, {"name": "N", "slug": "x"}):
        response = await client.patch(f"{BASE}/staging", json=body, headers=auth)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "body.slug"
    assert await ok(await client.get(f"{BASE}/staging", headers=auth)) == before


async def test_a_staging_copy_cannot_break_another_toolset(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """The finding: a staging copy renamed to another toolset's slug made that toolset's
    edits and mode switch fail. The copy can no longer take a slug at all."""
    await staging_with_copy(client, auth)
    await ok(await client.post(P, json={"name": "Other", "tool_urns": URNS[:1]}, headers=auth), 201)
    assert (await client.patch(f"{BASE}/staging", json={"slug": "other"}, headers=auth)).status_code == 422
    for _ in range(3):  # several versions of `other`, each a (project, slug, version) row
        await ok(await client.patch(f"{P}/other", json={"description": "edited"}, headers=auth))
        await ok(await client.patch(f"{P}/other", json={"description": "again"}, headers=auth))
    await ok(await client.put(f"{P}/other/editing-mode", json={"mode": "staging"}, headers=auth))
    await ok(await client.post(f"{P}/other/staging", headers=auth), 201)
    await ok(await client.patch(f"{P}/other/staging", json={"name": "Other 2"}, headers=auth))
    await ok(await client.post(f"{P}/other/staging/publish", headers=auth), 201)
    await ok(await client.post(f"{BASE}/staging/publish", headers=auth), 201)
    assert [t["slug"] for t in (await ok(await client.get(P, headers=auth)))["items"]] == ["other", "pets"]


async def test_in_staging_mode_the_slug_is_the_one_direct_edit_and_the_copy_follows(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staging_with_copy(client, auth)
    refused = await client.patch(BASE, json={"slug": "pups", "name": "Pups"}, headers=auth)
    assert (refused.status_code, refused.json()["code"]) == (409, "toolset_in_staging_mode")

    renamed = await ok(await client.patch(BASE, json={"slug": "pups"}, headers=auth))
    assert (renamed["slug"], renamed["name"], renamed["editing_mode"]) == ("pups", "Pets", "staging")
    assert (await client.get(BASE, headers=auth)).status_code == 404
    staging = await ok(await client.get(f"{P}/pups/staging", headers=auth))
    assert staging["slug"] == "pups"

    # Served, pinned and published states all answer under the address, never an old one.
    assert (await ok(await client.get(f"{P}/pups/effective", headers=auth)))["slug"] == "pups"
    assert (await ok(await client.get(f"{P}/pups/releases/1/state", headers=auth)))["slug"] == "pups"
    await ok(await client.patch(f"{P}/pups/staging", json={"name": "Pups"}, headers=auth))
    published = await client.post(f"{P}/pups/staging/publish", headers=auth | {"Idempotency-Key": "k1"})
    assert published.status_code == 201, published.text
    assert published.headers["location"] == f"{P}/pups/releases/2"
    live = await ok(await client.get(f"{P}/pups", headers=auth))
    assert (live["slug"], live["name"], live["current_release_number"]) == ("pups", "Pups", 2)
    assert (await ok(await client.get(f"{P}/pups/effective", headers=auth)))["slug"] == "pups"

    audit = (await ok(await client.get(f"{P}/pups/audit", headers=auth)))["items"]
    rename = next(entry for entry in audit if entry["action"] == "rename")
    assert rename["details"] == {"from_slug": "pets", "to_slug": "pups"}


async def test_a_rename_is_served_at_once_even_from_the_caches(
    client: httpx.AsyncClient, auth: dict[str, str], second_app: httpx.AsyncClient
) -> None:
    await project_with_toolset(client, auth)
    await ok(await switch(client, auth, "staging"))
    for http in (client, second_app, client, second_app):  # warm both processes' caches
        assert (await ok(await http.get(f"{BASE}/effective", headers=auth)))["slug"] == "pets"
    await ok(await client.patch(BASE, json={"slug": "pups"}, headers=auth))
    assert (await ok(await client.get(f"{P}/pups/effective", headers=auth)))["slug"] == "pups"
    assert (await client.get(f"{BASE}/effective", headers=auth)).status_code == 404
    # The other process hears the rename through PostgreSQL (NOTIFY), within moments.
    for _ in range(200):
        if (await second_app.get(f"{BASE}/effective", headers=auth)).status_code == 404:
            break
        await asyncio.sleep(0.02)
    assert (await second_app.get(f"{BASE}/effective", headers=auth)).status_code == 404
    assert (await ok(await second_app.get(f"{P}/pups/effective", headers=auth)))["slug"] == "pups"


async def test_a_slug_taken_by_another_live_toolset_is_409_in_both_modes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await ok(await client.post(P, json={"name": "Other", "tool_urns": URNS[:1]}, headers=auth), 201)
    for mode in ("iteration", "staging"):
        await ok(await switch(client, auth, mode))
        taken = await client.patch(BASE, json={"slug": "other"}, headers=auth)
        assert (taken.status_code, taken.json()["code"]) == (409, "toolset_slug_taken")
    assert (await ok(await client.get(BASE, headers=auth)))["slug"] == "pets"


async def test_releases_do_not_capture_the_slug(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await project_with_toolset(client, auth)
    await ok(await client.post(f"{BASE}/releases", headers=auth), 201)
    await ok(await client.patch(BASE, json={"slug": "pups"}, headers=auth))  # iteration mode
    second = await ok(await client.post(f"{P}/pups/releases", headers=auth), 201)
    assert (
        second["toolset_version"]
        == (await ok(await client.get(f"{P}/pups/releases/1", headers=auth)))["toolset_version"]
    )
    diff = await ok(
        await client.get(f"{P}/pups/diff", params={"from": "release:1", "to": "live"}, headers=auth)
    )
    assert "slug" not in diff["metadata"]
    assert (await ok(await client.get(f"{P}/pups/releases/1/state", headers=auth)))["slug"] == "pups"
    audit = (await ok(await client.get(f"{P}/pups/audit", headers=auth)))["items"]
    assert [e["action"] for e in audit if e["action"] == "rename"] == ["rename"]
