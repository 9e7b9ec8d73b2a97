from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.api_keys.schemas import ApiKeyRef
from app.kit.schemas import Schema

ReviewStatus = Literal["open", "outdated", "published"]


class ReviewRequest(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "Adds add_pet; please check its description."}]}
    )

    note: str | None = Field(
        None,
        max_length=2_000,
        description="What reviewers should look at.",
        examples=["Adds add_pet; please check its description."],
    )


class ApprovalCreate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"comment": "Descriptions read well."}]})

    comment: str | None = Field(
        None, max_length=2_000, description="A note from the approver.", examples=["Descriptions read well."]
    )


class Approval(BaseModel):
    approved_by: ApiKeyRef | None = Field(description="The API key that approved.")
    comment: str | None = Field(description="The approver's note.")
    created_at: datetime = Field(description="When it was given.")
    counts: bool = Field(
        description="Whether it counts towards `valid_approvals`: false once the approving key is revoked."
    )


class Review(BaseModel):
    id: UUID = Field(description="The review's id.")
    staging_version: int = Field(
        description="The staging copy's version under review (its ETag): what the approvals approve."
    )
    note: str | None = Field(description="The requester's note.")
    requested_by: ApiKeyRef | None = Field(
        description="The API key that asked for the review; it cannot approve it."
    )
    created_at: datetime = Field(description="When it was asked for.")
    status: ReviewStatus = Field(
        description="`open` while the staging copy is still the reviewed one at the reviewed version; "
        "`outdated` once it was edited, discarded or re-created, or once what it serves changed through "
        "the project's shared definitions (a deployment, a global variation, a prompt template) (its "
        "approvals no longer count: request a new review); `published` once a publish released it "
        "(`release_number`)."
    )
    release_number: int | None = Field(description="The release that published it; null until then.")
    approvals: list[Approval] = Field(description="The approvals given, oldest first.")
    valid_approvals: int = Field(
        description="The approvals that count for a publish now: 0 unless `open`; approvals by keys "
        "revoked since do not count."
    )
    required_approvals: int = Field(
        description="The approvals the toolset's policy requires to publish (`required_approvals`)."
    )
    approved: bool = Field(
        description="True while the review is `open` and has at least `required_approvals` approvals: "
        "a publish now passes the approval check."
    )
