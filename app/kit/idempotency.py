"""The `Idempotency-Key` request header: a retry with the same key returns the same result."""

from typing import Annotated

from fastapi import Header

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string per intended operation; a retry with the same key and body "
        "returns the first result, the same key with another body answers 409.",
    ),
]

REPLAYED_HEADER = "Idempotent-Replayed"
