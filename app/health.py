"""Liveness and readiness probes, outside /v1 under the `health` tag."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db.migrations import current_revision
from app.kit.database import get_engine

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. No authentication, no database."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The database is reachable and its schema is the one this build expects",
    responses={503: {"description": "Not ready"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when the database answers and its schema is at the revision this build expects;
    503 otherwise (a load balancer should skip the process)."""
    expected: str | None = request.app.state.expected_revision
    try:
        async with (await get_engine(request)).connect() as conn:
            await conn.execute(text("SELECT 1"))
            revision = await current_revision(conn)
    except Exception:  # the probe answers; it does not crash
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if revision != expected:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "revision": revision, "expected": expected},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "revision": revision})
