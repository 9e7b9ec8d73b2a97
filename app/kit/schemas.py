"""Shared Pydantic pieces: constrained strings, list pages, the problem document."""

from collections.abc import Iterator
from contextvars import ContextVar
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

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


_NUL = PydanticCustomError("nul_character", "text must not contain NUL (\\u0000) characters")
_checking_nul: ContextVar[bool] = ContextVar("checking_nul", default=False)


def _nul_errors(value: Any, loc: tuple[int | str, ...] = ()) -> Iterator[InitErrorDetails]:
    """Every string (value or object key) in raw JSON input that holds a NUL character."""
    if isinstance(value, str):
        if "\x00" in value:
            yield InitErrorDetails(type=_NUL, loc=loc, input=value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                yield InitErrorDetails(type=_NUL, loc=(*loc, key), input=key)
            yield from _nul_errors(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_errors(item, (*loc, index))


class Schema(BaseModel):
    """A request body, validated as documented. Unknown fields are refused, so a typo is a 422
    rather than silently ignored; values are not coerced (`0` is not a boolean, `"1"` not an
    integer); and a NUL character in any string, at any depth, is a 422 rather than a 500 from
    the database (PostgreSQL text cannot hold one)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="wrap")
    @classmethod
    def _refuse_nul(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if _checking_nul.get():
            return handler(data)  # a nested body: the outermost one has looked at everything
        token = _checking_nul.set(True)
        try:
            if errors := list(_nul_errors(data)):
                raise ValidationError.from_exception_data(cls.__name__, errors)
            return handler(data)
        finally:
            _checking_nul.reset(token)


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
    errors: list[FieldError] | None = Field(None, description="The first 20 field errors at most.")
    error_count: int | None = Field(None, description="How many field errors there were in all.")
    location: str | None = None
    request_id: str | None = Field(None, description="On a 500: the `X-Request-ID` to quote to operators.")


def problem(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        # The schema on the media type errors are served as, so generated clients parse them.
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


Responses = dict[int | str, dict[str, Any]]


def headers(status: int, *names: str) -> Responses:
    """Document response headers of a success status (`ETag`, `Location`, `Idempotent-Replayed`)."""
    return {status: {"headers": {name: RESPONSE_HEADERS[name] for name in names}}}


RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The row\'s version, `"<version>"`; send it as `If-Match` to guard a write.',
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    },
    "Location": {
        "description": "The URL of what was created.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when an earlier request with this `Idempotency-Key` made the release.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

AUTH_RESPONSES: Responses = {
    401: problem("Missing or unknown API key"),
    403: problem("The API key lacks the scope this operation needs"),
}
INVALID: Responses = {422: problem("The request does not match the schema; `errors` names each field")}
# Every operation that takes a body: 400 before validation, 413 before reading it all.
BODY: Responses = {
    400: problem("The body is not JSON (`NaN`, `Infinity`, a number a double cannot hold, a lone surrogate)"),
    413: problem("The body is larger than the service accepts (`TOOLSETS_MAX_BODY_BYTES`, 16 MiB)"),
    415: problem("The body is not declared `application/json`"),
    **INVALID,
}
NOT_FOUND: Responses = {404: problem("Not found, or in another organization")}
CONFLICT: Responses = {409: problem("Conflicts with the current state")}
PRECONDITION: Responses = {412: problem("If-Match does not match the current version")}
