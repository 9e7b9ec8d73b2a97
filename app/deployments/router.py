from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response, status

from app.deployments.schemas import Deployment, DeploymentCreate, DeploymentDetail, ToolDefinition
from app.deployments.service import DeploymentService, deployment_service
from app.kit.auth import RequireRead, RequireWrite
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam
from app.kit.schemas import AUTH_RESPONSES, BODY, INVALID, NOT_FOUND, Page, headers

router = APIRouter(route_class=JsonRoute, prefix="/projects", tags=["deployments"], responses=AUTH_RESPONSES)

DeploymentId = Annotated[
    UUID,
    Path(
        description="The deployment's id, as createDeployment answered it (`…/deployments/active` is the "
        "active one).",
        examples=["3f1c8a52-6d0e-4b7a-9c41-2e5d7f9b0a13"],
    ),
]


@router.post(
    "/{project}/deployments",
    operation_id="createDeployment",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses=BODY | NOT_FOUND | headers(201, "Location"),
)
async def create_deployment(
    project: ProjectParam,
    body: DeploymentCreate,
    response: Response,
    service: DeploymentService = Depends(deployment_service),
) -> Deployment:
    """Upload tool and resource definitions; the new deployment becomes the project's active one."""
    deployment = await service.create(project, body)
    response.headers["Location"] = f"/v1/projects/{project}/deployments/{deployment.id}"
    return deployment


@router.get(
    "/{project}/deployments",
    operation_id="listDeployments",
    dependencies=[RequireRead],
    responses=INVALID | NOT_FOUND,
)
async def list_deployments(
    project: ProjectParam,
    page: PageParams = Depends(),
    service: DeploymentService = Depends(deployment_service),
) -> Page[Deployment]:
    """Newest first."""
    items, cursor = await service.list_deployments(project, page.position(int), page.limit)
    return Page[Deployment](items=items, next_cursor=cursor)


# Registered before `/{deployment_id}` so that `active` is never read as an id.
@router.get(
    "/{project}/deployments/active",
    operation_id="getActiveDeployment",
    dependencies=[RequireRead],
    responses=NOT_FOUND,
)
async def get_active_deployment(
    project: ProjectParam, service: DeploymentService = Depends(deployment_service)
) -> DeploymentDetail:
    """The latest completed deployment, with its tools and resources; 404 `no_active_deployment`."""
    return await service.get_active(project)


@router.get(
    "/{project}/deployments/{deployment_id}",
    operation_id="getDeployment",
    dependencies=[RequireRead],
    responses=INVALID | NOT_FOUND,
)
async def get_deployment(
    project: ProjectParam,
    deployment_id: DeploymentId,
    service: DeploymentService = Depends(deployment_service),
) -> DeploymentDetail:
    """A deployment with its tools and resources, each sorted by URN. An id that is not a UUID is a 422."""
    return await service.get(project, deployment_id)


@router.get(
    "/{project}/tools", operation_id="listTools", dependencies=[RequireRead], responses=INVALID | NOT_FOUND
)
async def list_tools(
    project: ProjectParam,
    page: PageParams = Depends(),
    service: DeploymentService = Depends(deployment_service),
) -> Page[ToolDefinition]:
    """The active deployment's tools, sorted by URN; empty when the project has no deployment."""
    items, cursor = await service.list_tools(project, page.position(UUID, str), page.limit)
    return Page[ToolDefinition](items=items, next_cursor=cursor)
