"""One embedded PostgreSQL for the session; a migrated database; a clean slate per test."""

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import migrations
from app.db.embedded import EmbeddedPostgres
from app.db.engine import create_engine
from app.kit.auth import SCOPES, insert_api_key
from app.kit.secrets import generate_key
from app.main import create_app
from app.settings import get_settings

# The key that seals upstream headers in tests (as TOOLSETS_SECRET_KEY would in production).
os.environ.setdefault("TOOLSETS_SECRET_KEY", generate_key())

MakeHeaders = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The embedded server's maintenance database URL."""
    with tempfile.TemporaryDirectory(prefix="toolsets-test-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata")
        url = server.start()
        try:
            yield url
        finally:
            server.stop(immediate=True)  # the folder is deleted next: no checkpoint needed


async def create_database(postgres_url: str, name: str) -> str:
    engine = create_engine(postgres_url, pool_size=1)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
async def new_database(postgres_url: str) -> Callable[[], Awaitable[str]]:
    """Makes an empty database for tests that migrate on their own."""

    async def make() -> str:
        return await create_database(postgres_url, f"t_{uuid.uuid4().hex[:12]}")

    return make


@pytest.fixture(scope="session")
async def database_url(postgres_url: str) -> str:
    url = await create_database(postgres_url, "toolsets_test")
    await asyncio.to_thread(migrations.upgrade, url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app_and_tables(database_url: str, engine: AsyncEngine) -> AsyncIterator[object]:
    app = create_app(database_url)
    async with app.router.lifespan_context(app):
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            app.state.test_tables = [r[0] for r in rows]
        yield app


@pytest.fixture
async def client(app_and_tables: object, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = app_and_tables
    tables = ", ".join(app.state.test_tables)  # type: ignore[attr-defined]
    for attempt in range(5):
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            break
        except DBAPIError as error:
            # The app's in-process job worker keeps polling its queue; TRUNCATE's locks can
            # deadlock with it, and PostgreSQL then cancels one side: try again.
            if getattr(error.orig, "sqlstate", None) != "40P01" or attempt == 4:
                raise
    app.state.pointers.invalidate()  # type: ignore[attr-defined]  # TRUNCATE fires no row triggers
    # Errors reach the test as the 500 problem a client would get, not as a raised exception.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def headers(engine: AsyncEngine) -> MakeHeaders:
    """`await headers(org="org-a", scopes=("read", "write"))` -> Authorization headers for a new key
    (of every scope by default)."""

    async def make(org: str = "org-a", scopes: tuple[str, ...] = SCOPES) -> dict[str, str]:
        async with engine.begin() as conn:
            key = await insert_api_key(conn, org, scopes, "test key")
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
async def auth(client: httpx.AsyncClient, headers: MakeHeaders) -> dict[str, str]:
    """Headers of an all-scopes key in org-a."""
    return await headers()


AppWithSettings = Callable[..., AbstractAsyncContextManager[Any]]


@pytest.fixture
def app_with_settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AppWithSettings:
    """`async with app_with_settings(TOOLSETS_X="1") as app:` another instance of the service
    on the test database, started (lifespan and all) with those environment settings, which
    are undone when it stops."""

    @asynccontextmanager
    async def start(**env: str) -> AsyncIterator[Any]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            app = create_app(database_url)
            async with app.router.lifespan_context(app):
                yield app
        finally:
            for name in env:
                monkeypatch.delenv(name)
            get_settings.cache_clear()

    return start


@pytest.fixture
async def second_app(database_url: str, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Another instance of the service on the same database, as a second server process
    would be: its own engine, its own caches and its own NOTIFY listener."""
    app = create_app(database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http
