from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Response, status

from app.kit.auth import RequireRead, RequireRelease, RequireWrite
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, Page, headers
from app.snapshots.schemas import ProjectSnapshot, RestoreRequest, RestoreResult, SnapshotCreate, SnapshotId
from app.snapshots.service import SnapshotService, snapshot_service

router = APIRouter(
    prefix="/projects/{project}/snapshots",
    tags=["projects"],
    responses=AUTH_RESPONSES | NOT_FOUND,
    route_class=JsonRoute,
)


@router.post(
    "",
    operation_id="createProjectSnapshot",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses=BODY | headers(201, "Location"),
)
async def create_project_snapshot(
    project: ProjectParam,
    response: Response,
    body: Annotated[SnapshotCreate, Body()] = SnapshotCreate(),  # optional: {} when absent
    service: SnapshotService = Depends(snapshot_service),
) -> ProjectSnapshot:
    """Record the served release of every staging-mode toolset of the project.

    Releases a snapshot holds are never pruned."""
    snapshot = await service.create(project, body)
    response.headers["Location"] = f"/v1/projects/{project}/snapshots/{snapshot.id}"
    return snapshot


@router.get("", operation_id="listProjectSnapshots", dependencies=[RequireRead], responses=INVALID)
async def list_project_snapshots(
    project: ProjectParam, page: PageParams = Depends(), service: SnapshotService = Depends(snapshot_service)
) -> Page[ProjectSnapshot]:
    """Newest first."""
    items, cursor = await service.list_snapshots(project, page.position(datetime, UUID), page.limit)
    return Page[ProjectSnapshot](items=items, next_cursor=cursor)


@router.get(
    "/{snapshot_id}", operation_id="getProjectSnapshot", dependencies=[RequireRead], responses=INVALID
)
async def get_project_snapshot(
    project: ProjectParam, snapshot_id: SnapshotId, service: SnapshotService = Depends(snapshot_service)
) -> ProjectSnapshot:
    """The snapshot: which release each staging-mode toolset served when it was made."""
    return await service.get(project, snapshot_id)


@router.post(
    "/{snapshot_id}/restore",
    operation_id="restoreProjectSnapshot",
    dependencies=[RequireRelease],
    responses=BODY | CONFLICT,
)
async def restore_project_snapshot(
    project: ProjectParam,
    snapshot_id: SnapshotId,
    body: Annotated[RestoreRequest, Body()] = RestoreRequest(),  # optional: {} when absent
    dry_run: Annotated[
        bool, Query(description="Answer what would move and its impact on clients; change nothing.")
    ] = False,
    service: SnapshotService = Depends(snapshot_service),
) -> RestoreResult:
    """Move every toolset of the snapshot back to the release it recorded, in one transaction,
    all or nothing: 409 `snapshot_not_restorable` naming any toolset deleted or out of staging
    mode since. Each move is audited, recorded in the served history, and heard by clients."""
    return await service.restore(project, snapshot_id, body, dry_run)
