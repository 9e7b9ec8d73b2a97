import httpx

from tests.conftest import MakeHeaders


async def test_missing_key_is_401_with_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/projects")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthorized"


async def test_unknown_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/projects", headers={"Authorization": "Bearer tsk_nope"})
    assert response.status_code == 401


async def test_missing_scope_is_403(client: httpx.AsyncClient, headers: MakeHeaders) -> None:
    read_only = await headers(scopes=("read",))
    response = await client.post("/v1/projects", json={"name": "A", "slug": "a"}, headers=read_only)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert (await client.get("/v1/projects", headers=read_only)).status_code == 200

    write_only = await headers(scopes=("write",))
    assert (await client.get("/v1/projects", headers=write_only)).status_code == 403


async def test_malformed_json_is_400(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.post(
        "/v1/projects",
        content=b'{"name": ',
        headers=auth | {"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_invalid_cursor_is_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.get("/v1/projects", params={"cursor": "%%%"}, headers=auth)
    assert response.status_code == 422


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert (await client.get("/healthz")).headers["x-request-id"]


async def test_readyz_reports_the_schema_at_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
