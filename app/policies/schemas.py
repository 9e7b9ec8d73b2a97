from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api_keys.schemas import ApiKeyRef
from app.kit.schemas import Schema

MAX_KEEP_LAST = 10_000
MAX_REQUIRED_APPROVALS = 100


class PolicyFields(Schema):
    """A toolset's policy; a PUT replaces it whole, and an omitted field takes its default."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"block_breaking": True, "keep_last": 20, "required_approvals": 0}]}
    )

    block_breaking: bool = Field(
        False,
        description="Publish, createRelease and rollback whose semantic diff against the served state "
        "has breaking changes answer 409 `breaking_changes`, unless the request says "
        "`acknowledge_breaking: true`.",
    )
    keep_last: int | None = Field(
        None,
        ge=1,
        le=MAX_KEEP_LAST,
        description="pruneReleases keeps the newest this many releases (and every current, labelled, "
        "named or snapshotted one); null keeps every release.",
        examples=[20],
    )
    required_approvals: int = Field(
        0, ge=0, le=MAX_REQUIRED_APPROVALS, description="Approvals a publish needs; 0 needs none."
    )


class Policy(BaseModel):
    block_breaking: bool = Field(description="Breaking changes need `acknowledge_breaking: true`.")
    keep_last: int | None = Field(description="How many of the newest releases pruning keeps; null: all.")
    required_approvals: int = Field(description="Approvals a publish needs; 0 needs none.")
    updated_at: datetime | None = Field(description="Null while the toolset has the default policy.")
    updated_by: ApiKeyRef | None = Field(description="The API key that last set the policy.")
