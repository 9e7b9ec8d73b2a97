"""A real upstream for tests: a small petstore on 127.0.0.1, served by uvicorn in a thread.

It records every request it receives (method, path, query, headers, body), so tests can
assert what arrived, and that nothing arrived when nothing should have.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class Received:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    port: int
    received: list[Received] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def document(self, pet_path: str = "/pets/{petId}") -> dict[str, Any]:
        """An OpenAPI 3.0 document of this upstream (`pet_path`: where showPetById lives)."""
        pet_id = {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
        ok = {"200": {"description": "ok"}}
        pet = {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "tag": {"type": "string", "nullable": True}},
        }
        return {
            "openapi": "3.0.3",
            "info": {"title": "Test petstore", "version": "1"},
            "servers": [{"url": self.base_url}],
            "paths": {
                "/pets": {
                    "get": {
                        "operationId": "listPets",
                        "summary": "List pets",
                        "parameters": [
                            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
                            {
                                "name": "tags",
                                "in": "query",
                                "schema": {"type": "array", "items": {"type": "string"}},
                            },
                            {"name": "X-Request-Tag", "in": "header", "schema": {"type": "string"}},
                        ],
                        "responses": ok,
                    },
                    "post": {
                        "operationId": "createPet",
                        "requestBody": {
                            "required": True,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
                        },
                        "responses": ok,
                    },
                },
                pet_path: {
                    "get": {"operationId": "showPetById", "parameters": [pet_id], "responses": ok},
                    "delete": {"operationId": "deletePet", "parameters": [pet_id], "responses": ok},
                },
                "/slow": {"get": {"operationId": "slow", "responses": ok}},
                "/elsewhere": {"get": {"operationId": "elsewhere", "responses": ok}},
                "/moved": {"get": {"operationId": "moved", "responses": ok}},
                "/big": {"get": {"operationId": "big", "responses": ok}},
                "/text": {"get": {"operationId": "text", "responses": ok}},
            },
            "components": {"schemas": {"Pet": pet}},
        }


def _app(upstream: Upstream) -> Starlette:
    async def record(request: Request) -> None:
        upstream.received.append(
            Received(
                request.method,
                request.url.path,
                list(request.query_params.multi_items()),
                {k.lower(): v for k, v in request.headers.items()},
                await request.body(),
            )
        )

    async def pets(request: Request) -> Response:
        await record(request)
        if request.method == "POST":
            return JSONResponse({"id": 7, **(await request.json())}, status_code=201)
        return JSONResponse({"pets": [{"id": 1, "name": "Rex"}], "limit": request.query_params.get("limit")})

    async def pet(request: Request) -> Response:
        await record(request)
        if request.method == "DELETE":
            return PlainTextResponse("database on fire", status_code=500)
        if request.path_params["pet_id"] != "1":
            return JSONResponse({"code": 404, "message": "no such pet"}, status_code=404)
        return JSONResponse({"id": 1, "name": "Rex", "where": request.url.path})

    async def slow(request: Request) -> Response:
        await record(request)
        await asyncio.sleep(10)
        return JSONResponse({"late": True})

    async def elsewhere(request: Request) -> Response:
        await record(request)
        # Same server, another host name: a client that followed it would leave the base URL's host.
        return RedirectResponse(f"http://localhost:{upstream.port}/v1/pets", status_code=302)

    async def moved(request: Request) -> Response:
        await record(request)
        return RedirectResponse("/v1/pets?limit=3", status_code=301)

    async def big(request: Request) -> Response:
        await record(request)
        return PlainTextResponse("x" * (2 * 1024 * 1024))

    async def text(request: Request) -> Response:
        await record(request)
        return PlainTextResponse("plain words")

    routes = [
        Route("/v1/pets", pets, methods=["GET", "POST"]),
        Route("/v1/pets/{pet_id}", pet, methods=["GET", "DELETE"]),
        Route("/v1/animals/{pet_id}", pet, methods=["GET", "DELETE"]),
        Route("/v1/slow", slow),
        Route("/v1/elsewhere", elsewhere),
        Route("/v1/moved", moved),
        Route("/v1/big", big),
        Route("/v1/text", text),
    ]
    return Starlette(routes=routes)


@contextmanager
def running_upstream() -> Iterator[Upstream]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    upstream = Upstream(port=sock.getsockname()[1])
    config = uvicorn.Config(_app(upstream), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test upstream did not start")
        time.sleep(0.01)
    try:
        yield upstream
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
