"""The application factory: routers, error handlers, and the engine's lifespan."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import health, index
from app.db.engine import create_engine, dispose_engine
from app.db.migrations import current_revision, head_revision
from app.deployments.router import router as deployments_router
from app.history.router import router as history_router
from app.jobs.worker import Worker, running_worker
from app.kit import metrics
from app.kit.errors import install_error_handlers
from app.kit.limits import BodySizeLimitMiddleware, NulPathMiddleware
from app.kit.logging import RequestIdMiddleware, configure_logging
from app.kit.metrics import MetricsMiddleware
from app.kit.openapi import install_openapi
from app.kit.secrets import check_configured_keys
from app.labels.router import router as labels_router
from app.mcp.http import McpMiddleware, McpService
from app.mcp.queries import EVENTS_CHANNEL
from app.policies.router import router as policies_router
from app.projects.router import router as projects_router
from app.prompt_templates.router import router as prompt_templates_router
from app.releases.router import router as releases_router
from app.retention.router import router as retention_router
from app.reviews.router import router as reviews_router
from app.schedules.router import router as schedules_router
from app.serving.engine import ServedStates
from app.serving.fast_path import ServedStateFastPath
from app.serving.local_writes import track_local_writes
from app.serving.pointers import PointerCache, listen
from app.settings import get_settings
from app.snapshots.router import router as snapshots_router
from app.staging.router import router as staging_router
from app.toolsets.router import router as toolsets_router
from app.toolsets.router import served_router
from app.upstreams.client import UpstreamClient
from app.upstreams.router import router as upstreams_router
from app.variations.router import router as variations_router
from app.webhooks.router import router as webhooks_router

API_PREFIX = "/v1"
API_ROUTERS = (
    served_router,  # first: matched before every other route
    projects_router,
    deployments_router,
    prompt_templates_router,
    toolsets_router,
    variations_router,
    staging_router,
    releases_router,
    webhooks_router,
    upstreams_router,
    schedules_router,
    reviews_router,
    policies_router,
    labels_router,
    history_router,
    retention_router,
    snapshots_router,
)

DOCS_ASSETS = "/docs-assets"
SWAGGER_UI_PARAMETERS = {
    "persistAuthorization": True,  # the key entered in Authorize survives a page reload
    "displayOperationId": True,  # the names generated SDKs use
    "validatorUrl": None,  # no badge fetched from the public validator
}

TAGS = [
    {
        "name": "projects",
        "description": "Projects own deployments, toolsets, templates and webhooks.",
    },
    {
        "name": "deployments",
        "description": (
            "Immutable uploads of tool and resource definitions (by hand or from an OpenAPI "
            "document), and the upstream each source's tools call."
        ),
    },
    {"name": "toolsets", "description": "Named selections of tools served to MCP clients."},
    {"name": "variations", "description": "Versioned overrides of how a tool is presented."},
    {"name": "prompt-templates", "description": "Copy-on-write prompt templates."},
    {"name": "staging", "description": "The staging copy of a toolset in staging mode."},
    {"name": "releases", "description": "Immutable numbered releases, diffs and rollback."},
]


def create_app(database_url: str | None = None, *, run_worker: bool | None = None) -> FastAPI:
    """`run_worker`: run a job worker in this process (default: `TOOLSETS_WORKER`, true)."""
    settings = get_settings()
    url = database_url or settings.database_url
    with_worker = settings.toolsets_worker if run_worker is None else run_worker
    if not url:
        raise RuntimeError("DATABASE_URL is not set; `toolsets serve` starts an embedded database.")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_configured_keys()
        app.state.engine = create_engine(
            url,
            pool_size=settings.toolsets_db_pool_size,
            pool_timeout_seconds=settings.toolsets_db_pool_timeout_seconds,
            statement_timeout_ms=settings.toolsets_statement_timeout_ms,
        )
        app.state.expected_revision = head_revision(url)
        async with app.state.engine.connect() as conn:
            found = await current_revision(conn)
        if found != app.state.expected_revision:
            # Serving against another schema corrupts data quietly; refuse loudly instead.
            await dispose_engine(app.state.engine)
            raise RuntimeError(
                f"The database schema is at revision {found}, this build needs "
                f"{app.state.expected_revision}: run `toolsets migrate` first."
            )
        app.state.pointers = PointerCache(
            settings.toolsets_state_cache_bytes, settings.toolsets_pointer_cache_bytes
        )
        track_local_writes(app.state.engine, app.state.pointers)
        app.state.serving = ServedStates(app.state.engine, app.state.pointers)
        app.state.mcp = McpService(app.state.engine, app.state.serving)
        app.state.upstream_client = UpstreamClient(
            connect_timeout=settings.toolsets_upstream_connect_timeout,
            total_timeout=settings.toolsets_upstream_timeout,
            max_response_bytes=settings.toolsets_upstream_max_response_bytes,
        )
        app.state.pointers.on_invalidate(app.state.mcp.hub.toolset_changed)
        channels = {
            "served_state": app.state.mcp.hub.project_changed,
            EVENTS_CHANNEL: app.state.mcp.hub.event_published,
        }
        listener = asyncio.create_task(listen(app.state.pointers, url, channels), name="pointer-listener")
        app.state.worker = None
        if with_worker:
            app.state.worker = Worker(url, engine=app.state.engine, pointers=app.state.pointers)
        try:
            async with (
                app.state.mcp.run(),
                running_worker(app.state.worker) if app.state.worker else contextlib.nullcontext(),
            ):
                yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await app.state.upstream_client.aclose()
            await dispose_engine(app.state.engine)

    # /docs and /redoc load Swagger UI and ReDoc from the pinned `fastapi-offline` package,
    # served under DOCS_ASSETS, never from a CDN: they work on a machine without internet.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        title="Toolsets staging and releases",
        version="0.1.0",
        description=(
            "Staging copies, immutable numbered releases, diffs and one-call rollback for MCP "
            "toolsets. Authenticate with `Authorization: Bearer <api key>`."
        ),
        openapi_tags=TAGS,
        lifespan=lifespan,
        # Starlette would answer `/v1/projects/` with a redirect to a URL built from the Host
        # header (an open redirect behind a proxy that passes it on); a trailing slash is 404.
        redirect_slashes=False,
    )
    install_error_handlers(app)
    # Each middleware wraps the ones added before it: request id, metrics, guards, routes.
    app.add_middleware(McpMiddleware)
    app.add_middleware(ServedStateFastPath)
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.toolsets_max_body_bytes)
    app.add_middleware(NulPathMiddleware)
    app.add_middleware(MetricsMiddleware, api_prefix=API_PREFIX)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(index.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    install_openapi(app)
    return app


def openapi_document() -> str:
    """The committed `openapi.json`: what the app serves, formatted stably."""
    app = create_app("postgresql://openapi@localhost/unused")  # no connection is made
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def create_served_app() -> FastAPI:
    """Entry point for uvicorn workers (`--factory`): logs as JSON."""
    configure_logging(get_settings().toolsets_log_level)
    return create_app()
