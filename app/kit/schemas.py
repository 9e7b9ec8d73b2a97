"""Shared Pydantic pieces: constrained strings, list pages, the problem document."""

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

ProjectSlug = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=SLUG_PATTERN)]
ProjectName = Annotated[str, StringConstraints(min_length=1, max_length=40, strip_whitespace=True)]
ToolsetSlug = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=SLUG_PATTERN)]
ToolsetName = Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]
Description = Annotated[str, StringConstraints(max_length=250)]
PromptTemplateName = Annotated[
    str, StringConstraints(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")
]
# URNs travel as one path segment, so they may not contain "/", "?", "#" or whitespace.
Urn = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\s/?#]+$")]


class Schema(BaseModel):
    """Request bodies reject unknown fields, so a typo is a 422 rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null at the end.")


class FieldError(BaseModel):
    field: str
    message: str
    type: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    errors: list[FieldError] | None = None
    location: str | None = None


def problem(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        # The schema on the media type errors are served as, so generated clients parse them.
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem("Missing or unknown API key"),
    403: problem("The API key lacks the scope this operation needs"),
    422: problem("The request does not match the schema"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: problem("Not found, or in another organization")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: problem("Conflicts with the current state")}
PRECONDITION: dict[int | str, dict[str, Any]] = {412: problem("If-Match does not match the current version")}
