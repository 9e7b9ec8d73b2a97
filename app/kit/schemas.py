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
# URNs travel as one path segment, so they may not contain "/", "?", "#", whitespace or
# control characters; the same rule holds for a URN in a body, a definition and a path.
URN_PATTERN = r"^[^\s/?#\x00-\x1f\x7f-\x9f]+$"
Urn = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=URN_PATTERN)]


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
    items: list[T] = Field(description="This page's items, in the list's documented order.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null at the end.")


class FieldError(BaseModel):
    field: str = Field(description="Where: `body.tools.0.urn`, `query.limit`, `path.release_number`…")
    message: str = Field(description="What is wrong with it.")
    type: str | None = Field(
        None, description="A machine-readable kind of error (`missing`, `string_too_long`…)."
    )


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="`urn:toolsets:problem:<code>`.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status.")
    detail: str = Field(description="What went wrong, and what to do about it, for people.")
    code: str = Field(description="Stable machine-readable error code.")
    errors: list[FieldError] | None = Field(
        None, description="On a 422: each field that is wrong (the first 20 at most)."
    )
    error_count: int | None = Field(None, description="How many field errors there were in all.")
    hint: str | None = Field(
        None,
        description="What to do next: the request to make, with its method and full path "
        "(`POST /v1/projects/petstore/toolsets/pets/staging`).",
    )
    current_etag: str | None = Field(None, description="On a 412: the current ETag; read the resource again.")
    request_id: str | None = Field(None, description="On a 500: the `X-Request-ID` to quote to operators.")
    pointer: str | None = Field(
        None, description="A JSON pointer (RFC 6901) into the submitted document, where it is invalid."
    )
    changes: list[dict[str, Any]] | None = Field(
        None, description="`breaking_changes`: the breaking changes, each as in a diff's `changes`."
    )
    required_approvals: int | None = Field(
        None, description="`approval_required`: the approvals the toolset's policy requires."
    )
    valid_approvals: int | None = Field(
        None, description="`approval_required`: the approvals of the staging copy as it is now."
    )


def problem_example(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem document as the service answers it, for the OpenAPI document."""
    body = {"type": f"urn:toolsets:problem:{code}", "title": title, "status": status, "detail": detail}
    return {**body, "code": code, **extra}


def problem(description: str, example: dict[str, Any] | None = None) -> dict[str, Any]:
    # The schema on the media type errors are served as, so generated clients parse them;
    # the example is what Swagger UI and ReDoc show instead of `"string"` and `0`.
    media: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Problem"}}
    if example is not None:
        media["example"] = example
    return {"model": Problem, "description": description, "content": {"application/problem+json": media}}


Responses = dict[int | str, dict[str, Any]]


def headers(status: int, *names: str) -> Responses:
    """Document response headers of a success status (`ETag`, `Location`, `Idempotent-Replayed`)."""
    return {status: {"headers": {name: RESPONSE_HEADERS[name] for name in names}}}


RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The version, `"<version>"`, of the toolset or staging copy the operation read or '
        "changed (send it as `If-Match` to guard the next write), or of a global variation.",
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
    401: problem(
        "Missing or unknown API key",
        problem_example(401, "unauthorized", "Unauthorized", "The API key is unknown or revoked."),
    ),
    403: problem(
        "The API key lacks the scope this operation needs",
        problem_example(
            403, "forbidden", "Forbidden", "This operation needs an API key with the `release` scope."
        ),
    ),
}
INVALID: Responses = {
    422: problem(
        "The request does not match the schema; `errors` names each field",
        problem_example(
            422,
            "validation_error",
            "Unprocessable request",
            "The request does not match the operation's schema; see `errors`.",
            errors=[
                {
                    "field": "body.slug",
                    "message": "String should match pattern '^[a-z0-9]+(?:-[a-z0-9]+)*$'",
                    "type": "string_pattern_mismatch",
                }
            ],
        ),
    )
}
# Every operation that takes a body: 400 before validation, 413 before reading it all.
BODY: Responses = {
    400: problem(
        "The body is not JSON (`NaN`, `Infinity`, a number a double cannot hold, a lone surrogate)",
        problem_example(400, "malformed_json", "Malformed JSON", "The body is not valid JSON."),
    ),
    413: problem(
        "The body is larger than the service accepts (`TOOLSETS_MAX_BODY_BYTES`, 16 MiB)",
        problem_example(
            413,
            "payload_too_large",
            "Payload too large",
            "The request body is larger than 16777216 bytes.",
            max_body_bytes=16777216,
        ),
    ),
    415: problem(
        "The body is not declared `application/json`",
        problem_example(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            "Send the body as JSON, with `Content-Type: application/json`.",
            accepted=["application/json"],
        ),
    ),
    **INVALID,
}
NOT_FOUND: Responses = {
    404: problem(
        "Not found, or in another organization",
        problem_example(
            404,
            "toolset_not_found",
            "Not found",
            "Toolset 'Pets' does not exist: slugs are lowercase; try 'pets'.",
            hint="GET /v1/projects/petstore/toolsets/pets",
        ),
    )
}
CONFLICT: Responses = {
    409: problem(
        "Conflicts with the current state; `hint` says what to do",
        problem_example(
            409,
            "toolset_in_staging_mode",
            "Conflict",
            "Toolset 'pets' is in staging mode: edit its staging copy (POST "
            "/v1/projects/petstore/toolsets/pets/staging to create it, PATCH "
            "/v1/projects/petstore/toolsets/pets/staging to edit, POST "
            "/v1/projects/petstore/toolsets/pets/staging/publish to release).",
            hint="POST /v1/projects/petstore/toolsets/pets/staging",
        ),
    )
}
PRECONDITION: Responses = {
    412: problem(
        "If-Match does not match the current version",
        problem_example(
            412,
            "precondition_failed",
            "Precondition failed",
            'If-Match "3" does not match the current version "4"; read it again.',
            current_etag='"4"',
        ),
    )
}
