"""Release names and labels (SPEC §8)."""

from typing import Any

import httpx

from tests.conftest import MakeHeaders
from tests.helpers_toolsets import BASE, URNS, project_with_toolset, switch


async def publish(
    client: httpx.AsyncClient, auth: dict[str, str], tool_urns: list[str], **body: Any
) -> httpx.Response:
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    await client.patch(f"{BASE}/staging", json={"tool_urns": tool_urns}, headers=auth)
    return await client.post(f"{BASE}/staging/publish", json=body, headers=auth)


async def staged(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    """`pets` in staging mode: release 1 (tools 0, 1), then release 2 named 2.0.0 (tools 0, 1, 2)."""
    await project_with_toolset(client, auth)
    await switch(client, auth, "staging")
    assert (await publish(client, auth, URNS[:3], name="2.0.0")).status_code == 201


async def test_releases_take_unique_names_that_diffs_accept(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await staged(client, auth)
    release = (await client.get(f"{BASE}/releases/2", headers=auth)).json()
    assert release["name"] == "2.0.0"
    assert (await client.get(f"{BASE}/releases/1", headers=auth)).json()["name"] is None

    taken = await client.post(f"{BASE}/releases", json={"name": "2.0.0"}, headers=auth)
    assert taken.status_code == 409
    assert taken.json()["code"] == "release_name_taken"
    for bad in ("12", "", "-x", "a b", "x" * 61):
        assert (await client.post(f"{BASE}/releases", json={"name": bad}, headers=auth)).status_code == 422, (
            bad
        )
    made = await client.post(f"{BASE}/releases", json={"name": "2.1.0-rc.1+b7"}, headers=auth)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "2.1.0-rc.1+b7"
    assert len((await client.get(f"{BASE}/releases", headers=auth)).json()["items"]) == 3

    diff = await client.get(f"{BASE}/diff", params={"from": "release:1", "to": "release:2.0.0"}, headers=auth)
    assert diff.status_code == 200, diff.text
    assert diff.json()["tools"]["added"] == [URNS[2]]
    unknown = await client.get(f"{BASE}/diff", params={"from": "release:nope", "to": "live"}, headers=auth)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "release_not_found"


async def test_labels_point_at_releases_honour_if_match_and_are_audited(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await staged(client, auth)
    writer = await headers(scopes=("read", "write"))
    assert (
        await client.put(f"{BASE}/labels/stable", json={"release_number": 1}, headers=writer)
    ).status_code == 403

    created = await client.put(f"{BASE}/labels/stable", json={"release_number": 1}, headers=auth)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.json()["release_number"] == 1
    same = await client.put(f"{BASE}/labels/stable", json={"release_number": 1}, headers=auth)
    assert same.status_code == 200
    assert same.json()["version"] == 1  # pointing it where it points moves nothing

    stale = await client.put(
        f"{BASE}/labels/stable", json={"release_number": 2}, headers=auth | {"If-Match": '"7"'}
    )
    assert stale.status_code == 412
    moved = await client.put(
        f"{BASE}/labels/stable", json={"release_number": 2}, headers=auth | {"If-Match": '"1"'}
    )
    assert moved.status_code == 200
    assert (moved.json()["release_number"], moved.json()["release_name"], moved.json()["version"]) == (
        2,
        "2.0.0",
        2,
    )
    got = await client.get(f"{BASE}/labels/stable", headers=auth)
    assert got.headers["etag"] == '"2"'

    await client.put(f"{BASE}/labels/canary", json={"release_number": 2}, headers=auth)
    listed = (await client.get(f"{BASE}/labels", params={"limit": 1}, headers=auth)).json()
    assert [label["label"] for label in listed["items"]] == ["canary"]
    rest = (await client.get(f"{BASE}/labels", params={"cursor": listed["next_cursor"]}, headers=auth)).json()
    assert [label["label"] for label in rest["items"]] == ["stable"]

    reserved = await client.put(f"{BASE}/labels/current", json={"release_number": 1}, headers=auth)
    assert reserved.status_code == 422
    assert reserved.json()["code"] == "reserved_label"
    assert (
        await client.put(f"{BASE}/labels/Bad_Label", json={"release_number": 1}, headers=auth)
    ).status_code == 422
    assert (await client.put(f"{BASE}/labels/x", json={"release_number": 9}, headers=auth)).status_code == 404
    assert (
        await client.put(f"{BASE}/labels/new", json={"release_number": 1}, headers=auth | {"If-Match": '"1"'})
    ).status_code == 412

    assert (
        await client.delete(f"{BASE}/labels/canary", headers=auth | {"If-Match": '"9"'})
    ).status_code == 412
    assert (await client.delete(f"{BASE}/labels/canary", headers=auth)).status_code == 204
    assert (await client.get(f"{BASE}/labels/canary", headers=auth)).status_code == 404
    assert (await client.delete(f"{BASE}/labels/canary", headers=auth)).status_code == 404

    entries = (await client.get(f"{BASE}/audit", headers=auth)).json()["items"]
    label_entries = [
        (e["action"], e["details"]["label"], e["from_release_number"], e["to_release_number"])
        for e in entries
        if e["action"].startswith("label")
    ]
    assert label_entries == [
        ("label_delete", "canary", 2, None),
        ("label_move", "canary", None, 2),
        ("label_move", "stable", 1, 2),
        ("label_move", "stable", None, 1),
    ]
    # A labelled release stays readable, and deleting the toolset takes the labels along.
    assert (await client.delete(BASE, headers=auth)).status_code == 204
