"""tools/call overhead: a call through the service to an upstream that answers at once,
as a ratio to calling that upstream directly with httpx in the same run.

    .venv/bin/python bench/tool_calls.py             # about a minute on 2 cores

Starts its own embedded PostgreSQL and `toolsets serve` (bench/harness.py's Stack), and
the upstream (`bench/upstream_app.py`) with uvicorn, each a subprocess on 127.0.0.1. It
imports the upstream's document, sets the upstream with a secret header, makes a toolset
of its one tool in staging mode, and checks one call end to end. Then, interleaved in
rounds so that other load hits both alike: single-client latency (sequential requests,
one connection each side kept alive) and throughput with 16 concurrent clients, of
(a) `GET /v1/pets/1` on the upstream with httpx, and (b) the same through
`POST /mcp/{project}/{toolset}` `tools/call` (stateless 2026-07-28 JSON-RPC with httpx:
the service authenticates, finds the served tool, validates the arguments, builds and
sends the request, and wraps the answer). Prints a Markdown table of medians and ratios.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import harness
import httpx
from upstream_app import DOCUMENT

from app.kit.secrets import generate_key

MODERN = "2026-07-28"


def tools_call(request_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    }
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "show_pet_by_id", "arguments": {"petId": 1}, "_meta": meta},
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "show_pet_by_id",
    }
    return body, headers


async def setup(service: str, key: str, upstream_base: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    upstream = {"base_url": upstream_base, "headers": {"X-Api-Key": "k"}}
    toolset = {"name": "pets", "tool_urns": ["tools:http:pets:show_pet_by_id"]}
    async with httpx.AsyncClient(base_url=service, headers=auth, timeout=30) as api:
        for method, url, kwargs in [
            ("POST", "/v1/projects", {"json": {"name": "bench", "slug": "bench"}}),
            ("POST", "/v1/projects/bench/deployments/openapi?source=pets", {"json": DOCUMENT}),
            ("PUT", "/v1/projects/bench/upstreams/pets", {"json": upstream}),
            ("POST", "/v1/projects/bench/toolsets", {"json": toolset}),
            ("PUT", "/v1/projects/bench/toolsets/pets/editing-mode", {"json": {"mode": "staging"}}),
        ]:
            response = await api.request(method, url, **kwargs)
            assert response.status_code in (200, 201), (method, url, response.text)


async def sequential(send: Any, n: int) -> list[float]:
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        await send(i)
        latencies.append(time.perf_counter() - started)
    return latencies


async def concurrent(send: Any, clients: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < deadline:
            await send(i)
            done += 1
            i += clients

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    return done / (time.perf_counter() - started)


async def measure(args: argparse.Namespace, service: str, key: str, upstream: str) -> dict[str, list[float]]:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    results: dict[str, list[float]] = {"direct p50": [], "call p50": [], "direct rps": [], "call rps": []}
    async with (
        httpx.AsyncClient(base_url=upstream, limits=limits, timeout=30) as direct_http,
        httpx.AsyncClient(
            base_url=service, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=30
        ) as mcp_http,
    ):

        async def direct(_: int) -> None:
            response = await direct_http.get("/v1/pets/1")
            assert response.status_code == 200

        async def call(i: int) -> None:
            body, headers = tools_call(i)
            response = await mcp_http.post("/mcp/bench/pets", json=body, headers=headers)
            assert response.status_code == 200, response.text
            result = response.json()["result"]
            assert not result.get("isError"), result

        first = (
            await mcp_http.post("/mcp/bench/pets", json=tools_call(0)[0], headers=tools_call(0)[1])
        ).json()
        assert first["result"]["structuredContent"] == {"id": 1, "name": "Rex", "tag": "dog"}, first
        await sequential(direct, 50)  # warm-up
        await sequential(call, 50)
        for _ in range(args.rounds):
            results["direct p50"].append(statistics.median(await sequential(direct, args.requests)))
            results["call p50"].append(statistics.median(await sequential(call, args.requests)))
            results["direct rps"].append(await concurrent(direct, args.clients, args.seconds))
            results["call rps"].append(await concurrent(call, args.clients, args.seconds))
    return results


def report(results: dict[str, list[float]], args: argparse.Namespace) -> str:
    direct_p50 = statistics.median(results["direct p50"]) * 1000
    call_p50 = statistics.median(results["call p50"]) * 1000
    direct_rps = statistics.median(results["direct rps"])
    call_rps = statistics.median(results["call rps"])
    return "\n".join(
        [
            f"`.venv/bin/python bench/tool_calls.py` ({args.rounds} rounds of {args.requests} sequential "
            f"requests and {args.seconds:g} s with {args.clients} concurrent clients; medians over rounds)",
            "",
            "| | direct to the upstream (httpx) | `tools/call` through the service | ratio |",
            "| --- | ---: | ---: | ---: |",
            f"| single-client latency p50 | {direct_p50:.2f} ms | {call_p50:.2f} ms | "
            f"{call_p50 / direct_p50:.1f} x |",
            f"| throughput, {args.clients} clients | {direct_rps:.0f} req/s | {call_rps:.0f} req/s | "
            f"{call_rps / direct_rps:.2f} x |",
            "",
            f"Overhead per call (p50): {call_p50 - direct_p50:.2f} ms. Machine: {harness.machine()}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per round and side")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0, help="concurrent phase per round and side")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    args = parser.parse_args()
    # The service seals the upstream's header with this key (it has a DATABASE_URL, so no embedded key).
    os.environ.setdefault("TOOLSETS_SECRET_KEY", generate_key())
    with harness.Stack(workers=args.workers) as stack:
        port = harness.free_port()
        upstream = f"http://{harness.HOST}:{port}"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "upstream_app:app",
            "--app-dir",
            str(Path(__file__).parent),
            "--host",
            harness.HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        stack.start_server("the upstream", command, dict(os.environ), f"{upstream}/v1/pets/1")
        asyncio.run(setup(stack.base_url, stack.api_key, f"{upstream}/v1"))
        results = asyncio.run(measure(args, stack.base_url, stack.api_key, upstream))
    print(report(results, args))


if __name__ == "__main__":
    main()
