from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.api_keys.schemas import ApiKeyRef
from app.kit.schemas import Schema


class ReleaseCreate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"notes": "Adds the pet search tools."}]})

    notes: str | None = Field(None, max_length=2_000, examples=["Adds the pet search tools."])


class Release(BaseModel):
    id: UUID
    release_number: int
    notes: str | None
    released_by: ApiKeyRef | None = Field(
        description="The API key that made the release; null when none was recorded."
    )
    created_at: datetime
    toolset_version: int = Field(description="The captured toolset_versions row's version.")
    source_state_id: UUID
    current: bool = Field(False, description="True for the toolset's current release.")


class Change(BaseModel):
    from_: Any = Field(alias="from")
    to: Any


class ItemChange(BaseModel):
    urn: str | None = None
    name: str | None = None
    fields: dict[str, Change]


class ItemDiff(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[ItemChange]


class StateDiff(BaseModel):
    from_: str = Field(alias="from", description="`live`, `staging` or `release:N`.")
    to: str
    metadata: dict[str, Change]
    tools: ItemDiff
    resources: ItemDiff
    prompts: ItemDiff


class AuditEntry(BaseModel):
    id: UUID
    action: Literal["create_release", "publish", "rollback", "mode_switch", "discard"]
    actor: ApiKeyRef = Field(description="The API key that acted.")
    from_release_number: int | None
    to_release_number: int | None
    details: dict[str, Any]
    created_at: datetime
