"""Setting up the benchmark's data: projects, deployments and toolsets through the API,
variations in bulk SQL (the API path is covered by the tests; this is only setup)."""

from typing import Any

import asyncpg
import httpx


def tool_urn(i: int) -> str:
    return f"tools:http:bench:op_{i:05d}"


def make_tools(n: int) -> list[dict[str, Any]]:
    return [
        {
            "urn": tool_urn(i),
            "name": f"op_{i:05d}",
            "description": f"Operation {i} of the bench API: fetches thing number {i} by its id.",
            "summary": f"op {i}",
            "http_method": "GET",
            "path": f"/bench/op/{i}",
            "input_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
            "tags": ["bench"],
            "read_only_hint": True,
        }
        for i in range(n)
    ]


async def ok(response: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON body of a response that has the expected status (else an error naming the request)."""
    await ok_response(response, status)
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def ok_response(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response


async def project_with_tools(client: httpx.AsyncClient, slug: str, n: int) -> list[str]:
    """Project `slug` with one deployment of n tools and a prompt template `greet`; returns the URNs."""
    await ok(await client.post("/v1/projects", json={"name": slug, "slug": slug}), 201)
    tools = make_tools(n)
    await ok(await client.post(f"/v1/projects/{slug}/deployments", json={"tools": tools}, timeout=120), 201)
    await ok(
        await client.post(
            f"/v1/projects/{slug}/prompt-templates", json={"name": "greet", "prompt": "Hello {{who}}"}
        ),
        201,
    )
    return [t["urn"] for t in tools]


async def toolset(client: httpx.AsyncClient, project: str, slug: str, urns: list[str]) -> dict[str, Any]:
    body = {"name": slug, "slug": slug, "tool_urns": urns, "prompt_template_names": ["greet"]}
    return await ok(await client.post(f"/v1/projects/{project}/toolsets", json=body, timeout=120), 201)


async def global_variations(pg: asyncpg.Connection, organization: str, project: str, urns: list[str]) -> None:
    """The project's global group with one variation per URN."""
    await pg.execute(
        """
        WITH project AS (SELECT id FROM projects WHERE organization_id = $1 AND slug = $2),
        g AS (INSERT INTO tool_variations_groups (project_id, name) SELECT id, 'global' FROM project
              RETURNING id, project_id),
        link AS (INSERT INTO project_tool_variations (project_id, group_id) SELECT project_id, id FROM g)
        INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name, description, tags)
        SELECT g.id, u, split_part(u, ':', 4), 'Global description of ' || u, ARRAY['global']
        FROM g, unnest($3::text[]) u
        """,
        organization,
        project,
        urns,
    )


async def toolset_variations(pg: asyncpg.Connection, toolset_id: str, urns: list[str]) -> None:
    """The toolset's own group with one variation per URN."""
    await pg.execute(
        """
        WITH ts AS (SELECT id, project_id, slug FROM toolsets WHERE id = $1::uuid),
        g AS (INSERT INTO tool_variations_groups (project_id, name)
              SELECT project_id, 'toolset:' || slug FROM ts RETURNING id),
        upd AS (UPDATE toolsets SET tool_variations_group_id = (SELECT id FROM g) WHERE id = $1::uuid)
        INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name, name, title)
        SELECT g.id, u, split_part(u, ':', 4), 'ts_' || split_part(u, ':', 4), 'Toolset title of ' || u
        FROM g, unnest($2::text[]) u
        """,
        toolset_id,
        urns,
    )


async def switch_to_staging(client: httpx.AsyncClient, project: str, slug: str) -> dict[str, Any]:
    return await ok(
        await client.put(
            f"/v1/projects/{project}/toolsets/{slug}/editing-mode", json={"mode": "staging"}, timeout=120
        ),
        200,
    )


async def served_project(
    client: httpx.AsyncClient, pg: asyncpg.Connection, organization: str, n: int, project: str = "served"
) -> dict[str, str]:
    """Project `project` with n tools, n global variations, and toolsets `staged` (in staging mode)
    and `iterated` (iteration mode) of all n tools with n variations each; returns their
    effective-state paths by mode."""
    urns = await project_with_tools(client, project, n)
    await global_variations(pg, organization, project, urns)
    for slug in ("staged", "iterated"):
        created = await toolset(client, project, slug, urns)
        await toolset_variations(pg, created["id"], urns)
    await switch_to_staging(client, project, "staged")
    return {
        "staging": f"/v1/projects/{project}/toolsets/staged/effective",
        "iteration": f"/v1/projects/{project}/toolsets/iterated/effective",
    }
