"""`GET /`: where to start. A browser goes to Swagger UI; anything else gets the addresses."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/docs", status_code=307)
    return JSONResponse(
        {
            "name": request.app.title,
            "version": request.app.version,
            "detail": "The API is under /v1. Interactive docs: /docs (Swagger UI) and /redoc; the "
            "OpenAPI document: /openapi.json. Authenticate with `Authorization: Bearer <api key>` "
            "(`toolsets create-api-key`).",
            "docs": "/docs",
            "redoc": "/redoc",
            "openapi": "/openapi.json",
            "api": "/v1/projects",
            "health": "/healthz",
        }
    )
