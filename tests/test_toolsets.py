import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import MakeHeaders
from tests.factories import create_deployment, create_project, create_prompt_template, make_tools, ok

URN = "tools:http:petstore:op_{:04d}"


async def setup_project(client: httpx.AsyncClient, auth: dict[str, str], tools: int = 3) -> None:
    await create_project(client, auth, "p")
    await create_deployment(client, auth, "p", make_tools(tools))


async def create_toolset(
    client: httpx.AsyncClient, auth: dict[str, str], urns: list[str] | None = None, **extra: object
) -> httpx.Response:
    body = {"name": "Pets", "tool_urns": urns if urns is not None else [URN.format(0), URN.format(1)]}
    response = await client.post("/v1/projects/p/toolsets", json=body | extra, headers=auth)
    assert response.status_code == 201, response.text
    return response


async def test_create_toolset_derives_slug_and_serves_an_etag(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup_project(client, auth)
    created = await create_toolset(client, auth)
    body = created.json()
    assert body["slug"] == "pets"
    assert body["editing_mode"] == "iteration"
    assert body["version"] == 1
    assert body["current_release_number"] is None
    assert body["tool_urns"] == [URN.format(0), URN.format(1)]
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == "/v1/projects/p/toolsets/pets"

    got = await client.get("/v1/projects/p/toolsets/pets", headers=auth)
    assert got.json() == body
    assert got.headers["etag"] == '"1"'
    listed = await client.get("/v1/projects/p/toolsets", headers=auth)
    assert [t["slug"] for t in listed.json()["items"]] == ["pets"]


async def test_unknown_tool_resource_and_template_are_named_in_a_422(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup_project(client, auth)
    response = await client.post(
        "/v1/projects/p/toolsets",
        json={
            "name": "Pets",
            "tool_urns": [URN.format(0), "tools:http:petstore:nope"],
            "resource_urns": ["resources:missing"],
            "prompt_template_names": ["ghost"],
        },
        headers=auth,
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "unknown_references"
    assert "tools:http:petstore:nope" in problem["detail"]
    values = {e["value"] for e in problem["errors"]}
    assert values == {"tools:http:petstore:nope", "resources:missing", "ghost"}
    assert (await client.get("/v1/projects/p/toolsets", headers=auth)).json()["items"] == []


async def test_a_selection_change_writes_a_new_immutable_version(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await setup_project(client, auth)
    toolset_id = (await create_toolset(client, auth)).json()["id"]
    updated = await client.patch(
        "/v1/projects/p/toolsets/pets", json={"tool_urns": [URN.format(2)]}, headers=auth
    )
    assert updated.status_code == 200
    assert updated.json()["tool_urns"] == [URN.format(2)]
    assert updated.json()["version"] == 2
    assert updated.headers["etag"] == '"2"'

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, version, tool_urns, predecessor_id FROM toolset_versions "
                    "WHERE toolset_id = :id ORDER BY version"
                ),
                {"id": toolset_id},
            )
        ).all()
    assert [(r.version, r.tool_urns) for r in rows] == [
        (1, [URN.format(0), URN.format(1)]),
        (2, [URN.format(2)]),
    ]
    assert rows[1].predecessor_id == rows[0].id


async def test_metadata_edit_bumps_the_version_and_a_no_op_does_not(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup_project(client, auth)
    await create_toolset(client, auth)
    renamed = await client.patch("/v1/projects/p/toolsets/pets", json={"name": "Pets 2"}, headers=auth)
    assert renamed.json()["version"] == 2
    same = await client.patch("/v1/projects/p/toolsets/pets", json={"name": "Pets 2"}, headers=auth)
    assert same.json()["version"] == 2


async def test_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await setup_project(client, auth)
    await create_toolset(client, auth)
    first = await client.patch(
        "/v1/projects/p/toolsets/pets", json={"name": "A"}, headers=auth | {"If-Match": '"1"'}
    )
    assert first.status_code == 200
    stale = await client.patch(
        "/v1/projects/p/toolsets/pets", json={"name": "B"}, headers=auth | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert (await client.get("/v1/projects/p/toolsets/pets", headers=auth)).json()["name"] == "A"


async def test_slug_conflicts_are_409(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await setup_project(client, auth)
    await create_toolset(client, auth)
    again = await client.post("/v1/projects/p/toolsets", json={"name": "Pets", "tool_urns": []}, headers=auth)
    assert again.status_code == 409
    other = await create_toolset(client, auth, slug="other")
    assert other.json()["slug"] == "other"
    rename = await client.patch("/v1/projects/p/toolsets/other", json={"slug": "pets"}, headers=auth)
    assert rename.status_code == 409
    assert rename.json()["code"] == "toolset_slug_taken"


async def test_toolset_limits(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await setup_project(client, auth)
    for body in (
        {"name": "x" * 61, "tool_urns": []},
        {"name": "ok", "slug": "Bad Slug", "tool_urns": []},
        {"name": "ok", "description": "d" * 251, "tool_urns": []},
        {"name": "ok", "tool_urns": ["has space"]},
        {"name": "ok"},
        {"name": "ok", "tool_urns": [], "unexpected": 1},
    ):
        response = await client.post("/v1/projects/p/toolsets", json=body, headers=auth)
        assert response.status_code == 422, body


async def test_delete_toolset(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await setup_project(client, auth)
    await create_toolset(client, auth)
    assert (await client.delete("/v1/projects/p/toolsets/pets", headers=auth)).status_code == 204
    assert (await client.get("/v1/projects/p/toolsets/pets", headers=auth)).status_code == 404
    assert (await client.delete("/v1/projects/p/toolsets/pets", headers=auth)).status_code == 404


async def test_toolsets_across_organizations_and_scopes(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await setup_project(client, auth)
    await create_toolset(client, auth)
    other_org = await headers(org="org-b")
    assert (await client.get("/v1/projects/p/toolsets/pets", headers=other_org)).status_code == 404
    assert (
        await client.patch("/v1/projects/p/toolsets/pets", json={"name": "x"}, headers=other_org)
    ).status_code == 404
    read_only = await headers(scopes=("read",))
    assert (
        await client.patch("/v1/projects/p/toolsets/pets", json={"name": "x"}, headers=read_only)
    ).status_code == 403
    assert (await client.get("/v1/projects/p/toolsets/pets/effective", headers=read_only)).status_code == 200


async def test_effective_toolset_in_iteration_mode(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth, "p")
    await create_deployment(
        client,
        auth,
        "p",
        make_tools(3),
        resources=[{"urn": "resources:docs", "name": "Docs", "uri": "file:///docs"}],
    )
    await create_prompt_template(client, auth, "p", name="greet", prompt="Hi")
    await create_toolset(
        client,
        auth,
        [URN.format(1), URN.format(0)],
        resource_urns=["resources:docs"],
        prompt_template_names=["greet"],
    )
    effective = (await client.get("/v1/projects/p/toolsets/pets/effective", headers=auth)).json()
    assert effective["release_number"] is None
    assert effective["name"] == "Pets"
    assert [t["urn"] for t in effective["tools"]] == [URN.format(0), URN.format(1)]
    assert effective["tools"][0]["name"] == "op_0000"
    assert effective["tools"][0]["input_schema"]["type"] == "object"
    assert [r["urn"] for r in effective["resources"]] == ["resources:docs"]
    assert effective["prompts"] == [{"name": "greet", "description": None, "prompt": "Hi", "arguments": []}]

    # Iteration mode serves current data: a template revision shows at once.
    await ok(client.put("/v1/projects/p/prompt-templates/greet", json={"prompt": "Hello"}, headers=auth))
    effective = (await client.get("/v1/projects/p/toolsets/pets/effective", headers=auth)).json()
    assert effective["prompts"][0]["prompt"] == "Hello"
