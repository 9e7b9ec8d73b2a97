"""A Python SDK generated from the committed openapi.json drives the whole staging workflow.

The client is generated with openapi-python-client (offline, no post-generation hooks) into a
temporary folder, imported under a unique package name, and pointed at the in-process app.
"""

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.factories import make_tools
from tests.helpers_toolsets import URNS

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


class Sdk:
    """The generated package: `sdk.op("staging", "publish_staging_version")`, `sdk.models.Toolset`."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.models = importlib.import_module(f"{package}.models")
        self.client_module = importlib.import_module(f"{package}.client")
        self.errors = importlib.import_module(f"{package}.errors")

    def op(self, tag: str, operation: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.api.{tag}.{operation}")


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    folder = tmp_path_factory.mktemp("sdk")
    package = f"toolsets_sdk_{uuid.uuid4().hex[:8]}"
    config = folder / "config.json"
    # The default hooks run `ruff` from PATH over the output; the test needs the code, not its style.
    # YAML bodies (importOpenApiDeployment) are sent as bytes, as the generator does for binary ones.
    config.write_text(
        json.dumps(
            {"post_hooks": [], "content_type_overrides": {"application/yaml": "application/octet-stream"}}
        )
    )
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(ROOT / "openapi.json"),
            "--output-path",
            str(folder / package),
            "--meta",
            "none",
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield Sdk(package)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]


def connect(sdk: Sdk, app: Any, token: str) -> Any:
    """An AuthenticatedClient of the generated SDK that talks to the app in process."""
    return sdk.client_module.AuthenticatedClient(
        base_url="http://test",
        token=token,
        # A status the document does not declare for an operation fails the test.
        raise_on_unexpected_status=True,
        httpx_args={"transport": httpx.ASGITransport(app=app, raise_app_exceptions=False)},
    )


@pytest.fixture
async def api(
    sdk: Sdk, app_and_tables: Any, client: httpx.AsyncClient, auth: dict[str, str]
) -> AsyncIterator[Any]:
    """The generated client with the `auth` key, on tables `client` emptied."""
    async with connect(sdk, app_and_tables, auth["Authorization"].removeprefix("Bearer ")) as authenticated:
        yield authenticated


async def call(sdk: Sdk, api: Any, tag: str, operation: str, *args: Any, **kwargs: Any) -> Any:
    """`asyncio_detailed` of one generated operation: the typed response with status and headers."""
    return await sdk.op(tag, operation).asyncio_detailed(*args, client=api, **kwargs)


async def test_the_whole_staging_workflow_through_the_generated_sdk(sdk: Sdk, api: Any) -> None:
    m = sdk.models

    project = await call(sdk, api, "projects", "create_project", body=m.ProjectCreate(name="Pets", slug="p"))
    assert project.status_code == HTTPStatus.CREATED
    assert isinstance(project.parsed, m.Project)
    assert project.parsed.slug == "p"

    tools = [m.ToolDefinitionCreate.from_dict(tool) for tool in make_tools(4)]
    assert tools[0].http_method == m.ToolDefinitionCreateHttpMethod.GET
    deployment = await call(
        sdk, api, "deployments", "create_deployment", "p", body=m.DeploymentCreate(tools=tools)
    )
    assert deployment.status_code == HTTPStatus.CREATED
    assert isinstance(deployment.parsed, m.Deployment)
    assert deployment.parsed.tool_count == 4

    created = await call(
        sdk, api, "toolsets", "create_toolset", "p", body=m.ToolsetCreate(name="Pets", tool_urns=URNS[:2])
    )
    assert created.status_code == HTTPStatus.CREATED
    live = created.parsed
    assert isinstance(live, m.Toolset)
    assert (live.slug, live.tool_urns, live.current_release_number) == ("pets", URNS[:2], None)
    assert live.editing_mode == m.ToolsetEditingMode.ITERATION

    switched = await call(
        sdk,
        api,
        "staging",
        "switch_editing_mode",
        "p",
        "pets",
        body=m.EditingModeSwitch(mode=m.EditingModeSwitchMode.STAGING),
    )
    assert switched.status_code == HTTPStatus.OK
    assert switched.parsed.editing_mode == m.ToolsetEditingMode.STAGING
    assert switched.parsed.current_release_number == 1

    staged = await call(sdk, api, "staging", "create_staging_version", "p", "pets")
    assert staged.status_code == HTTPStatus.CREATED
    staging = staged.parsed
    assert isinstance(staging, m.Toolset)
    assert staging.id != live.id
    assert staging.version == switched.parsed.version + 1
    assert staging.tool_urns == URNS[:2]
    etag = staged.headers["etag"]
    assert etag == f'"{staging.version}"'

    # A second copy is refused, as a typed problem document.
    again = await call(sdk, api, "staging", "create_staging_version", "p", "pets")
    assert again.status_code == HTTPStatus.CONFLICT
    assert isinstance(again.parsed, m.Problem)
    assert again.parsed.hint == "PATCH /v1/projects/p/toolsets/pets/staging"

    edited = await call(
        sdk,
        api,
        "staging",
        "update_staging_version",
        "p",
        "pets",
        body=m.ToolsetUpdate(name="Pets 2", tool_urns=URNS[1:3]),
        if_match=etag,
    )
    assert edited.status_code == HTTPStatus.OK
    assert (edited.parsed.name, edited.parsed.tool_urns) == ("Pets 2", URNS[1:3])
    stale = await call(
        sdk,
        api,
        "staging",
        "update_staging_version",
        "p",
        "pets",
        body=m.ToolsetUpdate(name="x"),
        if_match=etag,
    )
    assert stale.status_code == HTTPStatus.PRECONDITION_FAILED
    assert isinstance(stale.parsed, m.Problem)

    variation = await call(
        sdk,
        api,
        "staging",
        "upsert_staging_variation",
        "p",
        "pets",
        URNS[1],  # the generated client percent-encodes the URN's colons; the route still matches
        body=m.VariationFields(title="Staged"),
    )
    assert variation.status_code == HTTPStatus.OK
    assert isinstance(variation.parsed, m.Variation)
    assert (variation.parsed.tool_urn, variation.parsed.title, variation.parsed.version) == (
        URNS[1],
        "Staged",
        1,
    )

    diff = await call(sdk, api, "staging", "diff_staging_version", "p", "pets")
    assert diff.status_code == HTTPStatus.OK
    assert isinstance(diff.parsed, m.StateDiff)
    name_change = diff.parsed.metadata["name"]
    assert (name_change.from_, name_change.to) == ("Pets", "Pets 2")
    assert diff.parsed.tools.added == [URNS[2]]
    assert diff.parsed.tools.removed == [URNS[0]]
    [changed] = diff.parsed.tools.changed
    assert changed.urn == URNS[1]
    assert (changed.fields["title"].from_, changed.fields["title"].to) == (None, "Staged")

    # Nothing reaches clients before publishing.
    served = await call(sdk, api, "toolsets", "get_effective_toolset", "p", "pets")
    assert (served.parsed.name, served.parsed.release_number) == ("Pets", 1)

    published = await call(
        sdk, api, "staging", "publish_staging_version", "p", "pets", body=m.StagingPublish(notes="second")
    )
    assert published.status_code == HTTPStatus.CREATED
    assert isinstance(published.parsed, m.Release)
    assert (published.parsed.release_number, published.parsed.notes) == (2, "second")

    releases = await call(sdk, api, "releases", "list_releases", "p", "pets")
    assert releases.status_code == HTTPStatus.OK
    assert [r.release_number for r in releases.parsed.items] == [2, 1]
    assert releases.parsed.next_cursor is None

    state = await call(sdk, api, "releases", "get_release_state", "p", "pets", 2)
    assert state.status_code == HTTPStatus.OK
    assert isinstance(state.parsed, m.EffectiveToolset)
    assert (state.parsed.name, state.parsed.release_number) == ("Pets 2", 2)
    assert [t.urn for t in state.parsed.tools] == URNS[1:3]
    assert state.parsed.tools[0].title == "Staged"
    served = await call(sdk, api, "toolsets", "get_effective_toolset", "p", "pets")
    assert served.parsed.to_dict() == state.parsed.to_dict()

    rolled_back = await call(sdk, api, "releases", "rollback_to_release", "p", "pets", 1)
    assert rolled_back.status_code == HTTPStatus.OK
    assert isinstance(rolled_back.parsed, m.Release)
    assert rolled_back.parsed.release_number == 1
    served = await call(sdk, api, "toolsets", "get_effective_toolset", "p", "pets")
    assert served.status_code == HTTPStatus.OK
    assert (served.parsed.name, served.parsed.release_number) == ("Pets", 1)
    assert [t.urn for t in served.parsed.tools] == URNS[:2]
    assert served.parsed.tools[1].title is None

    # A second staging copy starts from what is served; discarding it leaves releases alone.
    second = await call(sdk, api, "staging", "create_staging_version", "p", "pets")
    assert second.status_code == HTTPStatus.CREATED
    assert (second.parsed.name, second.parsed.tool_urns) == ("Pets", URNS[:2])
    discarded = await call(
        sdk, api, "staging", "discard_staging_version", "p", "pets", if_match=second.headers["etag"]
    )
    assert discarded.status_code == HTTPStatus.NO_CONTENT
    gone = await call(sdk, api, "staging", "get_staging_version", "p", "pets")
    assert gone.status_code == HTTPStatus.NOT_FOUND
    assert isinstance(gone.parsed, m.Problem)
    after = await call(sdk, api, "toolsets", "get_effective_toolset", "p", "pets")
    assert after.parsed.to_dict() == served.parsed.to_dict()
    releases = await call(sdk, api, "releases", "list_releases", "p", "pets")
    assert [(r.release_number, r.current) for r in releases.parsed.items] == [(2, False), (1, True)]


async def test_the_sdk_sends_its_token_and_reads_problems(sdk: Sdk, api: Any, app_and_tables: Any) -> None:
    async with connect(sdk, app_and_tables, "tsk_not_a_key") as anonymous:
        refused = await call(sdk, anonymous, "projects", "list_projects")
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert isinstance(refused.parsed, sdk.models.Problem)
    assert refused.parsed.status == 401
    listed = await call(sdk, api, "projects", "list_projects")
    assert listed.status_code == HTTPStatus.OK
    assert listed.parsed.items == []
