from fastapi import APIRouter, Depends

from app.kit.auth import RequireRead, RequireRelease
from app.kit.json_body import JsonRoute
from app.kit.params import ProjectParam, ToolsetParam
from app.kit.schemas import AUTH_RESPONSES, BODY, NOT_FOUND
from app.policies.schemas import Policy, PolicyFields
from app.policies.service import PolicyService, policy_service

router = APIRouter(
    prefix="/projects/{project}/toolsets/{toolset}",
    tags=["releases"],
    responses=AUTH_RESPONSES | NOT_FOUND,
    route_class=JsonRoute,
)


@router.get("/policy", operation_id="getToolsetPolicy", dependencies=[RequireRead])
async def get_toolset_policy(
    project: ProjectParam, toolset: ToolsetParam, service: PolicyService = Depends(policy_service)
) -> Policy:
    """The toolset's release policy (the defaults until one is set)."""
    return await service.get(project, toolset)


@router.put("/policy", operation_id="putToolsetPolicy", dependencies=[RequireRelease], responses=BODY)
async def put_toolset_policy(
    project: ProjectParam,
    toolset: ToolsetParam,
    body: PolicyFields,
    service: PolicyService = Depends(policy_service),
) -> Policy:
    """Replace the toolset's release policy; omitted fields take their defaults. Audited."""
    return await service.put(project, toolset, body)
