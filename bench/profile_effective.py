"""Where one effective-state read spends its time, in-process, with py-spy when it is installed.

    .venv/bin/python bench/profile_effective.py                 # staging mode, 10 s
    .venv/bin/python bench/profile_effective.py --mode iteration --seconds 20

Seeds the same data as bench/run.py's served-state phase, then calls the app (create_app,
the same middleware, routers, dependencies and services as the server) directly as an
ASGI callable in a loop, one request at a time, and reports wall and CPU time per request
next to /healthz's. With `py-spy` on PATH (`pip install py-spy`) it samples this process
meanwhile and sorts the samples into parts of the request.
"""

import argparse
import asyncio
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

import asyncpg
import harness
import httpx
import seed

from app.main import create_app

# The first match, in this order, names a sample's part of the request.
PARTS = [
    ("pool checkout ping of an idle connection (BEGIN; `;`; ROLLBACK)", ["_async_ping"]),
    ("pool checkout and return, other", ["sqlalchemy/pool/", "ext/asyncio/engine.py:2", "_connection_for"]),
    ("the pointer lookup: build and run the statement", ["find_live_pointer"]),
    (
        "served state: cache lookup or query, JSON",
        ["release_state_json", "current_state", "release_state", "_served ("],
    ),
    ("AUTOCOMMIT execution option", ["execution_options"]),
    ("authenticate (key hash, key cache)", ["authenticate"]),
    ("a sync dependency, in the threadpool", ["run_in_threadpool", "to_thread.py", "run_sync"]),
    ("FastAPI dependency solving, other", ["solve_dependencies"]),
    ("route matching", ["_match (", "matches ("]),
    ("FastAPI and Starlette request handling, other", ["fastapi/routing.py", "starlette/routing.py"]),
    (
        "middleware",
        ["app/kit/logging.py", "app/kit/metrics.py", "app/kit/limits.py", "telemetry", "errors.py"],
    ),
]


async def call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"GET {path}: {status}")


async def loop(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], seconds: float
) -> tuple[float, float]:
    """Requests one after another for `seconds`; returns wall and CPU milliseconds per request."""
    for _ in range(20):
        await call(app, path, headers)
    started, cpu_started, count = perf_counter(), process_time(), 0
    while perf_counter() - started < seconds:
        await call(app, path, headers)
        count += 1
    return (perf_counter() - started) / count * 1000, (process_time() - cpu_started) / count * 1000


def start_py_spy(output: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy sampling this process (not pausing it), if py-spy is installed."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        return None
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(os.getpid()),
            "--rate",
            "250",
            "--nonblocking",
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=10)


def parts_of(raw_samples: Path) -> list[tuple[str, float]]:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw_samples.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if "profile_effective.py" not in stack or "pong" in stack:
            continue  # other threads
        total += int(number)
        name = next((name for name, keys in PARTS if any(k in stack for k in keys)), None)
        counts[name or ("in the request, other" if "call (" in stack else "event loop, other")] += int(number)
    return [(name, count / max(total, 1)) for name, count in counts.most_common()]


async def main(args: argparse.Namespace, stack: harness.Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    pg = await asyncpg.connect(stack.database_url)
    try:
        async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=120) as client:
            paths = await seed.served_project(client, pg, stack.organization, args.tools)
    finally:
        await pg.close()
    asgi_headers = [(b"host", b"bench"), (b"authorization", headers["Authorization"].encode())]
    app = create_app(stack.database_url)
    async with app.router.lifespan_context(app):
        wall, cpu = await loop(app, "/healthz", asgi_headers, 2)
        print(f"/healthz: {wall:.2f} ms wall, {cpu:.2f} ms CPU per request")
        path = paths[args.mode]
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "samples.txt"
            spy = start_py_spy(raw, args.seconds)
            try:
                wall, cpu = await loop(app, path, asgi_headers, args.seconds + 1)
            finally:
                if spy is not None:
                    stop_py_spy(spy)
            print(f"{path} ({args.mode} mode): {wall:.2f} ms wall, {cpu:.2f} ms CPU per request")
            if spy is None:
                print("(install py-spy to see where the time goes)")
            elif raw.exists():
                print("\n| part of the request | share of samples |\n| --- | ---: |")
                for name, share in parts_of(raw):
                    print(f"| {name} | {share:.0%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("staging", "iteration"), default="staging")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--tools", type=int, default=200)
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with harness.Stack() as running:
        asyncio.run(main(options, running))
