from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from app.history.schemas import CURRENT, ServedAt, ServedMove
from app.history.service import HistoryService, history_service
from app.kit.auth import RequireRead
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam, ToolsetParam
from app.kit.schemas import AUTH_RESPONSES, INVALID, NOT_FOUND, Page
from app.labels.schemas import LABEL_PATTERN

router = APIRouter(
    prefix="/projects/{project}/toolsets/{toolset}",
    tags=["releases"],
    responses=AUTH_RESPONSES | NOT_FOUND,
    route_class=JsonRoute,
)


@router.get(
    "/served-history", operation_id="listServedHistory", dependencies=[RequireRead], responses=INVALID
)
async def list_served_history(
    project: ProjectParam,
    toolset: ToolsetParam,
    label: Annotated[
        str | None,
        Query(
            pattern=LABEL_PATTERN,
            description="Only this pointer's moves: `current` (the served pointer) or a label. "
            "Absent: every move.",
        ),
    ] = None,
    page: PageParams = Depends(),
    service: HistoryService = Depends(history_service),
) -> Page[ServedMove]:
    """Every move of what the toolset serves (and of its labels), newest first."""
    items, cursor = await service.list_moves(
        project, toolset, label, page.position(datetime, UUID), page.limit
    )
    return Page[ServedMove](items=items, next_cursor=cursor)


@router.get("/served-at", operation_id="getServedAt", dependencies=[RequireRead], responses=INVALID)
async def get_served_at(
    project: ProjectParam,
    toolset: ToolsetParam,
    time: Annotated[
        datetime,
        Query(
            description="An ISO-8601 instant (`2026-11-29T02:00:00Z`); without an offset, UTC.",
            examples=["2026-11-29T02:00:00Z"],
        ),
    ],
    label: Annotated[
        str, Query(pattern=LABEL_PATTERN, description="`current` (the served pointer) or a label.")
    ] = CURRENT,
    service: HistoryService = Depends(history_service),
) -> ServedAt:
    """Which release (or iteration mode) the toolset's clients were served at that instant."""
    return await service.served_at(project, toolset, time, label)
