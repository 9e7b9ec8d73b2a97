from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.api_keys.schemas import ApiKeyRef
from app.kit.schemas import Schema


class ReleaseCreate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"notes": "Adds the pet search tools."}]})

    notes: str | None = Field(
        None,
        max_length=2_000,
        description="What changed, for people.",
        examples=["Adds the pet search tools."],
    )


class Release(BaseModel):
    id: UUID = Field(description="The release's id.")
    release_number: int = Field(description="1, 2, 3… per toolset, with no gaps.")
    notes: str | None = Field(description="What changed, as its author wrote.")
    released_by: ApiKeyRef | None = Field(
        description="The API key that made the release; null when none was recorded."
    )
    created_at: datetime = Field(description="When it was made.")
    toolset_version: int = Field(description="The captured toolset_versions row's version.")
    source_state_id: UUID = Field(
        description="The captured source state: which deployment and which prompt template revisions the "
        "release serves. Two releases with the same id serve the same upstream definitions."
    )
    current: bool = Field(False, description="True for the toolset's current release.")


class Change(BaseModel):
    from_: Any = Field(alias="from", description="The value on the `from` side.")
    to: Any = Field(description="The value on the `to` side.")


class ItemChange(BaseModel):
    urn: str | None = Field(None, description="The changed tool's or resource's URN.")
    name: str | None = Field(None, description="The changed prompt's name.")
    fields: dict[str, Change] = Field(description="Each changed field, by name.")


class ItemDiff(BaseModel):
    added: list[str] = Field(description="URNs (or prompt names) only on the `to` side.")
    removed: list[str] = Field(description="URNs (or prompt names) only on the `from` side.")
    changed: list[ItemChange] = Field(description="Items on both sides that differ, field by field.")


class StateDiff(BaseModel):
    from_: str = Field(alias="from", description="`live`, `staging` or `release:N`.")
    to: str = Field(description="`live`, `staging` or `release:N`.")
    metadata: dict[str, Change] = Field(description="Changed toolset fields: `name`, `description`.")
    tools: ItemDiff = Field(description="Tools added, removed and changed.")
    resources: ItemDiff = Field(description="Resources added, removed and changed.")
    prompts: ItemDiff = Field(description="Prompts added, removed and changed.")


class AuditEntry(BaseModel):
    id: UUID = Field(description="The entry's id.")
    action: Literal["create_release", "publish", "rollback", "mode_switch", "discard", "rename"] = Field(
        description="What happened."
    )
    actor: ApiKeyRef = Field(description="The API key that acted.")
    from_release_number: int | None = Field(description="The release served before.")
    to_release_number: int | None = Field(description="The release served after.")
    details: dict[str, Any] = Field(
        description='More about the action, e.g. `{"from": "iteration", "to": "staging"}` for a mode switch.'
    )
    created_at: datetime = Field(description="When it happened.")
