"""`tools/call` and `resources/read`, forwarded to the source's upstream API.

The MCP server finds the served definition (the tool or resource of the state the
endpoint serves, so a pinned or rolled-back endpoint calls what that release described)
and hands it here with the client's arguments. `app.upstreams` does the rest: the
argument mapping of the deployment that state was built on, the source's upstream,
and the one client that sends requests (`app.upstreams.client`). Whatever goes wrong
upstream is a tool error result (`isError: true`), never a protocol error; a resource
whose URI is not under its source's base URL is an MCP error.
"""

from typing import Any
from uuid import UUID

import mcp_types as types
from mcp.shared.exceptions import MCPError
from starlette.datastructures import State

from app.mcp.context import ServedRequest
from app.toolsets.schemas import EffectiveResource, EffectiveTool
from app.upstreams.client import ToolResult, UpstreamClient
from app.upstreams.service import prepare_call, prepare_read


def _release_id(served: ServedRequest) -> UUID | None:
    key = served.served.key
    return key[1] if key is not None and key[0] == "release" else None


async def call_served_tool(
    state: State, served: ServedRequest, tool: EffectiveTool, arguments: dict[str, Any]
) -> types.CallToolResult:
    """Call `tool` (the served definition, variations applied) with `arguments`."""
    async with state.engine.connect() as conn:
        definition, target = await prepare_call(
            conn, served.served.toolset_id, _release_id(served), served.endpoint.toolset, tool.model_dump()
        )
    client: UpstreamClient = state.upstream_client
    result = await client.call(definition, arguments, target)
    return _call_result(result)


def _call_result(result: ToolResult) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=result.text)],
        structured_content=result.structured,
        is_error=result.is_error,
    )


async def read_served_resource(
    state: State, served: ServedRequest, resource: EffectiveResource
) -> types.ReadResourceResult:
    """Read `resource` (the served definition) from under its source's base URL."""
    async with state.engine.connect() as conn:
        target = await prepare_read(conn, served.served.toolset_id, resource.urn)
    if target is None:
        raise MCPError(
            types.INVALID_REQUEST,
            f"Resource '{resource.uri}' cannot be read: its source has no upstream base URL.",
        )
    client: UpstreamClient = state.upstream_client
    result = await client.fetch(resource.uri, target)
    if result.is_error:
        raise MCPError(
            types.INTERNAL_ERROR if result.outcome != "refused" else types.INVALID_REQUEST, result.text
        )
    return types.ReadResourceResult(
        contents=[
            types.TextResourceContents(
                uri=resource.uri, mime_type=resource.mime_type or result.content_type, text=result.text
            )
        ]
    )
