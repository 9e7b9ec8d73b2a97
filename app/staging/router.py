from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse

from app.kit.auth import RequireRead, RequireRelease, RequireWrite
from app.kit.errors import Unprocessable
from app.kit.etag import IfMatch, etag, set_etag
from app.kit.idempotency import REPLAYED_HEADER, IdempotencyKey
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam, ToolsetParam, ToolUrnParam
from app.kit.schemas import (
    AUTH_RESPONSES,
    BODY,
    CONFLICT,
    INVALID,
    NOT_FOUND,
    PRECONDITION,
    Page,
    headers,
    problem,
    problem_example,
)
from app.releases.schemas import Release, StateDiff
from app.schedules.schemas import ScheduledPublish
from app.schedules.service import ScheduleService, schedule_path, schedule_service
from app.staging.schemas import EditingModeSwitch, StagingPublish
from app.staging.service import StagingService, staging_path, staging_service
from app.toolsets.schemas import StagingUpdate, Toolset
from app.variations.schemas import Variation, VariationFields

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}/toolsets/{toolset}",
    tags=["staging"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)


PUBLISH_CONFLICT = {
    409: problem(
        "The publish cannot go ahead: `approval_required`, `breaking_changes`, `no_staging_copy`, "
        "`not_in_staging_mode`, `release_name_taken`, `idempotency_key_reused`, "
        "`publish_already_scheduled`; `hint` says what to do",
        problem_example(
            409,
            "approval_required",
            "Approval required",
            "Toolset 'pets' needs 2 approval(s) of its staging copy (version 7) to publish, and has 1: have "
            "other API keys with the `approve` scope approve it (POST "
            "/v1/projects/petstore/toolsets/pets/staging/review/approvals). Any edit of the staging copy "
            "voids its approvals.",
            hint="POST /v1/projects/petstore/toolsets/pets/staging/review/approvals",
            required_approvals=2,
            valid_approvals=1,
        ),
    )
}


def _with_etag(response: Response, toolset: Toolset) -> Toolset:
    set_etag(response, toolset.version)
    return toolset


@router.put(
    "/editing-mode",
    operation_id="switchEditingMode",
    dependencies=[RequireRelease],
    responses=BODY | CONFLICT | headers(200, "ETag"),
)
async def switch_editing_mode(
    project: ProjectParam,
    toolset: ToolsetParam,
    body: EditingModeSwitch,
    response: Response,
    service: StagingService = Depends(staging_service),
) -> Toolset:
    """To staging: the current state becomes a release (reused if unchanged) that the toolset serves.
    To iteration: refused while a staging copy exists, unless `discard_staging`."""
    return _with_etag(response, await service.switch_mode(project, toolset, body.mode, body.discard_staging))


@router.post(
    "/staging",
    operation_id="createStagingVersion",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses=CONFLICT | headers(201, "ETag", "Location"),
)
async def create_staging_version(
    project: ProjectParam,
    toolset: ToolsetParam,
    response: Response,
    service: StagingService = Depends(staging_service),
) -> Toolset:
    """Copy the live toolset (metadata, selection, prompts, own variations) into its staging copy."""
    staging = await service.create(project, toolset)
    response.headers["Location"] = staging_path(project, toolset)
    return _with_etag(response, staging)


@router.get(
    "/staging", operation_id="getStagingVersion", dependencies=[RequireRead], responses=headers(200, "ETag")
)
async def get_staging_version(
    project: ProjectParam,
    toolset: ToolsetParam,
    response: Response,
    service: StagingService = Depends(staging_service),
) -> Toolset:
    """The staging copy: what the next publish would release. 404 `staging_not_found` (with a `hint`)
    when there is none."""
    return _with_etag(response, await service.get(project, toolset))


@router.patch(
    "/staging",
    operation_id="updateStagingVersion",
    dependencies=[RequireWrite],
    responses=BODY | CONFLICT | PRECONDITION | headers(200, "ETag"),
)
async def update_staging_version(
    project: ProjectParam,
    toolset: ToolsetParam,
    body: StagingUpdate,
    response: Response,
    if_match: IfMatch = None,
    service: StagingService = Depends(staging_service),
) -> Toolset:
    """Edit the staging copy: absent fields keep their value; `slug` is refused (the slug belongs to
    the live toolset). Guard with `If-Match`."""
    return _with_etag(response, await service.update(project, toolset, body, if_match))


@router.delete(
    "/staging",
    operation_id="discardStagingVersion",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=INVALID | PRECONDITION,
)
async def discard_staging_version(
    project: ProjectParam,
    toolset: ToolsetParam,
    if_match: IfMatch = None,
    service: StagingService = Depends(staging_service),
) -> None:
    """Delete the staging copy; releases are untouched."""
    await service.discard(project, toolset, if_match)


@router.get(
    "/staging/variations", operation_id="listStagingVariations", dependencies=[RequireRead], responses=INVALID
)
async def list_staging_variations(
    project: ProjectParam,
    toolset: ToolsetParam,
    page: PageParams = Depends(),
    service: StagingService = Depends(staging_service),
) -> Page[Variation]:
    """The staging copy's own current variations, by tool URN."""
    items, cursor = await service.list_variations(project, toolset, page.position(str), page.limit)
    return Page[Variation](items=items, next_cursor=cursor)


@router.put(
    "/staging/variations/{tool_urn}",
    operation_id="upsertStagingVariation",
    dependencies=[RequireWrite],
    responses=BODY | PRECONDITION | headers(200, "ETag"),
)
async def upsert_staging_variation(
    project: ProjectParam,
    toolset: ToolsetParam,
    body: VariationFields,
    tool_urn: ToolUrnParam,
    response: Response,
    if_match: IfMatch = None,
    service: StagingService = Depends(staging_service),
) -> Variation:
    """Set how a tool is presented in the staging copy: published with it. Bumps the staging copy's
    version: guard with `If-Match`."""
    variation, version = await service.write_variation(project, toolset, tool_urn, body, if_match)
    set_etag(response, version)  # the staging copy's: what If-Match on its next write compares
    return variation


@router.delete(
    "/staging/variations/{tool_urn}",
    operation_id="deleteStagingVariation",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=INVALID | PRECONDITION | headers(204, "ETag"),
)
async def delete_staging_variation(
    project: ProjectParam,
    toolset: ToolsetParam,
    tool_urn: ToolUrnParam,
    if_match: IfMatch = None,
    service: StagingService = Depends(staging_service),
) -> Response:
    """Delete the staging copy's variation of a tool (a tombstone version). Guard with `If-Match`."""
    _, version = await service.write_variation(project, toolset, tool_urn, None, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"ETag": etag(version)})


@router.get("/staging/diff", operation_id="diffStagingVersion", dependencies=[RequireRead])
async def diff_staging_version(
    project: ProjectParam, toolset: ToolsetParam, service: StagingService = Depends(staging_service)
) -> StateDiff:
    """What publishing would change: the live (served) state against the staging copy."""
    return await service.diff(project, toolset)


@router.post(
    "/staging/publish",
    operation_id="publishStagingVersion",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireRelease],
    responses=BODY
    | PUBLISH_CONFLICT
    | PRECONDITION
    | headers(201, "Location", "Idempotent-Replayed")
    | {
        202: {
            "model": ScheduledPublish,
            "description": "With `publish_at`: the publish is scheduled (a job runs it at that time).",
            "headers": {"Location": {"description": "The scheduled publish.", "schema": {"type": "string"}}},
        }
    },
)
async def publish_staging_version(
    project: ProjectParam,
    toolset: ToolsetParam,
    response: Response,
    body: StagingPublish | None = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
    service: StagingService = Depends(staging_service),
    schedules: ScheduleService = Depends(schedule_service),
) -> Release:
    """The staging copy becomes the next release, served at once; the staging copy is removed. With
    `publish_at`, 202: the staging copy as it is now is published at that time (any later edit
    cancels it), see getScheduledPublish."""
    if body is not None and body.publish_at is not None:
        if idempotency_key is not None:
            raise Unprocessable(
                "`Idempotency-Key` applies to a publish made now; a scheduled publish is made once "
                "per toolset (409 while one is pending).",
                errors=[{"field": "header.Idempotency-Key", "message": "not with publish_at"}],
            )
        scheduled = await schedules.schedule(project, toolset, body, body.publish_at, if_match)
        return JSONResponse(  # type: ignore[return-value]
            scheduled.model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": schedule_path(project, toolset, scheduled.id)},
        )
    release, replayed = await service.publish(
        project, toolset, body or StagingPublish(), if_match, idempotency_key
    )
    response.headers["Location"] = (
        f"/v1/projects/{project}/toolsets/{toolset}/releases/{release.release_number}"
    )
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return release
