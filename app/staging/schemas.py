from typing import Literal

from pydantic import ConfigDict, Field

from app.kit.schemas import Schema


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
