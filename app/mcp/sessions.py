"""The SDK's streamable HTTP session manager, as this service runs it.

- JSON responses (no SSE) for ordinary requests: every answer is one JSON document.
  A `subscriptions/listen` stream and a session's GET stream are SSE, as the SDK
  always makes them.
- Sessions for the handshake revisions, the stateless single exchange for
  2026-07-28 (the SDK routes by the `MCP-Protocol-Version` header).
"""

from typing import Any

from mcp.server import Server
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from app.mcp.changes import ChangeHub


class SessionManager(StreamableHTTPSessionManager):
    def __init__(self, server: Server[Any], hub: ChangeHub) -> None:
        super().__init__(app=server, json_response=True, stateless=False)
        self.hub = hub

    def holds(self, session_id: str, user: object) -> bool:
        """Whether this process holds session `session_id`, opened by this principal."""
        if session_id not in self._server_instances or not isinstance(user, AuthenticatedUser):
            return False
        return self._session_owners.get(session_id) == authorization_context(user)
