from uuid import UUID

from fastapi import APIRouter, Depends, Response, status

from app.kit.auth import RequireRead, RequireWrite
from app.kit.etag import IfMatch
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam, ToolsetParam, ToolUrnParam, VersionParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, PRECONDITION, Page
from app.variations.schemas import GroupVersion, Variation, VariationFields
from app.variations.service import VariationService, variation_service

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}",
    tags=["variations"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)


# A page of versions ends at a (version, deleted, id): versions are newest first, and
# tombstones from before versioning may share a version number.
VERSION_KEY = (int, bool, UUID)


@router.get("/variations", operation_id="listGlobalVariations", dependencies=[RequireRead], responses=INVALID)
async def list_global_variations(
    project: ProjectParam,
    page: PageParams = Depends(),
    service: VariationService = Depends(variation_service),
) -> Page[Variation]:
    """The project's current global variations, by tool URN."""
    items, cursor = await service.list_global(project, page.position(str), page.limit)
    return Page[Variation](items=items, next_cursor=cursor)


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
    project: ProjectParam,
    tool_urn: ToolUrnParam,
    page: PageParams = Depends(),
    service: VariationService = Depends(variation_service),
) -> Page[Variation]:
    """Every version of the tool's global variation, newest first (tombstones included)."""
    items, cursor = await service.global_versions(project, tool_urn, page.position(*VERSION_KEY), page.limit)
    return Page[Variation](items=items, next_cursor=cursor)


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


@router.get(TOOLSET, operation_id="listToolsetVariations", dependencies=[RequireRead], responses=INVALID)
async def list_toolset_variations(
    project: ProjectParam,
    toolset: ToolsetParam,
    page: PageParams = Depends(),
    service: VariationService = Depends(variation_service),
) -> Page[Variation]:
    """The toolset's own current variations, by tool URN."""
    items, cursor = await service.list_toolset(project, toolset, page.position(str), page.limit)
    return Page[Variation](items=items, next_cursor=cursor)


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
    page: PageParams = Depends(),
    service: VariationService = Depends(variation_service),
) -> Page[Variation]:
    """Every version of the tool's variation in this toolset, newest first (tombstones included)."""
    position = page.position(*VERSION_KEY)
    items, cursor = await service.toolset_versions(project, toolset, tool_urn, position, page.limit)
    return Page[Variation](items=items, next_cursor=cursor)


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
