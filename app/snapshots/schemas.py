from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from app.api_keys.schemas import ApiKeyRef
from app.kit.schemas import Description, Schema
from app.releases.schemas import ACKNOWLEDGE_BREAKING, Impact, ImpactCounts

SnapshotId = Annotated[
    UUID,
    Path(
        description="The snapshot's id, as createProjectSnapshot answered it.",
        examples=["7c9e6679-7425-40de-944b-e07fc1f90ae7"],
    ),
]


class SnapshotCreate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "before the 2.3 rollout"}]})

    name: Description | None = Field(None, description="What the snapshot is for.")


class SnapshotToolset(BaseModel):
    toolset: str = Field(description="The toolset's slug when the snapshot was made.")
    release_number: int = Field(description="The release it served then.")
    exists: bool = Field(description="False when the toolset or that release was deleted since.")


class ProjectSnapshot(BaseModel):
    id: UUID = Field(description="The snapshot's id.")
    name: str | None = Field(description="What the snapshot is for.")
    created_by: ApiKeyRef = Field(description="The API key that made it.")
    created_at: datetime = Field(description="When it was made.")
    toolsets: list[SnapshotToolset] = Field(
        description="The served release of every staging-mode toolset of the project at that moment."
    )


class RestoreRequest(Schema):
    reason: str | None = Field(None, max_length=2_000, description="Why; recorded with every move.")
    acknowledge_breaking: bool = ACKNOWLEDGE_BREAKING


class RestoredToolset(BaseModel):
    toolset: str = Field(description="The toolset's slug now.")
    from_release_number: int | None = Field(description="The release it served before the restore.")
    to_release_number: int = Field(description="The release the snapshot recorded.")
    moved: bool = Field(description="False when it already served that release.")
    impact: Impact | None = Field(description="The most serious impact of the move on its clients.")
    counts: ImpactCounts = Field(description="The move's changes per impact.")


class RestoreResult(BaseModel):
    snapshot_id: UUID = Field(description="The snapshot restored.")
    dry_run: bool = Field(description="True when nothing moved: this is what would.")
    toolsets: list[RestoredToolset] = Field(description="Every toolset of the snapshot, by slug.")
