import asyncio
import base64
import json
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import prompt_templates
from app.prompt_templates import queries
from tests.conftest import MakeHeaders
from tests.factories import create_project, create_prompt_template, ok

URL = "/v1/projects/p/prompt-templates"


async def _all_pages(client: httpx.AsyncClient, url: str, auth: dict[str, str], limit: int) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=params, headers=auth)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _rows(engine: AsyncEngine, history_id: str) -> list[Any]:
    async with engine.connect() as conn:
        stmt = (
            select(prompt_templates)
            .where(prompt_templates.c.history_id == UUID(history_id))
            .order_by(prompt_templates.c.created_at)
        )
        return list((await conn.execute(stmt)).mappings())


async def test_create_get_and_list_prompt_templates(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    arguments = [{"name": "pet_id", "description": "Which pet", "required": True}, {"name": "tone"}]
    created = await client.post(
        URL,
        json={
            "name": "summarize",
            "prompt": "Summarize {{pet_id}}",
            "description": "Pets",
            "arguments": arguments,
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["id"] == template["history_id"]
    assert template["revision"] == 1
    assert (template["name"], template["prompt"], template["description"]) == (
        "summarize",
        "Summarize {{pet_id}}",
        "Pets",
    )
    assert template["arguments"] == [
        {"name": "pet_id", "description": "Which pet", "required": True},
        {"name": "tone", "description": None, "required": False},
    ]

    got = await client.get(f"{URL}/summarize", headers=auth)
    assert got.status_code == 200
    assert got.json() == template

    await create_prompt_template(client, auth, "p", name="alpha")
    listed = (await client.get(URL, headers=auth)).json()
    assert [t["name"] for t in listed["items"]] == ["alpha", "summarize"]
    assert listed["next_cursor"] is None


async def test_a_taken_name_is_a_409(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    await create_prompt_template(client, auth, "p", name="greet")
    again = await client.post(URL, json={"name": "greet", "prompt": "other"}, headers=auth)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "prompt_template_name_taken"
    # Names are per project.
    await create_project(client, auth, slug="q")
    await create_prompt_template(client, auth, "q", name="greet")


async def test_updates_are_copy_on_write_and_every_revision_stays_readable(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await create_project(client, auth)
    first = await create_prompt_template(client, auth, "p", name="greet", prompt="v1", description="one")
    second = await client.put(f"{URL}/greet", json={"prompt": "v2", "description": "two"}, headers=auth)
    assert second.status_code == 200, second.text
    third = await client.put(
        f"{URL}/greet", json={"prompt": "v3", "arguments": [{"name": "who", "required": True}]}, headers=auth
    )
    assert third.status_code == 200

    ids = [first["id"], second.json()["id"], third.json()["id"]]
    assert len(set(ids)) == 3
    assert {first["history_id"], second.json()["history_id"], third.json()["history_id"]} == {first["id"]}
    assert third.json()["revision"] == 3

    current = (await client.get(f"{URL}/greet", headers=auth)).json()
    assert (current["id"], current["prompt"], current["description"]) == (ids[2], "v3", None)
    assert current["arguments"] == [{"name": "who", "description": None, "required": True}]

    revisions = (await client.get(f"{URL}/greet/revisions", headers=auth)).json()["items"]
    assert [r["id"] for r in revisions] == list(reversed(ids))
    assert [r["revision"] for r in revisions] == [3, 2, 1]
    assert [r["prompt"] for r in revisions] == ["v3", "v2", "v1"]
    assert [r["description"] for r in revisions] == [None, "two", "one"]
    assert [r["is_current"] for r in revisions] == [True, False, False]

    rows = await _rows(engine, first["history_id"])
    assert [(str(r["id"]), r["prompt"]) for r in rows] == list(zip(ids, ["v1", "v2", "v3"], strict=True))
    assert [r["predecessor_id"] and str(r["predecessor_id"]) for r in rows] == [None, ids[0], ids[1]]
    listed = (await client.get(URL, headers=auth)).json()["items"]
    assert [t["id"] for t in listed] == [ids[2]]


async def test_putting_the_current_content_again_makes_no_revision(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    body = {"prompt": "Hi {{who}}", "description": "d", "arguments": [{"name": "who"}]}
    created = await create_prompt_template(client, auth, "p", name="greet", **body)
    again = await client.put(f"{URL}/greet", json=body, headers=auth)
    assert again.status_code == 200
    assert again.json()["id"] == created["id"]
    assert len((await client.get(f"{URL}/greet/revisions", headers=auth)).json()["items"]) == 1


async def test_delete_is_a_tombstone_and_frees_the_name(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await create_project(client, auth)
    old = await create_prompt_template(client, auth, "p", name="greet", prompt="old v1")
    await ok(client.put(f"{URL}/greet", json={"prompt": "old v2"}, headers=auth))

    deleted = await client.delete(f"{URL}/greet", headers=auth)
    assert deleted.status_code == 204
    assert deleted.content == b""
    for method, path, body in [
        ("GET", f"{URL}/greet", None),
        ("GET", f"{URL}/greet/revisions", None),
        ("PUT", f"{URL}/greet", {"prompt": "x"}),
        ("DELETE", f"{URL}/greet", None),
    ]:
        gone = await client.request(method, path, json=body, headers=auth)
        assert gone.status_code == 404, (method, path)
        assert gone.json()["code"] == "prompt_template_not_found"
    assert (await client.get(URL, headers=auth)).json()["items"] == []

    new = await create_prompt_template(client, auth, "p", name="greet", prompt="new v1")
    assert new["history_id"] != old["history_id"]
    assert new["revision"] == 1
    assert (await client.get(f"{URL}/greet", headers=auth)).json()["prompt"] == "new v1"
    revisions = (await client.get(f"{URL}/greet/revisions", headers=auth)).json()["items"]
    assert [r["id"] for r in revisions] == [new["id"]]

    # The old history's rows still exist (releases reference them), all marked deleted.
    old_rows = await _rows(engine, old["history_id"])
    assert [r["prompt"] for r in old_rows] == ["old v1", "old v2"]
    assert all(r["deleted_at"] is not None and r["deleted"] for r in old_rows)
    assert all(r["deleted_at"] is None for r in await _rows(engine, new["history_id"]))


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 61, "prompt": "p"},
        {"name": "has space", "prompt": "p"},
        {"name": "dot.ted", "prompt": "p"},
        {"name": "", "prompt": "p"},
        {"name": "ok", "prompt": ""},
        {"name": "ok"},
        {"name": "ok", "prompt": "p", "description": "d" * 251},
        {"name": "ok", "prompt": "p", "arguments": {"name": "a"}},
        {"name": "ok", "prompt": "p", "arguments": ["a"]},
        {"name": "ok", "prompt": "p", "arguments": [{"name": "a"}, {"name": "a"}]},
        {"name": "ok", "prompt": "p", "arguments": [{"name": "a", "type": "string"}]},
        {"name": "ok", "prompt": "p", "arguments": [{"name": "a b"}]},
        {"name": "ok", "prompt": "p", "surprise": 1},
        {"name": "ok", "prompt": "nul \x00 is not text to PostgreSQL"},
        {"name": "ok", "prompt": "p", "description": "\x00"},
        {"name": "ok", "prompt": "p", "arguments": [{"name": "a", "description": "\x00"}]},
    ],
)
async def test_create_validates_the_platform_limits(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]
) -> None:
    await create_project(client, auth)
    response = await client.post(URL, json=body, headers=auth)
    assert response.status_code == 422, body
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"]
    assert (await client.get(URL, headers=auth)).json()["items"] == []


async def test_the_limits_themselves_are_accepted(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    name = "A-z_0" + "x" * 55
    created = await create_prompt_template(client, auth, "p", name=name, description="d" * 250)
    assert created["name"] == name


async def test_update_takes_the_same_fields_but_name(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    await create_prompt_template(client, auth, "p", name="greet")
    renamed = await client.put(f"{URL}/greet", json={"name": "other", "prompt": "p"}, headers=auth)
    assert renamed.status_code == 422
    too_long = await client.put(f"{URL}/greet", json={"prompt": "p", "description": "d" * 251}, headers=auth)
    assert too_long.status_code == 422
    unknown = await client.put(f"{URL}/nope", json={"prompt": "p"}, headers=auth)
    assert unknown.status_code == 404
    assert len((await client.get(f"{URL}/greet/revisions", headers=auth)).json()["items"]) == 1


async def test_templates_and_revisions_page_with_a_cursor(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    for name in ["e", "c", "a", "d", "b"]:
        await create_prompt_template(client, auth, "p", name=name)
    listed = await _all_pages(client, URL, auth, limit=2)
    assert [t["name"] for t in listed] == ["a", "b", "c", "d", "e"]

    for i in range(2, 6):
        await ok(client.put(f"{URL}/c", json={"prompt": f"v{i}"}, headers=auth))
    revisions = await _all_pages(client, f"{URL}/c/revisions", auth, limit=2)
    assert [r["revision"] for r in revisions] == [5, 4, 3, 2, 1]
    assert [r["prompt"] for r in revisions[:4]] == ["v5", "v4", "v3", "v2"]

    for url, position in [(URL, ["a\x00"]), (URL, [3]), (f"{URL}/c/revisions", ["3"]), (URL, "nope")]:
        cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode()
        bad = await client.get(url, params={"cursor": cursor}, headers=auth)
        assert bad.status_code == 422, position
        assert bad.json()["code"] == "validation_error"


async def test_a_name_no_template_can_have_is_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    for name in ["x" * 61, "dot.ted"]:
        response = await client.get(f"{URL}/{name}", headers=auth)
        assert response.status_code == 404, name
        assert response.json()["code"] == "prompt_template_not_found"
    # NUL never reaches the service: no address with one exists (see test_limits).
    assert (await client.get(f"{URL}/a%00b", headers=auth)).json()["code"] == "not_found"


async def test_concurrent_creates_of_one_name_make_one_template(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    answers = await asyncio.gather(
        *(client.post(URL, json={"name": "race", "prompt": f"p{i}"}, headers=auth) for i in range(6))
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
    assert len((await client.get(URL, headers=auth)).json()["items"]) == 1


async def test_concurrent_updates_make_one_linear_history(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await create_project(client, auth)
    created = await create_prompt_template(client, auth, "p", name="greet")
    answers = await asyncio.gather(
        *(client.put(f"{URL}/greet", json={"prompt": f"edit {i}"}, headers=auth) for i in range(8))
    )
    assert [a.status_code for a in answers] == [200] * 8
    assert sorted(a.json()["revision"] for a in answers) == list(range(2, 10))
    rows = await _rows(engine, created["history_id"])
    assert len(rows) == 9
    predecessors = [r["predecessor_id"] for r in rows if r["predecessor_id"] is not None]
    assert len(set(predecessors)) == 8  # a chain: no revision has two successors


async def test_an_edit_that_races_past_the_lock_is_a_409_not_a_fork(
    client: httpx.AsyncClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the advisory lock, the unique key on predecessor_id still refuses a second successor."""
    await create_project(client, auth)
    await create_prompt_template(client, auth, "p", name="greet")
    both_read = asyncio.Barrier(2)
    find_current = queries.find_current

    async def no_lock(*_: Any) -> None:
        return None

    async def find_then_wait(*args: Any) -> Any:
        row = await find_current(*args)
        await both_read.wait()
        return row

    monkeypatch.setattr(queries, "lock_project_templates", no_lock)
    monkeypatch.setattr(queries, "find_current", find_then_wait)
    answers = await asyncio.gather(
        *(client.put(f"{URL}/greet", json={"prompt": f"edit {i}"}, headers=auth) for i in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.json()["code"] == "concurrent_update"
    monkeypatch.undo()
    assert len((await client.get(f"{URL}/greet/revisions", headers=auth)).json()["items"]) == 2


async def test_auth_answers_for_every_prompt_template_route(
    client: httpx.AsyncClient, headers: MakeHeaders
) -> None:
    mine = await headers(org="org-a")
    await create_project(client, mine)
    await create_prompt_template(client, mine, "p", name="greet")
    routes: list[tuple[str, str, dict[str, Any] | None, str, int]] = [
        ("POST", URL, {"name": "new", "prompt": "p"}, "write", 201),
        ("GET", URL, None, "read", 200),
        ("GET", f"{URL}/greet", None, "read", 200),
        ("PUT", f"{URL}/greet", {"prompt": "changed"}, "write", 200),
        ("GET", f"{URL}/greet/revisions", None, "read", 200),
        ("DELETE", f"{URL}/greet", None, "write", 204),
    ]
    read_only = await headers(org="org-a", scopes=("read",))
    write_only = await headers(org="org-a", scopes=("write",))
    other_org = await headers(org="org-b")
    for method, path, body, scope, expected in routes:
        assert (await client.request(method, path, json=body)).status_code == 401, path
        forbidden = await client.request(
            method, path, json=body, headers=read_only if scope == "write" else write_only
        )
        assert forbidden.status_code == 403, path
        hidden = await client.request(method, path, json=body, headers=other_org)
        assert hidden.status_code == 404, path
        assert hidden.json()["code"] == "project_not_found"
        assert (await client.request(method, path, json=body, headers=mine)).status_code == expected, path
