"""Request guards that run before routing: a cap on body size, and no NUL in a path.

Both are pure ASGI middleware, so they answer with the same problem documents as the
rest of the API without FastAPI's request machinery getting involved.
"""

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.errors import problem_response


class BodyTooLarge(StarletteHTTPException):
    """Raised by `receive` once a streamed body passes the limit; rendered as 413."""

    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_body_bytes} bytes.")
        self.max_body_bytes = max_body_bytes


class BodySizeLimitMiddleware:
    """Answer 413 to a request whose body is larger than `max_body_bytes`.

    A declared `Content-Length` over the limit is refused before anything is read. A body
    sent without one (chunked) is counted as the application reads it, and reading fails
    with 413 once it passes the limit. Nothing is read ahead: an operation that refuses a
    request first (401) never reads its body at all. Under the limit, the body is handed on
    unchanged.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        size = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send)  # an application that let it through

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await too_large_response(self.max_body_bytes)(scope, receive, send)


def too_large_response(max_body_bytes: int) -> Response:
    return problem_response(
        413,
        "payload_too_large",
        "Payload too large",
        f"The request body is larger than {max_body_bytes} bytes.",
        max_body_bytes=max_body_bytes,
    )


class NulPathMiddleware:
    """Answer 404 to a path with a NUL character (`%00`) in it.

    No slug, name or URN can hold one (PostgreSQL text cannot store NUL), so nothing
    lives at such an address; answering here keeps the character away from every query.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\x00" in scope["path"]:
            response = problem_response(
                404, "not_found", "Not found", "Nothing exists at an address with a NUL character."
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
