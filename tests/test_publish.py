"""publishStagingVersion in few round trips: what it writes, whatever the size, and its checks."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import side_engine
from tests.factories import ok
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch
from tests.test_capture import add_variations, toolset_of

# The live row's lock, the capture's locks, the context read and the publish (BEGIN/COMMIT
# aside), and beside the publish, on a side connection, the check of the staging copy's tool
# names (its planner settings, then the check).
PUBLISH_STATEMENTS = 4 + 2


@contextmanager
def app_statements(app: Any, connections: set[int] | None = None) -> Iterator[list[str]]:
    """The SQL statements the app's engines (its pool and its side pool) send meanwhile (and
    into `connections`, the database connections that sent them)."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])
        if connections is not None:
            connections.add(id(args[0].connection.dbapi_connection))

    engines = [app.state.engine.sync_engine, side_engine(app.state.engine).sync_engine]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def newest_version(client: httpx.AsyncClient, auth: dict[str, str], base: str, urn: str) -> Any:
    """The newest version of the live toolset's own variation of a tool."""
    return (await ok(client.get(f"{base}/variations/{urn}/versions", headers=auth)))["items"][0]


async def counted_publish(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    app: Any,
    base: str,
    body: dict[str, Any],
    connections: set[int] | None = None,
) -> tuple[httpx.Response, int]:
    await ok(client.get("/v1/projects", headers=auth))  # the key is cached: counted requests read no key
    with app_statements(app, connections) as statements:
        response = await client.post(f"{base}/staging/publish", json=body, headers=auth)
    return response, len(statements)


async def test_a_publish_is_the_same_statements_whatever_the_size(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine, app_and_tables: Any
) -> None:
    counts = {}
    for slug, n in (("small", 10), ("large", 800)):
        toolset = await toolset_of(client, auth, slug, n)
        await add_variations(engine, slug, toolset["id"], toolset["urns"])
        base = f"/v1/projects/{slug}/toolsets/all"
        await ok(client.put(f"{base}/editing-mode", json={"mode": "staging"}, headers=auth))
        await ok(client.post(f"{base}/staging", headers=auth), 201)
        urn = toolset["urns"][0]
        await ok(client.put(f"{base}/staging/variations/{urn}", json={"title": "Staged"}, headers=auth))
        await ok(client.delete(f"{base}/staging/variations/{toolset['urns'][1]}", headers=auth))

        connections: set[int] = set()
        published, counts[slug] = await counted_publish(
            client, auth, app_and_tables, base, {"notes": "n"}, connections
        )
        assert published.status_code == 201, published.text
        assert len(connections) == 2  # the tool names were checked alongside the publish
        assert published.json()["release_number"] == 2

        # What the publish wrote: the live variations, the pointer, no staging copy left.
        assert (await newest_version(client, auth, base, urn))["title"] == "Staged"
        assert (await newest_version(client, auth, base, toolset["urns"][1]))["deleted"] is True
        served = await ok(client.get(f"{base}/effective", headers=auth))
        assert served["release_number"] == 2
        tools = {t["urn"]: t for t in served["tools"]}
        assert tools[urn]["title"] == "Staged"
        assert tools[toolset["urns"][1]]["name"] == f"global {toolset['urns'][1]}"
        assert (await client.get(f"{base}/staging", headers=auth)).status_code == 404
        assert (await ok(client.get(base, headers=auth)))["current_release_number"] == 2
    # Without a blocking policy nothing is computed to compare: no state, no diff.
    assert counts == {"small": PUBLISH_STATEMENTS, "large": PUBLISH_STATEMENTS}


async def test_a_publish_records_the_move_the_audit_entry_and_the_key(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any
) -> None:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    await ok(client.patch(f"{BASE}/staging", json={"name": "Pets 2", "tool_urns": URNS[:3]}, headers=auth))
    key = {"Idempotency-Key": "publish-1", **auth}
    first = await client.post(f"{BASE}/staging/publish", json={"notes": "n", "name": "v2"}, headers=key)
    assert first.status_code == 201, first.text
    again = await client.post(f"{BASE}/staging/publish", json={"notes": "n", "name": "v2"}, headers=key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]

    live = await ok(client.get(BASE, headers=auth))
    assert (live["name"], live["tool_urns"], live["current_release_number"]) == ("Pets 2", URNS[:3], 2)
    release = first.json()
    assert (release["release_number"], release["name"], release["notes"]) == (2, "v2", "n")
    assert release["released_by"] is not None
    entry = (await ok(client.get(f"{BASE}/audit", headers=auth)))["items"][0]
    assert (entry["action"], entry["from_release_number"], entry["to_release_number"]) == ("publish", 1, 2)
    moves = (await ok(client.get(f"{BASE}/served-history", headers=auth)))["items"]
    assert (moves[0]["action"], moves[0]["from_release_number"], moves[0]["to_release_number"]) == (
        "publish",
        1,
        2,
    )

    # A name already taken is refused, and nothing moves.
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    taken = await client.post(f"{BASE}/staging/publish", json={"name": "v2"}, headers=auth)
    assert taken.status_code == 409
    assert taken.json()["code"] == "release_name_taken"
    assert (await ok(client.get(BASE, headers=auth)))["current_release_number"] == 2
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 200


async def test_the_first_own_variations_of_a_live_toolset_are_published(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """The live toolset has no variations group yet: publishing makes it."""
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    await ok(client.put(f"{BASE}/staging/variations/{URNS[0]}", json={"name": "fetch"}, headers=auth))
    await ok(client.post(f"{BASE}/staging/publish", json={}, headers=auth), 201)
    assert (await newest_version(client, auth, BASE, URNS[0]))["name"] == "fetch"
    served = await ok(client.get(f"{BASE}/effective", headers=auth))
    assert [t["name"] for t in served["tools"]] == ["fetch", "op_0001"]

    # And removing them all publishes tombstones.
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    await ok(client.delete(f"{BASE}/staging/variations/{URNS[0]}", headers=auth))
    await ok(client.post(f"{BASE}/staging/publish", json={}, headers=auth), 201)
    assert (await newest_version(client, auth, BASE, URNS[0]))["deleted"] is True
    served = await ok(client.get(f"{BASE}/effective", headers=auth))
    assert [t["name"] for t in served["tools"]] == ["op_0000", "op_0001"]


async def test_a_staging_copy_that_would_serve_two_tools_with_one_name_is_not_published(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any
) -> None:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    # With no staging copy, a global edit only changes current data, which nothing serves.
    await ok(client.put(f"/v1/projects/p/variations/{URNS[1]}", json={"name": "op_0000"}, headers=auth))
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    connections: set[int] = set()
    refused, _ = await counted_publish(client, auth, app_and_tables, BASE, {}, connections)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "duplicate_tool_names"
    assert refused.json()["duplicates"] == [{"name": "op_0000", "tool_urns": URNS[:2]}]
    assert len(connections) == 2  # checked beside the publish statement, which was undone
    # Nothing moved: still release 1, the staging copy is there, no audit entry.
    assert (await ok(client.get(BASE, headers=auth)))["current_release_number"] == 1
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 200
    releases = (await ok(client.get(f"{BASE}/releases", headers=auth)))["items"]
    assert [r["release_number"] for r in releases] == [1]
    assert [e["action"] for e in (await ok(client.get(f"{BASE}/audit", headers=auth)))["items"]] == [
        "mode_switch"
    ]


async def test_a_publish_refuses_breaking_changes_under_a_blocking_policy_without_acknowledgement(
    client: httpx.AsyncClient, auth: dict[str, str], app_and_tables: Any
) -> None:
    """The policy is read with the lock; the states are compared only when it blocks."""
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    await ok(client.put(f"{BASE}/policy", json={"block_breaking": True}, headers=auth))
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    await ok(client.patch(f"{BASE}/staging", json={"tool_urns": [URNS[1]]}, headers=auth))
    refused, statements = await counted_publish(client, auth, app_and_tables, BASE, {})
    assert refused.status_code == 409
    assert refused.json()["code"] == "breaking_changes"
    assert statements > 2  # the staging copy's state was computed (the release's may be cached)
    published = await client.post(
        f"{BASE}/staging/publish", json={"acknowledge_breaking": True}, headers=auth
    )
    assert published.status_code == 201, published.text
    assert published.json()["acknowledged_breaking"] is True


async def test_a_lost_database_connection_answers_503_with_retry_after(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    """A connection that dies mid-request (the server restarted, a proxy dropped it) is the
    client's to retry, not a 500; the pool is renewed, so the retry succeeds."""
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    live_row = "SELECT id FROM toolsets WHERE slug = 'pets' AND parent_toolset_id IS NULL FOR UPDATE"
    waiting_for_it = (
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    async with engine.connect() as holder, engine.connect() as probe:
        await holder.execute(text(live_row))  # the publish waits for the live row's lock…
        publish = asyncio.ensure_future(client.post(f"{BASE}/staging/publish", json={}, headers=auth))
        for _ in range(500):
            pids = list((await probe.execute(text(waiting_for_it))).scalars())
            if pids:  # …and its connection ends while it waits
                await probe.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
                break
            await asyncio.sleep(0.01)
        response = await publish
        await holder.rollback()
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    retried = await client.post(f"{BASE}/staging/publish", json={}, headers=auth)
    assert retried.status_code == 201, retried.text


async def test_a_publish_that_needs_approvals_counts_them_and_computes_the_state_once(
    client: httpx.AsyncClient, auth: dict[str, str], headers: Any, app_and_tables: Any
) -> None:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    await ok(client.put(f"{BASE}/policy", json={"required_approvals": 1}, headers=auth))
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    refused, _ = await counted_publish(client, auth, app_and_tables, BASE, {})
    assert refused.status_code == 409
    assert refused.json()["code"] == "approval_required"
    review = await ok(client.post(f"{BASE}/staging/review", json={}, headers=auth), 201)
    await ok(
        client.post(f"{BASE}/staging/review/approvals", json={}, headers=await headers(scopes=("approve",)))
    )
    published, statements = await counted_publish(client, auth, app_and_tables, BASE, {})
    assert published.status_code == 201, published.text
    # The approvals are counted in the context read; one more statement computes the state,
    # to check it is still the one reviewed (a project-wide change does not move the version).
    assert statements == PUBLISH_STATEMENTS + 1
    entry = (await ok(client.get(f"{BASE}/audit", headers=auth)))["items"][0]
    assert (entry["details"]["review_id"], entry["details"]["approvals"]) == (review["id"], 1)
    done = await ok(client.get(f"{BASE}/staging/review", headers=auth))
    assert done["release_number"] == 2
