"""getEffectiveToolset from the caches alone: the same answer, and the same refusals."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from app.serving.engine import served_states
from tests.conftest import MakeHeaders
from tests.factories import ok
from tests.helpers_toolsets import BASE, project_with_toolset, switch


class _NoDatabase:
    def connect(self) -> Any:
        raise AssertionError("the fast path must not touch the database")


async def _no_route() -> None:
    raise AssertionError("the fast path must answer before FastAPI's route")


@contextmanager
def without_database_or_route(app: Any) -> Iterator[None]:
    engine, app.state.engine = app.state.engine, _NoDatabase()
    app.dependency_overrides[served_states] = _no_route
    try:
        yield
    finally:
        app.state.engine = engine
        app.dependency_overrides.pop(served_states)


async def test_a_cached_staging_mode_read_is_answered_before_routing_without_the_database(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any
) -> None:
    await project_with_toolset(client, auth)
    await ok(switch(client, auth, "staging"))
    first = await client.get(f"{BASE}/effective", headers=auth)  # fills the caches
    with without_database_or_route(app_and_tables):
        fast = await client.get(f"{BASE}/effective", headers=auth)
    assert fast.status_code == 200
    assert fast.content == first.content
    assert fast.headers["content-type"] == "application/json"
    assert fast.headers["x-request-id"]
    metrics = (await client.get("/metrics")).text
    assert 'route="/v1/projects/{project}/toolsets/{toolset}/effective",status="200"' in metrics


async def test_the_fast_path_refuses_what_the_route_refuses(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await project_with_toolset(client, auth)
    await ok(switch(client, auth, "staging"))
    assert (await client.get(f"{BASE}/effective", headers=auth)).status_code == 200
    write_only = await headers(scopes=("write",))
    stranger = await headers(org="org-b")
    # Both keys are verified (and so cached) by a first request of their own.
    assert (await client.get("/v1/projects", headers=write_only)).status_code == 403
    await ok(client.get("/v1/projects", headers=stranger))
    assert (await client.get(f"{BASE}/effective", headers=write_only)).status_code == 403
    assert (await client.get(f"{BASE}/effective", headers=stranger)).status_code == 404
    assert (
        await client.get(f"{BASE}/effective", headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    assert (await client.get(f"{BASE}/effective")).status_code == 401
