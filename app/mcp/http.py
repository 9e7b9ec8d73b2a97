"""The MCP endpoints over HTTP: addresses and auth decided here, the protocol by the SDK.

    /mcp/{project}/{toolset}                      the served state        read scope
    /mcp/{project}/{toolset}/releases/{number}    exactly that release    read scope
    /mcp/{project}/{toolset}/staging              the staging copy        write scope
    /mcp/{project}/{toolset}/labels/{label}       the release of a label  read scope
                                                  (`current`: the served state)

Every request is an HTTP request first: a Bearer key (401 with `WWW-Authenticate:
Bearer`), the scope (403), then the endpoint's served state (404 for an unknown
toolset, release or staging copy and for another organization's), answered as
problem documents before the SDK reads any MCP message. What was decided rides in the
ASGI scope to the handlers (`app.mcp.context`). Then the SDK's streamable HTTP session
manager takes the request: the 2026-07-28 revision statelessly, older revisions in
sessions (`app.mcp.sessions`).

Unchanged lists are answered from pre-serialized results (`answer_from_cache`): the
first `tools/list`, `prompts/list` or `resources/list` of a served state goes through
the SDK, and its answer is kept, keyed like the served state, for the requests after
it that the SDK would answer the same way.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi.security import HTTPAuthorizationCredentials
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.history.schemas import CURRENT
from app.kit.auth import Principal, authenticate, cached_principal
from app.kit.errors import AppError, Forbidden, NotFound, problem_response
from app.mcp.changes import ChangeHub
from app.mcp.context import SCOPE_KEY, ServedRequest
from app.mcp.fast_lists import ListAnswers
from app.mcp.server import build_server
from app.mcp.sessions import SessionManager
from app.serving.engine import Endpoint, ServedStates

PREFIX = "/mcp/"
_PATH = re.compile(
    r"^/mcp/(?P<project>[a-z0-9-]{1,40})/(?P<toolset>[a-z0-9-]{1,60})"
    r"(?:/releases/(?P<release>[1-9][0-9]{0,17})|/(?P<staging>staging)"
    r"|/labels/(?P<label>[a-z0-9][a-z0-9._-]{0,39}))?$"
)


class _Route:
    """What the metrics middleware reads: the route template, never the raw path."""

    def __init__(self, path: str) -> None:
        self.path = path


_ROUTES = {
    "served": _Route("/mcp/{project}/{toolset}"),
    "release": _Route("/mcp/{project}/{toolset}/releases/{release_number}"),
    "staging": _Route("/mcp/{project}/{toolset}/staging"),
    "label": _Route("/mcp/{project}/{toolset}/labels/{label}"),
}


class McpService:
    """One per process: the SDK's server and session manager, the change hub, the list cache."""

    def __init__(self, engine: AsyncEngine, serving: ServedStates) -> None:
        self.engine = engine
        self.serving = serving
        self.hub = ChangeHub(serving)
        self.server = build_server(self.hub)
        self.sessions = SessionManager(self.server, self.hub)
        self.lists = ListAnswers()

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run the session manager and the change hub for the life of the app.

        The SDK's session manager holds an anyio task group, which must end in the task
        that started it: it gets a task of its own, whichever task runs the lifespan.
        """
        started, stopping = asyncio.Event(), asyncio.Event()

        async def manage() -> None:
            async with self.sessions.run(), self.hub.running(self.engine):
                started.set()
                await stopping.wait()

        manager = asyncio.create_task(manage(), name="mcp-sessions")
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait([manager, waiting], return_when=asyncio.FIRST_COMPLETED)
        if manager.done():
            waiting.cancel()
            manager.result()  # raises what stopped it
        try:
            yield
        finally:
            stopping.set()
            await manager

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.match(scope["path"])
        if match is None:
            await _problem(NotFound("No MCP endpoint at this address."), scope, receive, send)
            return
        try:
            served = await self._authorize(scope, match)
        except AppError as exc:
            await _problem(exc, scope, receive, send)
            return
        scope[SCOPE_KEY] = served
        scope["route"] = _ROUTES[served.kind]
        # The SDK binds a session to the principal that opened it: here the key and the
        # endpoint, so a session id is refused (404) from another key or another address.
        scope["user"] = AuthenticatedUser(
            AccessToken(token="", client_id=served.principal.key_id, scopes=[], subject="/".join(served.key))
        )
        method = scope["method"]
        session_id = _header(scope, MCP_SESSION_ID_HEADER.lower().encode())
        if method == "POST":
            receive, body = await _read_body(receive)
            if await self.lists.answer_from_cache(self.sessions, served, scope, body, send):
                return
            await self.lists.through_sdk(self.sessions, served, scope, body, receive, send)
        elif method == "GET" and session_id is not None:
            with self.hub.session_stream(served, session_id):
                await self.sessions.handle_request(scope, receive, send)
        else:
            await self.sessions.handle_request(scope, receive, send)

    async def _authorize(self, scope: Scope, match: re.Match[str]) -> ServedRequest:
        staging = match.group("staging") is not None
        authorization = _header(scope, b"authorization")
        principal = await _principal(self.engine, authorization)
        needed = "write" if staging else "read"
        if needed not in principal.scopes:
            raise Forbidden(f"This MCP endpoint needs an API key with the `{needed}` scope.")
        release = match.group("release")
        label = match.group("label")
        endpoint = Endpoint(
            principal.organization_id,
            match.group("project"),
            match.group("toolset"),
            release_number=int(release) if release else None,
            staging=staging,
            # `current` is the served pointer itself: the same endpoint as the toolset's.
            label=label if label != CURRENT else None,
        )
        return ServedRequest(endpoint, principal, await self.serving.served(endpoint))


class McpMiddleware:
    """Routes `/mcp/…` to the app's `McpService` before FastAPI's routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            service: McpService = scope["app"].state.mcp
            await service.handle(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _principal(engine: AsyncEngine, authorization: str | None) -> Principal:
    if authorization:
        principal = cached_principal(authorization)
        if principal is not None:
            return principal
    scheme, _, credentials = (authorization or "").partition(" ")
    bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials.strip())
    return await authenticate(bearer if authorization else None, engine)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


async def _read_body(receive: Receive) -> tuple[Receive, bytes]:
    """The whole body (already bounded by the body-size guard), and a receive that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay, body


async def _problem(exc: AppError, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(
        exc.status, exc.code, exc.title, exc.detail, headers=exc.headers() or None, **exc.extra
    )
    await response(scope, receive, send)
