from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field

from app.kit.schemas import Schema
from app.releases.schemas import ReleaseCreate


class EditingModeSwitch(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"mode": "staging"}, {"mode": "iteration", "discard_staging": True}]}
    )

    mode: Literal["iteration", "staging"] = Field(
        description="`staging`: serve the current release; edits go through a staging copy. "
        "`iteration`: serve current data; edits apply at once."
    )
    discard_staging: bool = Field(
        False, description="Switching to iteration: discard an open staging copy instead of refusing (409)."
    )


class StagingPublish(ReleaseCreate):
    """publishStagingVersion's body: a release's notes, and optionally when to publish."""

    # strict=False: an ISO-8601 string is how JSON carries a time.
    publish_at: AwareDatetime | None = Field(
        None,
        strict=False,
        description="Publish at this time (ISO-8601 with a zone, in the future, at most a year ahead) "
        "instead of now: the answer is then 202 with the scheduled publish.",
        examples=["2026-12-01T09:00:00Z"],
    )
