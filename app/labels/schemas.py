from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from app.api_keys.schemas import ApiKeyRef
from app.kit.schemas import Schema

LABEL_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,39}$"

LabelParam = Annotated[
    str,
    Path(
        pattern=LABEL_PATTERN,
        description="A label (`[a-z0-9._-]`, at most 40, e.g. `stable`); `current` is reserved.",
        examples=["stable"],
    ),
]


class LabelPut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"release_number": 1}]})

    release_number: int = Field(ge=1, le=2**62, description="The release the label points at.")


class ReleaseLabel(BaseModel):
    label: str = Field(description="The label's name.")
    release_number: int = Field(description="The release it points at.")
    release_name: str | None = Field(description="That release's name, if it has one.")
    version: int = Field(description="Counts the label's moves; served as the ETag.")
    updated_by: ApiKeyRef | None = Field(description="The API key that last moved it.")
    created_at: datetime = Field(description="When the label was made.")
    updated_at: datetime = Field(description="When it last moved.")
