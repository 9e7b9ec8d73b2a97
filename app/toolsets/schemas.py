from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.kit.schemas import Description, PromptTemplateName, Schema, ToolsetName, ToolsetSlug, Urn

MAX_TOOLS_PER_TOOLSET = 10_000


class ToolsetCreate(Schema):
    name: ToolsetName = Field(examples=["Pet operations"])
    slug: ToolsetSlug | None = Field(None, description="Derived from the name when absent.")
    description: Description | None = None
    tool_urns: list[Urn] = Field(max_length=MAX_TOOLS_PER_TOOLSET, examples=[["tools:http:petstore:get_pet"]])
    resource_urns: list[Urn] = Field(default_factory=list, max_length=MAX_TOOLS_PER_TOOLSET)
    prompt_template_names: list[PromptTemplateName] = Field(default_factory=list, max_length=100)


class ToolsetUpdate(Schema):
    """Every field optional; absent fields keep their value."""

    name: ToolsetName | None = None
    slug: ToolsetSlug | None = None
    description: Description | None = None
    tool_urns: list[Urn] | None = Field(None, max_length=MAX_TOOLS_PER_TOOLSET)
    resource_urns: list[Urn] | None = Field(None, max_length=MAX_TOOLS_PER_TOOLSET)
    prompt_template_names: list[PromptTemplateName] | None = Field(None, max_length=100)


class Toolset(BaseModel):
    id: UUID
    slug: str
    name: str
    description: str | None
    tool_urns: list[str]
    resource_urns: list[str]
    prompt_template_names: list[str]
    editing_mode: Literal["iteration", "staging"]
    version: int = Field(description="Counts accepted changes; served as the ETag.")
    current_release_number: int | None
    created_at: datetime
    updated_at: datetime


class EffectiveTool(BaseModel):
    urn: str
    name: str
    summary: str | None
    description: str | None
    input_schema: dict[str, Any]
    http_method: str
    path: str
    tags: list[str]
    title: str | None
    confirm: str | None = None
    confirm_prompt: str | None = None
    summarizer: str | None = None
    read_only_hint: bool | None
    destructive_hint: bool | None
    idempotent_hint: bool | None
    open_world_hint: bool | None


class EffectiveResource(BaseModel):
    urn: str
    name: str
    uri: str
    description: str | None
    mime_type: str | None


class EffectivePrompt(BaseModel):
    name: str
    description: str | None
    prompt: str
    arguments: list[Any]


class EffectiveToolset(BaseModel):
    name: str
    slug: str
    description: str | None
    release_number: int | None = Field(description="Null when the state is computed from current data.")
    tools: list[EffectiveTool]
    resources: list[EffectiveResource]
    prompts: list[EffectivePrompt]
