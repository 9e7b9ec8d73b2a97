from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.kit.schemas import Description, PromptTemplateName, Schema, ToolsetName, ToolsetSlug, Urn

MAX_TOOLS_PER_TOOLSET = 10_000


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

    name: ToolsetName = Field(examples=["Pet operations"])
    slug: ToolsetSlug | None = Field(None, description="Derived from the name when absent.")
    description: Description | None = None
    tool_urns: list[Urn] = Field(max_length=MAX_TOOLS_PER_TOOLSET, examples=[["tools:http:petstore:get_pet"]])
    resource_urns: list[Urn] = Field(default_factory=list, max_length=MAX_TOOLS_PER_TOOLSET)
    prompt_template_names: list[PromptTemplateName] = Field(default_factory=list, max_length=100)


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

    name: ToolsetName | None = None
    slug: ToolsetSlug | None = None
    description: Description | None = None
    tool_urns: list[Urn] | None = Field(None, max_length=MAX_TOOLS_PER_TOOLSET)
    resource_urns: list[Urn] | None = Field(None, max_length=MAX_TOOLS_PER_TOOLSET)
    prompt_template_names: list[PromptTemplateName] | None = Field(None, max_length=100)

    @field_validator(*_NOT_NULL, mode="before")
    @classmethod
    def _absent_rather_than_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("leave the field out to keep its value; it cannot be null")
        return value


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
