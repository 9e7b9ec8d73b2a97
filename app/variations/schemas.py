from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.kit.fields import (
    Confirm,
    ConfirmPrompt,
    CreatedAt,
    DestructiveHint,
    IdempotentHint,
    OpenWorldHint,
    ReadOnlyHint,
    Summarizer,
    Title,
    ToolUrn,
)
from app.kit.schemas import Description, Schema

VariationName = Annotated[str, StringConstraints(min_length=1, max_length=60)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class VariationFields(Schema):
    """How a tool is presented; every field absent or null inherits from the layer below."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "fetch_pet",
                    "summary": "Fetch a pet",
                    "description": "Fetch one pet by its id; answers 404 when there is none.",
                    "tags": ["pets", "read"],
                    "title": "Fetch a pet",
                    "read_only_hint": True,
                }
            ]
        }
    )

    name: VariationName | None = Field(
        None, description="The name MCP clients see instead of the tool's own.", examples=["fetch_pet"]
    )
    summary: Description | None = Field(None, description="Replaces the tool's one-line summary.")
    description: Text | None = Field(
        None, description="Replaces the tool's description.", examples=["Fetch one pet by its id."]
    )
    tags: list[Tag] | None = Field(None, max_length=50, description="Replaces the tool's tags.")
    confirm: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="When clients should ask a person before calling the tool (e.g. `always`)."
    )
    confirm_prompt: Text | None = Field(None, description="The question put to the person before a call.")
    summarizer: Text | None = Field(None, description="Instructions for summarising the tool's output.")
    title: Description | None = Field(None, description="A human-readable title (MCP `title`).")
    read_only_hint: ReadOnlyHint = None
    destructive_hint: DestructiveHint = None
    idempotent_hint: IdempotentHint = None
    open_world_hint: OpenWorldHint = None


class Variation(BaseModel):
    """One version of a variation. Null fields inherit from the layer below (the tool's own
    definition, or the project's global variation under a toolset's)."""

    id: UUID = Field(description="This version's id.")
    tool_urn: ToolUrn
    version: int = Field(description="1 for the first version, counting up with each edit or delete.")
    deleted: bool = Field(description="True for a tombstone: the version that deleted the variation.")
    created_at: CreatedAt
    name: str | None = Field(description="The name MCP clients see instead of the tool's own.")
    summary: str | None = Field(description="Replaces the tool's one-line summary.")
    description: str | None = Field(description="Replaces the tool's description.")
    tags: list[str] | None = Field(description="Replaces the tool's tags.")
    confirm: Confirm
    confirm_prompt: ConfirmPrompt
    summarizer: Summarizer
    title: Title
    read_only_hint: ReadOnlyHint
    destructive_hint: DestructiveHint
    idempotent_hint: IdempotentHint
    open_world_hint: OpenWorldHint


class GroupVersion(BaseModel):
    """A snapshot of a variations group: which variation version of each tool was current."""

    id: UUID = Field(description="The snapshot's id.")
    version: int = Field(description="1, 2, 3… per group.")
    variation_ids: list[UUID] = Field(description="The ids of the variation versions it holds.")
    created: bool = Field(description="False when the group was unchanged and its latest version is reused.")
    created_at: CreatedAt
