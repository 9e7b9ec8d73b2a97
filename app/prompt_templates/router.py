from fastapi import APIRouter, Depends, Response, status

from app.kit.auth import RequireRead, RequireWrite
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam, PromptTemplateNameParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, Page, headers
from app.prompt_templates.schemas import (
    PromptTemplate,
    PromptTemplateCreate,
    PromptTemplateRevision,
    PromptTemplateUpdate,
)
from app.prompt_templates.service import PromptTemplateService, prompt_template_service

router = APIRouter(
    route_class=JsonRoute, prefix="/projects", tags=["prompt-templates"], responses=AUTH_RESPONSES
)


@router.post(
    "/{project}/prompt-templates",
    operation_id="createPromptTemplate",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses=BODY | NOT_FOUND | CONFLICT | headers(201, "Location"),
)
async def create_prompt_template(
    project: ProjectParam,
    body: PromptTemplateCreate,
    response: Response,
    service: PromptTemplateService = Depends(prompt_template_service),
) -> PromptTemplate:
    """Create a prompt template (its first revision). 409 `prompt_template_name_taken` when a live
    template already has the name."""
    template = await service.create(project, body)
    response.headers["Location"] = f"/v1/projects/{project}/prompt-templates/{template.name}"
    return template


@router.get(
    "/{project}/prompt-templates",
    operation_id="listPromptTemplates",
    dependencies=[RequireRead],
    responses=INVALID | NOT_FOUND,
)
async def list_prompt_templates(
    project: ProjectParam,
    page: PageParams = Depends(),
    service: PromptTemplateService = Depends(prompt_template_service),
) -> Page[PromptTemplate]:
    """The current revision of every live template, sorted by name."""
    items, cursor = await service.list_templates(project, page.position(str), page.limit)
    return Page[PromptTemplate](items=items, next_cursor=cursor)


@router.get(
    "/{project}/prompt-templates/{name}",
    operation_id="getPromptTemplate",
    dependencies=[RequireRead],
    responses=NOT_FOUND,
)
async def get_prompt_template(
    project: ProjectParam,
    name: PromptTemplateNameParam,
    service: PromptTemplateService = Depends(prompt_template_service),
) -> PromptTemplate:
    """The current revision of the live template with this name."""
    return await service.get(project, name)


@router.put(
    "/{project}/prompt-templates/{name}",
    operation_id="updatePromptTemplate",
    dependencies=[RequireWrite],
    responses=BODY | NOT_FOUND | CONFLICT,
)
async def update_prompt_template(
    project: ProjectParam,
    name: PromptTemplateNameParam,
    body: PromptTemplateUpdate,
    service: PromptTemplateService = Depends(prompt_template_service),
) -> PromptTemplate:
    """Replace the content with a new revision (same `history_id`, new `id`); earlier revisions
    stay readable. Sending the current content again makes no revision."""
    return await service.update(project, name, body)


@router.delete(
    "/{project}/prompt-templates/{name}",
    operation_id="deletePromptTemplate",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=NOT_FOUND,
)
async def delete_prompt_template(
    project: ProjectParam,
    name: PromptTemplateNameParam,
    service: PromptTemplateService = Depends(prompt_template_service),
) -> None:
    """Marks every revision deleted (rows stay, since releases reference them); the name is free again."""
    await service.delete(project, name)


@router.get(
    "/{project}/prompt-templates/{name}/revisions",
    operation_id="listPromptTemplateRevisions",
    dependencies=[RequireRead],
    responses=INVALID | NOT_FOUND,
)
async def list_prompt_template_revisions(
    project: ProjectParam,
    name: PromptTemplateNameParam,
    page: PageParams = Depends(),
    service: PromptTemplateService = Depends(prompt_template_service),
) -> Page[PromptTemplateRevision]:
    """Every revision of the live template with this name, newest first."""
    items, cursor = await service.list_revisions(project, name, page.position(int), page.limit)
    return Page[PromptTemplateRevision](items=items, next_cursor=cursor)
