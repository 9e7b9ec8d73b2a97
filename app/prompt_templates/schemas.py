from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.kit.schemas import Description, PromptTemplateName, Schema

MAX_ARGUMENTS = 100
MAX_PROMPT_LENGTH = 100_000

# NUL, which PostgreSQL text cannot hold, is refused for every request body by kit.schemas.Schema.
PromptText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PROMPT_LENGTH)]


class PromptArgument(Schema):
    name: PromptTemplateName = Field(
        description="The argument's name, used as `{{name}}` in the prompt.", examples=["pet_id"]
    )
    description: Description | None = Field(None, description="What to pass.")
    required: bool = Field(False, description="Whether rendering the prompt needs it.")


class _TemplateContent(Schema):
    prompt: PromptText = Field(
        description="The template text; `{{argument}}` placeholders are replaced when it is rendered.",
        examples=["Summarize the pet with id {{pet_id}}."],
    )
    description: Description | None = Field(None, description="What the prompt is for (at most 250).")
    arguments: list[PromptArgument] = Field(
        default_factory=list, max_length=MAX_ARGUMENTS, description="Argument names are unique."
    )

    @field_validator("arguments")
    @classmethod
    def _unique_argument_names(cls, arguments: list[PromptArgument]) -> list[PromptArgument]:
        names = [a.name for a in arguments]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"duplicate argument names: {', '.join(dupes)}")
        return arguments


_EXAMPLE_CONTENT: dict[str, Any] = {
    "prompt": "Summarize the pet with id {{pet_id}} in one sentence.",
    "description": "A one-line summary of a pet.",
    "arguments": [{"name": "pet_id", "description": "The pet's id.", "required": True}],
}


class PromptTemplateCreate(_TemplateContent):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "summarize_pet", **_EXAMPLE_CONTENT}]})

    name: PromptTemplateName = Field(
        description="Unique among the project's live templates: `[A-Za-z0-9_-]`, at most 60.",
        examples=["summarize_pet"],
    )


class PromptTemplateUpdate(_TemplateContent):
    """A full replacement of the template's content: omitted optional fields are cleared."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_EXAMPLE_CONTENT, "description": "A short summary of a pet."}]}
    )


class PromptTemplate(BaseModel):
    id: UUID = Field(description="This revision's id; every edit makes a new one.")
    history_id: UUID = Field(description="Shared by every revision of the template.")
    revision: int = Field(description="1 for the first revision, counting up with each edit.")
    name: str = Field(description="The template's name (its address).")
    description: str | None = Field(description="What the prompt is for.")
    prompt: str = Field(description="The template text, with `{{argument}}` placeholders.")
    arguments: list[PromptArgument] = Field(description="The arguments the placeholders take.")
    created_at: datetime = Field(description="When this revision was made.")


class PromptTemplateRevision(PromptTemplate):
    is_current: bool = Field(description="True for the revision that is served now.")
