from uuid import UUID

from fastapi import APIRouter, Depends, Response, status

from app.kit.auth import RequireRead, RequireWrite
from app.kit.etag import IfMatch, etag, set_etag
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import GroupVersionParam, ProjectParam, ToolsetParam, ToolUrnParam, VersionParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, PRECONDITION, Page, headers
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
    responses=BODY | headers(200, "ETag"),
)
async def upsert_global_variation(
    project: ProjectParam,
    body: VariationFields,
    tool_urn: ToolUrnParam,
    response: Response,
    service: VariationService = Depends(variation_service),
) -> Variation:
    """Set how a tool is presented in every toolset of the project: a new version of its global
    variation (an identical one writes nothing). Null or absent fields inherit the tool's own
    definition. In iteration mode toolsets serve it at once; staging-mode toolsets at their next
    release."""
    variation = await service.upsert_global(project, tool_urn, body)
    set_etag(response, variation.version)  # the variation's own version: nothing else guards it
    return variation


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
    """Delete the tool's global variation: a tombstone version, so earlier versions stay readable and
    releases keep what they captured."""
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
    """One version of the tool's global variation."""
    return await service.global_at_version(project, tool_urn, version)


@router.post(
    "/variations/group-versions",
    operation_id="createGlobalGroupVersion",
    dependencies=[RequireWrite],
    status_code=status.HTTP_201_CREATED,
    responses=headers(201, "Location")
    | {200: {"model": GroupVersion, "description": "The group was unchanged: its latest snapshot"}},
)
async def create_global_group_version(
    project: ProjectParam, response: Response, service: VariationService = Depends(variation_service)
) -> GroupVersion:
    """Snapshot the global group's current variations: 201 with a new snapshot, or 200 with the
    latest one when the group is unchanged since it."""
    group_version = await service.create_global_group_version(project)
    response.headers["Location"] = f"/v1/projects/{project}/variations/group-versions/{group_version.version}"
    if not group_version.created:
        response.status_code = status.HTTP_200_OK
    return group_version


@router.get(
    "/variations/group-versions/{version}",
    operation_id="getGlobalGroupVersion",
    dependencies=[RequireRead],
    responses=INVALID,
)
async def get_global_group_version(
    project: ProjectParam,
    version: GroupVersionParam,
    service: VariationService = Depends(variation_service),
) -> GroupVersion:
    """One snapshot of the global group: which version of each tool's variation it held."""
    return await service.global_group_version(project, version)


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
    responses=BODY | CONFLICT | PRECONDITION | headers(200, "ETag"),
)
async def upsert_toolset_variation(
    project: ProjectParam,
    toolset: ToolsetParam,
    body: VariationFields,
    tool_urn: ToolUrnParam,
    response: Response,
    if_match: IfMatch = None,
    service: VariationService = Depends(variation_service),
) -> Variation:
    """Set how a tool is presented in this toolset only: a new version of its variation, on top of the
    global one. Refused in staging mode (edit the staging copy's variations instead). Bumps the
    toolset's version: guard with `If-Match`."""
    variation, version = await service.write_toolset(project, toolset, tool_urn, body, if_match)
    set_etag(response, version)  # the toolset's: what If-Match on its next write compares
    return variation


@router.delete(
    TOOLSET + "/{tool_urn}",
    operation_id="deleteToolsetVariation",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=INVALID | CONFLICT | PRECONDITION | headers(204, "ETag"),
)
async def delete_toolset_variation(
    project: ProjectParam,
    toolset: ToolsetParam,
    tool_urn: ToolUrnParam,
    if_match: IfMatch = None,
    service: VariationService = Depends(variation_service),
) -> Response:
    """Delete the toolset's variation of a tool (a tombstone version); the global variation applies
    again. Guard with `If-Match`."""
    _, version = await service.write_toolset(project, toolset, tool_urn, None, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"ETag": etag(version)})


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
    """One version of the toolset's variation of a tool."""
    return await service.toolset_at_version(project, toolset, tool_urn, version)
