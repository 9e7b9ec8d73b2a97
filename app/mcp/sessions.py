"""The SDK's streamable HTTP session manager, as this service runs it.

- JSON responses (no SSE) for ordinary requests: every answer is one JSON document.
  A `subscriptions/listen` stream and a session's GET stream are SSE, as the SDK
  always makes them.
- Sessions for the handshake revisions, the stateless single exchange for
  2026-07-28 (the SDK routes by the `MCP-Protocol-Version` header).

Sessions across processes. The SDK keeps a session in the process that answered its
`initialize`; any other process answers that session's requests 404 ("Session not
found"), so behind a load balancer that spreads requests, a session breaks at its
first request that lands elsewhere (measured: bench/README.md). A session of this
server holds nothing a process could not rebuild: the endpoint and the key are decided
per HTTP request, and every answer is computed from the database. So a process that
receives a request for a session it does not hold *adopts* it: it opens the session
under the same id, already initialized at the protocol version the client's
`MCP-Protocol-Version` header names (2025-03-26, the spec's default, without one),
bound to the same key and endpoint, and lets the SDK answer as usual. A GET stream
opened on any process hears list changes there (every process hears PostgreSQL's
NOTIFY). A DELETE that ends a session is told to every process (`NOTIFY mcp_events`):
each ends its copy and adopts that id no more. What is not carried over: the client's
`initialize` parameters (this server reads none).
"""

import logging
import re
from typing import Any

import anyio
from anyio.abc import TaskStatus
from mcp.server import Server
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.server.connection import Connection
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.transport_context import TransportContext
from mcp_types import DEFAULT_NEGOTIATED_VERSION
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from app.mcp.changes import ChangeHub

logger = logging.getLogger("app.mcp.sessions")

# The SDK mints session ids as uuid4().hex; only such ids are adopted.
_SESSION_ID = re.compile(r"[0-9a-f]{32}")


class SessionManager(StreamableHTTPSessionManager):
    def __init__(self, server: Server[Any], hub: ChangeHub) -> None:
        super().__init__(app=server, json_response=True, stateless=False)
        self.hub = hub
        hub.on_session_ended(self._ended_elsewhere)

    def _ended_elsewhere(self, session_id: str) -> None:
        """A DELETE ended this session (on any process): end this process's copy too."""
        transport = self._server_instances.get(session_id)
        if transport is not None and self._task_group is not None:
            self._task_group.start_soon(self._discard_session, session_id, transport)

    def holds(self, session_id: str, user: object) -> bool:
        """Whether this process holds session `session_id`, opened by this principal."""
        if session_id not in self._server_instances or not isinstance(user, AuthenticatedUser):
            return False
        return self._session_owners.get(session_id) == authorization_context(user)

    async def _handle_stateful_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id = Request(scope).headers.get(MCP_SESSION_ID_HEADER)
        user = scope.get("user")
        if (
            session_id is not None
            and session_id not in self._server_instances
            and _SESSION_ID.fullmatch(session_id)
            and isinstance(user, AuthenticatedUser)
            and not self.hub.session_ended(session_id)
        ):
            async with self._session_creation_lock:
                if session_id not in self._server_instances:
                    await self._adopt(session_id, user, scope)
        if scope["method"] != "DELETE" or session_id is None:
            await super()._handle_stateful_request(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await super()._handle_stateful_request(scope, receive, watch)
        if status < 300:
            await self.hub.end_session(session_id)

    async def _adopt(self, session_id: str, user: AuthenticatedUser, scope: Scope) -> None:
        """Open session `session_id`, born initialized, for a request that names it here first."""
        if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
            return  # the SDK answers 404; the client starts a new session
        version = Request(scope).headers.get(MCP_PROTOCOL_VERSION_HEADER, DEFAULT_NEGOTIATED_VERSION)
        if version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return
        transport = StreamableHTTPServerTransport(
            mcp_session_id=session_id,
            is_json_response_enabled=self.json_response,
            event_store=self.event_store,
            security_settings=self.security_settings,
            retry_interval=self.retry_interval,
            idle_timeout=self.session_idle_timeout,
        )
        self._server_instances[session_id] = transport
        self._session_owners[session_id] = authorization_context(user)

        async def run_session(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with transport.connect() as (read_stream, write_stream):
                task_status.started()
                try:
                    idle_scope = transport.idle_scope or anyio.CancelScope()
                    with idle_scope:
                        dispatcher: JSONRPCDispatcher[TransportContext] = JSONRPCDispatcher(
                            read_stream, write_stream, inline_methods=frozenset({"initialize"})
                        )
                        connection = Connection.for_loop(
                            dispatcher, session_id=session_id, protocol_version_hint=version
                        )
                        connection.initialized.set()  # its handshake happened on another process
                        self.hub.remember_session(session_id, connection)
                        await serve_connection(
                            self.app, dispatcher, connection=connection, lifespan_state=self._lifespan_state
                        )
                except Exception:
                    logger.exception("adopted MCP session crashed")
                finally:
                    await self._discard_session(session_id, transport)

        assert self._task_group is not None
        await self._task_group.start(run_session)
        logger.info("adopted MCP session %s (protocol %s)", session_id[:8], version)
