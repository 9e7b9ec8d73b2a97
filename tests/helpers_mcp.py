"""Serving the app on 127.0.0.1 for MCP clients, and connecting the SDK's client to it."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

MODERN = "2026-07-28"


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an app whose lifespan is already running with uvicorn on a free local port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Heard:
    """Notifications a client session received, to wait on."""

    def __init__(self) -> None:
        self.methods: list[str] = []
        self._changed = asyncio.Event()

    async def __call__(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(method, str):
            self.methods.append(method)
            self._changed.set()

    async def wait_for(self, method: str, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while method not in self.methods:
                self._changed.clear()
                await self._changed.wait()


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each request goes to the next of these ports."""

    def __init__(self, urls: list[str]) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.ports = itertools.cycle([int(url.rsplit(":", 1)[1]) for url in urls])
        self.sent: list[tuple[str, int, int]] = []  # method, port, status

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self.ports)
        request.url = request.url.copy_with(port=port)
        response = await self.inner.handle_async_request(request)
        self.sent.append((request.method, port, response.status_code))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def legacy_session(
    url: str,
    headers: dict[str, str],
    heard: Heard | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncIterator[ClientSession]:
    """An initialized session (the handshake revisions) with the SDK's client."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=10, transport=transport) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, message_handler=heard) as session,
    ):
        await session.initialize()
        yield session


@asynccontextmanager
async def modern_session(url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """A 2026-07-28 session (no handshake: `server/discover`) with the SDK's client."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=10) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.discover()
        yield session
