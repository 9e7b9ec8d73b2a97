from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.api_keys.schemas import ApiKeyRef

CURRENT = "current"

Mode = Literal["iteration", "staging"]


class ServedMove(BaseModel):
    id: UUID = Field(description="The move's id.")
    label: str = Field(description="`current` for the toolset's served pointer, else the label that moved.")
    action: str = Field(
        description="What moved it: publish, create_release, rollback, mode_switch, snapshot_restore, "
        "label_move or label_delete."
    )
    actor: ApiKeyRef = Field(description="The API key that moved it.")
    reason: str | None = Field(description="Why, as the request that moved it said.")
    from_mode: Mode | None = Field(description="The served pointer's editing mode before; null for labels.")
    from_release_number: int | None = Field(
        description="The release served (or labelled) before; null in iteration mode or for a new label."
    )
    to_mode: Mode | None = Field(description="The served pointer's editing mode after; null for labels.")
    to_release_number: int | None = Field(description="Null in iteration mode or for a deleted label.")
    created_at: datetime = Field(description="When it moved.")


class ServedAt(BaseModel):
    time: datetime = Field(description="The instant asked about.")
    label: str = Field(description="`current` (what the toolset served) or a label.")
    editing_mode: Mode | None = Field(
        description="For `current`: iteration or staging mode; null for labels."
    )
    release_number: int | None = Field(
        description="The release served (or labelled) at that instant; null in iteration mode, where "
        "clients saw the toolset's current data."
    )
    since: datetime | None = Field(
        description="When that began; null when it began before the service recorded moves."
    )
