"""The benchmark's own PostgreSQL and service, and the load generator.

`Stack` starts an embedded PostgreSQL in a temporary folder, migrates a database in
it, makes an API key and runs `toolsets serve` as a subprocess against that database
(with DATABASE_URL set, so the service never starts a PostgreSQL of its own). Closing
it stops the service (its whole process group, by the id this script started) and
then PostgreSQL, whatever happened before.
"""

import asyncio
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.db import migrations
from app.db.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
DATABASE = "toolsets_bench"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def toolsets_command() -> list[str]:
    script = Path(sys.executable).parent / "toolsets"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app"]


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _create_database(maintenance_url: str, name: str) -> None:
    conn = await asyncpg.connect(maintenance_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


class ProcessGroup:
    """A server subprocess in a process group of its own (so its workers stop with it)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path, ready_url: str):
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.process.pid
        try:
            self._wait_ready(ready_url)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, url: str, timeout: float = 60.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            # start_new_session: the group's id is the id of the process started here.
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()

    def cpu_seconds(self, stats: list["_Stat"]) -> float:
        """CPU time used so far by the group's processes (workers that exited included)."""
        total = 0.0
        for stat in stats:
            if stat.pid == self.pid:
                total += stat.own + stat.children
            elif stat.pgrp == self.pid:
                total += stat.own
        return total

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Stack:
    """PostgreSQL + migrated database + API key + `toolsets serve`; use as a context manager."""

    def __init__(self, workers: int = 2, organization: str = "bench") -> None:
        self.workers = workers
        self.organization = organization
        self.database_url = ""
        self.base_url = ""
        self.api_key = ""
        self.tmp = Path()
        self.pgdata = Path()
        self.service: ProcessGroup | None = None
        self._exit = ExitStack()

    def __enter__(self) -> "Stack":
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def _start(self) -> None:
        self.tmp = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="toolsets-bench-")))
        print(f"[bench] embedded PostgreSQL in {self.tmp}", flush=True)
        self.pgdata = self.tmp / "pgdata"
        postgres = EmbeddedPostgres(self.pgdata)
        maintenance_url = postgres.start()
        self._exit.callback(postgres.stop)
        asyncio.run(_create_database(maintenance_url, DATABASE))
        self.database_url = with_database(maintenance_url, DATABASE)
        migrations.upgrade(self.database_url)

        env = {**os.environ, "DATABASE_URL": self.database_url}
        made = subprocess.run(
            [*toolsets_command(), "create-api-key", "--organization", self.organization],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        self.api_key = made.stdout.strip().splitlines()[-1]

        port = free_port()
        self.base_url = f"http://{HOST}:{port}"
        command = [*toolsets_command(), "serve", "--host", HOST, "--port", str(port)]
        self.service = self.start_server(
            "the service", [*command, "--workers", str(self.workers)], env, f"{self.base_url}/readyz"
        )
        print(f"[bench] service ready at {self.base_url} ({self.workers} workers)", flush=True)

    def start_server(
        self, name: str, command: list[str], env: dict[str, str], ready_url: str
    ) -> ProcessGroup:
        """Start a server subprocess that is stopped (before PostgreSQL) when the stack closes."""
        log_path = self.tmp / f"{name.replace(' ', '-')}.log"
        server = ProcessGroup(name, command, env, log_path, ready_url)
        self._exit.callback(server.stop)
        return server

    def cpu_seconds(self, server: ProcessGroup | None = None) -> dict[str, float]:
        """CPU time used so far by a server (the service by default) and by PostgreSQL."""
        server = server or self.service
        assert server is not None
        postmaster = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        stats = _all_stats()
        postgres = 0.0
        for stat in stats:
            if stat.pid == postmaster:
                postgres += stat.own + stat.children  # backends that exited (overflow connections)
            elif stat.ppid == postmaster:
                postgres += stat.own
        return {"service": server.cpu_seconds(stats), "postgres": postgres}

    def settle(self, server: ProcessGroup, limit_seconds: float = 15.0) -> None:
        """Wait until `server` and PostgreSQL use less than a tenth of a CPU."""
        deadline = time.monotonic() + limit_seconds
        previous = sum(self.cpu_seconds(server).values())
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = sum(self.cpu_seconds(server).values())
            if now - previous < 0.025:
                return
            previous = now

    def log_tail(self) -> str:
        return self.service.log_tail() if self.service else ""


@dataclass
class _Stat:
    pid: int
    ppid: int
    pgrp: int
    own: float  # utime + stime, seconds
    children: float  # cutime + cstime of waited-for children, seconds


def _all_stats() -> list[_Stat]:
    tick = os.sysconf("SC_CLK_TCK")
    stats = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = raw[raw.rindex(")") + 2 :].split()  # fields[0] is field 3 of proc(5), `state`
        stats.append(
            _Stat(
                pid=int(entry.name),
                ppid=int(fields[1]),
                pgrp=int(fields[2]),
                own=(int(fields[11]) + int(fields[12])) / tick,
                children=(int(fields[13]) + int(fields[14])) / tick,
            )
        )
    return stats


# --- wrk ---


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    cpu: dict[str, float] = field(default_factory=dict)  # seconds used during the run, by whom
    new_sessions: int = 0  # PostgreSQL sessions started during the run


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not (rps and total and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def wrk(
    stack: Stack,
    server: ProcessGroup,
    url: str,
    headers: dict[str, str],
    seconds: int,
    threads: int,
    connections: int,
) -> WrkResult:
    """One wrk run against `server`, with the CPU time each party used during it."""
    before, wrk_before = stack.cpu_seconds(server), resource.getrusage(resource.RUSAGE_CHILDREN)
    result = _wrk(url, headers, seconds, threads, connections)
    after, wrk_after = stack.cpu_seconds(server), resource.getrusage(resource.RUSAGE_CHILDREN)
    result.cpu = {name: after[name] - before[name] for name in after}
    result.cpu["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    # Requests still in flight when wrk stopped go on running; let them finish before the next run.
    stack.settle(server)
    return result


def _wrk(url: str, headers: dict[str, str], seconds: int, threads: int, connections: int) -> WrkResult:
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30)
    return parse_wrk(done.stdout)


# --- the machine ---


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with Path("/proc/cpuinfo").open() as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with Path("/proc/meminfo").open() as info:
        for line in info:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _cpu_times() -> tuple[int, int]:
    with Path("/proc/stat").open() as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values), idle


def cpu_busy(seconds: float = 1.0) -> float:
    """The fraction of all CPUs busy over `seconds` (run while this benchmark itself is idle)."""
    total0, idle0 = _cpu_times()
    time.sleep(seconds)
    total1, idle1 = _cpu_times()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_for_quiet(limit_seconds: float, threshold: float = 0.15) -> float:
    """Wait up to `limit_seconds` for other processes to leave the CPUs mostly idle; returns busy."""
    deadline = time.monotonic() + limit_seconds
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy()
    return busy


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app", "alembic"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (with uncommitted changes in app/ or alembic/)" if dirty else head
