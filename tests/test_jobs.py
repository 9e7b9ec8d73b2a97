"""The job queue: its schema comes from our migrations, workers share the work without
ever running one job twice at once, and a committed event survives a kill -9."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from pgqueuer import Queries
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import migrations
from app.db.engine import create_engine
from app.db.tables import projects, webhook_deliveries
from app.jobs.worker import Worker, asyncpg_dsn, running_worker
from app.kit.auth import insert_api_key
from app.webhooks.events import emit, enqueue_deliveries
from tests.factories import create_project, make_tools
from tests.processes import ToolsetsProcess, free_port
from tests.webhook_receiver import receiver

NewDatabase = Callable[[], Awaitable[str]]


async def test_the_migrated_schema_is_exactly_what_pgqueuer_needs(database_url: str) -> None:
    """Revision 0006 creates pgqueuer's schema: the library's own upgrade planner finds
    nothing to add or change at head."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        plan = await Queries.from_asyncpg_connection(conn).plan_upgrade()
        assert await Queries.from_asyncpg_connection(conn).schema_is_installed()
    finally:
        await conn.close()
    assert plan.statements == ()


@pytest.fixture
async def cli_worker(database_url: str) -> AsyncIterator[ToolsetsProcess]:
    """`toolsets worker` on the test database."""
    worker = ToolsetsProcess("worker", database_url=database_url)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def test_several_workers_share_the_jobs_and_never_run_one_twice_at_once(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    engine: AsyncEngine,
    database_url: str,
    cli_worker: ToolsetsProcess,
) -> None:
    """Three workers (this app's, another in-process one, and `toolsets worker`) take 40
    deliveries, each enqueued twice as a job re-offered to a second worker would be. Every
    delivery reaches the receiver exactly once."""
    await create_project(client, auth, "p")
    async with receiver(delay=0.05) as hook:
        for _ in range(20):
            body = {"url": hook.url, "events": ["release.published"]}
            assert (await client.post("/v1/projects/p/webhooks", json=body, headers=auth)).status_code == 201
        async with engine.begin() as conn:
            project_id = (await conn.execute(select(projects.c.id))).scalar_one()
        other = Worker(database_url)
        async with running_worker(other):
            async with asyncio.timeout(90):
                while await listening_workers(engine) < 3:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            async with engine.begin() as conn:
                await emit(conn, project_id, "release.published", {"n": 1})
                await emit(conn, project_id, "release.published", {"n": 2})
                ids = list((await conn.execute(select(webhook_deliveries.c.id))).scalars())
                await enqueue_deliveries(conn, ids)  # every delivery now has two jobs
            await hook.wait_for(40)
            await asyncio.sleep(0.5)  # a second send of any delivery would arrive by now
    assert len(ids) == 40
    message_ids = [r.headers["webhook-id"] for r in hook.requests]
    assert len(message_ids) == 40
    assert len(set(message_ids)) == 40


async def listening_workers(engine: AsyncEngine) -> int:
    sql = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'toolsets-worker' AND query LIKE 'LISTEN%'"
    )
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def test_the_worker_command_runs_until_sigterm(
    client: httpx.AsyncClient, engine: AsyncEngine, cli_worker: ToolsetsProcess
) -> None:
    async with asyncio.timeout(90):  # this app's worker, then the command's
        while await listening_workers(engine) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    assert cli_worker.process is not None
    assert cli_worker.process.returncode is None
    assert await cli_worker.stop() == 0


async def test_a_committed_event_survives_kill_9_and_is_delivered_after_restart(
    new_database: NewDatabase,
) -> None:
    url = await new_database()
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(url, pool_size=1)
    async with engine.begin() as conn:
        key = await insert_api_key(conn, "org-k", ("read", "write", "release"), "kill")
    await engine.dispose()
    auth = {"Authorization": f"Bearer {key}"}
    port = str(free_port())  # the restarted server takes the same address
    # The first server delivers nothing (no in-process worker), so it dies holding the event.
    first = ToolsetsProcess("serve", "--port", port, database_url=url, TOOLSETS_WORKER="false")
    again = ToolsetsProcess("serve", "--port", port, database_url=url)
    async with receiver() as hook:
        try:
            await first.serve()
            async with httpx.AsyncClient(base_url=f"{first.url}/v1", headers=auth, timeout=30) as http:
                assert (await http.post("/projects", json={"name": "K", "slug": "k"})).status_code == 201
                tools = make_tools(2)
                assert (await http.post("/projects/k/deployments", json={"tools": tools})).status_code == 201
                body = {"name": "T", "slug": "t", "tool_urns": [tools[0]["urn"]]}
                assert (await http.post("/projects/k/toolsets", json=body)).status_code == 201
                hook_body = {"url": hook.url, "events": ["toolset.mode_changed"]}
                assert (await http.post("/projects/k/webhooks", json=hook_body)).status_code == 201
                switched = await http.put("/projects/k/toolsets/t/editing-mode", json={"mode": "staging"})
                assert switched.status_code == 200
            await first.kill()
            assert hook.requests == []

            await again.serve()
            [request] = await hook.wait_for(1)
        finally:
            await first.kill()
            await again.stop()
    assert request.json["type"] == "toolset.mode_changed"
    assert request.json["data"]["to"] == "staging"
