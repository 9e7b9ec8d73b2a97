"""MCP `tools/list` of a 200-tool toolset, as a ratio to `/healthz` on the same server.

    .venv/bin/python bench/mcp_lists.py                 # about 2 minutes; writes bench/mcp_results.md
    .venv/bin/python bench/mcp_lists.py --profile       # also: where a tools/list through the SDK goes

Brings its own PostgreSQL and service (`harness.Stack`: `toolsets serve --workers 2` on
127.0.0.1), seeds the project of bench/run.py (200 tools, 200 global variations, toolsets
`staged` in staging mode and `iterated` in iteration mode with 200 variations of their
own), checks that each endpoint's `tools/list` equals its getEffectiveToolset, and drives
with wrk (POST bodies from a Lua script), interleaved, a 2 s warm-up then 3 runs each:

- `GET /healthz`;
- `tools/list` on the 2026-07-28 revision (stateless: each request its own envelope),
  staging mode and iteration mode (unchanged);
- `tools/list` in a session of the 2025-11-25 revision (one session, its id on every
  request; with 2 workers, half the connections land on the process that did not open it,
  which adopts it), both modes;
- for reference, `tools/list` with a `cursor`, which the pre-serialized cache never
  answers: the SDK's own path, every time.

The ratio is each median requests/s over `/healthz`'s median in the same run.
"""

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import harness  # noqa: E402
import seed  # noqa: E402

MODERN = "2026-07-28"
SESSION = "2025-11-25"
TARGET = 0.5
ACCEPT = "application/json, text/event-stream"


@dataclass
class Target:
    name: str
    path: str
    method: str = "GET"
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def modern_request(request_id: int, cursor: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    params: dict[str, Any] = {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        }
    }
    if cursor is not None:
        params["cursor"] = cursor
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": params}
    return body, {"Accept": ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}


async def open_session(client: httpx.AsyncClient, path: str) -> dict[str, str]:
    """initialize + notifications/initialized; the headers of the session's later requests."""
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": SESSION,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    }
    response = await client.post(path, json=init, headers={"Accept": ACCEPT})
    response.raise_for_status()
    headers = {
        "Accept": ACCEPT,
        "Mcp-Session-Id": response.headers["mcp-session-id"],
        "MCP-Protocol-Version": SESSION,
    }
    done = await client.post(
        path, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    )
    assert done.status_code == 202, done.text
    return headers


def expected_names(state: dict[str, Any]) -> list[str]:
    return [tool["name"] for tool in state["tools"]]


def lua_script(directory: Path, target: Target) -> Path:
    path = directory / f"wrk-{abs(hash(target.name))}.lua"
    lines = [f'wrk.method = "{target.method}"']
    if target.body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(target.body))}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    for name, value in (target.headers or {}).items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(
    stack: harness.Stack, url: str, script: Path, key: str, seconds: int, threads: int, connections: int
) -> harness.WrkResult:
    before, wrk_before = stack.cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        "-H",
        f"Authorization: Bearer {key}",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30)
    result = harness.parse_wrk(done.stdout)
    after, wrk_after = stack.cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    result.cpu = {name: after[name] - before[name] for name in after}
    result.cpu["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    assert stack.service is not None
    stack.settle(stack.service)
    return result


async def measure(args: argparse.Namespace, stack: harness.Stack) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=120) as client:
        pg = await asyncpg.connect(stack.database_url)
        try:
            print(f"[bench] seeding {args.tools} tools, variations in both layers", flush=True)
            await seed.served_project(client, pg, stack.organization, args.tools)
        finally:
            await pg.close()
        targets = [Target("/healthz", "/healthz")]
        for mode, slug in (("staging mode", "staged"), ("iteration mode", "iterated")):
            path = f"/mcp/served/{slug}"
            state = (await client.get(f"/v1/projects/served/toolsets/{slug}/effective")).json()
            body, mcp_headers = modern_request(1)
            listed = (await client.post(path, json=body, headers=mcp_headers)).json()["result"]["tools"]
            assert [t["name"] for t in listed] == expected_names(state), "tools/list != getEffectiveToolset"
            assert len(listed) == args.tools
            targets.append(Target(f"tools/list {MODERN}, {mode}", path, "POST", body, mcp_headers))
            session = await open_session(client, path)
            session_body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            targets.append(
                Target(f"tools/list session {SESSION}, {mode}", path, "POST", session_body, session)
            )
        body, mcp_headers = modern_request(1, cursor="sdk")
        targets.append(
            Target(
                "tools/list through the SDK (reference), staging mode",
                "/mcp/served/staged",
                "POST",
                body,
                mcp_headers,
            )
        )
        sizes = {}
        for target in targets:
            response = await client.request(
                target.method, target.path, json=target.body, headers=target.headers
            )
            response.raise_for_status()
            sizes[target.name] = len(response.content)

    scripts = {t.name: lua_script(stack.tmp, t) for t in targets}
    busy = await asyncio.to_thread(harness.wait_for_quiet, args.wait_idle)
    print(f"[bench] CPUs {busy:.0%} busy with other work; warm-up", flush=True)

    def one(target: Target, seconds: int) -> harness.WrkResult:
        return run_wrk(
            stack,
            stack.base_url + target.path,
            scripts[target.name],
            stack.api_key,
            seconds,
            args.wrk_threads,
            args.wrk_connections,
        )

    for target in targets:
        await asyncio.to_thread(one, target, 2)
    runs: dict[str, list[harness.WrkResult]] = {t.name: [] for t in targets}
    for run in range(args.wrk_runs):
        for target in targets:
            result = await asyncio.to_thread(one, target, args.wrk_seconds)
            runs[target.name].append(result)
            print(
                f"[bench] run {run + 1}/{args.wrk_runs} {target.name}: "
                f"{result.requests_per_second:.0f} req/s, "
                f"p50 {result.p50_ms:.2f} ms, non-2xx {result.non_2xx}, errors {result.socket_errors}",
                flush=True,
            )
    return {"runs": runs, "sizes": sizes, "busy": busy}


def render(args: argparse.Namespace, measured: dict[str, Any], profile: str) -> str:
    runs: dict[str, list[harness.WrkResult]] = measured["runs"]
    health = statistics.median(r.requests_per_second for r in runs["/healthz"])
    lines = [
        "# MCP tools/list benchmark",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/mcp_lists.py', *sys.argv[1:]])}` "
        f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},",
        f"commit `{harness.git_revision()}`, {harness.machine()['cpu']}, load {harness.load_average()}; "
        f"`toolsets serve --workers {args.workers}`, wrk -t{args.wrk_threads} -c{args.wrk_connections}, "
        f"{args.wrk_runs} runs of {args.wrk_seconds} s each (median), {args.tools} tools; "
        f"CPUs {measured['busy']:.0%} busy with other work before the runs.",
        "",
        "| endpoint | req/s | ratio to /healthz | p50 ms | p99 ms | body bytes | non-2xx "
        "| CPU ms/request (service, postgres) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, results in runs.items():
        rps = statistics.median(r.requests_per_second for r in results)
        middle = sorted(results, key=lambda r: r.requests_per_second)[len(results) // 2]
        requests = max(middle.requests, 1)
        cpu = f"{1000 * middle.cpu['service'] / requests:.2f}, {1000 * middle.cpu['postgres'] / requests:.2f}"
        ratio = rps / health if health else 0.0
        met = "" if name == "/healthz" or "reference" in name else (" ✓" if ratio >= TARGET else " ✗")
        lines.append(
            f"| {name} | {rps:.0f} | {ratio:.2f}{met} | {middle.p50_ms:.2f} | {middle.p99_ms:.2f} | "
            f"{measured['sizes'][name]} | {sum(r.non_2xx for r in results)} | {cpu} |"
        )
    lines += ["", f"Target: tools/list >= {TARGET} x /healthz (✓ met, ✗ not met)."]
    if profile:
        lines += [
            "",
            "## One tools/list through the SDK, in-process (cProfile, cumulative)",
            "",
            "```",
            profile,
            "```",
        ]
    return "\n".join(lines) + "\n"


async def profile_sdk_path(database_url: str, api_key: str, requests: int = 200) -> str:
    """cProfile of tools/list answered by the SDK every time (the list cache emptied before each)."""
    from app.main import create_app
    from app.mcp.results import ListCache

    app = create_app(database_url)
    body, mcp_headers = modern_request(1)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {api_key}", **mcp_headers}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            for _ in range(20):
                (await client.post("/mcp/served/staged", json=body)).raise_for_status()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                app.state.mcp.lists.cache = ListCache()
                (await client.post("/mcp/served/staged", json=body)).raise_for_status()
            profiler.disable()
            cached_started = time.perf_counter()
            for _ in range(requests):
                (await client.post("/mcp/served/staged", json=body)).raise_for_status()
            cached = (time.perf_counter() - cached_started) / requests
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = stats.total_tt / requests  # type: ignore[attr-defined]
    # The SDK's steps and ours, by cumulative time: where a request through the SDK goes.
    steps = (
        r"handle_modern_request|serve_one|_serialize|serialize_server_result|validate_python|"
        r"_dump_result|_to_jsonrpc_response|_write|model_dump|_list_tools|tools_json|state|"
        r"through_sdk|_request_message|classify_inbound|validate_client_request|dumps|loads"
    )
    stats.sort_stats("cumulative").print_stats(steps, 30)
    header = (
        f"{requests} requests; {1000 * total:.2f} ms of profiled CPU per request through the SDK "
        f"(in-process, cProfile overhead included); answered from the cache: "
        f"{1000 * cached:.2f} ms per request\n"
    )
    return header + "\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tools", type=int, default=200)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--wrk-runs", type=int, default=3)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=32)
    parser.add_argument("--wait-idle", type=float, default=60)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--output", type=Path, default=BENCH / "mcp_results.md")
    args = parser.parse_args(argv)
    with harness.Stack(workers=args.workers) as stack:
        measured = asyncio.run(measure(args, stack))
        profile = asyncio.run(profile_sdk_path(stack.database_url, stack.api_key)) if args.profile else ""
    report = render(args, measured, profile)
    args.output.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
