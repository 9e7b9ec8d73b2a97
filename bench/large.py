"""Every computation of a served state at 1,000 and 10,000 tools: linear, and well under a second.

    .venv/bin/python bench/large.py                      # ~1 minute on 2 cores; prints a Markdown table
    .venv/bin/python bench/large.py --explain            # also EXPLAIN ANALYZE of the state statements
    .venv/bin/python bench/large.py --database-url URL   # an existing migrated database (reused)

For each size N: a project with a deployment of N tools, 0.3 N global variations and
0.3 N global variations of tools that are in no deployment, and a toolset of all N
tools with 0.3 N variations of its own (variations in bulk SQL, the rest through the
API). Each operation runs through the app in-process (`create_app` behind httpx's ASGI
transport: the same routers, services and SQL as the server) and is timed by the
client; the table shows the median of `--runs`, and the ratio of 10,000 to 1,000
tools (linear means about 10 x; the target is at most 12 x).
"""

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

import asyncpg
import harness
import httpx
import seed

from app.db import migrations
from app.db.embedded import EmbeddedPostgres
from app.kit.auth import insert_api_key
from app.main import create_app

ORG = "bench"
GROWTH_TARGET = 12.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000", help="tool counts, smallest first")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per operation (after a warm-up)")
    parser.add_argument("--database-url", help="a migrated database to use instead of a new embedded one")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the state reads")
    parser.add_argument(
        "--memory-toolsets", type=int, default=40, help="large toolsets read for the memory check"
    )
    return parser.parse_args(argv)


async def seed_size(client: httpx.AsyncClient, pg: asyncpg.Connection, n: int) -> str:
    """Project `large-N` as described above; returns the toolset's base path."""
    project = f"large-{n}"
    urns = await seed.project_with_tools(client, project, n)
    share = int(n * 0.3)
    orphans = [f"tools:http:gone:op_{i:05d}" for i in range(share)]
    await seed.global_variations(pg, ORG, project, urns[::3][:share] + orphans)
    created = await seed.toolset(client, project, "ts", urns)
    await seed.toolset_variations(pg, created["id"], urns[1::3][:share])
    return f"/v1/projects/{project}/toolsets/ts"


async def measure_size(client: httpx.AsyncClient, base: str, first_urn: str, runs: int) -> dict[str, float]:
    """Median seconds per operation."""
    samples: dict[str, list[float]] = {}
    client_app: Any = client._transport.app  # type: ignore[attr-defined]

    async def op(run: int, name: str, method: str, path: str, status: int, **kwargs: Any) -> None:
        started = perf_counter()
        response = await client.request(method, f"{base}{path}", **kwargs)
        elapsed = perf_counter() - started
        await seed.ok_response(response, status)
        if run:  # run 0 warms up
            samples.setdefault(name, []).append(elapsed)

    for run in range(runs + 1):
        # Iteration mode: an edit, then the read that must compute the new state.
        await seed.ok(await client.put(f"{base}/variations/{first_urn}", json={"summary": f"run {run}"}), 200)
        await op(run, "effective, iteration mode, right after an edit", "GET", "/effective", 200)
        await op(
            run, "diffToolsetStates live to next", "GET", "/diff", 200, params={"from": "live", "to": "next"}
        )
        await op(
            run,
            "mode switch to staging (captures a release)",
            "PUT",
            "/editing-mode",
            200,
            json={"mode": "staging"},
        )
        await seed.ok(await client.post(f"{base}/staging"), 201)
        await seed.ok(
            await client.put(f"{base}/staging/variations/{first_urn}", json={"title": f"run {run}"}), 200
        )
        await op(run, "staging diff", "GET", "/staging/diff", 200)
        params = {"from": "release:1", "to": "staging"}
        await op(run, "diffToolsetStates release:1 to staging", "GET", "/diff", 200, params=params)
        await op(run, "publish (capture)", "POST", "/staging/publish", 201, json={})
        # The same publish under a policy that blocks breaking changes: both states computed
        # and compared (the change is compatible, so it goes through).
        await seed.ok(await client.put(f"{base}/policy", json={"block_breaking": True}), 200)
        await seed.ok(await client.post(f"{base}/staging"), 201)
        await seed.ok(
            await client.put(f"{base}/staging/variations/{first_urn}", json={"title": f"guarded {run}"}), 200
        )
        await op(run, "publish under block_breaking (both states)", "POST", "/staging/publish", 201, json={})
        await seed.ok(await client.put(f"{base}/policy", json={"block_breaking": False}), 200)
        released = await seed.ok(await client.get(f"{base}/releases", params={"limit": 1}), 200)
        client_app.state.serving.forget_releases()
        number = released["items"][0]["release_number"]
        await op(run, "release state (not cached)", "GET", f"/releases/{number}/state", 200)
        await op(run, "mode switch to iteration", "PUT", "/editing-mode", 200, json={"mode": "iteration"})
    return {name: statistics.median(values) for name, values in samples.items()}


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def memory_phase(
    client: httpx.AsyncClient, pg: asyncpg.Connection, n: int, count: int
) -> dict[str, Any]:
    """Read `count` iteration-mode toolsets of n tools once each; what the process holds after."""
    project = f"large-{n}"
    urns = [seed.tool_urn(i) for i in range(n)]
    for i in range(count):
        slug = f"mem-{i:02d}"
        if (await client.get(f"/v1/projects/{project}/toolsets/{slug}")).status_code == 404:
            await seed.toolset(client, project, slug, urns)
    client_app: Any = client._transport.app  # type: ignore[attr-defined]
    cache = client_app.state.pointers
    cache.invalidate()
    gc.collect()
    before = rss_bytes()
    body_total = 0
    for i in range(count):
        response = await seed.ok_response(
            await client.get(f"/v1/projects/{project}/toolsets/mem-{i:02d}/effective"), 200
        )
        body_total += len(response.content)
        del response
    gc.collect()
    after = rss_bytes()
    return {
        "toolsets": count,
        "tools": n,
        "bodies": body_total,
        "held": cache.body_bytes(),
        "bound": cache._bodies.maxsize,
        "rss_growth": after - before,
        "rss": after,
    }


async def explain(pg: asyncpg.Connection, base: str) -> None:
    from app.serving import state

    toolset_id = await pg.fetchval(
        "SELECT t.id FROM toolsets t JOIN projects p ON p.id = t.project_id "
        "WHERE p.slug = $1 AND t.slug = 'ts' AND t.parent_toolset_id IS NULL",
        base.split("/")[3],
    )
    plan = await pg.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {state.explainable('current', toolset_id)}")
    print("--- current state\n" + "\n".join(r[0] for r in plan), flush=True)


async def run(args: argparse.Namespace, database_url: str) -> str:
    sizes = [int(s) for s in args.sizes.split(",")]
    app = create_app(database_url)
    pg = await asyncpg.connect(database_url)
    results: dict[int, dict[str, float]] = {}
    memory: dict[str, Any] = {}
    try:
        async with app.router.lifespan_context(app):
            async with app.state.engine.begin() as conn:
                key = await insert_api_key(conn, ORG, ("read", "write", "release"), "bench large")
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://in-process", headers=headers, timeout=600
            ) as client:
                for n in sizes:
                    started = perf_counter()
                    base = f"/v1/projects/large-{n}/toolsets/ts"
                    if (await client.get(base)).status_code == 404:
                        base = await seed_size(client, pg, n)
                    print(f"[large] {n} tools seeded in {perf_counter() - started:.0f}s", flush=True)
                    if args.explain:
                        await explain(pg, base)
                    results[n] = await measure_size(client, base, seed.tool_urn(0), args.runs)
                    timings = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in results[n].items())
                    print(f"[large] {n}: {timings}", flush=True)
                if args.memory_toolsets:
                    memory = await memory_phase(client, pg, sizes[-1], args.memory_toolsets)
                    print(f"[large] memory: {memory}", flush=True)
    finally:
        await pg.close()
    return render(sizes, results, memory)


def render(sizes: list[int], results: dict[int, dict[str, float]], memory: dict[str, Any]) -> str:
    small, large = sizes[0], sizes[-1]
    lines = [
        f"| operation | {' | '.join(f'{n:,} tools ms' for n in sizes)} | x {large:,} / {small:,} | target |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: | --- |",
    ]
    for name in results[small]:
        ratio = results[large][name] / results[small][name]
        met = ratio <= GROWTH_TARGET and results[large][name] < 1.0
        cells = " | ".join(f"{results[n][name] * 1000:,.1f}" for n in sizes)
        lines.append(
            f"| {name} | {cells} | {ratio:.1f} | <= {GROWTH_TARGET:.0f} x and < 1 s: "
            f"{'**met**' if met else '**not met**'} |"
        )
    if memory:
        m = {
            k: v / (1024 * 1024)
            for k, v in memory.items()
            if k in ("bodies", "bound", "held", "rss_growth", "rss")
        }
        lines += [
            "",
            f"Memory: {memory['toolsets']} iteration-mode toolsets of {memory['tools']:,} tools read once "
            f"each ({m['bodies']:.0f} MiB of bodies) with `TOOLSETS_STATE_CACHE_BYTES` = "
            f"{m['bound']:.0f} MiB: the cache holds {m['held']:.1f} MiB; the process's resident "
            f"memory grew by {m['rss_growth']:.0f} MiB (to {m['rss']:.0f} MiB).",
        ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # A bound well below what 40 large toolsets take, so that the check shows it holds.
    os.environ.setdefault("TOOLSETS_STATE_CACHE_BYTES", str(64 * 1024 * 1024))
    if args.database_url:
        print(asyncio.run(run(args, args.database_url)))
        return 0
    with tempfile.TemporaryDirectory(prefix="toolsets-large-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pgdata")
        maintenance_url = postgres.start()
        try:
            asyncio.run(harness._create_database(maintenance_url, harness.DATABASE))
            url = harness.with_database(maintenance_url, harness.DATABASE)
            migrations.upgrade(url)
            print(asyncio.run(run(args, url)))
        finally:
            postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
