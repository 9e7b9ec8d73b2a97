"""API keys a person can manage from the command line, and named wherever they acted."""

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from app.cli import main
from app.settings import get_settings
from tests.conftest import MakeHeaders
from tests.factories import create_deployment, create_project, make_tools, ok

Cli = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """`await cli("list-api-keys")` -> (exit status, stdout, stderr), against the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()

    def run(*argv: str) -> int:
        try:
            main(list(argv))
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return 0

    async def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = await asyncio.to_thread(run, *argv)
        out, err = capsys.readouterr()
        return status, out, err

    yield invoke
    monkeypatch.delenv("DATABASE_URL")
    get_settings.cache_clear()


async def _create(cli: Cli, *args: str) -> tuple[str, dict[str, object]]:
    status, out, _ = await cli("create-api-key", *args)
    assert status == 0
    raw = out.strip().splitlines()[-1]
    _, out, _ = await cli("list-api-keys", "--json")
    (key,) = [k for k in json.loads(out) if raw.startswith(k["prefix"])]
    return raw, key


async def test_create_api_key_names_the_key_and_prints_it_last(client: httpx.AsyncClient, cli: Cli) -> None:
    status, out, _ = await cli(
        "create-api-key", "--organization", "acme", "--scopes", "read", "--name", "ci-release-bot"
    )
    assert status == 0
    lines = out.strip().splitlines()
    raw = lines[-1]
    assert raw.startswith("tsk_")
    assert "'ci-release-bot'" in lines[0]
    assert f"prefix {raw[:12]}" in lines[0]
    answer = await client.get("/v1/projects", headers={"Authorization": f"Bearer {raw}"})
    assert answer.status_code == 200


async def test_list_api_keys_shows_name_prefix_scopes_and_last_use_but_never_the_key(
    client: httpx.AsyncClient, cli: Cli
) -> None:
    raw, key = await _create(cli, "--organization", "acme", "--scopes", "read,write", "--name", "laptop")
    assert key["name"] == "laptop"
    assert key["scopes"] == ["read", "write"]
    assert key["last_used_at"] is None
    assert key["revoked_at"] is None
    await _create(cli, "--organization", "other", "--name", "elsewhere")

    await ok(client.get("/v1/projects", headers={"Authorization": f"Bearer {raw}"}))
    status, out, _ = await cli("list-api-keys", "--organization", "acme")
    assert status == 0
    header, row = out.strip().splitlines()
    assert header.split() == [
        "id",
        "organization",
        "name",
        "prefix",
        "scopes",
        "created",
        "last",
        "used",
        "revoked",
    ]
    assert str(key["id"]) in row
    assert "laptop" in row
    assert raw[:12] in row
    assert "read,write" in row
    assert "never" not in row  # it was used just now
    assert "elsewhere" not in row
    assert raw not in out


async def test_a_revoked_key_is_refused_and_listed_as_revoked(client: httpx.AsyncClient, cli: Cli) -> None:
    raw, key = await _create(cli, "--organization", "acme", "--name", "leaked")
    status, out, _ = await cli("revoke-api-key", str(key["id"]))
    assert status == 0
    assert "revoked API key 'leaked'" in out
    answer = await client.get("/v1/projects", headers={"Authorization": f"Bearer {raw}"})
    assert answer.status_code == 401
    _, out, _ = await cli("list-api-keys", "--json")
    assert json.loads(out)[0]["revoked_at"] is not None

    status, out, _ = await cli("revoke-api-key", str(key["id"]))
    assert status == 0
    assert "already revoked" in out


@pytest.mark.parametrize(
    ("key_id", "message"),
    [
        ("tsk_abc", "is not a key id; `toolsets list-api-keys` shows each key's id"),
        ("00000000-0000-4000-8000-000000000000", "No API key has id"),
    ],
)
async def test_revoking_an_unknown_key_says_where_to_find_ids(
    client: httpx.AsyncClient, cli: Cli, key_id: str, message: str
) -> None:
    status, _, err = await cli("revoke-api-key", key_id)
    assert status == 2
    assert message in err


async def test_create_api_key_refuses_unknown_scopes(client: httpx.AsyncClient, cli: Cli) -> None:
    status, _, err = await cli("create-api-key", "--organization", "acme", "--scopes", "read,admin")
    assert status == 2
    assert "scopes must be" in err


async def test_releases_and_audit_entries_name_the_key_that_acted(
    client: httpx.AsyncClient, cli: Cli, headers: MakeHeaders
) -> None:
    raw, key = await _create(cli, "--organization", "org-a", "--name", "release-bot")
    auth = {"Authorization": f"Bearer {raw}"}
    await create_project(client, auth, slug="petstore")
    await create_deployment(client, auth, "petstore", make_tools(2))
    created = await client.post(
        "/v1/projects/petstore/toolsets", headers=auth, json={"name": "Pets", "tool_urns": []}
    )
    assert created.status_code == 201
    release = await client.post("/v1/projects/petstore/toolsets/pets/releases", headers=auth)
    assert release.status_code == 201
    expected = {"id": str(key["id"]), "name": "release-bot", "prefix": raw[:12]}
    assert release.json()["released_by"] == expected
    listed = (await client.get("/v1/projects/petstore/toolsets/pets/releases", headers=auth)).json()
    assert listed["items"][0]["released_by"] == expected
    audit = (await client.get("/v1/projects/petstore/toolsets/pets/audit", headers=auth)).json()
    assert audit["items"][0]["actor"] == expected
