"""The MCP server: the SDK's low-level `Server`, answering for whichever endpoint asked.

One `Server` serves every toolset endpoint. Its handlers read the endpoint and the
state it serves from the request (`app.mcp.context`), so nothing here is per toolset
and any process can answer any request. The SDK owns the protocol: the handshake,
`server/discover`, era routing, validation, serialization and the listen streams.

Per endpoint:
- `serverInfo.name` is the toolset's slug, `serverInfo.version` is `release-N`,
  `iteration` or `staging`, and `instructions` is the toolset's description;
- capabilities: tools, prompts and resources, each with `listChanged`;
- on the 2026-07-28 revision, list results carry cache hints: a pinned release's lists
  never change (a year, private to the key's organization), a served endpoint's change
  at any publish (one second), a staging preview's at any edit (zero).
"""

from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.subscriptions import ListenHandler
from mcp.shared.exceptions import MCPError
from mcp_types import SERVER_INFO_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.datastructures import State
from starlette.requests import Request

from app.mcp import calls
from app.mcp.changes import ChangeHub
from app.mcp.context import ServedRequest, served_request
from app.mcp.results import MissingPromptArguments, prompt_result, prompts_json, resources_json, tools_json

# ttlMs per endpoint kind (2026-07-28 cache hints).
PINNED_TTL_MS = 365 * 24 * 3600 * 1000
SERVED_TTL_MS = 1000
STAGING_TTL_MS = 0
# Open `subscriptions/listen` streams per process; one more is refused (the client retries).
MAX_LISTEN_STREAMS = 10_000

_TTL_MS = {
    "release": PINNED_TTL_MS,
    "served": SERVED_TTL_MS,
    "staging": STAGING_TTL_MS,
    "label": SERVED_TTL_MS,  # a label moves like the served pointer
}


def list_result(
    ctx: ServerRequestContext[Any, Any], name: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """A list result; on the 2026-07-28 revision with its cache hints."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return {name: items}
    served = served_request(ctx)
    # Private: another organization's key must never be answered from a shared cache.
    return {name: items, "ttlMs": _TTL_MS[served.kind], "cacheScope": "private", "resultType": "complete"}


def server_info(served: ServedRequest) -> dict[str, Any]:
    return {"name": served.state().slug, "version": served.server_version}


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> Any:
    return list_result(ctx, "tools", tools_json(served_request(ctx).state()))


async def _list_prompts(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> Any:
    return list_result(ctx, "prompts", prompts_json(served_request(ctx).state()))


async def _list_resources(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> Any:
    return list_result(ctx, "resources", resources_json(served_request(ctx).state()))


async def _get_prompt(ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams) -> Any:
    served = served_request(ctx)
    prompt = next((p for p in served.state().prompts if p.name == params.name), None)
    if prompt is None:
        raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")
    try:
        return prompt_result(prompt, params.arguments)
    except MissingPromptArguments as exc:
        raise MCPError(types.INVALID_PARAMS, str(exc), data={"missing": exc.names}) from None


async def _call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> Any:
    served = served_request(ctx)
    tool = next((t for t in served.state().tools if t.name == params.name), None)
    if tool is None:
        raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
    return await calls.call_served_tool(_app_state(ctx), served, tool, dict(params.arguments or {}))


async def _read_resource(ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams) -> Any:
    served = served_request(ctx)
    uri = str(params.uri)
    resource = next((r for r in served.state().resources if r.uri == uri), None)
    if resource is None:
        raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {uri}")
    return await calls.read_served_resource(_app_state(ctx), served, resource)


def _app_state(ctx: ServerRequestContext[Any, Any]) -> State:
    """The app's engine and upstream client (Starlette puts the app in every request's scope)."""
    request = ctx.request
    assert isinstance(request, Request)
    state: State = request.app.state
    return state


def _endpoint_identity(hub: ChangeHub) -> Any:
    """Server middleware: stamp the endpoint's identity on the SDK's results.

    The SDK knows one identity per `Server`; the endpoint's comes from the request. It
    also remembers each session's channel, so list changes can reach its GET stream.
    """

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.request is None:
            return result
        served = served_request(ctx)
        session_id = ctx.request.headers.get("mcp-session-id")
        if session_id:
            hub.remember_session(session_id, ctx.session)
        if not isinstance(result, dict):
            return result
        if ctx.method == "initialize":
            capabilities = dict(result.get("capabilities") or {})
            for capability in ("tools", "prompts", "resources"):
                capabilities[capability] = {**(capabilities.get(capability) or {}), "listChanged": True}
            result = {**result, "capabilities": capabilities, "serverInfo": server_info(served)}
            result.pop("instructions", None)
            if served.state().description:
                result["instructions"] = served.state().description
        elif ctx.method == "server/discover":
            result = {k: v for k, v in result.items() if k != "instructions"}
            if served.state().description:
                result["instructions"] = served.state().description
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            result = {
                **result,
                "_meta": {**(result.get("_meta") or {}), SERVER_INFO_META_KEY: server_info(served)},
            }
        return result

    return middleware


def build_server(hub: ChangeHub) -> Server[Any]:
    async def listen(
        ctx: ServerRequestContext[Any, Any], params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        served = served_request(ctx)
        if hub.listen_streams >= MAX_LISTEN_STREAMS:
            raise MCPError(types.INTERNAL_ERROR, "Subscription limit reached on this server process")
        hub.listen_streams += 1
        try:
            return await ListenHandler(hub.bus(served))(ctx, params)
        finally:
            hub.listen_streams -= 1

    server: Server[Any] = Server(
        "toolsets",
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
        on_list_prompts=_list_prompts,
        on_get_prompt=_get_prompt,
        on_list_resources=_list_resources,
        on_read_resource=_read_resource,
        on_subscriptions_listen=listen,
    )
    # Identity only. The SDK's OpenTelemetry middleware is a no-op without an exporter.
    server.middleware = [_endpoint_identity(hub)]
    return server
