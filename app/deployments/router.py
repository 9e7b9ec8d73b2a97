from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.deployments import openapi_import
from app.deployments.schemas import (
    Deployment,
    DeploymentCreate,
    DeploymentDetail,
    OpenApiImport,
    ToolDefinition,
)
from app.deployments.service import DeploymentService, deployment_service
from app.kit.auth import RequireRead, RequireWrite
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam
from app.kit.schemas import AUTH_RESPONSES, BODY, INVALID, NOT_FOUND, Page, headers, problem, problem_example

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


SourceParam = Annotated[
    str,
    Query(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
        description=(
            "The source the document's tools belong to (`[a-z0-9_-]`, at most 40): tool URNs are "
            "`tools:http:{source}:{name}`, and the source's upstream is `…/upstreams/{source}`."
        ),
        examples=["petstore"],
    ),
]

EXAMPLE_OPENAPI_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "Petstore", "version": "1.0.0"},
    "servers": [{"url": "https://petstore.example/v1"}],
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "getPet",
                "summary": "Get a pet",
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"200": {"description": "The pet."}},
            }
        }
    },
}
_DOCUMENT_SCHEMA = {
    "type": "object",
    "required": ["openapi", "info"],
    "properties": {"openapi": {"type": "string", "pattern": r"^3\.[01]\.\d+"}},
    "description": "An OpenAPI 3.0 or 3.1 document.",
}


@router.post(
    "/{project}/deployments/openapi",
    operation_id="importOpenApiDeployment",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses={
        **BODY,
        **headers(201, "Location"),
        400: problem(
            "The body is not JSON or YAML (as its Content-Type says)",
            problem_example(
                400,
                "malformed_document",
                "Malformed document",
                "The document is not YAML: found unexpected end of stream at line 3, column 1.",
            ),
        ),
        415: problem(
            "The Content-Type is neither JSON nor YAML",
            problem_example(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the document as application/json or application/yaml (got text/plain).",
            ),
        ),
        422: problem(
            "The document is not a valid OpenAPI 3.0/3.1 document, or passes a limit: "
            "`pointer` (a JSON pointer) says where",
            problem_example(
                422,
                "invalid_openapi_document",
                "Invalid OpenAPI document",
                "'body' is not one of ['path', 'query', 'header', 'cookie'] "
                "(at /paths/~1pets/get/parameters/0)",
                pointer="/paths/~1pets/get/parameters/0",
            ),
        ),
        **NOT_FOUND,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": (
                f"An OpenAPI 3.0 or 3.1 document, JSON or YAML, at most "
                f"{openapi_import.MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB and "
                f"{openapi_import.MAX_OPERATIONS} operations."
            ),
            "content": {
                "application/json": {"schema": _DOCUMENT_SCHEMA, "example": EXAMPLE_OPENAPI_DOCUMENT},
                "application/yaml": {"schema": _DOCUMENT_SCHEMA},
            },
        }
    },
)
async def import_openapi_deployment(
    project: ProjectParam,
    source: SourceParam,
    request: Request,
    response: Response,
    service: DeploymentService = Depends(deployment_service),
) -> OpenApiImport:
    """Make a deployment from an OpenAPI document: one tool per operation under `source`
    (replacing that source's tools), with every other source's tools and every resource of
    the active deployment carried over unchanged. Send the document as `application/json` or
    `application/yaml` (also `application/vnd.oai.openapi`, `…+json`, `…+yaml`). An invalid
    document answers 422 with a JSON `pointer` to the problem and changes nothing."""
    raw = await request.body()
    imported = await service.import_openapi(project, source, raw, request.headers.get("content-type"))
    response.headers["Location"] = f"/v1/projects/{project}/deployments/{imported.id}"
    return imported


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
