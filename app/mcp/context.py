"""What the HTTP layer decided about a request, handed to the MCP handlers.

Authentication, scopes and the endpoint's served state are decided once per HTTP
request, before the SDK reads any MCP message (`app.mcp.http`). The outcome rides in
the ASGI scope, where every SDK handler finds it through `ctx.request`: on the
stateless revision that is the request itself, and on a session it is the POST that
carried the message.
"""

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from mcp.server import ServerRequestContext
from starlette.requests import Request

from app.kit.auth import Principal
from app.serving.engine import Endpoint, ServedState
from app.toolsets.schemas import EffectiveToolset

SCOPE_KEY = "toolsets.mcp"

Kind = Literal["served", "release", "staging", "label"]
# Who listens to what: (organization, project slug, toolset slug, "", "staging", "release:N"
# or "label:NAME").
EndpointKey = tuple[str, str, str, str]


@dataclass(slots=True)
class ServedRequest:
    endpoint: Endpoint
    principal: Principal
    served: ServedState
    _state: EffectiveToolset | None = field(default=None, repr=False)

    @property
    def kind(self) -> Kind:
        if self.endpoint.staging:
            return "staging"
        if self.endpoint.label is not None:
            return "label"
        return "release" if self.endpoint.release_number is not None else "served"

    @property
    def key(self) -> EndpointKey:
        return endpoint_key(self.endpoint)

    @property
    def state_key(self) -> tuple[Any, ...]:
        """Names the served body: equal keys, identical bodies (a digest when not keyed)."""
        if self.served.key is not None:
            return self.served.key
        return ("body", hashlib.blake2b(self.served.body, digest_size=16).digest())

    def state(self) -> EffectiveToolset:
        if self._state is None:
            self._state = self.served.model()
        return self._state

    @property
    def server_version(self) -> str:
        """`serverInfo.version`: `release-N`, `iteration` or `staging`."""
        if self.endpoint.staging:
            return "staging"
        number = self.state().release_number
        return f"release-{number}" if number is not None else "iteration"


def endpoint_key(endpoint: Endpoint) -> EndpointKey:
    if endpoint.staging:
        selector = "staging"
    elif endpoint.release_number is not None:
        selector = f"release:{endpoint.release_number}"
    elif endpoint.label is not None:
        selector = f"label:{endpoint.label}"
    else:
        selector = ""
    return (endpoint.organization_id, endpoint.project, endpoint.toolset, selector)


def served_request(ctx: ServerRequestContext[Any, Any]) -> ServedRequest:
    """The HTTP layer's decision for the request that carried this message."""
    request = ctx.request
    if not isinstance(request, Request) or SCOPE_KEY not in request.scope:
        raise RuntimeError("MCP message outside an authorized HTTP request")
    served: ServedRequest = request.scope[SCOPE_KEY]
    return served
