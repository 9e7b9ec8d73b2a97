"""Contract gaps: path integers, URNs in paths, If-Match, trailing slashes, 200 vs 201."""

from urllib.parse import quote

import httpx
import pytest

from tests.helpers_toolsets import BASE, URNS, project_with_toolset
from tests.test_limits import ROUTES, assert_problem, url_for

NOT_PLAIN_DECIMAL = ["1_0", "1.0", " 1", "1 ", "+1", "01", "1e0", "0x1", "\uff11", "\u0661", "1\u00a0"]


def routes_with(parameter: str) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in ROUTES if "{" + parameter + "}" in path]


INTEGER_ROUTES = [(m, p, name) for name in ("version", "release_number") for m, p in routes_with(name)]


@pytest.mark.parametrize(("method", "path", "name"), INTEGER_ROUTES)
async def test_integers_in_paths_are_plain_decimal(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str, name: str
) -> None:
    await project_with_toolset(client, auth)
    for spelling in NOT_PLAIN_DECIMAL:
        url = url_for(path.replace("{" + name + "}", quote(spelling, safe="")))
        response = await client.request(method, url, headers=auth)
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["field"] == f"path.{name}", spelling
    plain = await client.request(method, url_for(path.replace("{" + name + "}", "7")), headers=auth)
    assert plain.status_code in (404, 409), plain.text  # no version or release 7: but a number


async def test_limit_is_plain_decimal_too(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for spelling in ("1_0", "1.0", " 5", "+5", "05"):
        response = await client.get("/v1/projects", params={"limit": spelling}, headers=auth)
        assert assert_problem(response, 422)["errors"][0]["field"] == "query.limit"
    assert (await client.get("/v1/projects", params={"limit": "5"}, headers=auth)).status_code == 200


# Each is refused in a body URN, so it is refused in a path URN as well.
BAD_URNS = [
    "tools:http:p:a\x01b",
    "tools:http:p:a\x7fb",
    "tools:http:p:a\u0085b",
    "tools:http:p:a\u009fb",
    "tools:http:p:a b",
    "tools:http:p:a\tb",
    "tools:http:p:a\u2028b",
    "tools:http:p:a\u00a0b",
    "tools:http:p:a?b",
    "tools:http:p:a#b",
    "u" * 501,
]


@pytest.mark.parametrize(("method", "path"), routes_with("tool_urn"))
async def test_a_tool_urn_in_a_path_obeys_the_rules_of_a_body_urn(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    await project_with_toolset(client, auth)
    for urn in BAD_URNS:
        url = url_for(path.replace("{tool_urn}", quote(urn, safe="")))
        response = await client.request(method, url, headers=auth, json={} if method == "PUT" else None)
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["field"] == "path.tool_urn", urn
        in_a_body = await client.patch(BASE, json={"tool_urns": [urn]}, headers=auth)
        assert_problem(in_a_body, 422, "validation_error")


IF_MATCH_ROUTES = [
    (m, p) for m, p, r in ROUTES if any(param.alias == "If-Match" for param in r.dependant.header_params)
]
MALFORMED_IF_MATCH = [
    "1",
    '"1',
    '1"',
    "W/1",
    'W/"1',
    'w/"1"',
    '"1" "2"',
    '"1",',
    ',"1"',
    '*, "1"',
    '"1"x',
    '"a"b"',
]


# Bodies that validate, so that the header's error is not hidden behind a body error.
IF_MATCH_BODIES: dict[str, dict[str, object]] = {
    "/v1/projects/{project}/toolsets/{toolset}/labels/{label}": {"release_number": 1},
}


@pytest.mark.parametrize(("method", "path"), IF_MATCH_ROUTES)
async def test_if_match_accepts_only_well_formed_entity_tags(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, path: str
) -> None:
    assert IF_MATCH_ROUTES
    await project_with_toolset(client, auth)
    for value in MALFORMED_IF_MATCH:
        body = IF_MATCH_BODIES.get(path, {})
        response = await client.request(method, url_for(path), headers=auth | {"If-Match": value}, json=body)
        problem = assert_problem(response, 422, "validation_error")
        assert "header.If-Match" in [error["field"] for error in problem["errors"]], value


async def test_well_formed_if_match_lists_and_weak_tags_are_compared_by_value(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    for value in ('"7"', 'W/"7"', '"8", "9"', '"x1"', '""', '"1,2"'):
        stale = await client.patch(BASE, json={"name": "A"}, headers=auth | {"If-Match": value})
        assert_problem(stale, 412, "precondition_failed")
    fresh = await client.patch(BASE, json={"name": "A"}, headers=auth | {"If-Match": ' "9" ,W/"1"'})
    assert fresh.status_code == 200, fresh.text
    assert (await client.patch(BASE, json={"name": "B"}, headers=auth | {"If-Match": "*"})).status_code == 200


@pytest.mark.parametrize(
    "path", ["/v1/projects/", "/v1/projects/p/", "/v1/projects/p/toolsets/", f"{BASE}/", "/healthz/"]
)
async def test_a_trailing_slash_is_404_never_a_redirect_built_from_the_host_header(
    client: httpx.AsyncClient, auth: dict[str, str], path: str
) -> None:
    await project_with_toolset(client, auth)
    for method in ("GET", "POST"):
        response = await client.request(method, path, headers=auth | {"Host": "evil.example"})
        assert_problem(response, 404)
        assert "location" not in response.headers


async def test_create_global_group_version_answers_201_when_it_makes_one_and_200_when_it_reuses(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    url = "/v1/projects/p/variations/group-versions"
    empty = await client.post(url, headers=auth)
    assert (empty.status_code, empty.json()["created"]) == (201, True)
    assert (
        await client.put(f"/v1/projects/p/variations/{URNS[0]}", json={"name": "a"}, headers=auth)
    ).is_success
    made = await client.post(url, headers=auth)
    assert (made.status_code, made.json()["created"], made.json()["version"]) == (201, True, 2)
    reused = await client.post(url, headers=auth)
    assert (reused.status_code, reused.json()["created"], reused.json()["id"]) == (
        200,
        False,
        made.json()["id"],
    )
