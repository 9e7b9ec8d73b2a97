"""Benchmarks of the toolsets service: served-state throughput, publish cost, unchanged releases.

    .venv/bin/python bench/run.py                    # 2-3 minutes on 2 cores
    .venv/bin/python bench/run.py --update-readme    # also refresh bench/README.md's results

Starts its own embedded PostgreSQL in a temporary folder and `toolsets serve --workers 2`
against it, measures, stops both, and writes a Markdown report to bench/results.md.
See bench/README.md for what is measured and how.
"""

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import shlex
import signal
import statistics
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

import asyncpg
import harness
import httpx
import seed
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import side_engine
from app.main import create_app

BENCH = Path(__file__).resolve().parent
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"
STAGING_TARGET = 0.9  # staging-mode effective reads >= 0.9 x /healthz
PUBLISH_GROWTH_TARGET = 3.0  # publish at the largest size <= 3 x publish at the smallest
CPU_PARTIES = ("service", "postgres", "wrk")
STAGING = "effective, staging mode"
ITERATION = "effective, iteration mode"
BARE = "bare FastAPI, same body"
IN_PROCESS_PUBLISHES = 4  # per size: a warm-up, then the median of the rest is shown
AFTER_EDIT_SAMPLES = 20
ITERATION_TARGET = 0.9  # unchanged iteration-mode reads >= 0.9 x /healthz
AFTER_EDIT_TARGET = 10.0  # a read right after an edit <= 10 x a single-client /healthz round trip


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="`toolsets serve --workers`")
    parser.add_argument("--served-tools", type=int, default=200, help="tools in the served-state toolsets")
    parser.add_argument("--wrk-seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--wrk-runs", type=int, default=3, help="wrk runs per endpoint (median taken)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=32)
    parser.add_argument("--sizes", default="10,500,5000", help="toolset sizes for the publish benchmark")
    parser.add_argument("--publish-runs", type=int, default=25, help="measured publishes per size")
    parser.add_argument("--output", type=Path, default=BENCH / "results.md")
    parser.add_argument("--update-readme", action="store_true", help="copy the report into bench/README.md")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the largest publish")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=60,
        help="before each phase, wait up to this many seconds for other processes to leave the CPUs idle",
    )
    return parser.parse_args(argv)


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- counting what SQLAlchemy sends ---


@dataclass
class Counted:
    statements: list[tuple[str, float]] = field(default_factory=list)  # (SQL, seconds)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each statement
    checkouts: int = 0  # pool checkouts (app/db/engine.py pings only connections idle 10 s or more)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time (Python, driver) over the same span

    def in_sql(self) -> float:
        """Wall time with at least one statement running (statements on two connections overlap)."""
        total, reached = 0.0, float("-inf")
        for start, end in sorted(self.spans):
            if end > reached:
                total += end - max(start, reached)
                reached = end
        return total


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Counted]:
    """Every statement through `before/after_cursor_execute` (not BEGIN/COMMIT), timed, and pool checkouts."""
    counted = Counted()
    started: dict[int, float] = {}  # by cursor: a publish runs a statement on a second connection meanwhile

    def before(_conn: Any, cursor: Any, *_: Any) -> None:
        started[id(cursor)] = perf_counter()

    def after(_conn: Any, cursor: Any, statement: str, *__: Any) -> None:
        start, end = started.pop(id(cursor)), perf_counter()
        counted.statements.append((statement, end - start))
        counted.spans.append((start, end))

    def checkout(*_: Any) -> None:
        counted.checkouts += 1

    # The app's pool, and the side pool of reads beside a request's statement.
    engines = [engine.sync_engine, side_engine(engine).sync_engine]
    for sync_engine in engines:
        event.listen(sync_engine, "before_cursor_execute", before)
        event.listen(sync_engine, "after_cursor_execute", after)
        event.listen(sync_engine.pool, "checkout", checkout)
    try:
        yield counted
    finally:
        for sync_engine in engines:
            event.remove(sync_engine, "before_cursor_execute", before)
            event.remove(sync_engine, "after_cursor_execute", after)
            event.remove(sync_engine.pool, "checkout", checkout)


@dataclass
class InProcess:
    """The app itself, in this process (same routers, dependencies and services as the server)."""

    client: httpx.AsyncClient
    engine: AsyncEngine


@asynccontextmanager
async def in_process_app(database_url: str, headers: dict[str, str]) -> AsyncIterator[InProcess]:
    app = create_app(database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://in-process", headers=headers, timeout=120
        ) as client:
            yield InProcess(client, app.state.engine)


async def counted_request(
    app: InProcess, method: str, path: str, status: int, body: Any = None, profile: bool = False
) -> tuple[Counted, str]:
    """One request to the in-process app, counting and timing its statements (optionally profiled)."""
    # Warm the API-key cache (a key is re-read from the database every few seconds).
    await seed.ok_response(await app.client.get("/v1/projects"), 200)
    profiler = cProfile.Profile() if profile else None
    with counting(app.engine) as counted:
        started, cpu_started = perf_counter(), process_time()
        if profiler:
            profiler.enable()
        try:
            response = await app.client.request(method, path, json=body)
        finally:
            if profiler:
                profiler.disable()
        counted.seconds = perf_counter() - started
        counted.cpu_seconds = process_time() - cpu_started
    await seed.ok_response(response, status)
    report = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        report = out.getvalue()
    return counted, report


def short_sql(statement: str, width: int = 100) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# --- served state ---


@dataclass
class Target:
    name: str
    path: str
    server: harness.ProcessGroup
    base_url: str
    in_service: bool = True  # counted in the in-process app too

    @property
    def url(self) -> str:
        return self.base_url + self.path


async def served_phase(
    args: argparse.Namespace,
    stack: harness.Stack,
    client: httpx.AsyncClient,
    pg: asyncpg.Connection,
    app: InProcess,
) -> dict[str, Any]:
    n = args.served_tools
    log(f"served state: seeding a project of {n} tools, {n} global and {n} toolset variations per toolset")
    paths = await seed.served_project(client, pg, stack.organization, n)
    assert stack.service is not None
    service = stack.service
    targets = [
        Target("/healthz", "/healthz", service, stack.base_url),
        Target(STAGING, paths["staging"], service, stack.base_url),
        Target(ITERATION, paths["iteration"], service, stack.base_url),
    ]
    # Reference: the same body from a bare FastAPI app (no middleware, dependencies or database).
    body = (await seed.ok_response(await client.get(targets[1].path), 200)).content
    body_file = stack.tmp / "body.json"
    body_file.write_bytes(body)
    port = harness.free_port()
    bare = stack.start_server(
        "bare FastAPI",
        [
            sys.executable,
            *("-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH), "--host", harness.HOST),
            *(
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ),
        ],
        {**os.environ, "BENCH_BODY_FILE": str(body_file)},
        f"http://{harness.HOST}:{port}/healthz",
    )
    targets.append(Target(BARE, "/body", bare, f"http://{harness.HOST}:{port}", in_service=False))

    sizes: dict[str, int] = {}
    sequential: dict[str, float] = {}
    for target in targets:
        response = await seed.ok_response(await client.get(target.url), 200)
        sizes[target.name] = len(response.content)
        if target.name in (STAGING, ITERATION):
            tools = response.json()["tools"]
            first = tools[0]
            # Both variation layers are applied: toolset name and title, global description.
            assert len(tools) == n, (target.name, len(tools))
            assert first["name"].startswith("ts_"), first
            assert first["description"].startswith("Global"), first
        samples = []
        for _ in range(40):
            started = perf_counter()
            (await client.get(target.url)).raise_for_status()
            samples.append(perf_counter() - started)
        sequential[target.name] = p50(samples)

    # Iteration mode right after an edit: the read has to compute the new state.
    iterated = paths["iteration"].removesuffix("/effective")
    first_urn = seed.tool_urn(0)
    after_edit = []
    for i in range(AFTER_EDIT_SAMPLES + 1):
        await seed.ok(
            await client.put(f"{iterated}/variations/{first_urn}", json={"title": f"edit {i}"}), 200
        )
        started = perf_counter()
        response = await seed.ok_response(await client.get(f"{iterated}/effective"), 200)
        elapsed = perf_counter() - started
        assert response.json()["tools"][0]["title"] == f"edit {i}", "the edit must be served at once"
        if i:  # the first warms up
            after_edit.append(elapsed)

    headers = {"Authorization": f"Bearer {stack.api_key}"}
    busy = await asyncio.to_thread(harness.wait_for_quiet, args.wait_idle)
    log(f"served state: CPUs {busy:.0%} busy with other work; wrk warm-up")

    async def run_wrk(target: Target, seconds: int) -> harness.WrkResult:
        sessions = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        before = await pg.fetchval(sessions)
        result = await asyncio.to_thread(
            harness.wrk,
            stack,
            target.server,
            target.url,
            headers,
            seconds,
            args.wrk_threads,
            args.wrk_connections,
        )
        await asyncio.sleep(0.5)  # backends that ended report their session as they exit
        result.new_sessions = await pg.fetchval(sessions) - before
        return result

    for target in targets:
        await run_wrk(target, 2)
    runs: dict[str, list[harness.WrkResult]] = {target.name: [] for target in targets}
    for run in range(args.wrk_runs):
        for target in targets:
            result = await run_wrk(target, args.wrk_seconds)
            runs[target.name].append(result)
            log(
                f"wrk run {run + 1}/{args.wrk_runs} {target.name}: {result.requests_per_second:.0f} req/s, "
                f"p50 {result.p50_ms:.2f} ms, non-2xx {result.non_2xx}, socket errors {result.socket_errors}"
            )

    log("served state: statements per request, in-process")
    per_request = await served_statements(app, {t.name: t.path for t in targets if t.in_service})
    return {
        "tools": n,
        "targets": {t.name: t.path for t in targets},
        "runs": runs,
        "sizes": sizes,
        "sequential": sequential,
        "after_edit": p50(after_edit),
        "per_request": per_request,
        "busy": busy,
    }


async def served_statements(app: InProcess, targets: dict[str, str]) -> dict[str, tuple[float, float]]:
    """SQL statements and pool checkouts per request, in the in-process app (warm caches)."""
    out: dict[str, tuple[float, float]] = {}
    for name, path in targets.items():
        for _ in range(3):
            await seed.ok_response(await app.client.get(path), 200)
        requests = 20
        with counting(app.engine) as counted:
            for _ in range(requests):
                await seed.ok_response(await app.client.get(path), 200)
        out[name] = (len(counted.statements) / requests, counted.checkouts / requests)
    return out


# --- publish cost and unchanged releases ---


@dataclass
class SizeResult:
    tools: int
    setup_seconds: float
    project: str
    base: str
    first_urn: str
    create_staging: list[float] = field(default_factory=list)
    edit_variation: list[float] = field(default_factory=list)
    publish: list[float] = field(default_factory=list)
    publish_counted: Counted | None = None
    publish_counts: list[int] = field(default_factory=list)  # both in-process publishes
    release_counted: Counted | None = None
    release_rows: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    profile: str = ""
    busy: float = 0.0


async def staging_cycle(client: httpx.AsyncClient, base: str, urn: str, i: int) -> tuple[float, float]:
    """Create a staging copy and change one staging variation; returns both latencies."""
    started = perf_counter()
    await seed.ok(await client.post(f"{base}/staging"), 201)
    created = perf_counter() - started
    started = perf_counter()
    await seed.ok(await client.put(f"{base}/staging/variations/{urn}", json={"title": f"run {i}"}), 200)
    return created, perf_counter() - started


async def rows_written_by_release(
    pg: asyncpg.Connection, client: httpx.AsyncClient, base: str
) -> dict[str, tuple[int, int, int]]:
    """(inserted, updated, deleted) per table by one POST .../releases.

    Inserted and deleted rows from each table's count before and after; rows written
    (inserted or updated) are those whose xmin is the release's transaction id.
    """
    tables = [
        r[0]
        for r in await pg.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('alembic_version', 'bench_insert') ORDER BY 1"
        )
    ]
    before = {t: await pg.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}
    release = await seed.ok(await client.post(f"{base}/releases", json={"notes": "unchanged"}), 201)
    xid = await pg.fetchval("SELECT xmin::text FROM toolset_releases WHERE id = $1::uuid", release["id"])
    written: dict[str, tuple[int, int, int]] = {}
    for t in tables:
        after = await pg.fetchval(f'SELECT count(*) FROM "{t}"')
        touched = await pg.fetchval(f'SELECT count(*) FROM "{t}" WHERE xmin::text = $1', xid)
        inserted, deleted = max(after - before[t], 0), max(before[t] - after, 0)
        if touched or deleted:
            written[t] = (inserted, touched - inserted, deleted)
    return written


@dataclass
class Baselines:
    """Samples (seconds) of the publish phase's baselines, interleaved with the publishes."""

    inserts: list[float] = field(default_factory=list)  # BEGIN; INSERT; COMMIT with asyncpg
    reads: list[float] = field(default_factory=list)  # a one-row authenticated GET over HTTP
    api_inserts: list[float] = field(default_factory=list)  # createProject: one INSERT via the API


async def publish_phase(
    args: argparse.Namespace,
    stack: harness.Stack,
    client: httpx.AsyncClient,
    pg: asyncpg.Connection,
    app: InProcess,
) -> tuple[list[SizeResult], Baselines]:
    await pg.execute(
        "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload text NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())"
    )
    base = Baselines()

    async def insert_samples(count: int) -> None:
        for _ in range(count):
            started = perf_counter()
            async with pg.transaction():
                await pg.execute("INSERT INTO bench_insert (payload) VALUES ($1)", "bench")
            base.inserts.append(perf_counter() - started)
        # The floor of any request that reads the database: one row, over HTTP, authenticated.
        for _ in range(count):
            started = perf_counter()
            await seed.ok(await client.get(f"/v1/projects/{results[0].project}"), 200)
            base.reads.append(perf_counter() - started)
        # The same single-row INSERT transaction made through the API: createProject is one
        # INSERT in one transaction, behind the same HTTP, authentication and JSON as a publish.
        for _ in range(count):
            slug = f"baseline-{len(base.api_inserts)}"
            started = perf_counter()
            await seed.ok(await client.post("/v1/projects", json={"name": slug, "slug": slug}), 201)
            base.api_inserts.append(perf_counter() - started)

    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[SizeResult] = []
    for n in sizes:
        log(f"publish: seeding {n} tools with {n} global and {n} toolset variations")
        started = perf_counter()
        project = f"pub{n}"
        urns = await seed.project_with_tools(client, project, n)
        created = await seed.toolset(client, project, "ts", urns)
        await seed.global_variations(pg, stack.organization, project, urns)
        await seed.toolset_variations(pg, created["id"], urns)
        await seed.switch_to_staging(client, project, "ts")
        results.append(
            SizeResult(
                tools=n,
                setup_seconds=perf_counter() - started,
                project=project,
                base=f"/v1/projects/{project}/toolsets/ts",
                first_urn=urns[0],
            )
        )

    async def cycle(result: SizeResult, i: int) -> None:
        create_s, edit_s = await staging_cycle(client, result.base, result.first_urn, i)
        started = perf_counter()
        await seed.ok(await client.post(f"{result.base}/staging/publish", json={"notes": f"run {i}"}), 201)
        publish_s = perf_counter() - started
        if i:  # the first is a warm-up
            result.create_staging.append(create_s)
            result.edit_variation.append(edit_s)
            result.publish.append(publish_s)

    busy = await asyncio.to_thread(harness.wait_for_quiet, args.wait_idle)
    log(f"publish: CPUs {busy:.0%} busy with other work; {args.publish_runs} rounds over all sizes")
    for result in results:
        result.busy = busy
        await cycle(result, 0)
    await insert_samples(10)
    # Round-robin over the sizes (alternating direction), so that a burst of other load on the
    # machine lands on every size alike; INSERT samples are taken between rounds.
    for i in range(1, args.publish_runs + 1):
        for result in results if i % 2 else results[::-1]:
            await cycle(result, i)
        await insert_samples(5)
    for result in results:
        log(
            f"publish {result.tools} tools: p50 {ms(p50(result.publish))} ms (create staging "
            f"{ms(p50(result.create_staging))} ms, edit {ms(p50(result.edit_variation))} ms)"
        )

    for result in results:
        # The same publish through the app in-process, a few times, to count and time its statements.
        attempts: list[Counted] = []
        for attempt in range(IN_PROCESS_PUBLISHES):
            await staging_cycle(client, result.base, result.first_urn, -1 - attempt)
            counted, profile = await counted_request(
                app,
                "POST",
                f"{result.base}/staging/publish",
                201,
                {"notes": "counted"},
                profile=args.profile and attempt == IN_PROCESS_PUBLISHES - 1 and result is results[-1],
            )
            result.profile = profile or result.profile
            attempts.append(counted)
        # Timings: the publish of median duration among those after the first (a warm-up).
        warm = sorted(attempts[1:], key=lambda c: c.seconds)
        result.publish_counted = warm[len(warm) // 2]
        result.publish_counts = [len(c.statements) for c in attempts]
        # Releases of the unchanged toolset: rows written over HTTP, statements in-process.
        result.release_rows = await rows_written_by_release(pg, client, result.base)
        result.release_counted, _ = await counted_request(
            app, "POST", f"{result.base}/releases", 201, {"notes": "counted"}
        )
    return results, base


# --- the report ---


def render(
    args: argparse.Namespace,
    command: str,
    facts: dict[str, Any],
    served: dict[str, Any],
    sizes: list[SizeResult],
    base: Baselines,
) -> str:
    lines: list[str] = []
    add = lines.append
    m = facts["machine"]
    add(
        f"Measured {facts['date']} on {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, "
        f"Linux {m['kernel']}, Python {m['python']}, PostgreSQL {facts['postgres']} (embedded, "
        f"same machine), service at commit {facts['revision']}, `--workers {args.workers}`."
    )
    add("")
    add(f"Command: `{command}`")
    add("")
    add(
        "Other work on the machine (CPUs busy just before the phase, while the benchmark was idle): "
        f"served state {served['busy']:.0%}, publish {sizes[0].busy:.0%}; load average at the start "
        f"{facts['loadavg']}."
    )
    add("")
    render_served(args, served, add)
    render_publish(args, served, sizes, base, add)
    return "\n".join(lines)


def verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def render_served(args: argparse.Namespace, served: dict[str, Any], add: Callable[[str], None]) -> None:
    runs: dict[str, list[harness.WrkResult]] = served["runs"]
    medians = {name: p50([r.requests_per_second for r in results]) for name, results in runs.items()}
    tools = served["tools"]
    add(
        f"### Served state: {args.wrk_runs} x `wrk -t{args.wrk_threads} -c{args.wrk_connections} "
        f"-d{args.wrk_seconds}s` per endpoint, interleaved; {tools} tools, {tools} global and "
        f"{tools} toolset variations"
    )
    add("")
    add("| endpoint | req/s, median | runs | x /healthz | wrk p50 / p99 ms | target |")
    add("| --- | ---: | --- | ---: | --- | --- |")
    for name, results in runs.items():
        ratio = medians[name] / medians["/healthz"]
        middle = sorted(results, key=lambda r: r.requests_per_second)[len(results) // 2]
        errors = sum(r.non_2xx + r.socket_errors for r in results)
        if name == STAGING:
            goal = f"≥ {STAGING_TARGET} x /healthz: {verdict(ratio >= STAGING_TARGET)}"
            goal += f" ({medians[name] / medians[BARE]:.2f} x the bare app serving the same body)"
        elif name == ITERATION:
            goal = f"≥ {ITERATION_TARGET} x /healthz: {verdict(ratio >= ITERATION_TARGET)}"
        else:
            goal = {"/healthz": "baseline", BARE: "reference, not the service"}.get(name, "none")
        add(
            f"| {name}: `{served['targets'][name]}` | {medians[name]:,.0f} | "
            f"{', '.join(f'{r.requests_per_second:,.0f}' for r in results)} | {ratio:.2f} | "
            f"{middle.p50_ms:.2f} / {middle.p99_ms:.2f} | {goal}"
            + (f" ({errors} non-2xx or socket errors)" if errors else "")
            + " |"
        )
    add("")
    after, healthz = served["after_edit"], served["sequential"]["/healthz"]
    add(
        f"Iteration mode right after an edit (a `PUT …/variations/{{urn}}` of the iteration-mode "
        f"toolset, then one `GET …/effective` by a single client, p50 of {AFTER_EDIT_SAMPLES}; the "
        f"edit is checked to be served): **{after * 1000:.2f} ms**, {after / healthz:.1f} x a "
        f"single-client `/healthz` round trip ({healthz * 1000:.2f} ms); target ≤ "
        f"{AFTER_EDIT_TARGET:.0f} x: {verdict(after / healthz <= AFTER_EDIT_TARGET)}."
    )
    add("")
    add(
        "Cost per request: CPU time used during the wrk runs by the server's processes, by "
        "PostgreSQL's (ended backends included) and by wrk, divided by the requests served, and "
        "the throughput ratio that implies when the CPUs are the limit (/healthz's total CPU per "
        "request over the endpoint's; less sensitive to other load than req/s); "
        "PostgreSQL sessions started during the runs; SQL statements and pool checkouts per "
        "request in an in-process app (a checkout pings only a connection idle for 10 s or more: "
        "with SQLAlchemy's asyncpg dialect a ping is `BEGIN`, `;`, `ROLLBACK`, three round trips)."
    )
    add("")
    add(
        "| endpoint | 1 client p50 ms | body bytes | CPU ms: server | PostgreSQL | wrk | "
        "x /healthz by CPU | new PG sessions / 1k req | SQL statements + checkouts |"
    )
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")

    def cpu_per_request(results: list[harness.WrkResult]) -> dict[str, float]:
        requests = sum(r.requests for r in results)
        return {k: sum(r.cpu[k] for r in results) / requests for k in CPU_PARTIES}

    healthz_cpu = sum(cpu_per_request(runs["/healthz"]).values())
    for name, results in runs.items():
        requests = sum(r.requests for r in results)
        per_request = cpu_per_request(results)
        cpu = " | ".join(f"{per_request[k] * 1000:.2f}" for k in CPU_PARTIES)
        bound = healthz_cpu / sum(per_request.values())
        cpu += f" | {bound:.2f}" if bound >= 0.1 else f" | {bound:.3f}"
        sessions = sum(r.new_sessions for r in results) / requests * 1000
        counted = served["per_request"].get(name)
        statements = f"{counted[0]:g} + {counted[1]:g}" if counted else "—"
        add(
            f"| {name} | {served['sequential'][name] * 1000:.2f} | {served['sizes'][name]:,} | {cpu} | "
            f"{sessions:.0f} | {statements} |"
        )
    add("")


def render_publish(
    args: argparse.Namespace,
    served: dict[str, Any],
    sizes: list[SizeResult],
    base: Baselines,
    add: Callable[[str], None],
) -> None:
    insert_p50 = p50(base.inserts)
    read_p50 = p50(base.reads)
    api_insert_p50 = p50(base.api_inserts)
    smallest, largest = sizes[0], sizes[-1]
    add(
        f"### Publish: `POST …/staging/publish`, p50 of {args.publish_runs} measured by the client, "
        "each after a new staging copy with one changed staging variation (sizes round-robin)"
    )
    add("")
    add(
        f"Baseline: a single-row INSERT transaction (`BEGIN; INSERT; COMMIT` with asyncpg, same "
        f"database, interleaved with the publishes), p50 **{ms(insert_p50)} ms** over {len(base.inserts)} "
        "samples; one sequential HTTP `/healthz` round trip "
        f"{served['sequential']['/healthz'] * 1000:.2f} ms. For scale, the floor of any request that "
        f"reads the database (`GET /v1/projects/{sizes[0].project}`: one row, over HTTP, authenticated, "
        f"interleaved the same way): p50 {ms(read_p50)} ms, {read_p50 / insert_p50:.1f} x the INSERT "
        "transaction. And the single-row INSERT transaction made through the API (`POST /v1/projects`: "
        "one INSERT in one transaction, behind the same HTTP, authentication and JSON as a publish, "
        f"interleaved the same way): p50 **{ms(api_insert_p50)} ms**."
    )
    add("")
    add(
        "| tools (= global = toolset variations) | publish p50 ms | x INSERT txn | x INSERT via API | "
        "x one-row read | "
        f"x {smallest.tools} tools | SQL statements | in-process ms (in SQL) | create staging p50 ms | "
        "staging variation PUT p50 ms |"
    )
    add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in sizes:
        counted = s.publish_counted
        assert counted is not None
        sql = counted.in_sql()
        publish = p50(s.publish)
        add(
            f"| {s.tools:,} | {ms(publish)} | {publish / insert_p50:.1f} | {publish / api_insert_p50:.1f} | "
            f"{publish / read_p50:.1f} | {publish / p50(smallest.publish):.2f} | "
            f"{len(counted.statements)} | "
            f"{ms(counted.seconds)} ({ms(sql)}) | {ms(p50(s.create_staging))} | {ms(p50(s.edit_variation))} |"
        )
    add("")
    growth = p50(largest.publish) / p50(smallest.publish)
    counts = {count for s in sizes for count in s.publish_counts}
    add(
        f"Targets: publish at {largest.tools:,} tools ≤ {PUBLISH_GROWTH_TARGET:g} x publish at "
        f"{smallest.tools}: {growth:.2f} x, {verdict(growth <= PUBLISH_GROWTH_TARGET)}; the same statement "
        f"count at every size ({IN_PROCESS_PUBLISHES} in-process publishes each: "
        f"{', '.join(map(str, sorted(counts)))} statements): "
        f"{verdict(len(counts) == 1)}."
    )
    add("")

    add("### Release of an unchanged toolset: `POST …/releases` right after a publish")
    add("")
    add("| tools | rows written, table: inserted / updated / deleted | createRelease SQL statements |")
    add("| ---: | --- | ---: |")
    for s in sizes:
        rows = ", ".join(f"`{t}` {i} / {u} / {d}" for t, (i, u, d) in sorted(s.release_rows.items()))
        count = len(s.release_counted.statements) if s.release_counted else 0
        add(f"| {s.tools:,} | {rows} | {count} |")
    add("")
    expected = {
        "toolset_releases": (1, 0, 0),
        "toolsets": (0, 1, 0),
        "toolset_audit_entries": (1, 0, 0),
        "served_history": (1, 0, 0),
    }
    add(
        "Expected: one `toolset_releases` row, the update of the live `toolsets` row's pointer, "
        "one `toolset_audit_entries` row and one `served_history` row (the pointer moved to a new "
        f"release number): {verdict(all(s.release_rows == expected for s in sizes))}."
    )
    add("")

    render_publish_statements(sizes, add)


def render_publish_statements(sizes: list[SizeResult], add: Callable[[str], None]) -> None:
    """The slowest statements of the largest publish, with the same statement's time at every size.

    A statement's SQL is the same at every size (its values are parameters), so the rows line
    up by SQL; two statements with the same SQL in one publish are told apart by occurrence.
    """
    counted = [s.publish_counted for s in sizes]
    assert all(c is not None for c in counted)
    found = [c for c in counted if c is not None]
    by_sql = [_by_sql(c.statements) for c in found]
    largest = by_sql[-1]
    add(
        f"### Where a publish spends its time: the slowest statements at {sizes[-1].tools:,} tools "
        f"(in-process: the median of {IN_PROCESS_PUBLISHES - 1} after a warm-up), in the order they finished"
    )
    add("")
    add("| # | statement | " + " | ".join(f"ms at {s.tools:,}" for s in sizes) + " |")
    add("| ---: | --- | " + " | ".join("---:" for _ in sizes) + " |")
    order = list(largest)
    slowest = sorted(order, key=lambda key: -largest[key])[:8]
    for key in sorted(slowest, key=order.index):
        escaped = short_sql(key[0]).replace("|", "\\|")
        times = " | ".join(ms(t[key]) if key in t else "—" for t in by_sql)
        add(f"| {order.index(key) + 1} | `{escaped}` | {times} |")
    rest = [sum(d for key, d in t.items() if key not in slowest) for t in by_sql]
    outside = [c.seconds - c.in_sql() for c in found]
    add("| | all other statements | " + " | ".join(ms(r) for r in rest) + " |")
    add(
        "| | outside statements (no statement running): Python, `BEGIN`, `COMMIT` | "
        + " | ".join(ms(o) for o in outside)
        + " |"
    )
    add("| | **whole publish, in-process** | " + " | ".join(ms(c.seconds) for c in found) + " |")
    add(
        "| | of which Python CPU (process time, spread over the rows above) | "
        + " | ".join(ms(c.cpu_seconds) for c in found)
        + " |"
    )
    add("")


def _by_sql(statements: list[tuple[str, float]]) -> dict[tuple[str, int], float]:
    """Seconds by (SQL, occurrence), in the order the statements finished."""
    seen: dict[str, int] = {}
    out: dict[tuple[str, int], float] = {}
    for sql, seconds in statements:
        seen[sql] = seen.get(sql, 0) + 1
        out[(sql, seen[sql])] = seconds
    return out


def update_readme(report: str) -> None:
    readme = BENCH / "README.md"
    content = readme.read_text()
    start, end = content.index(README_START), content.index(README_END)
    readme.write_text(content[: start + len(README_START)] + "\n" + report + "\n" + content[end:])


async def measure(args: argparse.Namespace, stack: harness.Stack) -> tuple[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    pg = await asyncpg.connect(stack.database_url)
    try:
        facts = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": harness.machine(),
            "postgres": await pg.fetchval("SELECT current_setting('server_version')"),
            "revision": harness.git_revision(),
            "loadavg": harness.load_average(),
        }
        limits = httpx.Limits(max_connections=4)
        async with (
            httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=60, limits=limits) as client,
            in_process_app(stack.database_url, headers) as app,
        ):
            served = await served_phase(args, stack, client, pg, app)
            sizes, base = await publish_phase(args, stack, client, pg, app)
    finally:
        await pg.close()
    command = shlex.join([".venv/bin/python", "bench/run.py", *sys.argv[1:]])
    report = render(args, command, facts, served, sizes, base)
    return report, {"profile": sizes[-1].profile}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the service and PostgreSQL are stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = perf_counter()
    with harness.Stack(workers=args.workers) as stack:
        try:
            report, extra = asyncio.run(measure(args, stack))
        except BaseException:
            print(f"[bench] service log (tail):\n{stack.log_tail()}", file=sys.stderr)
            raise
    args.output.write_text(report + "\n")
    if args.update_readme:
        update_readme(report)
    if extra["profile"]:
        print(extra["profile"])
    print(report)
    log(f"done in {perf_counter() - started:.0f}s; report written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
