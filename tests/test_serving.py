"""The served-state engine: iteration-mode caching and its invalidation across processes,
the diff side `next`, bounded caches, and 503 instead of cascading failures."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.serving.caches import ServedCache
from tests.conftest import AppWithSettings
from tests.helpers_toolsets import BASE, URNS, effective, project_with_toolset, switch


async def put_global_variation(
    client: httpx.AsyncClient, auth: dict[str, str], urn: str, **fields: Any
) -> None:
    response = await client.put(f"/v1/projects/p/variations/{urn}", json=fields, headers=auth)
    assert response.status_code == 200, response.text


def tool(state: dict[str, Any], urn: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in state["tools"] if t["urn"] == urn)
    return found


class _NoDatabase:
    def connect(self) -> Any:
        raise AssertionError("an unchanged served state must be answered from the cache")


async def test_an_unchanged_iteration_mode_state_is_a_cache_hit_and_an_edit_is_served_at_once(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any
) -> None:
    await project_with_toolset(client, auth)
    first = await client.get(f"{BASE}/effective", headers=auth)  # computes and caches
    serving = app_and_tables.state.serving
    engine, serving.engine = serving.engine, _NoDatabase()
    try:
        again = await client.get(f"{BASE}/effective", headers=auth)
    finally:
        serving.engine = engine
    assert again.status_code == 200
    assert again.content == first.content

    await put_global_variation(client, auth, URNS[0], description="Edited")
    assert tool(await effective(client, auth), URNS[0])["description"] == "Edited"


async def test_an_edit_through_one_process_is_served_by_another_once_its_notify_arrives(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    before = (await second_app.get(f"{BASE}/effective", headers=auth)).json()  # the second process caches it
    second_cache: ServedCache = second_app.app.state.pointers  # type: ignore[attr-defined]
    assert second_cache.listening
    generation = second_cache.generation()

    await put_global_variation(client, auth, URNS[0], description="Seen everywhere")
    deadline = time.monotonic() + 10
    while second_cache.generation() == generation and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)  # the NOTIFY travels: milliseconds, not a TTL
    assert second_cache.generation() != generation, "the second process never heard the change"

    after = (await second_app.get(f"{BASE}/effective", headers=auth)).json()
    assert tool(before, URNS[0])["description"] != "Seen everywhere"
    assert tool(after, URNS[0])["description"] == "Seen everywhere"


async def test_every_dependency_of_a_served_state_notifies_the_other_processes(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """Toolset variation, template revision, deployment: each reaches the second process."""
    await project_with_toolset(client, auth)
    second_cache: ServedCache = second_app.app.state.pointers  # type: ignore[attr-defined]

    async def seen_by_second(check: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            state: dict[str, Any] = (await second_app.get(f"{BASE}/effective", headers=auth)).json()
            if check(state) or time.monotonic() > deadline:
                return state
            await asyncio.sleep(0.01)

    await seen_by_second(lambda s: True)  # cached in the second process
    response = await client.put(f"{BASE}/variations/{URNS[1]}", json={"title": "Own"}, headers=auth)
    assert response.status_code == 200
    assert tool(await seen_by_second(lambda s: tool(s, URNS[1])["title"] == "Own"), URNS[1])["title"] == "Own"

    response = await client.put("/v1/projects/p/prompt-templates/greet", json={"prompt": "Hi"}, headers=auth)
    assert response.status_code == 200, response.text
    state = await seen_by_second(lambda s: s["prompts"][0]["prompt"] == "Hi")
    assert state["prompts"][0]["prompt"] == "Hi"
    assert second_cache.listening


async def test_without_its_listener_a_process_computes_instead_of_serving_its_cache(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any, engine: AsyncEngine
) -> None:
    toolset = await project_with_toolset(client, auth)
    await effective(client, auth)  # cached
    cache: ServedCache = app_and_tables.state.pointers
    cache.set_listening(False)  # as when the listening connection drops
    try:
        async with engine.begin() as conn:  # a change this process did not make
            await conn.execute(
                text("UPDATE toolsets SET description = 'changed elsewhere' WHERE id = :id"),
                {"id": toolset["id"]},
            )
        assert (await effective(client, auth))["description"] == "changed elsewhere"
    finally:
        cache.set_listening(True)


async def test_the_diff_side_next_shows_what_create_release_would_capture(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    await put_global_variation(client, auth, URNS[0], description="Upstream change")

    served = await effective(client, auth)
    assert tool(served, URNS[0])["description"] != "Upstream change"  # staging mode: not yet served
    diff = (await client.get(f"{BASE}/diff", params={"from": "live", "to": "next"}, headers=auth)).json()
    changed = {c["urn"]: c["fields"] for c in diff["tools"]["changed"]}
    assert changed[URNS[0]]["description"]["to"] == "Upstream change"

    release = await client.post(f"{BASE}/releases", json={}, headers=auth)
    assert release.status_code == 201
    number = release.json()["release_number"]
    same = (
        await client.get(f"{BASE}/diff", params={"from": f"release:{number}", "to": "next"}, headers=auth)
    ).json()
    assert same["tools"] == {"added": [], "removed": [], "changed": []}
    assert same["metadata"] == {}
    assert tool(await effective(client, auth), URNS[0])["description"] == "Upstream change"


def test_the_body_cache_is_bounded_by_bytes() -> None:
    cache = ServedCache(max_body_bytes=10_000)
    cache.set_listening(True)
    for _ in range(20):
        cache.put_release_body(uuid4(), "pets", b"x" * 3_000)
    assert 0 < cache.body_bytes() <= 10_000
    huge = cache.put_release_body(uuid4(), "pets", b"x" * 20_000)  # served, not kept
    assert huge.body == b"x" * 20_000
    assert cache.body_bytes() <= 10_000


def test_the_pointer_cache_is_bounded_by_bytes() -> None:
    cache = ServedCache(max_pointer_bytes=10_000)
    cache.set_listening(True)
    addresses = [("org-a", "p", f"toolset-{i:03d}") for i in range(100)]
    for address in addresses:
        pointer = {
            "id": uuid4(),
            "project_id": uuid4(),
            "editing_mode": "staging",
            "current_release_id": uuid4(),
        }
        cache.put(address, pointer, cache.generation())
    assert 0 < cache.pointer_bytes() <= 10_000
    assert cache.get(addresses[0]) is None  # the least recently stored went first
    assert cache.get(addresses[-1]) is not None


@pytest.fixture
async def small_pointer_cache_app(
    app_with_settings: AppWithSettings, client: httpx.AsyncClient
) -> AsyncIterator[Any]:
    async with app_with_settings(TOOLSETS_POINTER_CACHE_BYTES="3000") as app:  # two or three pointers
        yield app


async def test_reads_of_more_toolsets_than_the_pointer_cache_holds_are_all_served(
    small_pointer_cache_app: Any, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    slugs = [f"t{i}" for i in range(8)]
    for slug in slugs:
        body = {"name": slug, "slug": slug, "tool_urns": [URNS[0]]}
        assert (await client.post("/v1/projects/p/toolsets", json=body, headers=auth)).status_code == 201
    transport = httpx.ASGITransport(app=small_pointer_cache_app, raise_app_exceptions=False)
    cache = small_pointer_cache_app.state.pointers
    for _ in range(1000):  # pointers are kept only while the NOTIFY listener is up
        if cache.listening:
            break
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(transport=transport, base_url="http://small") as small:
        for _ in range(2):
            for slug in slugs:
                served = await small.get(f"/v1/projects/p/toolsets/{slug}/effective", headers=auth)
                assert served.status_code == 200
                assert served.json()["slug"] == slug
                assert 0 < cache.pointer_bytes() <= 3000
    assert cache.get(("org-a", "p", slugs[0])) is None
    assert cache.get(("org-a", "p", slugs[-1])) is not None


@pytest.fixture
async def small_pool_app(app_with_settings: AppWithSettings, client: httpx.AsyncClient) -> AsyncIterator[Any]:
    async with app_with_settings(
        TOOLSETS_DB_POOL_SIZE="1", TOOLSETS_DB_POOL_TIMEOUT_SECONDS="0.2", TOOLSETS_STATEMENT_TIMEOUT_MS="500"
    ) as app:
        yield app


async def test_an_exhausted_pool_answers_503_with_retry_after(
    small_pool_app: Any, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    transport = httpx.ASGITransport(app=small_pool_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://small") as small:
        engine: AsyncEngine = small_pool_app.state.engine
        async with engine.connect(), engine.connect():  # the pool (1) and its overflow (1) are taken
            response = await small.get("/v1/projects/p/toolsets/pets", headers=auth)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["code"] == "service_unavailable"
        assert (await small.get("/v1/projects/p/toolsets/pets", headers=auth)).status_code == 200


async def test_a_statement_that_runs_too_long_answers_503_and_frees_its_connection(
    small_pool_app: Any, client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    toolset = await project_with_toolset(client, auth)
    transport = httpx.ASGITransport(app=small_pool_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://small") as small:
        await small.get("/v1/projects/p/toolsets/pets", headers=auth)  # the key is cached
        async with engine.begin() as conn:  # another session holds the toolset's row lock
            await conn.execute(
                text("SELECT 1 FROM toolsets WHERE id = :id FOR UPDATE"), {"id": toolset["id"]}
            )
            response = await small.patch(BASE, json={"description": "waits"}, headers=auth)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert (await small.get("/v1/projects/p/toolsets/pets", headers=auth)).status_code == 200


async def test_a_variations_group_holds_variations_of_a_bounded_number_of_tools(
    client: httpx.AsyncClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.variations import service as variation_service

    await project_with_toolset(client, auth)
    monkeypatch.setattr(variation_service, "MAX_TOOLS_PER_GROUP", 2)
    await put_global_variation(client, auth, URNS[0], description="one")
    await put_global_variation(client, auth, URNS[1], description="two")
    await put_global_variation(client, auth, URNS[1], description="an edit is not a new tool")
    refused = await client.put(f"/v1/projects/p/variations/{URNS[2]}", json={"title": "three"}, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["code"] == "too_many_variations"
    assert (await client.delete(f"/v1/projects/p/variations/{URNS[0]}", headers=auth)).status_code == 204
    await put_global_variation(client, auth, URNS[2], description="room again")
