from fastapi import APIRouter, Depends, Response, status

from app.kit.auth import Principal, RequireRead, RequireWrite, authenticate
from app.kit.etag import IfMatch, set_etag
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam, ToolsetParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, PRECONDITION, Page, headers
from app.serving.engine import Endpoint, ServedStates, served_states
from app.toolsets.schemas import EffectiveToolset, Toolset, ToolsetCreate, ToolsetUpdate
from app.toolsets.service import ToolsetService, toolset_service

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}/toolsets",
    tags=["toolsets"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)


def _with_etag(response: Response, toolset: Toolset) -> Toolset:
    set_etag(response, toolset.version)
    return toolset


@router.post(
    "",
    operation_id="createToolset",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses=BODY | CONFLICT | headers(201, "ETag", "Location"),
)
async def create_toolset(
    project: ProjectParam,
    body: ToolsetCreate,
    response: Response,
    service: ToolsetService = Depends(toolset_service),
) -> Toolset:
    """Create a toolset in iteration mode: a named selection of the active deployment's tools and
    resources and of the project's prompt templates. The slug is derived from the name when absent;
    every URN and template name must exist (422 `unknown_references` otherwise)."""
    toolset = await service.create(project, body)
    response.headers["Location"] = f"/v1/projects/{project}/toolsets/{toolset.slug}"
    return _with_etag(response, toolset)


@router.get("", operation_id="listToolsets", dependencies=[RequireRead], responses=INVALID)
async def list_toolsets(
    project: ProjectParam, page: PageParams = Depends(), service: ToolsetService = Depends(toolset_service)
) -> Page[Toolset]:
    """The project's live toolsets (not staging copies), sorted by slug."""
    items, cursor = await service.list_toolsets(project, page.position(str), page.limit)
    return Page[Toolset](items=items, next_cursor=cursor)


@router.get(
    "/{toolset}", operation_id="getToolset", dependencies=[RequireRead], responses=headers(200, "ETag")
)
async def get_toolset(
    project: ProjectParam,
    toolset: ToolsetParam,
    response: Response,
    service: ToolsetService = Depends(toolset_service),
) -> Toolset:
    """The live toolset, with its `ETag`. What its clients see is `…/effective`."""
    return _with_etag(response, await service.get(project, toolset))


@router.patch(
    "/{toolset}",
    operation_id="updateToolset",
    dependencies=[RequireWrite],
    responses=BODY | CONFLICT | PRECONDITION | headers(200, "ETag"),
)
async def update_toolset(
    project: ProjectParam,
    toolset: ToolsetParam,
    body: ToolsetUpdate,
    response: Response,
    if_match: IfMatch = None,
    service: ToolsetService = Depends(toolset_service),
) -> Toolset:
    """Change the live toolset: absent fields keep their value. In staging mode only `slug` may change
    here (everything else goes through the staging copy: 409 `toolset_in_staging_mode`). Guard with
    `If-Match`."""
    return _with_etag(response, await service.update(project, toolset, body, if_match))


@router.delete(
    "/{toolset}",
    operation_id="deleteToolset",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=INVALID | PRECONDITION,
)
async def delete_toolset(
    project: ProjectParam,
    toolset: ToolsetParam,
    if_match: IfMatch = None,
    service: ToolsetService = Depends(toolset_service),
) -> None:
    """Delete the live toolset with its staging copy, releases and audit log. Guard with `If-Match`."""
    await service.delete(project, toolset, if_match)


# The hot read path, on a router of its own that the app includes first: routes are
# matched in order, and this is the one MCP clients call most.
served_router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}/toolsets",
    tags=["toolsets"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)


@served_router.get(
    "/{toolset}/effective",
    operation_id="getEffectiveToolset",
    dependencies=[RequireRead],
    response_model=EffectiveToolset,
)
async def get_effective_toolset(
    project: ProjectParam,
    toolset: ToolsetParam,
    principal: Principal = Depends(authenticate),
    serving: ServedStates = Depends(served_states),
) -> Response:
    """What the toolset's MCP clients see now: its current release in staging mode, else current data."""
    served = await serving.served(Endpoint(principal.organization_id, project, toolset))
    return Response(served.body, media_type="application/json")
