"""Opaque cursors for keyset pagination.

A cursor is the sort key the previous page ended at, as base64url(JSON). A list accepts
only cursors it could have issued: the exact encoding this module writes (a re-encoded
cursor is refused), the shape of that list's key, and parts the database can compare
(text without NUL or lone surrogates, 64-bit integers, canonical UUIDs and timestamps).
Anything else is 422, never a query that fails.
"""

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from app.kit.errors import Unprocessable
from app.kit.json_body import MalformedJson, parse_json
from app.kit.params import PlainInt

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
MAX_CURSOR_LENGTH = 2048
_MAX_TEXT = 600
_BIGINT = 2**63
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


class Page:
    """`cursor` and `limit` query parameters, shared by every list operation."""

    def __init__(
        self,
        cursor: str | None = Query(
            None, max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page."
        ),
        limit: Annotated[PlainInt, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    ) -> None:
        self.cursor = cursor
        self.limit = limit

    def position(self, *parts: type) -> list[Any] | None:
        """The sort key the previous page ended at (None on the first page), checked against
        the list's key: one of `str`, `int`, `bool`, `UUID` or `datetime` per part."""
        return decode_cursor(self.cursor, parts) if self.cursor is not None else None


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def _not_issued() -> Unprocessable:
    return Unprocessable(
        "The cursor is not one this list issued; pass `next_cursor` back unchanged.",
        errors=[{"field": "query.cursor", "message": "not a cursor this list issued"}],
    )


def _part_ok(value: Any, kind: type) -> bool:
    if kind is bool:
        return type(value) is bool
    if kind is int:
        return type(value) is int and -_BIGINT <= value < _BIGINT
    if not isinstance(value, str) or len(value) > _MAX_TEXT or _UNSTORABLE_TEXT.search(value):
        return False
    try:
        if kind is UUID:
            return str(UUID(value)) == value
        if kind is datetime:
            parsed = datetime.fromisoformat(value)
            return parsed.tzinfo is not None and parsed.isoformat() == value
    except ValueError:
        return False
    return kind is str


def decode_cursor(cursor: str, parts: tuple[type, ...]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = parse_json(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError, MalformedJson) as exc:
        raise _not_issued() from exc
    if (
        not isinstance(value, list)
        or len(value) != len(parts)
        or not all(_part_ok(part, kind) for part, kind in zip(value, parts, strict=True))
        or encode_cursor(value) != cursor
    ):
        raise _not_issued()
    return value
