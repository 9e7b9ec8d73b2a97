"""Path parameters shared by the routers, documented once.

The examples name the objects of the documented request-body examples (project
`petstore`, toolset `pets`, tool `tools:http:petstore:get_pet`, template
`summarize_pet`), so that trying the examples in order in Swagger UI works.
"""

from typing import Annotated

from fastapi import Path

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
        description="A tool URN, percent-encoded as one path segment.",
        examples=["tools:http:petstore:get_pet"],
    ),
]
PromptTemplateNameParam = Annotated[
    str, Path(description="The prompt template's name.", examples=["summarize_pet"])
]
VersionParam = Annotated[
    int, Path(ge=1, le=2**62, description="A variation's version, 1, 2, 3…", examples=[1])
]
GroupVersionParam = Annotated[
    int, Path(ge=1, le=2**62, description="A group version's number, 1, 2, 3…", examples=[1])
]
ReleaseNumberParam = Annotated[
    int, Path(ge=1, le=2**62, description="The release's number, 1, 2, 3…", examples=[1])
]
