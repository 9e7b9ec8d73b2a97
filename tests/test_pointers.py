"""The per-process cache of what each toolset serves, and its invalidation by NOTIFY."""

import asyncio
import time
from uuid import uuid4

import asyncpg
import httpx

from app.serving.pointers import CHANNEL, PointerCache
from tests.factories import ok
from tests.helpers_toolsets import BASE, effective, project_with_toolset, switch


def test_a_read_that_raced_an_invalidation_is_not_stored() -> None:
    cache = PointerCache()
    cache.set_listening(True)
    key = ("org", "p", "t")
    pointer = {"id": uuid4(), "editing_mode": "staging", "current_release_id": uuid4()}
    generation = cache.generation()
    cache.invalidate(pointer["id"])  # a NOTIFY arrives while the read is in flight
    cache.put(key, pointer, generation)
    assert cache.get(key) is None
    cache.put(key, pointer, cache.generation())
    assert cache.get(key) == pointer
    cache.invalidate(pointer["id"])
    assert cache.get(key) is None


def test_without_a_listener_the_cache_is_bypassed() -> None:
    cache = PointerCache()
    key = ("org", "p", "t")
    cache.put(key, {"id": uuid4()}, cache.generation())
    assert cache.get(key) is None
    cache.set_listening(True)
    cache.put(key, {"id": uuid4()}, cache.generation())
    cache.set_listening(False)  # the listening connection dropped
    assert cache.get(key) is None


async def test_the_trigger_notifies_when_what_a_toolset_serves_changes(
    client: httpx.AsyncClient, auth: dict[str, str], database_url: str
) -> None:
    toolset = await project_with_toolset(client, auth)
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))
        await ok(switch(client, auth, "staging"))
        assert await asyncio.wait_for(heard.get(), 5) == toolset["id"]
    finally:
        await listener.close()


async def test_another_process_serves_a_publish_as_soon_as_it_commits(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await ok(switch(client, auth, "staging"))
    # The switch's own NOTIFY may reach the second instance after its first read and drop
    # what that read cached (a notification is never ignored): read until it is cached.
    pointers = second_app.app.state.pointers  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while True:
        before = (await second_app.get(f"{BASE}/effective", headers=auth)).json()
        assert before["release_number"] == 1
        cached = pointers.get(("org-a", "p", "pets"))
        if cached is not None or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert cached is not None, "the second instance should now serve release 1 from its cache"

    await ok(client.post(f"{BASE}/staging", headers=auth))
    await ok(client.patch(f"{BASE}/staging", json={"name": "Published"}, headers=auth))
    assert (await client.post(f"{BASE}/staging/publish", headers=auth)).status_code == 201
    assert (await effective(client, auth))["release_number"] == 2  # this process: at once

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen = (await second_app.get(f"{BASE}/effective", headers=auth)).json()
        if seen["release_number"] == 2:
            break
        await asyncio.sleep(0.01)
    assert seen["release_number"] == 2
    assert seen["name"] == "Published"
