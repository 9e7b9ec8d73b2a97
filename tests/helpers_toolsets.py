"""Setting up a project with a deployment and a toolset, through the API."""

from typing import Any

import httpx

from tests.factories import create_deployment, create_project, create_prompt_template, make_tools

URNS = [f"tools:http:petstore:op_{i:04d}" for i in range(4)]
BASE = "/v1/projects/p/toolsets/pets"


async def project_with_toolset(
    client: httpx.AsyncClient, auth: dict[str, str], tool_urns: list[str] | None = None
) -> dict[str, Any]:
    """Project `p` (4 tools, template `greet`) with toolset `pets` of the first two tools."""
    await create_project(client, auth, "p")
    await create_deployment(client, auth, "p", make_tools(4))
    await create_prompt_template(client, auth, "p", name="greet", prompt="Hello")
    response = await client.post(
        "/v1/projects/p/toolsets",
        json={
            "name": "Pets",
            "tool_urns": tool_urns if tool_urns is not None else URNS[:2],
            "prompt_template_names": ["greet"],
        },
        headers=auth,
    )
    assert response.status_code == 201, response.text
    toolset: dict[str, Any] = response.json()
    return toolset


async def effective(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"{BASE}/effective", headers=auth)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def switch(client: httpx.AsyncClient, auth: dict[str, str], mode: str, **extra: Any) -> httpx.Response:
    return await client.put(f"{BASE}/editing-mode", json={"mode": mode, **extra}, headers=auth)
