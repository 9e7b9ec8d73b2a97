"""Upstreams: a base URL and secret headers per source, encrypted at rest, write-only."""

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.kit.secrets import SecretBox, SecretUnreadable, generate_key
from tests.conftest import AppWithSettings, MakeHeaders
from tests.factories import create_project

SECRET = "sk_live_9f8e7d6c5b4a-never-shown"
URL = "/v1/projects/p/upstreams"


async def put(
    client: httpx.AsyncClient, auth: dict[str, str], source: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.put(f"{URL}/{source}", json=body, headers=auth)


async def database_text(engine: AsyncEngine) -> str:
    """Every row of every table, as text: what a database dump would show."""
    async with engine.connect() as conn:
        tables = (
            await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        parts = []
        for table in list(tables):
            rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))
            parts += [r[0] for r in rows]
    return "\n".join(parts)


async def test_headers_are_write_only_and_never_in_the_database_or_the_logs(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await create_project(client, auth)
    body = {
        "base_url": "https://api.example/v1/",
        "headers": {"Authorization": f"Bearer {SECRET}", "X-Team": SECRET},
    }
    response = await put(client, auth, "petstore", body)
    assert response.status_code == 200, response.text
    assert response.json()["base_url"] == "https://api.example/v1"
    assert response.json()["header_names"] == ["Authorization", "X-Team"]

    got = await client.get(f"{URL}/petstore", headers=auth)
    listed = await client.get(URL, headers=auth)
    for answer in (response, got, listed):
        assert SECRET not in answer.text
    assert listed.json()["items"][0]["source"] == "petstore"
    assert got.json()["header_names"] == ["Authorization", "X-Team"]

    # A bad request that carries the secret does not echo it either.
    bad = await put(client, auth, "petstore", {"base_url": "ftp://x", "headers": {"X": SECRET}})
    assert bad.status_code == 422
    assert SECRET not in bad.text

    assert SECRET not in await database_text(engine)
    assert "9f8e7d6c5b4a" not in caplog.text


async def test_put_replaces_the_base_url_keeps_headers_unless_sent_and_empty_headers_clear_them(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_project(client, auth)
    await put(client, auth, "petstore", {"base_url": "https://a.example", "headers": {"X-Key": "1"}})
    moved = await put(client, auth, "petstore", {"base_url": "https://b.example"})
    assert moved.json()["base_url"] == "https://b.example"
    assert moved.json()["header_names"] == ["X-Key"]
    cleared = await put(client, auth, "petstore", {"base_url": "https://b.example", "headers": {}})
    assert cleared.json()["header_names"] == []

    assert (await client.delete(f"{URL}/petstore", headers=auth)).status_code == 204
    missing = await client.get(f"{URL}/petstore", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "upstream_not_found"
    assert (await client.delete(f"{URL}/petstore", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"base_url": "petstore.example"},
        {"base_url": "file:///etc/passwd"},
        {"base_url": "https://user:pass@api.example"},
        {"base_url": "https://api.example/?q=1"},
        {"base_url": "https://api.example:99999"},
        {"base_url": "https://api.example", "headers": {"Host": "evil.example"}},
        {"base_url": "https://api.example", "headers": {"X-A": "line\r\nInjected: 1"}},
        {"base_url": "https://api.example", "headers": {"Bad Name": "v"}},
        {"base_url": "https://api.example", "headers": {"X-A": "1", "x-a": "2"}},
        {"base_url": "https://api.example", "extra": 1},
    ],
)
async def test_invalid_upstreams_are_refused(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]
) -> None:
    await create_project(client, auth)
    response = await put(client, auth, "petstore", body)
    assert response.status_code == 422, response.text
    assert (await client.get(URL, headers=auth)).json()["items"] == []


async def test_upstreams_need_their_scopes_and_stay_in_their_organization(
    client: httpx.AsyncClient, auth: dict[str, str], headers: MakeHeaders
) -> None:
    await create_project(client, auth)
    await put(client, auth, "petstore", {"base_url": "https://a.example"})
    reader = await headers(scopes=("read",))
    assert (await client.get(f"{URL}/petstore", headers=reader)).status_code == 200
    assert (await put(client, reader, "petstore", {"base_url": "https://b.example"})).status_code == 403
    assert (await client.delete(f"{URL}/petstore", headers=reader)).status_code == 403
    stranger = await headers(org="org-b")
    assert (await client.get(f"{URL}/petstore", headers=stranger)).status_code == 404
    assert (await client.get(URL, headers=stranger)).status_code == 404


async def test_list_pages_by_source(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_project(client, auth)
    for source in ("c", "a", "b"):
        await put(client, auth, source, {"base_url": f"https://{source}.example"})
    first = (await client.get(URL, params={"limit": 2}, headers=auth)).json()
    assert [u["source"] for u in first["items"]] == ["a", "b"]
    second = (await client.get(URL, params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth)).json()
    assert [u["source"] for u in second["items"]] == ["c"]
    assert second["next_cursor"] is None


def test_sealed_values_open_only_with_their_key_and_context_and_keys_rotate() -> None:
    old, new = generate_key(), generate_key()
    sealed = SecretBox.from_config(old).seal(b"secret", "upstream:p1:petstore")
    assert b"secret" not in sealed
    rotated = SecretBox.from_config(f"{new},{old}")
    assert rotated.open(sealed, "upstream:p1:petstore") == b"secret"
    with pytest.raises(SecretUnreadable):
        rotated.open(sealed, "upstream:p2:petstore")  # copied onto another row
    with pytest.raises(SecretUnreadable):
        SecretBox.from_config(new).open(sealed, "upstream:p1:petstore")  # the old key is gone
    assert rotated.open(rotated.seal(b"x", "c"), "c") == b"x"


async def test_the_app_refuses_to_start_with_an_unusable_secret_key(
    app_with_settings: AppWithSettings,
) -> None:
    with pytest.raises(RuntimeError, match="TOOLSETS_SECRET_KEY"):
        async with app_with_settings(TOOLSETS_SECRET_KEY="not-a-key"):
            pass
