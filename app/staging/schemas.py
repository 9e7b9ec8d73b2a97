from typing import Literal

from pydantic import Field

from app.kit.schemas import Schema


class EditingModeSwitch(Schema):
    mode: Literal["iteration", "staging"]
    discard_staging: bool = Field(
        False, description="Switching to iteration: discard an open staging copy instead of refusing (409)."
    )
