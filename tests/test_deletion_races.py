"""A read racing the deletion of its toolset answers 404 (or what it read before), never 500.

The race is made deterministic: right after a request has found the live toolset, the
toolset is deleted and committed on another connection, as a concurrent DELETE from
another server process would; the rest of the request then runs against a toolset that
is gone.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.toolsets import queries as toolset_queries
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch
from tests.test_limits import ROUTES, url_for

TOOLSET_READS = [
    path for method, path, _ in ROUTES if method == "GET" and "/toolsets/{toolset}" in path and "{" in path
]


async def prepared(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    """A staging-mode toolset with a release, a staging copy and a variation everywhere."""
    await project_with_toolset(client, auth)
    for url in (f"/v1/projects/p/variations/{URNS[0]}", f"{BASE}/variations/{URNS[0]}"):
        assert (await client.put(url, json={"name": "v"}, headers=auth)).status_code == 200
    assert (await switch(client, auth, "staging")).status_code == 200
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201


def deleting_after(
    monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine, name: str
) -> Callable[[], Awaitable[None]]:
    """Wrap the query `name` of toolsets/queries.py so that the toolset is deleted (committed,
    on another connection) right after the request's lookup found it."""
    real = getattr(toolset_queries, name)

    async def found_then_deleted(*args: Any, **kwargs: Any) -> Any:
        row = await real(*args, **kwargs)
        if row is not None:
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM toolsets WHERE slug = 'pets'"))
        return row

    monkeypatch.setattr(toolset_queries, name, found_then_deleted)

    async def restore() -> None:
        monkeypatch.setattr(toolset_queries, name, real)

    return restore


# The served-state engine finds a toolset by its pointer; every other read by its live row.
RACES = [
    (path, "find_live_pointer" if path.endswith("/effective") else "find_live_toolset")
    for path in TOOLSET_READS
]


# The required query parameters of the reads that have some.
QUERIES = {"diff": {"from": "release:1", "to": "live"}, "served-at": {"time": "2026-11-29T00:00:00Z"}}


@pytest.mark.parametrize(("path", "lookup"), RACES)
async def test_a_read_racing_the_deletion_of_its_toolset_is_404_not_500(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    lookup: str,
) -> None:
    await prepared(client, auth)
    url = url_for(path)
    params = QUERIES.get(path.rsplit("/", 1)[-1])
    before = await client.get(url, params=params, headers=auth)
    # 404 for a path naming an object the setup did not make (a scheduled publish): the
    # race is the same, and it must not turn into a 500 either.
    assert before.status_code in (200, 404), before.text
    forget_cached_states(client)  # so that the raced read looks the toolset up
    deleting_after(monkeypatch, engine, lookup)
    raced = await client.get(url, params=params, headers=auth)
    assert raced.status_code in (200, 404), raced.text
    assert await eventually_404(client, url, params, auth)
    assert (await client.get("/v1/projects/p/toolsets", headers=auth)).json()["items"] == []


def forget_cached_states(client: httpx.AsyncClient) -> None:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    app.state.pointers.invalidate()
    app.state.serving.forget_releases()


async def eventually_404(
    client: httpx.AsyncClient, url: str, params: dict[str, str] | None, auth: dict[str, str]
) -> bool:
    """404 once this process has heard of the deletion (NOTIFY, within moments)."""
    for _ in range(250):
        response = await client.get(url, params=params, headers=auth)
        assert response.status_code in (200, 404), response.text
        if response.status_code == 404:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_cached_served_state_is_404_once_the_deletion_is_heard(
    client: httpx.AsyncClient, auth: dict[str, str], second_app: httpx.AsyncClient
) -> None:
    await prepared(client, auth)
    for http in (client, second_app, client, second_app):
        assert (await http.get(f"{BASE}/effective", headers=auth)).status_code == 200
    assert (await second_app.delete(BASE, headers=auth)).status_code == 204
    for http in (second_app, client):
        assert await eventually_404(http, f"{BASE}/effective", None, auth)


async def test_any_row_that_vanishes_mid_request_is_a_404_problem(database_url: str) -> None:
    """The safety net under every route: a lookup whose row is gone is 404, not 500."""
    app = create_app(database_url)

    async def vanished() -> None:
        async with app.state.engine.connect() as conn:
            (await conn.execute(text("SELECT 1 WHERE false"))).one()

    app.add_api_route("/vanished", vanished)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/vanished")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
