from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.kit.auth import RequireRelease
from app.kit.json_body import JsonRoute
from app.kit.params import ProjectParam, ToolsetParam
from app.kit.schemas import AUTH_RESPONSES, CONFLICT, INVALID, NOT_FOUND
from app.retention.schemas import PruneResult
from app.retention.service import RetentionService, retention_service

router = APIRouter(
    prefix="/projects/{project}/toolsets/{toolset}",
    tags=["releases"],
    responses=AUTH_RESPONSES | NOT_FOUND,
    route_class=JsonRoute,
)


@router.post(
    "/releases/prune",
    operation_id="pruneReleases",
    dependencies=[RequireRelease],
    responses=INVALID | CONFLICT,
)
async def prune_releases(
    project: ProjectParam,
    toolset: ToolsetParam,
    dry_run: Annotated[bool, Query(description="Report what would be deleted; delete nothing.")] = False,
    service: RetentionService = Depends(retention_service),
) -> PruneResult:
    """Delete releases beyond the policy's `keep_last` newest, except the current, named, labelled
    and snapshotted ones, with the captured rows that nothing refers to any more. Audited."""
    return await service.prune(project, toolset, dry_run)
