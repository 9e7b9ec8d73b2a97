from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path

from app.kit.auth import RequireRead, RequireRelease
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam, ToolsetParam
from app.kit.schemas import AUTH_RESPONSES, CONFLICT, INVALID, NOT_FOUND, Page
from app.schedules.schemas import ScheduledPublish
from app.schedules.service import ScheduleService, schedule_service

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}/toolsets/{toolset}/scheduled-publishes",
    tags=["staging"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)

ScheduleIdParam = Annotated[
    UUID,
    Path(
        description="The scheduled publish's id, as the 202 of publishStagingVersion answered it.",
        examples=["3f2b8c4e-9d1a-4e6b-8c7d-2a1b0c9d8e7f"],
    ),
]


@router.get("", operation_id="listScheduledPublishes", dependencies=[RequireRead], responses=INVALID)
async def list_scheduled_publishes(
    project: ProjectParam,
    toolset: ToolsetParam,
    page: PageParams = Depends(),
    service: ScheduleService = Depends(schedule_service),
) -> Page[ScheduledPublish]:
    """The toolset's scheduled publishes, pending and past, newest first."""
    items, cursor = await service.list_schedules(project, toolset, page.position(datetime, UUID), page.limit)
    return Page[ScheduledPublish](items=items, next_cursor=cursor)


@router.get(
    "/{schedule_id}", operation_id="getScheduledPublish", dependencies=[RequireRead], responses=INVALID
)
async def get_scheduled_publish(
    project: ProjectParam,
    toolset: ToolsetParam,
    schedule_id: ScheduleIdParam,
    service: ScheduleService = Depends(schedule_service),
) -> ScheduledPublish:
    """A scheduled publish: pending, or how it ended (the release it made, or why it did not)."""
    return await service.get(project, toolset, schedule_id)


@router.delete(
    "/{schedule_id}",
    operation_id="cancelScheduledPublish",
    dependencies=[RequireRelease],
    responses=INVALID | CONFLICT,
)
async def cancel_scheduled_publish(
    project: ProjectParam,
    toolset: ToolsetParam,
    schedule_id: ScheduleIdParam,
    service: ScheduleService = Depends(schedule_service),
) -> ScheduledPublish:
    """Cancel a pending scheduled publish; it is kept, `cancelled`. 409 once it has run."""
    return await service.cancel(project, toolset, schedule_id)
