"""`tools/call` and `resources/read`: the seam where upstream calls plug in.

The MCP server finds the served definition (the tool or resource of the release the
endpoint serves, so a pinned or rolled-back endpoint calls what that release
described) and hands it here with the client's arguments. Until calls to a source's
upstream API are configured, a tool call answers a tool error result that says so
(SPEC §6), and reading a resource is an MCP error.
"""

from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from app.mcp.context import ServedRequest
from app.toolsets.schemas import EffectiveResource, EffectiveTool


def source_of(urn: str) -> str:
    """The source of a URN in the platform's `kind:http:<source>:<name>` style."""
    parts = urn.split(":")
    return parts[2] if len(parts) >= 4 else urn


async def call_served_tool(
    served: ServedRequest, tool: EffectiveTool, arguments: dict[str, Any]
) -> types.CallToolResult:
    """Call `tool` (the served definition, variations applied) with `arguments`."""
    message = (
        f"Tool '{tool.name}' cannot be called yet: calls to the upstream API of source "
        f"'{source_of(tool.urn)}' are not configured on this service."
    )
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


async def read_served_resource(
    served: ServedRequest, resource: EffectiveResource
) -> types.ReadResourceResult:
    """Read `resource` (the served definition)."""
    raise MCPError(
        types.INVALID_REQUEST,
        f"Resource '{resource.uri}' cannot be read yet: reads from the upstream API of source "
        f"'{source_of(resource.urn)}' are not configured on this service.",
    )
