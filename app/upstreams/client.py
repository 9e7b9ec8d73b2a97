"""The one place that sends a request to an upstream API.

A call is built from a *served* tool definition (method, path, input schema and argument
mapping, as the release an endpoint serves describes them) and the caller's arguments:

1. the arguments are validated against the served `inputSchema` (JSON Schema 2020-12);
   invalid ones are a tool error and nothing is sent;
2. each argument goes where the mapping says (path, query, header, cookie or body),
   serialised as OpenAPI's default styles do; the URL is the base URL plus the path;
3. the request goes to the base URL's origin and nowhere else: redirects are followed
   only within that scheme, host and port; connect and total timeouts and a response
   size cap bound every call;
4. whatever happens (an upstream 4xx/5xx, a timeout, a refused connection, an oversized
   answer) the caller gets a `ToolResult`, never an exception.

The upstream's secret headers are sent with every request and win over header arguments.
Neither they nor argument values are ever logged: a call logs its toolset, tool, outcome,
status and duration only. Prometheus counts calls and latency by toolset, tool and outcome.
"""

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
from cachetools import LRUCache
from jsonschema.exceptions import best_match
from prometheus_client import Counter, Histogram

from app.deployments.openapi_import import pointer_of

logger = logging.getLogger("app.upstreams.client")

CALLS = Counter(
    "toolsets_tool_calls_total", "Tool calls forwarded to upstreams.", ["toolset", "tool", "outcome"]
)
CALL_LATENCY = Histogram(
    "toolsets_tool_call_duration_seconds",
    "Latency of tool calls, upstream included.",
    ["toolset", "tool", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
EXCERPT_CHARS = 500
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class ServedTool:
    """What a served release says about one tool: enough to validate and build a call."""

    toolset: str
    name: str
    http_method: str
    path: str
    input_schema: dict[str, Any]
    argument_mapping: dict[str, Any] | None
    urn: str = ""

    @property
    def source(self) -> str:
        parts = self.urn.split(":")
        return parts[2] if len(parts) >= 4 else "?"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a source's requests go, and the headers they carry (secret)."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class ToolResult:
    is_error: bool
    text: str
    outcome: str
    status: int | None = None
    structured: dict[str, Any] | None = None
    content_type: str | None = None


class _Refused(Exception):
    def __init__(self, outcome: str, text: str, status: int | None = None) -> None:
        super().__init__(text)
        self.outcome = outcome
        self.text = text
        self.status = status


_validators: LRUCache[str, jsonschema.Draft202012Validator] = LRUCache(maxsize=1024)


def validate_arguments(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """The first problem with `arguments` against a served input schema, or None."""
    key = json.dumps(schema, sort_keys=True)
    validator = _validators.get(key)
    if validator is None:
        validator = _validators[key] = jsonschema.Draft202012Validator(schema)
    error = best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = pointer_of(list(error.absolute_path)) or "the arguments"
    return f"Invalid arguments at {where}: {error.message}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _simple(value: Any, explode: bool) -> str:
    """OpenAPI's `simple` style (path and header parameters)."""
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, dict):
        if explode:
            return ",".join(f"{k}={_text(v)}" for k, v in value.items())
        return ",".join(f"{k},{_text(v)}" for k, v in value.items())
    return _text(value)


def _query_pairs(name: str, value: Any, style: str, explode: bool) -> Iterable[tuple[str, str]]:
    """OpenAPI's query styles: form (default), spaceDelimited, pipeDelimited, deepObject."""
    if isinstance(value, list):
        if style == "form" and explode:
            return [(name, _text(v)) for v in value]
        separator = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        return [(name, separator.join(_text(v) for v in value))]
    if isinstance(value, dict):
        if style == "deepObject":
            return [(f"{name}[{k}]", _text(v)) for k, v in value.items()]
        if explode:
            return [(k, _text(v)) for k, v in value.items()]
        return [(name, ",".join(f"{k},{_text(v)}" for k, v in value.items()))]
    return [(name, _text(value))]


@dataclass
class _Request:
    method: str
    url: httpx.URL
    params: list[tuple[str, str | int | float | bool | None]]
    headers: dict[str, str]
    content: bytes | None = None
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None


def build_request(tool: ServedTool, arguments: dict[str, Any], target: Target) -> _Request:
    """The HTTP request a call makes, from the served definition and validated arguments."""
    mapping: dict[str, Any] = (tool.argument_mapping or {}).get("arguments", {})
    path = tool.path
    params: list[tuple[str, str | int | float | bool | None]] = []
    headers: dict[str, str] = {}
    cookies: list[str] = []
    request = _Request(tool.http_method.upper(), httpx.URL(target.base_url), params, headers)
    for argument, value in arguments.items():
        where = mapping.get(argument)
        if where is None:
            continue  # the schema refuses unknown arguments; a hand-made schema may not
        location, name = where["in"], where.get("name", argument)
        if location == "path":
            encoded = quote(_simple(value, bool(where.get("explode", False))), safe="")
            path = path.replace("{" + name + "}", encoded)
        elif location == "query":
            style = where.get("style", "form")
            params += _query_pairs(name, value, style, bool(where.get("explode", style == "form")))
        elif location == "header":
            headers[name] = _simple(value, bool(where.get("explode", False)))
        elif location == "cookie":
            cookies.append(f"{name}={quote(_text(value), safe='')}")
        elif location == "body":
            _set_body(request, where.get("content_type", "application/json"), value)
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    headers.update(target.headers)  # the upstream's own headers win over arguments
    base = target.base_url.rstrip("/")
    request.url = httpx.URL(base + (path if path.startswith("/") else "/" + path))
    if not _same_origin(request.url, httpx.URL(base)):
        raise _Refused("refused", "The request would leave the upstream's host; it was not sent.")
    return request


def _set_body(request: _Request, content_type: str, value: Any) -> None:
    if content_type == "application/x-www-form-urlencoded" and isinstance(value, dict):
        request.data = {k: _text(v) for k, v in value.items()}
    elif content_type == "multipart/form-data" and isinstance(value, dict):
        request.files = {k: (None, _text(v)) for k, v in value.items()}
    elif content_type == "application/json" or content_type.endswith("+json"):
        request.content = json.dumps(value).encode()
        request.headers["Content-Type"] = content_type
    else:
        request.content = (value if isinstance(value, str) else json.dumps(value)).encode()
        request.headers["Content-Type"] = content_type


def _same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


class UpstreamClient:
    """One per process: a connection pool, with the limits every call obeys."""

    def __init__(
        self,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_redirects: int = MAX_REDIRECTS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.total_timeout = total_timeout
        self.max_response_bytes = max_response_bytes
        self.max_redirects = max_redirects
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            follow_redirects=False,  # followed by hand, within the base URL's origin only
            trust_env=False,  # no proxy or .netrc from the environment: only the configured host
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, tool: ServedTool, arguments: dict[str, Any], target: Target | None) -> ToolResult:
        started = time.perf_counter()
        result = await self._call(tool, arguments, target)
        elapsed = time.perf_counter() - started
        CALLS.labels(tool.toolset, tool.name, result.outcome).inc()
        CALL_LATENCY.labels(tool.toolset, tool.name, result.outcome).observe(elapsed)
        logger.info(
            "tool call",
            extra={
                "toolset": tool.toolset,
                "tool": tool.name,
                "outcome": result.outcome,
                "status": result.status,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return result

    async def _call(self, tool: ServedTool, arguments: dict[str, Any], target: Target | None) -> ToolResult:
        if problem := validate_arguments(tool.input_schema, arguments):
            return ToolResult(True, problem, "invalid_arguments")
        if tool.argument_mapping is None:
            return ToolResult(
                True,
                f"Calls are not configured for tool '{tool.name}' of source '{tool.source}': it was "
                "not imported from an OpenAPI document, so it has no request mapping.",
                "not_configured",
            )
        if target is None:
            return ToolResult(
                True,
                f"Calls are not configured for tool '{tool.name}': its source '{tool.source}' has no "
                "upstream (PUT /v1/projects/{project}/upstreams/{source}) and its document no absolute "
                "server URL.",
                "not_configured",
            )
        try:
            request = build_request(tool, arguments, target)
            async with asyncio.timeout(self.total_timeout):
                return await self._send(request, httpx.URL(target.base_url))
        except _Refused as refused:
            return ToolResult(True, refused.text, refused.outcome, refused.status)
        except (TimeoutError, httpx.TimeoutException):
            return ToolResult(
                True, f"The upstream did not answer within {self.total_timeout:g} s.", "timeout"
            )
        except httpx.ConnectError:
            return ToolResult(
                True,
                "Could not connect to the upstream (connection refused or unreachable).",
                "connect_error",
            )
        except httpx.HTTPError as exc:
            return ToolResult(True, f"The request to the upstream failed ({type(exc).__name__}).", "error")

    async def fetch(self, url: str, target: Target) -> ToolResult:
        """GET a resource's URI, which must lie under the base URL (`resources/read`)."""
        base = target.base_url.rstrip("/")
        parsed, origin = httpx.URL(url), httpx.URL(base)
        path_prefix = origin.path.rstrip("/") + "/"
        if not _same_origin(parsed, origin) or not (parsed.path + "/").startswith(path_prefix):
            return ToolResult(True, "The resource's URI is not under its source's base URL.", "refused")
        request = _Request("GET", parsed, [], dict(target.headers))
        try:
            async with asyncio.timeout(self.total_timeout):
                return await self._send(request, origin)
        except _Refused as refused:
            return ToolResult(True, refused.text, refused.outcome, refused.status)
        except (TimeoutError, httpx.TimeoutException):
            return ToolResult(
                True, f"The upstream did not answer within {self.total_timeout:g} s.", "timeout"
            )
        except httpx.ConnectError:
            return ToolResult(True, "Could not connect to the upstream.", "connect_error")
        except httpx.HTTPError as exc:
            return ToolResult(True, f"The request to the upstream failed ({type(exc).__name__}).", "error")

    async def _send(self, request: _Request, origin: httpx.URL) -> ToolResult:
        method, url, params = request.method, request.url, request.params
        content, data, files = request.content, request.data, request.files
        for _ in range(self.max_redirects + 1):
            outgoing = self._http.build_request(
                method,
                url,
                params=params or None,
                headers=request.headers,
                content=content,
                data=data,
                files=files,
            )
            response = await self._http.send(outgoing, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code not in REDIRECT_STATUSES or not location:
                    body = await self._read_capped(response)
                    return _result(response, body)
            finally:
                await response.aclose()
            url = response.url.join(location)
            if not _same_origin(url, origin):
                raise _Refused(
                    "redirect_refused",
                    f"The upstream redirected ({response.status_code}) to another host; it was not followed.",
                    response.status_code,
                )
            params = []  # the Location carries its own query
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method not in ("GET", "HEAD")
            ):
                method, content, data, files = "GET", None, None, None
        raise _Refused("redirect_refused", f"More than {self.max_redirects} redirects; stopped.")

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise _Refused("response_too_large", self._too_large(response.status_code), response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise _Refused(
                    "response_too_large", self._too_large(response.status_code), response.status_code
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, status: int) -> str:
        return f"The upstream's answer ({status}) is larger than {self.max_response_bytes} bytes; not read."


def _result(response: httpx.Response, body: bytes) -> ToolResult:
    status = response.status_code
    content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if status >= 400:
        excerpt = text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")
        return ToolResult(
            True,
            f"The upstream answered {status} {response.reason_phrase}: {excerpt}".rstrip(": "),
            "upstream_error",
            status,
            content_type=content_type,
        )
    structured = None
    if content_type and (content_type == "application/json" or content_type.endswith("+json")):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        structured = parsed if isinstance(parsed, dict) else None
    return ToolResult(False, text, "ok", status, structured, content_type)
