import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import MakeHeaders
from tests.factories import create_deployment, create_project, make_tools, ok

URN = "tools:http:petstore:op_0000"
OTHER = "tools:http:petstore:op_0001"


async def setup(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth, "p")
    await create_deployment(client, auth, "p", make_tools(3))
    response = await client.post(
        "/v1/projects/p/toolsets", json={"name": "Pets", "tool_urns": [URN, OTHER]}, headers=auth
    )
    assert response.status_code == 201


async def test_three_edits_leave_versions_one_to_three_readable(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup(client, auth)
    for n in (1, 2, 3):
        put = await client.put(f"/v1/projects/p/variations/{URN}", json={"name": f"v{n}"}, headers=auth)
        assert put.status_code == 200
        assert put.json()["version"] == n
    versions = (await client.get(f"/v1/projects/p/variations/{URN}/versions", headers=auth)).json()["items"]
    assert [(v["version"], v["name"]) for v in versions] == [(3, "v3"), (2, "v2"), (1, "v1")]
    for n in (1, 2, 3):
        at = await client.get(f"/v1/projects/p/variations/{URN}/versions/{n}", headers=auth)
        assert at.json()["name"] == f"v{n}"
    current = (await client.get("/v1/projects/p/variations", headers=auth)).json()["items"]
    assert [(v["tool_urn"], v["name"]) for v in current] == [(URN, "v3")]
    missing = await client.get(f"/v1/projects/p/variations/{URN}/versions/9", headers=auth)
    assert missing.status_code == 404


async def test_edits_insert_rows_and_never_update_them(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await setup(client, auth)
    first = (await client.put(f"/v1/projects/p/variations/{URN}", json={"name": "a"}, headers=auth)).json()
    second = (await client.put(f"/v1/projects/p/variations/{URN}", json={"name": "b"}, headers=auth)).json()
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT id, name, version, predecessor_id FROM tool_variations ORDER BY version")
            )
        ).all()
    assert [(str(r.id), r.name, r.version) for r in rows] == [(first["id"], "a", 1), (second["id"], "b", 2)]
    assert str(rows[1].predecessor_id) == first["id"]


async def test_delete_is_a_tombstone_version(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await setup(client, auth)
    await ok(client.put(f"/v1/projects/p/variations/{URN}", json={"name": "a"}, headers=auth))
    assert (await client.delete(f"/v1/projects/p/variations/{URN}", headers=auth)).status_code == 204
    assert (await client.get("/v1/projects/p/variations", headers=auth)).json()["items"] == []
    versions = (await client.get(f"/v1/projects/p/variations/{URN}/versions", headers=auth)).json()["items"]
    assert [(v["version"], v["deleted"]) for v in versions] == [(2, True), (1, False)]
    assert (await client.delete(f"/v1/projects/p/variations/{URN}", headers=auth)).status_code == 404
    again = await client.put(f"/v1/projects/p/variations/{URN}", json={"name": "c"}, headers=auth)
    assert again.json()["version"] == 3


async def test_an_identical_upsert_writes_nothing(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await setup(client, auth)
    one = (await client.put(f"/v1/projects/p/variations/{URN}", json={"name": "a"}, headers=auth)).json()
    two = (await client.put(f"/v1/projects/p/variations/{URN}", json={"name": "a"}, headers=auth)).json()
    assert one["id"] == two["id"]
    assert two["version"] == 1


async def test_group_version_is_reused_when_nothing_changed(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup(client, auth)
    await ok(client.put(f"/v1/projects/p/variations/{URN}", json={"name": "a"}, headers=auth))
    first = (await client.post("/v1/projects/p/variations/group-versions", headers=auth)).json()
    assert first["version"] == 1
    assert first["created"] is True
    assert len(first["variation_ids"]) == 1
    again = (await client.post("/v1/projects/p/variations/group-versions", headers=auth)).json()
    assert again["id"] == first["id"]
    assert again["created"] is False
    await ok(client.put(f"/v1/projects/p/variations/{OTHER}", json={"name": "b"}, headers=auth))
    changed = (await client.post("/v1/projects/p/variations/group-versions", headers=auth)).json()
    assert changed["version"] == 2
    assert len(changed["variation_ids"]) == 2


async def test_toolset_variations_apply_over_global_ones_field_by_field(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup(client, auth)
    await ok(
        client.put(
            f"/v1/projects/p/variations/{URN}",
            json={"name": "global_name", "description": "global description", "read_only_hint": False},
            headers=auth,
        )
    )
    toolset_put = await client.put(
        f"/v1/projects/p/toolsets/pets/variations/{URN}", json={"name": "toolset_name"}, headers=auth
    )
    assert toolset_put.status_code == 200
    effective = (await client.get("/v1/projects/p/toolsets/pets/effective", headers=auth)).json()
    tool = next(t for t in effective["tools"] if t["urn"] == URN)
    assert tool["name"] == "toolset_name"  # the toolset's variation wins
    assert tool["description"] == "global description"  # NULL in the toolset's: inherits the global one
    assert tool["read_only_hint"] is False  # the global variation over the tool's True
    assert tool["summary"] == "op 0"  # no variation at all: the tool's own
    untouched = next(t for t in effective["tools"] if t["urn"] == OTHER)
    assert untouched["name"] == "op_0001"


async def test_toolset_variation_edits_bump_the_toolset_version(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup(client, auth)
    put = await client.put(
        f"/v1/projects/p/toolsets/pets/variations/{URN}",
        json={"name": "x"},
        headers=auth | {"If-Match": '"1"'},
    )
    assert put.status_code == 200
    toolset = (await client.get("/v1/projects/p/toolsets/pets", headers=auth)).json()
    assert toolset["version"] == 2
    stale = await client.put(
        f"/v1/projects/p/toolsets/pets/variations/{URN}",
        json={"name": "y"},
        headers=auth | {"If-Match": '"1"'},
    )
    assert stale.status_code == 412
    listed = (await client.get("/v1/projects/p/toolsets/pets/variations", headers=auth)).json()["items"]
    assert [v["name"] for v in listed] == ["x"]
    versions = await client.get(f"/v1/projects/p/toolsets/pets/variations/{URN}/versions", headers=auth)
    assert [v["version"] for v in versions.json()["items"]] == [1]
    at = await client.get(f"/v1/projects/p/toolsets/pets/variations/{URN}/versions/1", headers=auth)
    assert at.json()["name"] == "x"
    deleted = await client.delete(f"/v1/projects/p/toolsets/pets/variations/{URN}", headers=auth)
    assert deleted.status_code == 204
    assert (await client.get("/v1/projects/p/toolsets/pets", headers=auth)).json()["version"] == 3


async def test_variations_scopes_and_tenancy(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await setup(client, auth)
    read_only = await headers(scopes=("read",))
    put = await client.put(f"/v1/projects/p/variations/{URN}", json={"name": "a"}, headers=read_only)
    assert put.status_code == 403
    other = await headers(org="org-b")
    assert (await client.get("/v1/projects/p/variations", headers=other)).status_code == 404
    put = await client.put(f"/v1/projects/p/variations/{URN}", json={"name": "a"}, headers=other)
    assert put.status_code == 404
    too_long = await client.put(f"/v1/projects/p/variations/{URN}", json={"summary": "s" * 251}, headers=auth)
    assert too_long.status_code == 422
