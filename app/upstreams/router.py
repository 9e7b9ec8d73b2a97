from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from app.kit.auth import RequireRead, RequireWrite
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam
from app.kit.schemas import AUTH_RESPONSES, BODY, INVALID, NOT_FOUND, Page, problem, problem_example
from app.upstreams.schemas import SOURCE_PATTERN, Upstream, UpstreamPut
from app.upstreams.service import UpstreamService, upstream_service

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects",
    tags=["deployments"],  # the SPEC's tag set; upstreams serve deployments' sources
    responses=AUTH_RESPONSES,
)

SourceParam = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=SOURCE_PATTERN,
        description="The source: the `{source}` of its tools' URNs `tools:http:{source}:{name}`.",
        examples=["petstore"],
    ),
]


@router.put(
    "/{project}/upstreams/{source}",
    operation_id="putUpstream",
    dependencies=[RequireWrite],
    responses=BODY
    | NOT_FOUND
    | {
        503: problem(
            "Headers were sent but no secret key is configured",
            problem_example(
                503,
                "secrets_unavailable",
                "Secrets unavailable",
                "No secret key is configured: set TOOLSETS_SECRET_KEY (see `toolsets generate-secret-key`).",
            ),
        )
    },
)
async def put_upstream(
    project: ProjectParam,
    source: SourceParam,
    body: UpstreamPut,
    service: UpstreamService = Depends(upstream_service),
) -> Upstream:
    """Set where the source's tools send their requests, and the headers they send (secret:
    encrypted at rest, never returned, never logged). Omitting `headers` keeps the stored ones."""
    return await service.put(project, source, body)


@router.get(
    "/{project}/upstreams",
    operation_id="listUpstreams",
    dependencies=[RequireRead],
    responses=INVALID | NOT_FOUND,
)
async def list_upstreams(
    project: ProjectParam,
    page: PageParams = Depends(),
    service: UpstreamService = Depends(upstream_service),
) -> Page[Upstream]:
    """Sorted by source; header names only."""
    items, cursor = await service.list_upstreams(project, page.position(str), page.limit)
    return Page[Upstream](items=items, next_cursor=cursor)


@router.get(
    "/{project}/upstreams/{source}",
    operation_id="getUpstream",
    dependencies=[RequireRead],
    responses=INVALID | NOT_FOUND,
)
async def get_upstream(
    project: ProjectParam, source: SourceParam, service: UpstreamService = Depends(upstream_service)
) -> Upstream:
    """The base URL and the names of the headers; their values are never returned."""
    return await service.get(project, source)


@router.delete(
    "/{project}/upstreams/{source}",
    operation_id="deleteUpstream",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=INVALID | NOT_FOUND,
)
async def delete_upstream(
    project: ProjectParam, source: SourceParam, service: UpstreamService = Depends(upstream_service)
) -> None:
    """Forget the upstream and its headers; the source's tools fall back to their document's server URL."""
    await service.delete(project, source)
