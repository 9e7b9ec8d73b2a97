from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.kit.fields import (
    Confirm,
    ConfirmPrompt,
    CreatedAt,
    DestructiveHint,
    HttpMethodField,
    HttpPath,
    IdempotentHint,
    InputSchema,
    MimeType,
    OpenWorldHint,
    ReadOnlyHint,
    ResourceDescription,
    ResourceName,
    ResourceUri,
    ResourceUrn,
    Summarizer,
    Tags,
    Title,
    ToolDescription,
    ToolName,
    ToolSummary,
    ToolUrn,
    UpdatedAt,
)
from app.kit.schemas import Description, PromptTemplateName, Schema, ToolsetName, ToolsetSlug, Urn

MAX_TOOLS_PER_TOOLSET = 10_000

NAME = "The toolset's name (at most 60 characters)."
SLUG = (
    "Where clients find the toolset (`…/toolsets/{slug}`, `/mcp/{project}/{slug}`): `[a-z0-9-]`, at most 60."
)
DESCRIPTION = "What the toolset is for; MCP clients receive it as the server's instructions (at most 250)."
TOOL_URNS = "The URNs of the active deployment's tools it serves."
RESOURCE_URNS = "The URNs of the active deployment's resources it serves."
PROMPTS = "The names of the project's prompt templates it serves (their current revision)."


class ToolsetCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Pets",
                    "slug": "pets",
                    "description": "Look pets up and add new ones.",
                    "tool_urns": ["tools:http:petstore:get_pet", "tools:http:petstore:add_pet"],
                    "resource_urns": ["resources:http:petstore:catalog"],
                    "prompt_template_names": ["summarize_pet"],
                }
            ]
        }
    )

    name: ToolsetName = Field(description=NAME, examples=["Pet operations"])
    slug: ToolsetSlug | None = Field(
        None, description=SLUG + " Derived from the name when absent (`Pets` -> `pets`)."
    )
    description: Description | None = Field(None, description=DESCRIPTION)
    tool_urns: list[Urn] = Field(
        max_length=MAX_TOOLS_PER_TOOLSET, description=TOOL_URNS, examples=[["tools:http:petstore:get_pet"]]
    )
    resource_urns: list[Urn] = Field(
        default_factory=list, max_length=MAX_TOOLS_PER_TOOLSET, description=RESOURCE_URNS
    )
    prompt_template_names: list[PromptTemplateName] = Field(
        default_factory=list, max_length=100, description=PROMPTS
    )


# Absent keeps a field's value; null is refused for these (null clears only a description).
_NOT_NULL = ("name", "slug", "tool_urns", "resource_urns", "prompt_template_names")


def _update_json_schema(schema: dict[str, Any]) -> None:
    """Document the fields of `_NOT_NULL` as optional but not nullable, as they are validated."""
    for name in _NOT_NULL:
        field = schema["properties"][name]
        field.update(next(s for s in field.pop("anyOf") if s.get("type") != "null"))
        field.pop("default", None)
    schema["examples"] = [
        {"description": "Look pets up (read-only).", "tool_urns": ["tools:http:petstore:get_pet"]}
    ]


class ToolsetUpdate(Schema):
    """Every field optional; absent fields keep their value."""

    model_config = ConfigDict(json_schema_extra=_update_json_schema)

    name: ToolsetName | None = Field(None, description=NAME)
    slug: ToolsetSlug | None = Field(
        None, description=SLUG + " Changes only on the live toolset (a staging copy refuses it)."
    )
    description: Description | None = Field(None, description=DESCRIPTION + " Null clears it.")
    tool_urns: list[Urn] | None = Field(None, max_length=MAX_TOOLS_PER_TOOLSET, description=TOOL_URNS)
    resource_urns: list[Urn] | None = Field(None, max_length=MAX_TOOLS_PER_TOOLSET, description=RESOURCE_URNS)
    prompt_template_names: list[PromptTemplateName] | None = Field(None, max_length=100, description=PROMPTS)

    @field_validator(*_NOT_NULL, mode="before")
    @classmethod
    def _absent_rather_than_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("leave the field out to keep its value; it cannot be null")
        return value


def _staging_update_json_schema(schema: dict[str, Any]) -> None:
    _update_json_schema(schema)
    schema["properties"].pop("slug")


class StagingUpdate(ToolsetUpdate):
    """updateStagingVersion: the fields of updateToolset but `slug`. A staging copy carries its
    live toolset's slug, the toolset's address, which changes only through updateToolset."""

    model_config = ConfigDict(json_schema_extra=_staging_update_json_schema)

    @field_validator("slug", mode="before")
    @classmethod
    def _refuse_slug(cls, value: Any) -> Any:
        raise ValueError(
            "a staging copy carries its live toolset's slug: change the slug on the toolset itself "
            "(PATCH /v1/projects/{project}/toolsets/{toolset})"
        )


class Toolset(BaseModel):
    """A live toolset, or its staging copy."""

    id: UUID = Field(description="The toolset's id (a staging copy has its own).")
    slug: str = Field(description=SLUG)
    name: str = Field(description=NAME)
    description: str | None = Field(description=DESCRIPTION)
    tool_urns: list[str] = Field(description=TOOL_URNS)
    resource_urns: list[str] = Field(description=RESOURCE_URNS)
    prompt_template_names: list[str] = Field(description=PROMPTS)
    editing_mode: Literal["iteration", "staging"] = Field(
        description="`iteration`: edits are served at once. `staging`: the current release is served, "
        "and changes go through a staging copy and a publish."
    )
    version: int = Field(description="Counts accepted changes; served as the ETag.")
    current_release_number: int | None = Field(
        description="The toolset's current release, the one it serves in staging mode; null before its "
        "first release."
    )
    created_at: CreatedAt
    updated_at: UpdatedAt


class EffectiveTool(BaseModel):
    """A served tool: its definition with the global, then the toolset's variations applied."""

    urn: ToolUrn
    name: ToolName
    summary: ToolSummary
    description: ToolDescription
    input_schema: InputSchema
    http_method: HttpMethodField
    path: HttpPath
    tags: Tags
    title: Title
    confirm: Confirm = None
    confirm_prompt: ConfirmPrompt = None
    summarizer: Summarizer = None
    read_only_hint: ReadOnlyHint
    destructive_hint: DestructiveHint
    idempotent_hint: IdempotentHint
    open_world_hint: OpenWorldHint


class EffectiveResource(BaseModel):
    urn: ResourceUrn
    name: ResourceName
    uri: ResourceUri
    description: ResourceDescription
    mime_type: MimeType


class EffectivePrompt(BaseModel):
    name: str = Field(description="The prompt template's name.")
    description: str | None = Field(description="What the prompt is for.")
    prompt: str = Field(description="The template text, with `{{argument}}` placeholders.")
    arguments: list[Any] = Field(
        description="The arguments the placeholders take: `{name, description, required}`."
    )


class EffectiveToolset(BaseModel):
    """What the toolset's MCP clients see."""

    name: str = Field(description=NAME)
    slug: str = Field(description="The live toolset's slug (its address), whatever the release captured.")
    description: str | None = Field(description=DESCRIPTION)
    release_number: int | None = Field(description="Null when the state is computed from current data.")
    tools: list[EffectiveTool] = Field(description="The served tools.")
    resources: list[EffectiveResource] = Field(description="The served resources.")
    prompts: list[EffectivePrompt] = Field(
        description="The served prompts (attached templates, current or captured revision)."
    )
