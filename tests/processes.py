"""`toolsets` commands in their own processes, as production runs them: for tests that need
several servers on one database, a worker process, an installed wheel, or a kill -9."""

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

# How long a process may take to answer /readyz: generous, a loaded 2-core machine starts slowly.
READY_SECONDS = 90


def free_port() -> int:
    """A local port nothing listens on now (for a server to take, or for a refused connection)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ToolsetsProcess:
    """One `toolsets` command (`serve`, `worker`, `migrate`…) in its own process.

    `serve` gets a free port of its own unless the arguments name one; `url` is where it listens.
    """

    def __init__(
        self,
        *args: str,
        database_url: str | None = None,
        program: Sequence[str] = (sys.executable, "-m", "app"),
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        **extra_env: str,
    ) -> None:
        if args[:1] == ("serve",) and "--port" not in args:
            args = (*args, "--port", str(free_port()))
        self.command = (*program, *args)
        self.port = int(args[args.index("--port") + 1]) if "--port" in args else None
        base_env = dict(os.environ if env is None else env)
        if database_url is not None:
            base_env["DATABASE_URL"] = database_url
        self.env = {"TOOLSETS_LOG_LEVEL": "WARNING", **base_env, **extra_env}
        self.cwd = cwd
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "only a server has a URL"
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def wait_ready(self) -> None:
        """Until /readyz answers 200; fails at once if the process exits first."""
        deadline = time.monotonic() + READY_SECONDS
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"{self.command} exited with {self.returncode} before it was ready")
                try:
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.command} was not ready after {READY_SECONDS} s")

    async def serve(self) -> None:
        """Start and wait until ready."""
        await self.start()
        await self.wait_ready()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process else None

    async def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.process and self.running:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, grace_seconds: float = 20) -> int | None:
        """SIGTERM, then SIGKILL after the grace period; the exit code."""
        if self.process and self.running:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), grace_seconds)
            except TimeoutError:
                await self.kill()
        return self.returncode
