"""Domain errors and their rendering as RFC 9457 problem documents."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, NoResultFound
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.kit.logging import REQUEST_ID_SCOPE_KEY, request_id_var

logger = logging.getLogger("app.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class AppError(Exception):
    """Base of every error a client may see. `code` is stable; `detail` is for humans."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def headers(self) -> dict[str, str]:
        return {}


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class Unprocessable(AppError):
    status = 422
    code = "validation_error"
    title = "Unprocessable request"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint an IntegrityError violated (asyncpg, under SQLAlchemy's wrapper)."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    name = getattr(cause, "constraint_name", None)
    return name if isinstance(name, str) else None


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:toolsets:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


# A small body can hold thousands of mistakes: answer the first few, and how many there were.
MAX_FIELD_ERRORS = 20
_MAX_ERROR_TEXT = 200


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 1] + "…"


def _field_errors(errors: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "field": _clip(".".join(str(part) for part in err.get("loc", ()))),
            "message": _clip(str(err.get("msg", ""))),
            "type": err.get("type"),
        }
        for err in errors[:MAX_FIELD_ERRORS]
    ]


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    extra = dict(exc.extra)
    if isinstance(extra.get("errors"), list):
        extra["error_count"] = len(extra["errors"])
        extra["errors"] = extra["errors"][:MAX_FIELD_ERRORS]
    return problem_response(
        exc.status, exc.code, exc.title, exc.detail, headers=exc.headers() or None, **extra
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem_response(400, "malformed_json", "Malformed JSON", "The body is not valid JSON.")
    shown = _field_errors(raw)
    more = f" (the first {len(shown)} of {len(raw)})" if len(raw) > len(shown) else ""
    return problem_response(
        422,
        "validation_error",
        "Unprocessable request",
        f"The request does not match the operation's schema; see `errors`{more}.",
        errors=shown,
        error_count=len(raw),
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        exc.status_code,
        code,
        title,
        detail,
        headers=dict(exc.headers) if exc.headers else None,
        max_body_bytes=getattr(exc, "max_body_bytes", None),  # limits.BodyTooLarge
    )


RETRY_AFTER_SECONDS = 1


def _unavailable(detail: str) -> JSONResponse:
    return problem_response(
        503,
        "service_unavailable",
        "Service unavailable",
        detail,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _pool_exhausted(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("database pool exhausted: %s", exc)
    return _unavailable("The service is busy (no database connection was free in time); retry shortly.")


def _statement_cancelled(exc: DBAPIError) -> bool:
    # 57014 query_canceled: statement_timeout (or a cancel request) stopped the statement.
    return getattr(exc.orig, "sqlstate", None) == "57014"


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if _statement_cancelled(exc):
        logger.warning("statement timed out on %s %s", request.method, request.url.path)
        return _unavailable("The database took too long to answer; retry shortly.")
    if exc.connection_invalidated:
        # The connection went away mid-request (the server restarted, a proxy dropped it):
        # SQLAlchemy has renewed the pool, so a retry gets a new connection.
        logger.warning("database connection lost on %s %s", request.method, request.url.path)
        return _unavailable("The database connection was lost; retry shortly.")
    return await _unhandled(request, exc)


async def _vanished(request: Request, exc: Exception) -> JSONResponse:
    """A row a request had just read was deleted before its next statement (reads run in
    READ COMMITTED, one snapshot per statement): for the client it does not exist."""
    logger.info("a row vanished during %s %s", request.method, request.url.path)
    return problem_response(404, "not_found", "Not found", "It was deleted while this request read it.")


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # Starlette answers this outermost, after the request id middleware has finished: take the
    # id from the scope, for the log line and for the response a client quotes to operators.
    request_id: str | None = request.scope.get(REQUEST_ID_SCOPE_KEY)
    token = request_id_var.set(request_id)
    try:
        logger.exception(
            "unhandled error on %s %s", request.method, request.url.path, extra={"request_id": request_id}
        )
    finally:
        request_id_var.reset(token)
    return problem_response(
        500,
        "internal_error",
        "Internal server error",
        "An unexpected error occurred; quote the request id to the operators.",
        headers={"X-Request-ID": request_id} if request_id else None,
        request_id=request_id,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeoutError, _pool_exhausted)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(NoResultFound, _vanished)
    app.add_exception_handler(Exception, _unhandled)
