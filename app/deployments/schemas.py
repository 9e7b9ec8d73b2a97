from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from app.kit.schemas import Schema

MAX_TOOLS = 10_000
MAX_RESOURCES = 10_000
MAX_TAGS = 50

# No whitespace, no C0/C1 control characters, and nothing that would split a URL path segment
# (`/`, `?`, `#`), since variation routes carry a tool URN as one segment. Otherwise as
# permissive as the platform's `tools:<kind>:<source>:<name>` URNs need to be.
DEFINITION_URN_PATTERN = r"^[^\s/?#\x00-\x1f\x7f-\x9f]+$"
DefinitionUrn = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=DEFINITION_URN_PATTERN)
]


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    # NUL, which PostgreSQL text cannot hold, is refused for every request body by kit.schemas.Schema.
    return StringConstraints(min_length=min_length, max_length=max_length)


DefinitionName = Annotated[str, _text(200, min_length=1)]
ToolTag = Annotated[str, _text(100, min_length=1)]
LongText = Annotated[str, _text(100_000)]


JsonObject = dict[str, Any]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


HttpMethod = Annotated[
    Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"],
    BeforeValidator(_upper),
]


def _duplicates(urns: list[str]) -> list[str]:
    return sorted(urn for urn, count in Counter(urns).items() if count > 1)


class ToolDefinitionCreate(Schema):
    urn: DefinitionUrn = Field(examples=["tools:http:petstore:get_pet"])
    name: DefinitionName = Field(examples=["get_pet"])
    description: LongText
    summary: LongText | None = None
    http_method: HttpMethod = Field(description="Case-insensitive; stored upper-case.", examples=["GET"])
    path: Annotated[str, _text(2000, min_length=1)] = Field(examples=["/pets/{petId}"])
    input_schema: JsonObject = Field(
        default_factory=dict, description="JSON schema of the tool's input; `{}` when absent."
    )
    tags: list[ToolTag] = Field(default_factory=list, max_length=MAX_TAGS)
    read_only_hint: bool | None = None
    destructive_hint: bool | None = None
    idempotent_hint: bool | None = None
    open_world_hint: bool | None = None


class ResourceDefinitionCreate(Schema):
    urn: DefinitionUrn = Field(examples=["resources:http:petstore:catalog"])
    name: DefinitionName
    uri: Annotated[str, _text(2000, min_length=1)] = Field(examples=["https://petstore.example/catalog"])
    description: LongText | None = None
    mime_type: Annotated[str, _text(200, min_length=1)] | None = None


EXAMPLE_DEPLOYMENT: dict[str, Any] = {
    "tools": [
        {
            "urn": "tools:http:petstore:get_pet",
            "name": "get_pet",
            "summary": "Get a pet",
            "description": "Fetch one pet by its id.",
            "http_method": "GET",
            "path": "/pets/{petId}",
            "input_schema": {
                "type": "object",
                "properties": {"petId": {"type": "integer"}},
                "required": ["petId"],
            },
            "tags": ["pets"],
            "read_only_hint": True,
            "destructive_hint": False,
            "idempotent_hint": True,
            "open_world_hint": False,
        },
        {
            "urn": "tools:http:petstore:add_pet",
            "name": "add_pet",
            "description": "Add a pet to the store.",
            "http_method": "POST",
            "path": "/pets",
            "input_schema": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "tag": {"type": "string"}},
                "required": ["name"],
            },
            "tags": ["pets"],
            "read_only_hint": False,
            "destructive_hint": False,
        },
    ],
    "resources": [
        {
            "urn": "resources:http:petstore:catalog",
            "name": "catalog",
            "uri": "https://petstore.example/catalog",
            "description": "Every pet for sale.",
            "mime_type": "application/json",
        }
    ],
}


class DeploymentCreate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_DEPLOYMENT]})

    tools: list[ToolDefinitionCreate] = Field(
        max_length=MAX_TOOLS,
        description=f"At most {MAX_TOOLS} tools; URNs are unique within a deployment.",
    )
    resources: list[ResourceDefinitionCreate] = Field(
        default_factory=list,
        max_length=MAX_RESOURCES,
        description=f"At most {MAX_RESOURCES} resources; URNs are unique within a deployment.",
    )

    @field_validator("tools")
    @classmethod
    def _unique_tool_urns(cls, tools: list[ToolDefinitionCreate]) -> list[ToolDefinitionCreate]:
        if dupes := _duplicates([t.urn for t in tools]):
            raise ValueError(f"duplicate tool URNs: {', '.join(dupes)}")
        return tools

    @field_validator("resources")
    @classmethod
    def _unique_resource_urns(
        cls, resources: list[ResourceDefinitionCreate]
    ) -> list[ResourceDefinitionCreate]:
        if dupes := _duplicates([r.urn for r in resources]):
            raise ValueError(f"duplicate resource URNs: {', '.join(dupes)}")
        return resources


class ToolDefinition(BaseModel):
    urn: str
    name: str
    summary: str | None
    description: str
    input_schema: dict[str, Any]
    http_method: str
    path: str
    tags: list[str]
    read_only_hint: bool | None
    destructive_hint: bool | None
    idempotent_hint: bool | None
    open_world_hint: bool | None


class ResourceDefinition(BaseModel):
    urn: str
    name: str
    uri: str
    description: str | None
    mime_type: str | None


class Deployment(BaseModel):
    id: UUID
    status: str = Field(description="`completed` for every deployment made through this API.")
    created_at: datetime
    tool_count: int
    resource_count: int


class DeploymentDetail(Deployment):
    tools: list[ToolDefinition] = Field(description="Sorted by URN.")
    resources: list[ResourceDefinition] = Field(description="Sorted by URN.")
