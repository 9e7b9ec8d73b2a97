"""Semantics found wrong: re-attaching a re-created template, switching back to iteration."""

import httpx

from tests.factories import create_prompt_template
from tests.helpers_toolsets import BASE, effective, project_with_toolset, switch


async def test_a_template_deleted_and_created_again_can_be_attached_again(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    toolset = await project_with_toolset(client, auth)  # attaches `greet`
    assert (await client.delete("/v1/projects/p/prompt-templates/greet", headers=auth)).status_code == 204
    assert (await effective(client, auth))["prompts"] == []
    await create_prompt_template(client, auth, "p", name="greet", prompt="Hello again")

    attached = await client.patch(BASE, json={"prompt_template_names": ["greet"]}, headers=auth)
    assert attached.status_code == 200, attached.text
    assert attached.json()["version"] == toolset["version"] + 1
    assert [p["prompt"] for p in (await effective(client, auth))["prompts"]] == ["Hello again"]

    # The same in a staging copy, published.
    assert (await switch(client, auth, "staging")).status_code == 200
    assert (await client.delete("/v1/projects/p/prompt-templates/greet", headers=auth)).status_code == 204
    await create_prompt_template(client, auth, "p", name="greet", prompt="Hello, third")
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    staged = await client.patch(f"{BASE}/staging", json={"prompt_template_names": ["greet"]}, headers=auth)
    assert staged.status_code == 200, staged.text
    diff = (await client.get(f"{BASE}/staging/diff", headers=auth)).json()
    assert diff["prompts"]["changed"] or diff["prompts"]["added"]
    assert (await client.post(f"{BASE}/staging/publish", headers=auth)).status_code == 201
    assert [p["prompt"] for p in (await effective(client, auth))["prompts"]] == ["Hello, third"]


async def test_switching_to_iteration_is_refused_only_when_the_staging_copy_has_changes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    assert (await switch(client, auth, "staging")).status_code == 200
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201

    untouched = await switch(client, auth, "iteration")
    assert untouched.status_code == 200, untouched.text
    assert untouched.json()["editing_mode"] == "iteration"
    assert (await client.get(f"{BASE}/staging", headers=auth)).status_code == 404

    # An edit and its undo leave nothing unpublished either.
    assert (await switch(client, auth, "staging")).status_code == 200
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    for name in ("Other", "Pets"):
        assert (await client.patch(f"{BASE}/staging", json={"name": name}, headers=auth)).status_code == 200
    assert (await switch(client, auth, "iteration")).status_code == 200

    # A real change is refused, unless discarded.
    assert (await switch(client, auth, "staging")).status_code == 200
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    variation = await client.put(
        f"{BASE}/staging/variations/tools:http:petstore:op_0000", json={"title": "T"}, headers=auth
    )
    assert variation.status_code == 200, variation.text
    refused = await switch(client, auth, "iteration")
    assert (refused.status_code, refused.json()["code"]) == (409, "staging_exists")
    assert (await switch(client, auth, "iteration", discard_staging=True)).status_code == 200
