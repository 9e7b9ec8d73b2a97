from fastapi import APIRouter, Depends, Response, status

from app.kit.auth import RequireRead, RequireRelease
from app.kit.etag import IfMatch, set_etag
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam, ToolsetParam
from app.kit.schemas import AUTH_RESPONSES, BODY, INVALID, NOT_FOUND, PRECONDITION, Page, headers
from app.labels.schemas import LabelParam, LabelPut, ReleaseLabel
from app.labels.service import LabelService, label_service

router = APIRouter(
    prefix="/projects/{project}/toolsets/{toolset}",
    tags=["releases"],
    responses=AUTH_RESPONSES | NOT_FOUND,
    route_class=JsonRoute,
)


@router.get("/labels", operation_id="listReleaseLabels", dependencies=[RequireRead], responses=INVALID)
async def list_release_labels(
    project: ProjectParam,
    toolset: ToolsetParam,
    page: PageParams = Depends(),
    service: LabelService = Depends(label_service),
) -> Page[ReleaseLabel]:
    """The toolset's labels, by name. (`current`, the served pointer, is the toolset's current release.)"""
    items, cursor = await service.list_labels(project, toolset, page.position(str), page.limit)
    return Page[ReleaseLabel](items=items, next_cursor=cursor)


@router.get(
    "/labels/{label}",
    operation_id="getReleaseLabel",
    dependencies=[RequireRead],
    responses=INVALID | headers(200, "ETag"),
)
async def get_release_label(
    project: ProjectParam,
    toolset: ToolsetParam,
    label: LabelParam,
    response: Response,
    service: LabelService = Depends(label_service),
) -> ReleaseLabel:
    """The release a label points at; the `ETag` is the label's version, for `If-Match`."""
    found = await service.get(project, toolset, label)
    set_etag(response, found.version)
    return found


@router.put(
    "/labels/{label}",
    operation_id="putReleaseLabel",
    dependencies=[RequireRelease],
    responses=BODY
    | PRECONDITION
    | headers(200, "ETag")
    | {
        201: {
            "model": ReleaseLabel,
            "description": "The label is new.",
            **headers(201, "ETag", "Location")[201],
        }
    },
)
async def put_release_label(
    project: ProjectParam,
    toolset: ToolsetParam,
    label: LabelParam,
    body: LabelPut,
    response: Response,
    if_match: IfMatch = None,
    service: LabelService = Depends(label_service),
) -> ReleaseLabel:
    """Point the label at a release (201 when it is new); audited. `current` is reserved (422)."""
    moved, created = await service.put(project, toolset, label, body.release_number, if_match)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/projects/{project}/toolsets/{toolset}/labels/{label}"
    set_etag(response, moved.version)
    return moved


@router.delete(
    "/labels/{label}",
    operation_id="deleteReleaseLabel",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireRelease],
    responses=INVALID | PRECONDITION,
)
async def delete_release_label(
    project: ProjectParam,
    toolset: ToolsetParam,
    label: LabelParam,
    if_match: IfMatch = None,
    service: LabelService = Depends(label_service),
) -> Response:
    """Remove the label (the release stays); audited."""
    await service.delete(project, toolset, label, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
