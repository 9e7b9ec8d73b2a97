from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.kit.schemas import Schema

MAX_HEADERS = 50
SOURCE_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"

# RFC 9110 field names (tokens); values of visible ASCII and spaces (no CR/LF: no header injection).
HeaderName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
]
HeaderValue = Annotated[str, StringConstraints(max_length=8192, pattern=r"^[\x20-\x7e\t]*$")]
# Headers the client sets itself (or that would let a caller reroute a request).
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-type"})


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials: send them as headers, which are kept secret")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    try:
        parts.port  # noqa: B018 -- raises on an invalid port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    return value.rstrip("/")


BaseUrl = Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_base_url)]


def _headers(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    lowered = [name.lower() for name in value]
    if reserved := sorted(set(lowered) & RESERVED_HEADERS):
        raise ValueError(f"the client sets {', '.join(reserved)} itself")
    if len(set(lowered)) != len(lowered):
        raise ValueError("header names are case-insensitive: one appears twice")
    return value


EXAMPLE_UPSTREAM: dict[str, Any] = {
    "base_url": "https://petstore.example/v1",
    "headers": {"Authorization": "Bearer sk_live_example", "X-Api-Version": "2"},
}


class UpstreamPut(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_UPSTREAM]})

    base_url: BaseUrl = Field(
        description="Where the source's API lives (`https://host[:port][/prefix]`); nothing else is called.",
        examples=["https://petstore.example/v1"],
    )
    headers: Annotated[dict[HeaderName, HeaderValue] | None, AfterValidator(_headers)] = Field(
        default=None,
        description=(
            "Headers sent with every request to the upstream (API keys, tokens). Secret: stored "
            "encrypted, never returned, never logged. Omitted: the stored headers stay; `{}` removes them."
        ),
    )


class Upstream(BaseModel):
    source: str = Field(description="The source whose tools call this upstream.", examples=["petstore"])
    base_url: str = Field(description="Where its requests go.", examples=["https://petstore.example/v1"])
    header_names: list[str] = Field(description="The names of the stored headers; values are never returned.")
    created_at: datetime = Field(description="When the upstream was first set.")
    updated_at: datetime = Field(description="When it was last set.")
