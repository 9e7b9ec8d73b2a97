"""Prometheus metrics: what each request adds, not which names exist (they do from start-up)."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import ok
from tests.helpers_toolsets import BASE, project_with_toolset, switch

RELEASES_ROUTE = "/v1/projects/{project}/toolsets/{toolset}/releases"


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "/v1/projects/p/" not in response.text  # route templates, never raw paths
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_count_requests_by_route_template_and_the_release_lifecycle(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    before = await scrape(client)
    await ok(client.post(f"{BASE}/releases", headers=auth), 201)
    await ok(client.post(f"{BASE}/releases", headers=auth), 201)
    await ok(switch(client, auth, "staging"))
    await ok(client.post(f"{BASE}/staging", headers=auth), 201)
    await ok(client.post(f"{BASE}/staging/publish", headers=auth), 201)
    await ok(client.post(f"{BASE}/releases/1/rollback", headers=auth))
    assert (await client.post(f"{BASE}/releases/9/rollback", headers=auth)).status_code == 404
    after = await scrape(client)

    requests = "toolsets_http_requests_total"
    assert delta(before, after, requests, method="POST", route=RELEASES_ROUTE, status="201") == 2
    rollback = RELEASES_ROUTE + "/{release_number}/rollback"
    assert delta(before, after, requests, method="POST", route=rollback, status="200") == 1
    assert delta(before, after, requests, method="POST", route=rollback, status="404") == 1
    assert delta(before, after, "toolsets_releases_total", kind="create_release") == 2
    assert delta(before, after, "toolsets_releases_total", kind="publish") == 1
    assert delta(before, after, "toolsets_rollbacks_total") == 1
    latency = "toolsets_http_request_duration_seconds_count"
    assert delta(before, after, latency, method="POST", route=RELEASES_ROUTE) == 2


async def test_an_unmatched_path_is_counted_under_one_label(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for path in ("/nowhere", "/v1/nowhere/else", "/v1/projects/"):
        assert (await client.get(path)).status_code == 404
    after = await scrape(client)
    assert (
        delta(before, after, "toolsets_http_requests_total", method="GET", route="unmatched", status="404")
        == 3
    )
    assert not any("nowhere" in dict(labels).get("route", "") for _, labels in after)
