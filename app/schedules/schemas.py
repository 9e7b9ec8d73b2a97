from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.api_keys.schemas import ApiKeyRef

ScheduleStatus = Literal["scheduled", "published", "cancelled", "failed"]


class ScheduledPublish(BaseModel):
    id: UUID = Field(description="The scheduled publish's id.")
    staging_version: int = Field(
        description="The staging copy's version it publishes; any later edit cancels it when it runs."
    )
    publish_at: datetime = Field(description="When it runs.")
    notes: str | None = Field(description="The release notes it publishes with.")
    name: str | None = Field(description="The release name it publishes with, if any.")
    acknowledge_breaking: bool = Field(
        description="Whether the request acknowledged breaking changes: under a `block_breaking` policy, "
        "the run publishes breaking changes only then (else it fails, `breaking_changes`)."
    )
    status: ScheduleStatus = Field(
        description="`scheduled` until it runs; then `published`, `cancelled` (the staging copy changed, "
        "or DELETE) or `failed`."
    )
    reason: str | None = Field(
        description="Why it was cancelled or failed, as a stable code (`staging_changed`, "
        "`staging_gone`, `cancelled_by_request`, `approval_required`, `breaking_changes`, …); null "
        "otherwise."
    )
    detail: str | None = Field(description="The same, for people.")
    release_number: int | None = Field(description="The release it made; null unless published.")
    requested_by: ApiKeyRef | None = Field(description="The API key that scheduled it; the release names it.")
    created_at: datetime = Field(description="When it was scheduled.")
    finished_at: datetime | None = Field(description="When it ran or was cancelled; null while scheduled.")
