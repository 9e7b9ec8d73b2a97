"""Prometheus metrics: requests by route template, and the release lifecycle."""

import time

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import get_settings

REQUESTS = Counter("toolsets_http_requests_total", "HTTP requests.", ["method", "route", "status"])
LATENCY = Histogram(
    "toolsets_http_request_duration_seconds",
    "HTTP request latency.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RELEASES = Counter("toolsets_releases_total", "Releases made.", ["kind"])  # create_release | publish
ROLLBACKS = Counter("toolsets_rollbacks_total", "Rollbacks (and roll-forwards) to an earlier release.")


class MetricsMiddleware:
    """Labels by route template (`/v1/projects/{project}/…`), never by raw path: bounded cardinality."""

    def __init__(self, app: ASGIApp, api_prefix: str = "") -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            # An included router's route knows its path without the prefix it was mounted under.
            if route is not None and self.api_prefix and scope["path"].startswith(self.api_prefix + "/"):
                template = self.api_prefix + template
            method = scope["method"]
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - started)


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics() -> Response:
    registry = DEFAULT_REGISTRY
    if get_settings().prometheus_multiproc_dir:
        # Several worker processes: aggregate what each wrote to the shared folder.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
