"""Project snapshots: record what every staging-mode toolset serves, restore it all or nothing."""

import asyncio
import random
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_deployment, create_project, make_tools
from tests.helpers_toolsets import URNS

P = "/v1/projects/p"


async def staged_toolset(client: httpx.AsyncClient, auth: dict[str, str], slug: str) -> None:
    """A toolset in staging mode serving release 1 (the first two tools)."""
    created = await client.post(
        f"{P}/toolsets", json={"name": slug, "slug": slug, "tool_urns": URNS[:2]}, headers=auth
    )
    assert created.status_code == 201, created.text
    switched = await client.put(f"{P}/toolsets/{slug}/editing-mode", json={"mode": "staging"}, headers=auth)
    assert switched.status_code == 200


async def publish(
    client: httpx.AsyncClient, auth: dict[str, str], slug: str, tool_urns: list[str]
) -> httpx.Response:
    await client.post(f"{P}/toolsets/{slug}/staging", headers=auth)
    await client.patch(f"{P}/toolsets/{slug}/staging", json={"tool_urns": tool_urns}, headers=auth)
    return await client.post(f"{P}/toolsets/{slug}/staging/publish", headers=auth)


async def current(client: httpx.AsyncClient, auth: dict[str, str], slug: str) -> int | None:
    number: int | None = (await client.get(f"{P}/toolsets/{slug}", headers=auth)).json()[
        "current_release_number"
    ]
    return number


async def world(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    """Project `p`: `pets` and `shop` in staging mode at release 1, `draft` in iteration mode;
    a snapshot of that; then `pets` and `shop` publish release 2 (a third tool)."""
    await create_project(client, auth, "p")
    await create_deployment(client, auth, "p", make_tools(4))
    await staged_toolset(client, auth, "pets")
    await staged_toolset(client, auth, "shop")
    await client.post(f"{P}/toolsets", json={"name": "draft", "tool_urns": URNS[:1]}, headers=auth)
    snapshot = await client.post(f"{P}/snapshots", json={"name": "before 2"}, headers=auth)
    assert snapshot.status_code == 201, snapshot.text
    for slug in ("pets", "shop"):
        assert (await publish(client, auth, slug, URNS[:3])).status_code == 201
    body: dict[str, Any] = snapshot.json()
    return body


async def test_a_snapshot_records_what_every_staging_toolset_serves(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    snapshot = await world(client, auth)
    assert snapshot["name"] == "before 2"
    assert snapshot["toolsets"] == [
        {"toolset": "pets", "release_number": 1, "exists": True},
        {"toolset": "shop", "release_number": 1, "exists": True},
    ]
    got = await client.get(f"{P}/snapshots/{snapshot['id']}", headers=auth)
    assert got.json() == snapshot
    second = (await client.post(f"{P}/snapshots", headers=auth)).json()
    listed = (await client.get(f"{P}/snapshots", params={"limit": 1}, headers=auth)).json()
    assert [s["id"] for s in listed["items"]] == [second["id"]]
    rest = (await client.get(f"{P}/snapshots", params={"cursor": listed["next_cursor"]}, headers=auth)).json()
    assert [s["id"] for s in rest["items"]] == [snapshot["id"]]
    assert (await client.get(f"{P}/snapshots/{uuid.uuid4()}", headers=auth)).status_code == 404
    assert (await client.get(f"{P}/snapshots/not-a-uuid", headers=auth)).status_code == 422


async def test_restore_moves_every_toolset_back_in_one_go(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    snapshot = await world(client, auth)
    restore = f"{P}/snapshots/{snapshot['id']}/restore"
    dry = await client.post(restore, params={"dry_run": "true"}, headers=auth)
    assert dry.status_code == 200, dry.text
    plan = dry.json()
    assert plan["dry_run"] is True
    assert [
        (t["toolset"], t["from_release_number"], t["to_release_number"], t["moved"], t["impact"])
        for t in plan["toolsets"]
    ] == [
        ("pets", 2, 1, True, "breaking"),
        ("shop", 2, 1, True, "breaking"),
    ]
    assert (await current(client, auth, "pets"), await current(client, auth, "shop")) == (2, 2)

    done = await client.post(restore, json={"reason": "2 misbehaves"}, headers=auth)
    assert done.status_code == 200, done.text
    assert done.json()["dry_run"] is False
    assert (await current(client, auth, "pets"), await current(client, auth, "shop")) == (1, 1)
    state = (await client.get(f"{P}/toolsets/pets/effective", headers=auth)).json()
    assert state["release_number"] == 1
    assert [t["urn"] for t in state["tools"]] == URNS[:2]
    for slug in ("pets", "shop"):
        entry = (await client.get(f"{P}/toolsets/{slug}/audit", headers=auth)).json()["items"][0]
        assert (entry["action"], entry["from_release_number"], entry["to_release_number"]) == (
            "snapshot_restore",
            2,
            1,
        )
        assert entry["details"] == {"snapshot_id": snapshot["id"], "reason": "2 misbehaves"}
        [move] = (
            await client.get(f"{P}/toolsets/{slug}/served-history", params={"limit": 1}, headers=auth)
        ).json()["items"]
        assert (move["action"], move["from_release_number"], move["to_release_number"], move["reason"]) == (
            "snapshot_restore",
            2,
            1,
            "2 misbehaves",
        )
    again = (await client.post(restore, headers=auth)).json()
    assert [t["moved"] for t in again["toolsets"]] == [False, False]


async def test_restore_is_all_or_nothing(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    snapshot = await world(client, auth)
    restore = f"{P}/snapshots/{snapshot['id']}/restore"
    await client.put(f"{P}/toolsets/shop/editing-mode", json={"mode": "iteration"}, headers=auth)
    refused = await client.post(restore, headers=auth)
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "snapshot_not_restorable"
    assert body["toolsets"] == [{"toolset": "shop", "problem": "not_in_staging_mode"}]
    assert "'shop'" in body["detail"]
    assert await current(client, auth, "pets") == 2  # nothing moved

    assert (await client.delete(f"{P}/toolsets/shop", headers=auth)).status_code == 204
    gone = (await client.post(restore, headers=auth)).json()
    assert gone["toolsets"] == [{"toolset": "shop", "problem": "deleted"}]
    assert (await client.get(f"{P}/snapshots/{snapshot['id']}", headers=auth)).json()["toolsets"][1][
        "exists"
    ] is False
    assert await current(client, auth, "pets") == 2


async def test_restore_honours_each_toolsets_breaking_policy(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    snapshot = await world(client, auth)
    restore = f"{P}/snapshots/{snapshot['id']}/restore"
    await client.put(f"{P}/toolsets/shop/policy", json={"block_breaking": True}, headers=auth)
    refused = await client.post(restore, headers=auth)
    assert refused.status_code == 409
    assert refused.json()["code"] == "breaking_changes"
    assert [(c["toolset"], c["item"], c["change"]) for c in refused.json()["changes"]] == [
        ("shop", URNS[2], "removed")
    ]
    assert (await current(client, auth, "pets"), await current(client, auth, "shop")) == (2, 2)
    done = await client.post(restore, json={"acknowledge_breaking": True}, headers=auth)
    assert done.status_code == 200
    entry = (await client.get(f"{P}/toolsets/shop/audit", headers=auth)).json()["items"][0]
    assert entry["details"]["acknowledged_breaking"] is True


async def invariants(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        gaps = await conn.execute(
            text(
                "SELECT toolset_id FROM toolset_releases GROUP BY toolset_id "
                "HAVING count(*) <> max(release_number) OR min(release_number) <> 1"
            )
        )
        assert list(gaps) == []
        pointers = list(
            await conn.execute(
                text(
                    """
                    SELECT t.slug, r.release_number, r.toolset_id = t.id AS own,
                           (SELECT h.to_release_number FROM served_history h
                            WHERE h.toolset_id = t.id AND h.label IS NULL
                            ORDER BY h.created_at DESC, h.id DESC LIMIT 1) AS last_move
                    FROM toolsets t JOIN toolset_releases r ON r.id = t.current_release_id
                    WHERE t.parent_toolset_id IS NULL
                    """
                )
            )
        )
        assert len(pointers) == 3
        for slug, number, own, last_move in pointers:
            assert own, slug
            assert last_move == number, (slug, number, last_move)
        chains = await conn.execute(
            text(
                """
                SELECT toolset_id, from_release_number, to_release_number,
                       lag(to_release_number)
                           OVER (PARTITION BY toolset_id ORDER BY created_at, id) AS previous
                FROM served_history WHERE label IS NULL
                """
            )
        )
        for _, from_number, _, previous in chains:
            assert previous is None or previous == from_number


async def test_restores_racing_publishes_and_rollbacks_keep_every_invariant(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await create_project(client, auth, "p")
    await create_deployment(client, auth, "p", make_tools(4))
    slugs = ["a", "b", "c"]
    for slug in slugs:
        await staged_toolset(client, auth, slug)
    snapshot = (await client.post(f"{P}/snapshots", headers=auth)).json()
    rng = random.Random(16)
    statuses: list[int] = []

    async def restores() -> None:
        for _ in range(8):
            response = await client.post(f"{P}/snapshots/{snapshot['id']}/restore", headers=auth)
            statuses.append(response.status_code)

    async def publishes(slug: str) -> None:
        for n in range(5):
            response = await publish(second_app, auth, slug, URNS[: 1 + (n % 3)])
            statuses.append(response.status_code)

    async def rollbacks(slug: str) -> None:
        for _ in range(6):
            number = rng.randint(1, 3)
            response = await second_app.post(f"{P}/toolsets/{slug}/releases/{number}/rollback", headers=auth)
            statuses.append(response.status_code)

    await asyncio.gather(restores(), *(publishes(s) for s in slugs), rollbacks("a"), rollbacks("c"))
    assert all(code < 500 for code in statuses), statuses
    assert statuses.count(200) >= 8
    await invariants(engine)
    # Every process reads what the database says.
    for slug in slugs:
        first = (await client.get(f"{P}/toolsets/{slug}/effective", headers=auth)).json()
        second = (await second_app.get(f"{P}/toolsets/{slug}/effective", headers=auth)).json()
        assert first == second
