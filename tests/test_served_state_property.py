"""Property: whatever the history, what a toolset serves is what a release would capture,
and no release ever changes.

Hypothesis drives random histories of edits (global and toolset variations, template
revisions, new deployments), mode switches, staging publishes, releases and rollbacks.
After each step:
- in iteration mode, the served state equals `next` (what createRelease would capture
  now), and a release made now serves exactly it;
- in staging mode, the served state is the current release's state;
- every release made so far still has exactly the state it had when it was made.
"""

import itertools
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import create_deployment, create_project, create_prompt_template, make_tools

TOOLS = 4
URNS = [f"tools:http:petstore:op_{i:04d}" for i in range(TOOLS)]
_projects = itertools.count()

step = st.one_of(
    st.tuples(st.just("global_variation"), st.sampled_from(URNS), st.text("abc", min_size=1, max_size=3)),
    st.tuples(st.just("toolset_variation"), st.sampled_from(URNS), st.text("xyz", min_size=1, max_size=3)),
    st.tuples(st.just("template_revision"), st.text("hi", min_size=1, max_size=3)),
    st.tuples(st.just("deployment"), st.text("d", min_size=1, max_size=3)),
    st.tuples(st.just("switch_mode")),
    st.tuples(st.just("publish"), st.sampled_from(URNS), st.text("pq", min_size=1, max_size=3)),
    st.tuples(st.just("release")),
    st.tuples(st.just("rollback"), st.integers(min_value=1, max_value=6)),
)


class History:
    def __init__(self, client: httpx.AsyncClient, auth: dict[str, str], project: str) -> None:
        self.client, self.auth, self.project = client, auth, project
        self.base = f"/v1/projects/{project}/toolsets/ts"
        self.releases: dict[int, dict[str, Any]] = {}
        self.mode = "iteration"

    async def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=self.auth, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def state(self, path: str) -> dict[str, Any]:
        state: dict[str, Any] = await self.call("GET", f"{self.base}{path}", 200)
        return state

    async def diff(self, side_from: str, side_to: str) -> dict[str, Any]:
        diff: dict[str, Any] = await self.call(
            "GET", f"{self.base}/diff", 200, params={"from": side_from, "to": side_to}
        )
        return diff

    async def record_release(self, release: dict[str, Any]) -> None:
        number = release["release_number"]
        self.releases[number] = await self.state(f"/releases/{number}/state")

    async def apply(self, action: tuple[Any, ...]) -> None:
        kind = action[0]
        if kind == "global_variation":
            await self.call(
                "PUT",
                f"/v1/projects/{self.project}/variations/{action[1]}",
                200,
                json={"description": action[2]},
            )
        elif kind == "toolset_variation":
            if self.mode == "iteration":
                await self.call("PUT", f"{self.base}/variations/{action[1]}", 200, json={"title": action[2]})
        elif kind == "template_revision":
            await self.call(
                "PUT", f"/v1/projects/{self.project}/prompt-templates/greet", 200, json={"prompt": action[1]}
            )
        elif kind == "deployment":
            tools = make_tools(TOOLS)
            for tool in tools:
                tool["description"] = f"{tool['description']} ({action[1]})"
            await create_deployment(self.client, self.auth, self.project, tools)
        elif kind == "switch_mode":
            target = "staging" if self.mode == "iteration" else "iteration"
            body: dict[str, Any] = {"mode": target, "discard_staging": True}
            await self.call("PUT", f"{self.base}/editing-mode", 200, json=body)
            self.mode = target
            if target == "staging":
                current = await self.call("GET", f"{self.base}/releases", 200, params={"limit": 1})
                top = current["items"][0]
                if top["release_number"] not in self.releases:
                    await self.record_release(top)
        elif kind == "publish":
            if self.mode == "staging":
                await self.call("POST", f"{self.base}/staging", 201)
                path = f"{self.base}/staging/variations/{action[1]}"
                await self.call("PUT", path, 200, json={"summary": action[2]})
                staging_diff = await self.diff("live", "staging")
                release = await self.call("POST", f"{self.base}/staging/publish", 201, json={})
                await self.record_release(release)
                # The release is what the staging copy was, and what `next` is right after.
                assert _is_empty(await self.diff(f"release:{release['release_number']}", "next"))
                assert (await self.diff("live", "next"))["tools"] == _no_tool_changes()
                assert staging_diff is not None
        elif kind == "release":
            before = await self.state("/effective")
            release = await self.call("POST", f"{self.base}/releases", 201, json={})
            await self.record_release(release)
            captured = self.releases[release["release_number"]]
            assert _is_empty(await self.diff(f"release:{release['release_number']}", "next"))
            if self.mode == "iteration":
                assert _without_number(captured) == _without_number(before)
        elif kind == "rollback":
            number = action[1]
            if self.mode == "staging" and number in self.releases:
                await self.call("POST", f"{self.base}/releases/{number}/rollback", 200)

    async def check(self) -> None:
        served = await self.state("/effective")
        if self.mode == "iteration":
            assert served["release_number"] is None
            assert _is_empty(await self.diff("live", "next"))
        else:
            assert served == self.releases[served["release_number"]]
        for number, recorded in self.releases.items():
            assert await self.state(f"/releases/{number}/state") == recorded, f"release {number} changed"


def _no_tool_changes() -> dict[str, list[Any]]:
    return {"added": [], "removed": [], "changed": []}


def _is_empty(diff: dict[str, Any]) -> bool:
    sections = ("tools", "resources", "prompts")
    return not diff["metadata"] and all(
        not diff[s][part] for s in sections for part in ("added", "removed", "changed") if part in diff[s]
    )


def _without_number(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "release_number"}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=7))
async def test_the_served_state_is_what_a_release_captures_and_releases_never_change(
    client: httpx.AsyncClient, auth: dict[str, str], steps: list[tuple[Any, ...]]
) -> None:
    project = f"h{next(_projects)}"
    await create_project(client, auth, project)
    await create_deployment(client, auth, project, make_tools(TOOLS))
    await create_prompt_template(client, auth, project, name="greet", prompt="Hello")
    body = {"name": "ts", "slug": "ts", "tool_urns": URNS[:3], "prompt_template_names": ["greet"]}
    response = await client.post(f"/v1/projects/{project}/toolsets", json=body, headers=auth)
    assert response.status_code == 201, response.text
    history = History(client, auth, project)
    for action in steps:
        await history.apply(action)
        await history.check()
