import httpx

from tests.helpers_toolsets import BASE, project_with_toolset, switch


async def test_metrics_count_requests_by_route_template_and_releases(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await project_with_toolset(client, auth)
    await client.post(f"{BASE}/releases", headers=auth)
    await switch(client, auth, "staging")
    await client.post(f"{BASE}/staging", headers=auth)
    await client.post(f"{BASE}/staging/publish", headers=auth)
    await client.post(f"{BASE}/releases/1/rollback", headers=auth)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert (
        'toolsets_http_requests_total{method="POST",route="/v1/projects/{project}/toolsets/{toolset}/releases",'
        'status="201"}' in body
    )
    assert "/v1/projects/p/" not in body  # templates, never raw paths
    assert 'toolsets_releases_total{kind="publish"}' in body
    assert "toolsets_rollbacks_total" in body
