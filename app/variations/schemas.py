from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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

    name: VariationName | None = Field(None, examples=["fetch_pet"])
    summary: Description | None = None
    description: Text | None = Field(None, examples=["Fetch one pet by its id."])
    tags: list[Tag] | None = Field(None, max_length=50)
    confirm: Annotated[str, StringConstraints(max_length=40)] | None = None
    confirm_prompt: Text | None = None
    summarizer: Text | None = None
    title: Description | None = None
    read_only_hint: bool | None = None
    destructive_hint: bool | None = None
    idempotent_hint: bool | None = None
    open_world_hint: bool | None = None


class Variation(BaseModel):
    id: UUID
    tool_urn: str
    version: int
    deleted: bool = Field(description="True for a tombstone: the version that deleted the variation.")
    created_at: datetime
    name: str | None
    summary: str | None
    description: str | None
    tags: list[str] | None
    confirm: str | None
    confirm_prompt: str | None
    summarizer: str | None
    title: str | None
    read_only_hint: bool | None
    destructive_hint: bool | None
    idempotent_hint: bool | None
    open_world_hint: bool | None


class GroupVersion(BaseModel):
    id: UUID
    version: int
    variation_ids: list[UUID]
    created: bool = Field(description="False when the group was unchanged and its latest version is reused.")
    created_at: datetime
