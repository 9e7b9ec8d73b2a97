"""Every list is `{items, next_cursor}`, and takes back only the cursors it issues."""

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from app.kit.pagination import encode_cursor
from tests.helpers_toolsets import BASE, URNS, project_with_toolset
from tests.test_limits import LIST_ROUTES, assert_problem, every_list_has_something, url_for

WHEN = "2026-11-29T01:02:03.456789+00:00"
ID = "0b5e2c1e-6a43-4c6b-9f0e-1d2c3b4a5968"
# The key each list's pages end at, as that list issues it.
KEYS: dict[str, list[Any]] = {
    "listProjects": ["p"],
    "listDeployments": [3],
    "listTools": [ID, URNS[0]],
    "listPromptTemplates": ["greet"],
    "listPromptTemplateRevisions": [2],
    "listToolsets": ["pets"],
    "listReleases": [WHEN, 2],
    "listToolsetAuditEntries": [WHEN, ID],
    "listGlobalVariations": [URNS[0]],
    "listToolsetVariations": [URNS[0]],
    "listStagingVariations": [URNS[0]],
    "listGlobalVariationVersions": [2, False, ID],
    "listToolsetVariationVersions": [2, False, ID],
    "listWebhooks": [WHEN, ID],
    "listWebhookDeliveries": [WHEN, ID],
    "listUpstreams": ["petstore"],
    "listScheduledPublishes": [WHEN, ID],
    "listReleaseLabels": ["stable"],
    "listServedHistory": [WHEN, ID],
    "listProjectSnapshots": [WHEN, ID],
}
LISTS = [(route.operation_id, path) for _, path, route in LIST_ROUTES]


def b64(raw: bytes, *, standard: bool = False, padded: bool = False) -> str:
    text = (base64.standard_b64encode if standard else base64.urlsafe_b64encode)(raw).decode()
    return text if padded else text.rstrip("=")


def wrong_parts(value: Any) -> list[Any]:
    """Values of another type, or out of the range the database compares, for one key part."""
    out_of_range: list[Any] = [2**63, -(2**63) - 1, 10**30, 1.0, True, None, "1", [1], {"a": 1}]
    if isinstance(value, bool):
        return [0, 1, "false", None]
    if isinstance(value, int):
        return out_of_range
    wrong: list[Any] = [1, None, True, ["x"], "x\ud800", "\udc00", "a\x00b", "x" * 2000]
    if value in (WHEN, ID):
        wrong += [value.upper() if value == ID else "2026-11-29T01:02:03", "not-a-" + value, " " + value]
    return wrong


def forged_cursors(key: list[Any]) -> list[str]:
    canonical = json.dumps(key)
    cursors = [
        "!!!",
        "a",
        "%%%",
        b64(b"\xff\xfe\xfd"),
        b64(b"not json"),
        b64(b"{}"),
        b64(b"[]"),
        b64(json.dumps({"k": key}).encode()),
        b64(json.dumps([*key, 1]).encode()),
        b64(json.dumps(key[:-1]).encode()),
        b64(b"[Infinity]"),
        b64(b"[NaN]"),
        b64(b"[-Infinity, 1]"),
        b64(b"[1e999]"),
        b64(b'["\\ud800"]'),
        b64(canonical.encode(), padded=True) + ("" if len(canonical) % 3 else "=="),
        b64(canonical.replace(", ", ",").encode()),
        b64((" " + canonical).encode()),
        b64(canonical.encode()) + "\n",
        b64(canonical.encode(), standard=True) + "+/",
        b64(canonical.encode(), padded=True) if len(canonical) % 3 else b64(canonical.encode()) + "==",
        b64(json.dumps(key, ensure_ascii=False).replace("p", "\\u0070").encode()),
    ]
    for index, part in enumerate(key):
        for wrong in wrong_parts(part):
            forged = list(key)
            forged[index] = wrong
            cursors.append(b64(json.dumps(forged).encode("utf-8", "surrogatepass")))
    return [c for c in cursors if c != encode_cursor(key)]


def test_every_list_is_paginated_and_named_here() -> None:
    assert sorted(KEYS) == sorted(op for op, _ in LISTS)


@pytest.mark.parametrize(("operation", "path"), LISTS)
async def test_a_cursor_the_list_did_not_issue_is_422_on_every_list(
    client: httpx.AsyncClient, auth: dict[str, str], operation: str, path: str
) -> None:
    await every_list_has_something(client, auth)
    url = url_for(path)
    issued = await client.get(url, params={"cursor": encode_cursor(KEYS[operation])}, headers=auth)
    assert issued.status_code == 200, issued.text
    for cursor in forged_cursors(KEYS[operation]):
        response = await client.get(url, params={"cursor": cursor}, headers=auth)
        assert_problem(response, 422, "validation_error")
        assert response.json()["errors"][0]["field"] == "query.cursor", cursor
    for key in KEYS.values():
        if [type(part) for part in key] != [type(part) for part in KEYS[operation]]:
            response = await client.get(url, params={"cursor": encode_cursor(key)}, headers=auth)
            assert_problem(response, 422, "validation_error")


async def walk(client: httpx.AsyncClient, auth: dict[str, str], url: str, limit: int) -> list[list[Any]]:
    pages: list[list[Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=params, headers=auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_the_variation_lists_and_their_versions_page_through_everything(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth, tool_urns=URNS)
    for urn in URNS:
        for n in range(3):
            body = {"name": f"{urn[-4:]}_{n}"}
            segment = quote(urn, safe="")
            put = await client.put(f"/v1/projects/p/variations/{segment}", json=body, headers=auth)
            assert put.status_code == 200, put.text
            put = await client.put(f"{BASE}/variations/{urn}", json=body, headers=auth)
            assert put.status_code == 200, put.text
    assert (await client.delete(f"/v1/projects/p/variations/{URNS[0]}", headers=auth)).status_code == 204

    for url in ("/v1/projects/p/variations", f"{BASE}/variations"):
        pages = await walk(client, auth, url, 2)
        urns = [v["tool_urn"] for page in pages for v in page]
        assert urns == (URNS[1:] if url == "/v1/projects/p/variations" else URNS)  # URNS[0] deleted
        assert [len(p) for p in pages] == ([2, 1] if len(urns) == 3 else [2, 2])

    for url in (f"/v1/projects/p/variations/{URNS[0]}/versions", f"{BASE}/variations/{URNS[1]}/versions"):
        pages = await walk(client, auth, url, 1)
        versions = [(v["version"], v["deleted"]) for page in pages for v in page]
        expected = [(4, True), (3, False), (2, False), (1, False)] if "/p/variations" in url else None
        assert versions == (expected or [(3, False), (2, False), (1, False)])

    # The staging copy's own variations: a copy of the live toolset's.
    switched = await client.put(f"{BASE}/editing-mode", json={"mode": "staging"}, headers=auth)
    assert switched.status_code == 200
    assert (await client.post(f"{BASE}/staging", headers=auth)).status_code == 201
    pages = await walk(client, auth, f"{BASE}/staging/variations", 2)
    assert [v["tool_urn"] for page in pages for v in page] == URNS
    assert [len(p) for p in pages] == [2, 2]
