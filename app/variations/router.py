from fastapi import APIRouter, Depends, Response, status

from app.kit.auth import RequireRead, RequireWrite
from app.kit.etag import IfMatch
from app.kit.json_body import JsonRoute
from app.kit.params import ProjectParam, ToolsetParam, ToolUrnParam, VersionParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, PRECONDITION
from app.variations.schemas import GroupVersion, Variation, VariationFields
from app.variations.service import VariationService, variation_service

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}",
    tags=["variations"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)


@router.get("/variations", operation_id="listGlobalVariations", dependencies=[RequireRead])
async def list_global_variations(
    project: ProjectParam, service: VariationService = Depends(variation_service)
) -> list[Variation]:
    return await service.list_global(project)


@router.put(
    "/variations/{tool_urn}",
    operation_id="upsertGlobalVariation",
    dependencies=[RequireWrite],
    responses=BODY,
)
async def upsert_global_variation(
    project: ProjectParam,
    body: VariationFields,
    tool_urn: ToolUrnParam,
    service: VariationService = Depends(variation_service),
) -> Variation:
    return await service.upsert_global(project, tool_urn, body)


@router.delete(
    "/variations/{tool_urn}",
    operation_id="deleteGlobalVariation",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=INVALID,
)
async def delete_global_variation(
    project: ProjectParam, tool_urn: ToolUrnParam, service: VariationService = Depends(variation_service)
) -> None:
    await service.delete_global(project, tool_urn)


@router.get(
    "/variations/{tool_urn}/versions",
    operation_id="listGlobalVariationVersions",
    dependencies=[RequireRead],
    responses=INVALID,
)
async def list_global_variation_versions(
    project: ProjectParam, tool_urn: ToolUrnParam, service: VariationService = Depends(variation_service)
) -> list[Variation]:
    return await service.global_versions(project, tool_urn)


@router.get(
    "/variations/{tool_urn}/versions/{version}",
    operation_id="getGlobalVariationAtVersion",
    dependencies=[RequireRead],
    responses=INVALID,
)
async def get_global_variation_at_version(
    project: ProjectParam,
    tool_urn: ToolUrnParam,
    version: VersionParam,
    service: VariationService = Depends(variation_service),
) -> Variation:
    return await service.global_at_version(project, tool_urn, version)


@router.post(
    "/variations/group-versions",
    operation_id="createGlobalGroupVersion",
    dependencies=[RequireWrite],
    status_code=status.HTTP_201_CREATED,
)
async def create_global_group_version(
    project: ProjectParam, service: VariationService = Depends(variation_service)
) -> GroupVersion:
    """Snapshot the global group's current variations; reuses the latest snapshot when unchanged."""
    return await service.create_global_group_version(project)


TOOLSET = "/toolsets/{toolset}/variations"


@router.get(TOOLSET, operation_id="listToolsetVariations", dependencies=[RequireRead])
async def list_toolset_variations(
    project: ProjectParam, toolset: ToolsetParam, service: VariationService = Depends(variation_service)
) -> list[Variation]:
    return await service.list_toolset(project, toolset)


@router.put(
    TOOLSET + "/{tool_urn}",
    operation_id="upsertToolsetVariation",
    dependencies=[RequireWrite],
    responses=BODY | CONFLICT | PRECONDITION,
)
async def upsert_toolset_variation(
    project: ProjectParam,
    toolset: ToolsetParam,
    body: VariationFields,
    tool_urn: ToolUrnParam,
    if_match: IfMatch = None,
    service: VariationService = Depends(variation_service),
) -> Variation:
    return await service.write_toolset(project, toolset, tool_urn, body, if_match)


@router.delete(
    TOOLSET + "/{tool_urn}",
    operation_id="deleteToolsetVariation",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=INVALID | CONFLICT | PRECONDITION,
)
async def delete_toolset_variation(
    project: ProjectParam,
    toolset: ToolsetParam,
    tool_urn: ToolUrnParam,
    if_match: IfMatch = None,
    service: VariationService = Depends(variation_service),
) -> Response:
    await service.write_toolset(project, toolset, tool_urn, None, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    TOOLSET + "/{tool_urn}/versions",
    operation_id="listToolsetVariationVersions",
    dependencies=[RequireRead],
    responses=INVALID,
)
async def list_toolset_variation_versions(
    project: ProjectParam,
    toolset: ToolsetParam,
    tool_urn: ToolUrnParam,
    service: VariationService = Depends(variation_service),
) -> list[Variation]:
    return await service.toolset_versions(project, toolset, tool_urn)


@router.get(
    TOOLSET + "/{tool_urn}/versions/{version}",
    operation_id="getToolsetVariationAtVersion",
    dependencies=[RequireRead],
    responses=INVALID,
)
async def get_toolset_variation_at_version(
    project: ProjectParam,
    toolset: ToolsetParam,
    tool_urn: ToolUrnParam,
    version: VersionParam,
    service: VariationService = Depends(variation_service),
) -> Variation:
    return await service.toolset_at_version(project, toolset, tool_urn, version)
