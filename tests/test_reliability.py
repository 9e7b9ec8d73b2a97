"""Several real server processes on one database: invariants under a mixed load, and kill -9.

Bounded in time and requests; every server listens on 127.0.0.1 only.
"""

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.db import migrations
from app.db.engine import create_engine
from app.kit.auth import insert_api_key
from tests.factories import make_tools
from tests.processes import ToolsetsProcess

TOOLSETS = ("alpha", "beta", "gamma")
URNS = [t["urn"] for t in make_tools(6)]


@pytest.fixture
async def cluster(
    new_database: Callable[[], Awaitable[str]],
) -> AsyncIterator[tuple[list[ToolsetsProcess], dict[str, str]]]:
    url = await new_database()
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(url, pool_size=1)
    async with engine.begin() as conn:
        key = await insert_api_key(conn, "org-r", ("read", "write", "release"), "reliability")
    await engine.dispose()
    servers = [ToolsetsProcess("serve", database_url=url) for _ in range(2)]
    await asyncio.gather(*(s.serve() for s in servers))
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=servers[0].url, headers=auth, timeout=30) as http:
        assert (await http.post("/v1/projects", json={"name": "R", "slug": "r"})).status_code == 201
        deployment = await http.post("/v1/projects/r/deployments", json={"tools": make_tools(6)})
        assert deployment.status_code == 201
        for slug in TOOLSETS:
            created = await http.post(
                "/v1/projects/r/toolsets", json={"name": slug, "slug": slug, "tool_urns": URNS[:3]}
            )
            assert created.status_code == 201
            mode = await http.put(f"/v1/projects/r/toolsets/{slug}/editing-mode", json={"mode": "staging"})
            assert mode.status_code == 200
    try:
        yield servers, {"url": url, **auth}
    finally:
        await asyncio.gather(*(server.stop() for server in servers))


async def one_operation(http: httpx.AsyncClient, rng: random.Random, published: dict[str, Any]) -> int:
    slug = rng.choice(TOOLSETS)
    base = f"/v1/projects/r/toolsets/{slug}"
    action = rng.choice(("create", "edit", "variation", "publish", "publish", "rollback", "discard"))
    if action == "create":
        response = await http.post(f"{base}/staging")
    elif action == "edit":
        response = await http.patch(
            f"{base}/staging", json={"tool_urns": rng.sample(URNS, rng.randint(1, 6))}
        )
    elif action == "variation":
        urn = rng.choice(URNS)
        response = await http.put(f"{base}/staging/variations/{urn}", json={"name": f"n{rng.randint(0, 99)}"})
    elif action == "publish":
        response = await http.post(f"{base}/staging/publish")
        if response.status_code == 201:
            number = response.json()["release_number"]
            state = await http.get(f"{base}/releases/{number}/state")
            published[f"{slug}:{number}"] = state.json()
    elif action == "rollback":
        response = await http.post(f"{base}/releases/{rng.randint(1, 4)}/rollback")
    else:
        response = await http.delete(f"{base}/staging")
    return response.status_code


async def check_invariants(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    async with engine.connect() as conn:
        gaps = (
            await conn.execute(
                text(
                    "SELECT toolset_id FROM toolset_releases GROUP BY toolset_id "
                    "HAVING max(release_number) <> count(*) OR count(DISTINCT release_number) <> count(*)"
                )
            )
        ).all()
        foreign_current = (
            await conn.execute(
                text(
                    "SELECT t.id FROM toolsets t JOIN toolset_releases r ON r.id = t.current_release_id "
                    "WHERE r.toolset_id <> t.id"
                )
            )
        ).all()
        stray_staging = (
            await conn.execute(
                text(
                    "SELECT s.parent_toolset_id FROM toolsets s "
                    "JOIN toolsets live ON live.id = s.parent_toolset_id "
                    "GROUP BY s.parent_toolset_id, live.editing_mode "
                    "HAVING count(*) > 1 OR live.editing_mode <> 'staging'"
                )
            )
        ).all()
        live_without_release = (
            await conn.execute(
                text(
                    "SELECT id FROM toolsets WHERE parent_toolset_id IS NULL AND editing_mode = 'staging' "
                    "AND current_release_id IS NULL"
                )
            )
        ).all()
    await engine.dispose()
    assert gaps == []
    assert foreign_current == []
    assert stray_staging == []
    assert live_without_release == []


async def assert_releases_reproducible(http: httpx.AsyncClient, published: dict[str, Any]) -> None:
    for key, state in published.items():
        slug, number = key.split(":")
        again = await http.get(f"/v1/projects/r/toolsets/{slug}/releases/{number}/state")
        assert again.json() == state, key


async def test_invariants_hold_under_mixed_load_from_two_processes(
    cluster: tuple[list[ToolsetsProcess], dict[str, str]],
) -> None:
    servers, info = cluster
    auth = {"Authorization": info["Authorization"]}
    published: dict[str, Any] = {}
    statuses: list[int] = []
    deadline = time.monotonic() + 8

    async def client(i: int) -> None:
        rng = random.Random(i)
        async with httpx.AsyncClient(base_url=servers[i % 2].url, headers=auth, timeout=30) as http:
            while time.monotonic() < deadline and len(statuses) < 2_000:
                statuses.append(await one_operation(http, rng, published))

    await asyncio.gather(*(client(i) for i in range(8)))
    assert statuses
    assert all(s < 500 for s in statuses), sorted(set(statuses))
    assert any(s == 201 for s in statuses)
    await check_invariants(info["url"])
    async with httpx.AsyncClient(base_url=servers[1].url, headers=auth, timeout=30) as http:
        await assert_releases_reproducible(http, published)


async def test_killing_a_server_mid_publish_loses_no_acknowledged_release(
    cluster: tuple[list[ToolsetsProcess], dict[str, str]],
) -> None:
    servers, info = cluster
    victim = servers[0]
    auth = {"Authorization": info["Authorization"]}
    acknowledged: set[tuple[str, int]] = set()
    flowing = asyncio.Event()

    async def publish_loop(slug: str, stop: asyncio.Event) -> None:
        base = f"/v1/projects/r/toolsets/{slug}"
        rng = random.Random(slug)
        async with httpx.AsyncClient(base_url=victim.url, headers=auth, timeout=10) as http:
            while not stop.is_set():
                try:
                    await http.post(f"{base}/staging")
                    await http.patch(f"{base}/staging", json={"tool_urns": rng.sample(URNS, 3)})
                    response = await http.post(f"{base}/staging/publish")
                    if response.status_code == 201:
                        acknowledged.add((slug, response.json()["release_number"]))
                        flowing.set()
                except httpx.TransportError:
                    await asyncio.sleep(0.05)  # the server is down; it comes back

    for _ in range(3):
        stop, flowing = asyncio.Event(), asyncio.Event()
        loops = [asyncio.create_task(publish_loop(slug, stop)) for slug in TOOLSETS]
        # Kill only once publishes are flowing, at a random moment among them.
        await asyncio.wait_for(flowing.wait(), 60)
        await asyncio.sleep(random.uniform(0, 0.3))
        await victim.kill()
        await victim.serve()
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*loops)

    assert acknowledged
    await check_invariants(info["url"])
    async with httpx.AsyncClient(base_url=servers[1].url, headers=auth, timeout=30) as http:
        for slug, number in acknowledged:
            release = await http.get(f"/v1/projects/r/toolsets/{slug}/releases/{number}")
            assert release.status_code == 200, (slug, number)
            state = await http.get(f"/v1/projects/r/toolsets/{slug}/releases/{number}/state")
            assert state.status_code == 200
