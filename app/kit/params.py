"""Path parameters shared by the routers, documented once.

The examples name the objects of the documented request-body examples (project
`petstore`, toolset `pets`, tool `tools:http:petstore:get_pet`, template
`summarize_pet`), so that trying the examples in order in Swagger UI works.
"""

import re
from typing import Annotated

from fastapi import Path
from pydantic import BeforeValidator

from app.kit.schemas import URN_PATTERN

_PLAIN_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


def _plain_decimal(value: object) -> object:
    """Path and query integers are written as plain decimal digits: not `1_0`, `1.0`, ` 1`,
    `+1`, `01` or full-width digits (which int() would take), so one number has one spelling."""
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        raise ValueError("must be an integer in plain decimal digits")
    return value


PlainInt = Annotated[int, BeforeValidator(_plain_decimal)]

ProjectParam = Annotated[
    str, Path(description="The project's slug (`[a-z0-9-]`, at most 40).", examples=["petstore"])
]
ToolsetParam = Annotated[
    str, Path(description="The live toolset's slug (`[a-z0-9-]`, at most 60).", examples=["pets"])
]
# A URN travels as one path segment: percent-encode anything that is not a URL path
# character (`tools%3Ahttp%3A…` and `tools:http:…` are the same URN).
ToolUrnParam = Annotated[
    str,
    Path(
        min_length=1,
        max_length=500,
        pattern=URN_PATTERN,
        description="A tool URN, percent-encoded as one path segment (the rules of a body URN).",
        examples=["tools:http:petstore:get_pet"],
    ),
]
PromptTemplateNameParam = Annotated[
    str, Path(description="The prompt template's name.", examples=["summarize_pet"])
]
VersionParam = Annotated[
    PlainInt, Path(ge=1, le=2**62, description="A variation's version, 1, 2, 3…", examples=[1])
]
GroupVersionParam = Annotated[
    PlainInt, Path(ge=1, le=2**62, description="A group version's number, 1, 2, 3…", examples=[1])
]
ReleaseNumberParam = Annotated[
    PlainInt, Path(ge=1, le=2**62, description="The release's number, 1, 2, 3…", examples=[1])
]
