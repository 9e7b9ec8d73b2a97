"""Request bodies: JSON only, parsed strictly, validated off the event loop, after auth.

Every router uses `JsonRoute` (a test checks). For an operation that takes a body it:

1. authenticates the request before reading the body, so an unauthenticated client cannot
   make the service read (and parse) megabytes;
2. refuses a body that is not declared JSON with 415;
3. parses it strictly (`parse_json`): JSON as RFC 8259 defines it, nothing Python's parser
   tolerates beyond it (`NaN`, `Infinity`), and nothing the service could not store exactly
   (a number a double cannot hold, a lone UTF-16 surrogate), nested at most `MAX_DEPTH`
   deep. Any of these is 400 `malformed_json`: a body is refused, never altered;
4. validates it against the operation's schema, in a worker thread when it is large, so a
   big body never stalls the event loop for other requests.

FastAPI then receives the validated model and does not parse or validate again.
"""

import asyncio
import json
import math
import re
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from app.kit.auth import authenticate, bearer
from app.kit.errors import AppError

MAX_DEPTH = 100
MAX_INT_DIGITS = 4300  # Python's own limit on int(str); the service never holds a longer one
# Bodies larger than this are parsed and validated in a worker thread.
OFFLOAD_BYTES = 64 * 1024

# A `\uD800` to `\uDFFF` escape: only these can put a lone surrogate into a parsed string.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class MalformedJson(AppError):
    status = 400
    code = "malformed_json"
    title = "Malformed JSON"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


def _refuse_constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not a JSON number.")


def _exact_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedJson(f"The number {text[:40]} overflows a double.")
    if Decimal(text) != Decimal(repr(value)):
        raise MalformedJson(f"The number {text[:40]} cannot be held exactly as a double.")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise MalformedJson(f"An integer has more than {MAX_INT_DIGITS} digits.")
    return int(text)


def _check_structure(value: Any, check_surrogates: bool) -> None:
    """Nesting depth, and (when the body has a surrogate escape) lone surrogates in strings."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise MalformedJson(f"The body is nested more than {MAX_DEPTH} levels deep.")
            for key, child in item.items():
                if check_surrogates and _SURROGATE.search(key):
                    raise MalformedJson("An object key holds a lone UTF-16 surrogate.")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise MalformedJson(f"The body is nested more than {MAX_DEPTH} levels deep.")
            stack.extend((child, depth + 1) for child in item)
        elif check_surrogates and isinstance(item, str) and _SURROGATE.search(item):
            raise MalformedJson("A string holds a lone UTF-16 surrogate.")


def parse_json(body: bytes) -> Any:
    """The value of a strict JSON text; MalformedJson (400) for anything else."""
    try:
        text = body.decode("utf-8")
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_exact_float, parse_int=_bounded_int
        )
    except MalformedJson:
        raise
    except UnicodeDecodeError as exc:
        raise MalformedJson("The body is not UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"The body is not valid JSON: {exc.msg} at position {exc.pos}.") from exc
    except RecursionError as exc:
        raise MalformedJson(f"The body is nested more than {MAX_DEPTH} levels deep.") from exc
    except ValueError as exc:
        raise MalformedJson("The body is not valid JSON.") from exc
    _check_structure(value, check_surrogates=_SURROGATE_ESCAPE.search(body) is not None)
    return value


def is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = media_type.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


class _ParsedBodyRequest(Request):
    """A request whose body has been parsed and validated already: FastAPI reads that."""

    parsed: Any = None

    async def json(self) -> Any:
        return self.parsed


class JsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        body_field = self.body_field
        if body_field is None:
            return handle
        needs_auth = _depends_on(self.dependant, authenticate)
        # With several body parameters FastAPI validates them one by one; then only parse here.
        validate_here = not self._embed_body_fields

        def parse_and_validate(body: bytes) -> Any:
            value = parse_json(body)
            if not validate_here:
                return value
            model, errors = body_field.validate(value, {}, loc=("body",))
            if errors:
                raise RequestValidationError(errors, body=None)
            return model

        async def handler(request: Request) -> Response:
            if needs_auth:
                await authenticate(await bearer(request), request.app.state.engine)
            parsed = _ParsedBodyRequest(request.scope, request.receive)
            body = await parsed.body()
            if body:
                if not is_json_media_type(request.headers.get("content-type")):
                    raise UnsupportedMediaType(
                        "Send the body as JSON, with `Content-Type: application/json`.",
                        accepted=["application/json"],
                    )
                if len(body) > OFFLOAD_BYTES:
                    parsed.parsed = await asyncio.to_thread(parse_and_validate, body)
                else:
                    parsed.parsed = parse_and_validate(body)
            return await handle(parsed)

        return handler
