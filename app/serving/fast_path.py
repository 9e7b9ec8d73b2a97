"""getEffectiveToolset answered from the caches alone, before FastAPI's routing.

A staging-mode toolset serves an immutable release, and each process caches the
verified key, the toolset's pointer and the release's JSON. When all three are cached
and the key may read, this answers at once; on any miss (or any other request) it hands
the request on unchanged, and the route answers with every check and error it has.
The checks here are the route's: a verified key, the `read` scope, and the pointer of
the key's own organization.
"""

import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.kit.auth import cached_principal
from app.serving.engine import Endpoint

_PATH = re.compile(r"^/v1/projects/([a-z0-9-]{1,40})/toolsets/([a-z0-9-]{1,60})/effective$")


class _Route:
    """What the metrics middleware reads: the route template."""

    path = "/projects/{project}/toolsets/{toolset}/effective"


class ServedStateFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self._from_caches(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = _Route()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _from_caches(scope: Scope) -> bytes | None:
        match = _PATH.match(scope["path"])
        if match is None:
            return None
        authorization = dict(scope["headers"]).get(b"authorization")
        principal = cached_principal(authorization.decode("latin-1")) if authorization else None
        if principal is None or "read" not in principal.scopes:
            return None
        serving: Any = scope["app"].state.serving
        body: bytes | None = serving.cached_body(
            Endpoint(principal.organization_id, match.group(1), match.group(2))
        )
        return body
