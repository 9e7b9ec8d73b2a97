"""The capture functions: by reference, deduplicated, and set-based."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.releases.capture import capture_source_state, capture_toolset_state, capture_variations_state
from tests.factories import create_deployment, create_project, create_prompt_template, make_tools, ok


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def toolset_of(client: httpx.AsyncClient, auth: dict[str, str], slug: str, n: int) -> dict[str, Any]:
    """A project `slug` with n tools, n global and n toolset variations, and a toolset of all tools."""
    await create_project(client, auth, slug)
    tools = make_tools(n)
    await create_deployment(client, auth, slug, tools)
    await create_prompt_template(client, auth, slug)
    urns = [t["urn"] for t in tools]
    created = await client.post(
        f"/v1/projects/{slug}/toolsets",
        json={"name": "All", "tool_urns": urns, "prompt_template_names": ["greet"]},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    return {"urns": urns, **created.json()}


async def add_variations(engine: AsyncEngine, project_slug: str, toolset_id: str, urns: list[str]) -> None:
    """Bulk variations straight into the database: the API path is tested elsewhere, this is setup."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                """
                WITH project AS (SELECT id FROM projects WHERE slug = :slug),
                g AS (INSERT INTO tool_variations_groups (project_id, name) SELECT id, 'global' FROM project
                      RETURNING id, project_id),
                link AS (INSERT INTO project_tool_variations (project_id, group_id)
                         SELECT project_id, id FROM g),
                t AS (INSERT INTO tool_variations_groups (project_id, name) SELECT id, 'toolset' FROM project
                      RETURNING id),
                upd AS (UPDATE toolsets SET tool_variations_group_id = (SELECT id FROM t) WHERE id = :toolset)
                INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name, name)
                SELECT g.id, u, u, 'global ' || u FROM g, unnest(CAST(:urns AS text[])) u
                UNION ALL
                SELECT t.id, u, u, 'toolset ' || u FROM t, unnest(CAST(:urns AS text[])) u
                """
            ),
            {"slug": project_slug, "toolset": UUID(toolset_id), "urns": urns},
        )


async def capture_all(conn: AsyncConnection, toolset_id: UUID) -> tuple[UUID, UUID, Any]:
    row = (
        await conn.execute(
            text("SELECT project_id, tool_variations_group_id FROM toolsets WHERE id = :id"),
            {"id": toolset_id},
        )
    ).one()
    source = await capture_source_state(conn, row.project_id)
    toolset_version = await capture_toolset_state(conn, toolset_id, toolset_id)
    variations = await capture_variations_state(conn, row.project_id, row.tool_variations_group_id)
    return source, toolset_version, variations


async def test_capture_issues_the_same_statements_for_10_and_2000_tools(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    counts = {}
    for slug, n in (("small", 10), ("large", 2000)):
        toolset = await toolset_of(client, auth, slug, n)
        await add_variations(engine, slug, toolset["id"], toolset["urns"])
        async with engine.begin() as conn:
            await conn.execute(text("SELECT 1"))  # the connection is checked out before counting
            with count_statements(engine) as statements:
                _, _, variations = await capture_all(conn, UUID(toolset["id"]))
            counts[slug] = len(statements)
        assert variations.global_version_id is not None
        assert variations.toolset_version_id is not None
    assert counts["small"] == counts["large"]
    assert counts["small"] <= 8


async def test_capture_reuses_identical_state(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    toolset = await toolset_of(client, auth, "p", 5)
    await add_variations(engine, "p", toolset["id"], toolset["urns"])
    toolset_id = UUID(toolset["id"])
    async with engine.begin() as conn:
        first = await capture_all(conn, toolset_id)
    async with engine.begin() as conn:
        second = await capture_all(conn, toolset_id)
    assert first == second

    # A change in one place captures a new row there only.
    await ok(
        client.put(
            "/v1/projects/p/variations/tools:http:petstore:op_0000", json={"name": "changed"}, headers=auth
        )
    )
    async with engine.begin() as conn:
        third = await capture_all(conn, toolset_id)
    assert third[0] == first[0]
    assert third[1] == first[1]
    assert third[2].global_version_id != first[2].global_version_id
    assert third[2].toolset_version_id == first[2].toolset_version_id

    async with engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM source_states),"
                    " (SELECT count(*) FROM system_source_states),"
                    " (SELECT count(*) FROM tool_variations_group_versions)"
                )
            )
        ).one()
    assert tuple(counts) == (1, 1, 3)


async def test_a_new_deployment_or_template_revision_captures_a_new_source_state(
    client: httpx.AsyncClient, auth: dict[str, str], engine: AsyncEngine
) -> None:
    toolset = await toolset_of(client, auth, "p", 3)
    project_id = UUID((await client.get("/v1/projects/p", headers=auth)).json()["id"])
    async with engine.begin() as conn:
        first = await capture_source_state(conn, project_id)
    await ok(client.put("/v1/projects/p/prompt-templates/greet", json={"prompt": "Bye"}, headers=auth))
    async with engine.begin() as conn:
        second = await capture_source_state(conn, project_id)
    await create_deployment(client, auth, "p", make_tools(3))
    async with engine.begin() as conn:
        third = await capture_source_state(conn, project_id)
    assert len({first, second, third}) == 3
    assert toolset["slug"] == "all"
