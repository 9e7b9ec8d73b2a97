from fastapi import APIRouter, Depends, Response, status

from app.kit.auth import RequireRead, RequireWrite
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, Page, headers
from app.projects.schemas import Project, ProjectCreate
from app.projects.service import ProjectService, project_service

router = APIRouter(route_class=JsonRoute, prefix="/projects", tags=["projects"], responses=AUTH_RESPONSES)


@router.post(
    "",
    operation_id="createProject",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses=BODY | CONFLICT | headers(201, "Location"),
)
async def create_project(
    body: ProjectCreate, response: Response, service: ProjectService = Depends(project_service)
) -> Project:
    """Create a project in the key's organization. Its slug is its address in every other path
    (`/v1/projects/{slug}/…`); 409 `project_slug_taken` when the organization already has it."""
    project = await service.create(body)
    response.headers["Location"] = f"/v1/projects/{project.slug}"
    return project


@router.get("", operation_id="listProjects", dependencies=[RequireRead], responses=INVALID)
async def list_projects(
    page: PageParams = Depends(), service: ProjectService = Depends(project_service)
) -> Page[Project]:
    """The organization's projects, sorted by slug."""
    items, cursor = await service.list_projects(page.position(str), page.limit)
    return Page[Project](items=items, next_cursor=cursor)


@router.get("/{project}", operation_id="getProject", dependencies=[RequireRead], responses=NOT_FOUND)
async def get_project(project: ProjectParam, service: ProjectService = Depends(project_service)) -> Project:
    """One project by its slug."""
    return await service.get(project)
