"""Webhooks of the release lifecycle: label moves and snapshot restores are announced."""

import httpx

from tests.helpers_toolsets import BASE, project_with_toolset, switch
from tests.test_webhooks import create_webhook, publish_staging_edit
from tests.webhook_receiver import receiver


async def test_label_moves_and_snapshot_restores_send_their_events(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    async with receiver() as hook:
        await create_webhook(client, auth, hook.url, ["label.moved", "release.rolled_back"])
        assert (await switch(client, auth, "staging")).status_code == 200
        snapshot = (await client.post("/v1/projects/p/snapshots", headers=auth)).json()  # release 1
        await publish_staging_edit(client, auth)  # release 2
        await client.put(f"{BASE}/labels/stable", json={"release_number": 2}, headers=auth)
        await client.delete(f"{BASE}/labels/stable", headers=auth)
        restored = await client.post(
            f"/v1/projects/p/snapshots/{snapshot['id']}/restore", json={"reason": "undo"}, headers=auth
        )
        assert restored.status_code == 200, restored.text
        requests = await hook.wait_for(3)

    events = sorted((r.json["type"], r.json["data"].get("to_release_number") or 0) for r in requests)
    assert events == [("label.moved", 0), ("label.moved", 2), ("release.rolled_back", 1)]
    moved = next(r.json["data"] for r in requests if r.json["data"].get("to_release_number") == 2)
    assert (moved["label"], moved["from_release_number"], moved["toolset"]) == ("stable", None, "pets")
    rolled = next(r.json["data"] for r in requests if r.json["type"] == "release.rolled_back")
    assert (rolled["from_release_number"], rolled["via"], rolled["reason"]) == (2, "snapshot_restore", "undo")
