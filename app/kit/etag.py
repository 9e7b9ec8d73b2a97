"""ETags are a row's version: `"<version>"`; `If-Match` guards writes against stale reads."""

import re
from typing import Annotated

from fastapi import Header, Response

from app.kit.errors import PreconditionFailed

# RFC 9110: `*`, or a comma-separated list of entity tags, each `"…"` or `W/"…"`.
_ETAGC = r"[\x21\x23-\x7e\x80-\xff]"
_ENTITY_TAG = rf'(?:W/)?"{_ETAGC}*"'
IF_MATCH_PATTERN = rf"^[ \t]*(?:\*|{_ENTITY_TAG}(?:[ \t]*,[ \t]*{_ENTITY_TAG})*)[ \t]*$"
_TAG = re.compile(r'(?:W/)?"([^"]*)"')

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1024,
        pattern=IF_MATCH_PATTERN,
        description='The ETag you read (`"3"`), several separated by commas, or `*` for any; 412 when '
        "it is stale. Anything but well-formed entity tags is 422.",
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """Raise 412 unless If-Match is absent, `*`, or names `version` (weak or strong form)."""
    if if_match is None or if_match.strip() == "*":
        return
    # The header's pattern has checked the syntax; here only the tags' values matter.
    if str(version) in _TAG.findall(if_match):
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {etag(version)}; read it again.",
        current_etag=etag(version),
    )
