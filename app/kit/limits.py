"""Request guards that run before routing: a cap on body size, and no NUL in a path.

Both are pure ASGI middleware, so they answer with the same problem documents as the
rest of the API without FastAPI's request machinery getting involved.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.errors import problem_response


class BodySizeLimitMiddleware:
    """Answer 413 to a request whose body is larger than `max_body_bytes`.

    A declared `Content-Length` over the limit is refused before anything is read; a body
    sent without one (chunked) is counted as it streams and refused once it passes the
    limit. Under the limit, the body is handed on unchanged.
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
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before it finished sending
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # e.g. waiting for http.disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            "Payload too large",
            f"The request body is larger than {self.max_body_bytes} bytes.",
            max_body_bytes=self.max_body_bytes,
        )
        await response(scope, receive, send)


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
