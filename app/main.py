"""The application factory: routers, error handlers, and the engine's lifespan."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import health
from app.db.engine import create_engine
from app.db.migrations import head_revision
from app.deployments.router import router as deployments_router
from app.kit.errors import install_error_handlers
from app.kit.logging import RequestIdMiddleware, configure_logging
from app.projects.router import router as projects_router
from app.prompt_templates.router import router as prompt_templates_router
from app.settings import get_settings

TAGS = [
    {"name": "projects", "description": "Projects own deployments, toolsets and templates."},
    {"name": "deployments", "description": "Immutable uploads of tool and resource definitions."},
    {"name": "toolsets", "description": "Named selections of tools served to MCP clients."},
    {"name": "variations", "description": "Versioned overrides of how a tool is presented."},
    {"name": "prompt-templates", "description": "Copy-on-write prompt templates."},
    {"name": "staging", "description": "The staging copy of a toolset in staging mode."},
    {"name": "releases", "description": "Immutable numbered releases, diffs and rollback."},
]


def create_app(database_url: str | None = None) -> FastAPI:
    settings = get_settings()
    url = database_url or settings.database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set; `toolsets serve` starts an embedded database.")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(url, pool_size=settings.toolsets_db_pool_size)
        app.state.expected_revision = head_revision(url)
        try:
            yield
        finally:
            await app.state.engine.dispose()

    app = FastAPI(
        title="Toolsets staging and releases",
        version="0.1.0",
        description=(
            "Staging copies, immutable numbered releases, diffs and one-call rollback for MCP "
            "toolsets. Authenticate with `Authorization: Bearer <api key>`."
        ),
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    for router in (projects_router, deployments_router, prompt_templates_router):
        app.include_router(router, prefix="/v1")
    return app


def openapi_document() -> str:
    """The committed `openapi.json`: what the app serves, formatted stably."""
    app = create_app("postgresql://openapi@localhost/unused")  # no connection is made
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def create_served_app() -> FastAPI:
    """Entry point for uvicorn workers (`--factory`): logs as JSON."""
    configure_logging(get_settings().toolsets_log_level)
    return create_app()
