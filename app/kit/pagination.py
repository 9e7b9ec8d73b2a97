"""Opaque cursors for keyset pagination."""

import base64
import binascii
import json
from typing import Any

from fastapi import Query

from app.kit.errors import Unprocessable

MAX_LIMIT = 100
DEFAULT_LIMIT = 50


class Page:
    """`cursor` and `limit` query parameters, shared by every list operation."""

    def __init__(
        self,
        cursor: str | None = Query(None, description="`next_cursor` of the previous page."),
        limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page."),
    ) -> None:
        self.cursor = cursor
        self.limit = limit

    def position(self) -> list[Any] | None:
        """The sort key the previous page ended at, or None on the first page."""
        return decode_cursor(self.cursor) if self.cursor else None


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable("The cursor is not one this service issued.") from exc
    # Parts of a position go into SQL; PostgreSQL text cannot hold NUL, and no issued cursor has one.
    if not isinstance(value, list) or any(isinstance(part, str) and "\x00" in part for part in value):
        raise Unprocessable("The cursor is not one this service issued.")
    return value
