from collections import Counter
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

from app.kit.fields import (
    CreatedAt,
    DestructiveHint,
    HttpMethodField,
    HttpPath,
    IdempotentHint,
    InputSchema,
    MimeType,
    OpenWorldHint,
    ReadOnlyHint,
    ResourceDescription,
    ResourceName,
    ResourceUri,
    ResourceUrn,
    Tags,
    ToolName,
    ToolSummary,
    ToolUrn,
)
from app.kit.schemas import URN_PATTERN, Schema

MAX_TOOLS = 10_000
MAX_RESOURCES = 10_000
MAX_TAGS = 50

# No whitespace, no C0/C1 control characters, and nothing that would split a URL path segment
# (`/`, `?`, `#`), since variation routes carry a tool URN as one segment. Otherwise as
# permissive as the platform's `tools:<kind>:<source>:<name>` URNs need to be.
DEFINITION_URN_PATTERN = URN_PATTERN
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
    urn: DefinitionUrn = Field(
        description="The tool's URN, unique within the deployment: `tools:<kind>:<source>:<name>`.",
        examples=["tools:http:petstore:get_pet"],
    )
    name: DefinitionName = Field(description="The tool's name as MCP clients see it.", examples=["get_pet"])
    description: LongText = Field(description="What the tool does, for the model that calls it.")
    summary: LongText | None = Field(None, description="A one-line summary of the tool.")
    http_method: HttpMethod = Field(description="Case-insensitive; stored upper-case.", examples=["GET"])
    path: Annotated[str, _text(2000, min_length=1)] = Field(
        description="The upstream path the tool calls, with `{parameters}`.", examples=["/pets/{petId}"]
    )
    input_schema: JsonObject = Field(
        default_factory=dict, description="JSON schema of the tool's input; `{}` when absent."
    )
    tags: list[ToolTag] = Field(
        default_factory=list, max_length=MAX_TAGS, description="Free-form tags for grouping tools."
    )
    read_only_hint: ReadOnlyHint = None
    destructive_hint: DestructiveHint = None
    idempotent_hint: IdempotentHint = None
    open_world_hint: OpenWorldHint = None


class ResourceDefinitionCreate(Schema):
    urn: DefinitionUrn = Field(
        description="The resource's URN, unique within the deployment.",
        examples=["resources:http:petstore:catalog"],
    )
    name: DefinitionName = Field(description="The resource's name as MCP clients see it.")
    uri: Annotated[str, _text(2000, min_length=1)] = Field(
        description="Where the resource is read from.", examples=["https://petstore.example/catalog"]
    )
    description: LongText | None = Field(None, description="What the resource holds.")
    mime_type: Annotated[str, _text(200, min_length=1)] | None = Field(
        None, description="The resource's media type, e.g. `application/json`."
    )


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
    """A tool as its deployment defines it, before any variation."""

    urn: ToolUrn
    name: ToolName
    summary: ToolSummary
    description: str = Field(description="What the tool does, for the model that calls it.")
    input_schema: InputSchema
    http_method: HttpMethodField
    path: HttpPath
    tags: Tags
    read_only_hint: ReadOnlyHint
    destructive_hint: DestructiveHint
    idempotent_hint: IdempotentHint
    open_world_hint: OpenWorldHint
    argument_mapping: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Where each input argument goes in the HTTP request, for tools imported from an "
            "OpenAPI document (`{server_url, arguments: {name: {in, name, style?, explode?} | "
            "{in: body, content_type}}}`); null for tools made by createDeployment."
        ),
    )


class ResourceDefinition(BaseModel):
    urn: ResourceUrn
    name: ResourceName
    uri: ResourceUri
    description: ResourceDescription
    mime_type: MimeType


class Deployment(BaseModel):
    id: UUID = Field(description="The deployment's id (`GET …/deployments/{deployment_id}`).")
    status: str = Field(description="`completed` for every deployment made through this API.")
    created_at: CreatedAt
    tool_count: int = Field(description="How many tools it defines.")
    resource_count: int = Field(description="How many resources it defines.")


class DeploymentDetail(Deployment):
    tools: list[ToolDefinition] = Field(description="Sorted by URN.")
    resources: list[ResourceDefinition] = Field(description="Sorted by URN.")


class ImportedTool(BaseModel):
    urn: str = Field(description="`tools:http:{source}:{name}`.", examples=["tools:http:petstore:list_pets"])
    name: str = Field(description="From the operationId in snake_case (else method and path).")
    http_method: str = Field(description="The operation's method, upper-case.", examples=["GET"])
    path: str = Field(description="The operation's path template.", examples=["/pets/{petId}"])


class OpenApiImport(Deployment):
    """The deployment an import made, and what it took from the document."""

    source: str = Field(description="The source the document's tools belong to.", examples=["petstore"])
    base_url: str | None = Field(
        description=(
            "The document's absolute `servers[0].url`: the source's base URL until an upstream sets one."
        )
    )
    imported_tools: list[ImportedTool] = Field(description="One per operation, in document order.")
    carried_over_tool_count: int = Field(
        description="Tools of other sources copied from the active deployment."
    )
    warnings: list[str] = Field(description="For example: the document describes no operation.")
