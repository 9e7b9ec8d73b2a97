from typing import Literal

from pydantic import ConfigDict, Field

from app.kit.schemas import Schema


class EditingModeSwitch(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"mode": "staging"}, {"mode": "iteration", "discard_staging": True}]}
    )

    mode: Literal["iteration", "staging"]
    discard_staging: bool = Field(
        False, description="Switching to iteration: discard an open staging copy instead of refusing (409)."
    )
