from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Response, status

from app.kit.auth import RequireRead, RequireRelease
from app.kit.etag import set_etag
from app.kit.idempotency import REPLAYED_HEADER, IdempotencyKey
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam, ReleaseNumberParam, ToolsetParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, Page, headers
from app.releases.schemas import AuditEntry, Release, ReleaseCreate, RollbackRequest, StateDiff
from app.releases.service import ReleaseService, release_service
from app.toolsets.schemas import EffectiveToolset

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}/toolsets/{toolset}",
    tags=["releases"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)

SIDE_PATTERN = r"^(live|staging|next|release:[1-9][0-9]{0,17}|release:[A-Za-z0-9][A-Za-z0-9._+-]{0,59})$"
SIDE_DESCRIPTION = (
    "live (served now), staging (the staging copy), next (what createRelease would capture now), "
    "release:N or release:NAME"
)
# Examples that answer from the documented examples alone (release 1 against what is served).
FromSide = Annotated[
    str, Query(alias="from", pattern=SIDE_PATTERN, description=SIDE_DESCRIPTION, examples=["release:1"])
]
ToSide = Annotated[str, Query(pattern=SIDE_PATTERN, description=SIDE_DESCRIPTION, examples=["live"])]


@router.post(
    "/releases",
    operation_id="createRelease",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireRelease],
    responses=BODY | CONFLICT | headers(201, "Location", "Idempotent-Replayed"),
)
async def create_release(
    project: ProjectParam,
    toolset: ToolsetParam,
    response: Response,
    body: ReleaseCreate | None = None,
    idempotency_key: IdempotencyKey = None,
    service: ReleaseService = Depends(release_service),
) -> Release:
    """Capture the toolset's current state as its next release and make it current."""
    release, replayed = await service.create(project, toolset, body or ReleaseCreate(), idempotency_key)
    response.headers["Location"] = (
        f"/v1/projects/{project}/toolsets/{toolset}/releases/{release.release_number}"
    )
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return release


@router.get("/releases", operation_id="listReleases", dependencies=[RequireRead], responses=INVALID)
async def list_releases(
    project: ProjectParam,
    toolset: ToolsetParam,
    page: PageParams = Depends(),
    service: ReleaseService = Depends(release_service),
) -> Page[Release]:
    """Newest first."""
    items, cursor = await service.list_releases(project, toolset, page.position(datetime, int), page.limit)
    return Page[Release](items=items, next_cursor=cursor)


@router.get(
    "/releases/{release_number}", operation_id="getRelease", dependencies=[RequireRead], responses=INVALID
)
async def get_release(
    project: ProjectParam,
    toolset: ToolsetParam,
    release_number: ReleaseNumberParam,
    service: ReleaseService = Depends(release_service),
) -> Release:
    """One release: its number, notes, who made it and what it captured. Its full effective state is
    `…/state`."""
    return await service.get(project, toolset, release_number)


@router.get(
    "/releases/{release_number}/state",
    operation_id="getReleaseState",
    dependencies=[RequireRead],
    responses=INVALID,
    response_model=EffectiveToolset,
)
async def get_release_state(
    project: ProjectParam,
    toolset: ToolsetParam,
    release_number: ReleaseNumberParam,
    service: ReleaseService = Depends(release_service),
) -> Response:
    """The full effective toolset exactly as this release published it."""
    body = await service.state(project, toolset, release_number)
    return Response(body, media_type="application/json")


@router.post(
    "/releases/{release_number}/rollback",
    operation_id="rollbackToRelease",
    dependencies=[RequireRelease],
    responses=BODY | CONFLICT | headers(200, "ETag"),
)
async def rollback_to_release(
    project: ProjectParam,
    toolset: ToolsetParam,
    release_number: ReleaseNumberParam,
    response: Response,
    body: Annotated[RollbackRequest, Body()] = RollbackRequest(),  # optional: {} when absent
    dry_run: Annotated[
        bool,
        Query(description="Answer the semantic diff from the served state to the release; change nothing."),
    ] = False,
    service: ReleaseService = Depends(release_service),
) -> Release | StateDiff:
    """Make this release current (back or forward); nothing is copied, the pointer moves. The
    live toolset's name, description, selection and own variations follow the release; the `ETag`
    is the live toolset's new version.

    With `dry_run=true`, answers what would change for clients (a diff from `live` to the
    release) instead, and changes nothing (the `ETag` is the live toolset's version as it is)."""
    if dry_run:
        diff, version = await service.rollback_preview(project, toolset, release_number)
        set_etag(response, version)
        return diff
    release, version = await service.rollback(project, toolset, release_number, body)
    set_etag(response, version)
    return release


@router.get("/diff", operation_id="diffToolsetStates", dependencies=[RequireRead], responses=INVALID)
async def diff_toolset_states(
    project: ProjectParam,
    toolset: ToolsetParam,
    from_: FromSide,
    to: ToSide,
    service: ReleaseService = Depends(release_service),
) -> StateDiff:
    """What changes from one state to another: each side is `live`, `staging`, `next`, `release:N`
    or `release:NAME`."""
    return await service.diff(project, toolset, from_, to)


@router.get("/audit", operation_id="listToolsetAuditEntries", dependencies=[RequireRead], responses=INVALID)
async def list_toolset_audit_entries(
    project: ProjectParam,
    toolset: ToolsetParam,
    page: PageParams = Depends(),
    service: ReleaseService = Depends(release_service),
) -> Page[AuditEntry]:
    """Publishes, rollbacks, mode switches and discards, newest first."""
    items, cursor = await service.audit(project, toolset, page.position(datetime, UUID), page.limit)
    return Page[AuditEntry](items=items, next_cursor=cursor)
