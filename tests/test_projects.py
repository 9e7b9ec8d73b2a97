import httpx

from tests.conftest import MakeHeaders
from tests.factories import ok


async def test_create_get_and_list_projects(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await client.post("/v1/projects", json={"name": "Petstore", "slug": "petstore"}, headers=auth)
    assert created.status_code == 201
    assert created.json()["slug"] == "petstore"

    got = await client.get("/v1/projects/petstore", headers=auth)
    assert got.status_code == 200
    assert got.json()["id"] == created.json()["id"]

    listed = await client.get("/v1/projects", headers=auth)
    assert [p["slug"] for p in listed.json()["items"]] == ["petstore"]


async def test_duplicate_slug_is_a_conflict(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = {"name": "Petstore", "slug": "petstore"}
    assert (await client.post("/v1/projects", json=body, headers=auth)).status_code == 201
    again = await client.post("/v1/projects", json=body, headers=auth)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "project_slug_taken"


async def test_list_projects_pages_with_a_cursor(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for i in range(5):
        await ok(client.post("/v1/projects", json={"name": f"P{i}", "slug": f"p{i}"}, headers=auth))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/projects", params=params, headers=auth)).json()
        seen += [p["slug"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["p0", "p1", "p2", "p3", "p4"]


async def test_project_limits_follow_the_platform(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    too_long = await client.post("/v1/projects", json={"name": "x" * 41, "slug": "ok"}, headers=auth)
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "body.name"
    upper = await client.post("/v1/projects", json={"name": "Ok", "slug": "Not-Lower"}, headers=auth)
    assert upper.status_code == 422
    long_slug = await client.post("/v1/projects", json={"name": "Ok", "slug": "a" * 41}, headers=auth)
    assert long_slug.status_code == 422
    assert (await client.get("/v1/projects", headers=auth)).json()["items"] == []


async def test_another_organization_sees_404(client: httpx.AsyncClient, headers: MakeHeaders) -> None:
    mine = await headers(org="org-a")
    theirs = await headers(org="org-b")
    await ok(client.post("/v1/projects", json={"name": "Mine", "slug": "mine"}, headers=mine))
    assert (await client.get("/v1/projects/mine", headers=theirs)).status_code == 404
    assert (await client.get("/v1/projects", headers=theirs)).json()["items"] == []
    # The same slug is free in another organization.
    same = await client.post("/v1/projects", json={"name": "Mine", "slug": "mine"}, headers=theirs)
    assert same.status_code == 201
