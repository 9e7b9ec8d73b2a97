"""ETags are a row's version: `"<version>"`; `If-Match` guards writes against stale reads."""

from typing import Annotated

from fastapi import Header, Response

from app.kit.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag you read (`"3"`); 412 when it is stale. `*` matches any.',
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """Raise 412 unless If-Match is absent, `*`, or names `version` (weak or strong form)."""
    if if_match is None:
        return
    candidates = [c.strip() for c in if_match.split(",")]
    for candidate in candidates:
        if candidate == "*":
            return
        tag = candidate.removeprefix("W/").strip('"')
        if tag == str(version):
            return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {etag(version)}; read it again.",
        current_etag=etag(version),
    )
