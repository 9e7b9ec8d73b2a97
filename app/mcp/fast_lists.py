"""Unchanged lists answered from pre-serialized results, every other message by the SDK.

Profiling `tools/list` of a 200-tool toolset through the SDK (bench/README.md) puts
nearly all of its time in per-request model work: validating the handler's result
against the revision's schema, dumping it, wrapping it in a JSON-RPC response and
dumping that again. A list of an unchanged served state is the same every time, so
the SDK's own answer is kept and replayed:

- a `tools/list`, `prompts/list` or `resources/list` request (no cursor) that the SDK
  would accept as it stands is *eligible*: on the 2026-07-28 revision, one that
  passes the SDK's own header and envelope checks (Accept, routing headers, the
  `_meta` envelope); on an older revision, one on a session this process holds for
  this key and endpoint, that names its protocol version in the header;
- the first eligible request of a served state goes through the SDK, and its
  successful answer's `result` is kept under (served-state key, endpoint kind,
  method, protocol version); later ones are answered with those bytes and their own
  request id, without the SDK.

The served-state key names an immutable body (a release id, or a digest of the
body), so a cached answer never outlives what it describes; a change is a new key.
"""

import json
from typing import Any

from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, check_accept_headers
from mcp.shared.inbound import (
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from app.mcp.context import ServedRequest
from app.mcp.results import ListCache, ListKey
from app.mcp.sessions import SessionManager

LIST_METHODS = frozenset({"tools/list", "prompts/list", "resources/list"})


def _request_message(body: bytes) -> dict[str, Any] | None:
    if b'/list"' not in body:  # cheap: most messages are not list requests
        return None
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    params = message.get("params")
    if message.get("method") not in LIST_METHODS or not (params is None or isinstance(params, dict)):
        return None
    if params and params.get("cursor") is not None:
        return None
    return message


class ListAnswers:
    def __init__(self) -> None:
        self.cache = ListCache()

    def _eligible(
        self, sessions: SessionManager, served: ServedRequest, scope: Scope, message: dict[str, Any]
    ) -> tuple[ListKey, list[tuple[bytes, bytes]]] | None:
        """The cache key and extra response headers, when the SDK would answer as cached."""
        request = Request(scope)
        version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if version in MODERN_PROTOCOL_VERSIONS:
            has_json, _ = check_accept_headers(request)
            if not has_json or find_duplicated_routing_header(request.headers.items()) is not None:
                return None
            verdict = classify_inbound_request(message, headers=dict(request.headers))
            if isinstance(verdict, InboundLadderRejection):
                return None
            headers: list[tuple[bytes, bytes]] = []
        elif version in HANDSHAKE_PROTOCOL_VERSIONS:
            session_id = request.headers.get(MCP_SESSION_ID_HEADER)
            has_json, _ = check_accept_headers(request)
            content_type = request.headers.get("content-type", "")
            if (
                session_id is None
                or not has_json
                or not content_type.lower().startswith("application/json")
                or not sessions.holds(session_id, scope.get("user"))
            ):
                return None
            headers = [(MCP_SESSION_ID_HEADER.lower().encode(), session_id.encode("latin-1"))]
        else:
            return None
        key = (served.state_key, served.kind, message["method"], version)
        return key, headers

    async def answer_from_cache(
        self, sessions: SessionManager, served: ServedRequest, scope: Scope, body: bytes, send: Send
    ) -> bool:
        message = _request_message(body)
        if message is None:
            return False
        eligible = self._eligible(sessions, served, scope, message)
        if eligible is None:
            return False
        key, headers = eligible
        result = self.cache.get(key)
        if result is None:
            return False
        payload = b'{"jsonrpc":"2.0","id":%s,"result":%s}' % (json.dumps(message["id"]).encode(), result)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return True

    async def through_sdk(
        self,
        sessions: SessionManager,
        served: ServedRequest,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> None:
        """Let the SDK answer; keep its answer when it is one the cache may replay."""
        message = _request_message(body)
        eligible = self._eligible(sessions, served, scope, message) if message is not None else None
        if message is None or eligible is None:
            await sessions.handle_request(scope, receive, send)
            return
        status = 0
        content_type = b""
        chunks: list[bytes] = []

        async def capture(event: Message) -> None:
            nonlocal status, content_type
            if event["type"] == "http.response.start":
                status = event["status"]
                content_type = dict(event.get("headers", [])).get(b"content-type", b"")
            elif event["type"] == "http.response.body":
                chunks.append(event.get("body", b""))
            await send(event)

        await sessions.handle_request(scope, receive, capture)
        if status != 200 or not content_type.startswith(b"application/json"):
            return
        try:
            answer = json.loads(b"".join(chunks))
        except ValueError:
            return
        if isinstance(answer, dict) and answer.get("id") == message["id"] and "result" in answer:
            result = json.dumps(answer["result"], separators=(",", ":"), ensure_ascii=False).encode()
            self.cache.put(eligible[0], result)
