"""Served history and served-at: which release (or iteration mode) clients saw at any instant."""

from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch


async def served_at(
    client: httpx.AsyncClient, auth: dict[str, str], time: datetime, label: str | None = None
) -> httpx.Response:
    params = {"time": time.isoformat()} | ({"label": label} if label else {})
    return await client.get(f"{BASE}/served-at", params=params, headers=auth)


async def history(client: httpx.AsyncClient, auth: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = (
            await client.get(
                f"{BASE}/served-history",
                params={"limit": 2, **params} | ({"cursor": cursor} if cursor else {}),
                headers=auth,
            )
        ).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_every_move_of_the_served_pointer_is_recorded_and_answerable(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    toolset = await project_with_toolset(client, auth)
    created = datetime.fromisoformat(toolset["created_at"])
    # Iteration mode: a release is a checkpoint, clients still see current data: no move.
    await client.post(f"{BASE}/releases", headers=auth)  # release 1
    await switch(client, auth, "staging")  # serves release 1 (reused: nothing changed)
    await client.post(f"{BASE}/staging", headers=auth)
    await client.patch(f"{BASE}/staging", json={"tool_urns": URNS[:3]}, headers=auth)
    await client.post(f"{BASE}/staging/publish", headers=auth)  # release 2
    await client.put(f"{BASE}/labels/stable", json={"release_number": 2}, headers=auth)
    await client.post(f"{BASE}/releases/1/rollback", json={"reason": "too many tools"}, headers=auth)
    await client.put(f"{BASE}/labels/stable", json={"release_number": 1}, headers=auth)
    await client.post(f"{BASE}/releases/1/rollback", headers=auth)  # already current: no move
    await switch(client, auth, "iteration")
    await switch(client, auth, "staging")  # nothing changed since release 1: serves it again

    moves = list(reversed(await history(client, auth, label="current")))
    assert [
        (m["action"], m["from_mode"], m["from_release_number"], m["to_mode"], m["to_release_number"])
        for m in moves
    ] == [
        ("mode_switch", "iteration", None, "staging", 1),
        ("publish", "staging", 1, "staging", 2),
        ("rollback", "staging", 2, "staging", 1),
        ("mode_switch", "staging", 1, "iteration", None),
        ("mode_switch", "iteration", None, "staging", 1),
    ]
    assert moves[2]["reason"] == "too many tools"
    assert all(m["label"] == "current" and m["actor"] for m in moves)
    label_moves = list(reversed(await history(client, auth, label="stable")))
    assert [(m["action"], m["from_release_number"], m["to_release_number"]) for m in label_moves] == [
        ("label_move", None, 2),
        ("label_move", 2, 1),
    ]
    everything = await history(client, auth)
    assert len(everything) == len(moves) + len(label_moves)

    # At each move's instant clients got its `to`; a moment before, its `from`.
    for move in moves:
        at = datetime.fromisoformat(move["created_at"])
        now = (await served_at(client, auth, at)).json()
        assert (now["editing_mode"], now["release_number"], now["since"]) == (
            move["to_mode"],
            move["to_release_number"],
            move["created_at"],
        )
        before = (await served_at(client, auth, at - timedelta(microseconds=1))).json()
        assert (before["editing_mode"], before["release_number"]) == (
            move["from_mode"],
            move["from_release_number"],
        )
    for move in label_moves:
        at = datetime.fromisoformat(move["created_at"])
        assert (await served_at(client, auth, at, "stable")).json()["release_number"] == move[
            "to_release_number"
        ]
    first_label_move = datetime.fromisoformat(label_moves[0]["created_at"])
    missing = await served_at(client, auth, first_label_move - timedelta(microseconds=1), "stable")
    assert missing.status_code == 404

    assert (await served_at(client, auth, created - timedelta(seconds=1))).status_code == 404
    at_creation = (await served_at(client, auth, created)).json()
    assert (at_creation["editing_mode"], at_creation["release_number"], at_creation["since"]) == (
        "iteration",
        None,
        None,
    )
    naive = await client.get(
        f"{BASE}/served-at", params={"time": datetime.now().replace(tzinfo=None).isoformat()}, headers=auth
    )
    assert naive.status_code == 200
    assert (
        await client.get(f"{BASE}/served-at", params={"time": "yesterday"}, headers=auth)
    ).status_code == 422


async def test_a_toolset_never_moved_serves_what_it_serves_now(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    toolset = await project_with_toolset(client, auth)
    assert await history(client, auth) == []
    now = (
        await served_at(client, auth, datetime.fromisoformat(toolset["created_at"]) + timedelta(days=1))
    ).json()
    assert (now["editing_mode"], now["release_number"], now["since"]) == (
        "iteration",
        None,
        toolset["created_at"],
    )
