"""A webhook receiver on 127.0.0.1 for tests: records every request, answers as told."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    started: float
    finished: float = 0.0

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`statuses` are answered in order (then 200); `delay` seconds pass before each answer."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def wait_for(self, count: int) -> list[Received]:
        """Wait until `count` requests have been answered (fails after a minute, a safety net)."""
        async with asyncio.timeout(60):
            async with self._arrived:
                await self._arrived.wait_for(lambda: sum(1 for r in self.requests if r.finished) >= count)
        return self.requests

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(headers, body, time.monotonic())
            self.requests.append(received)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            await asyncio.sleep(self.delay)
            status = self.statuses.pop(0) if self.statuses else 200
            self.in_flight -= 1
            writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
            await writer.drain()
            received.finished = time.monotonic()
            async with self._arrived:
                self._arrived.notify_all()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receiver(statuses: list[int] | None = None, delay: float = 0.0) -> AsyncIterator[Receiver]:
    hook = Receiver(statuses=list(statuses or []), delay=delay)
    server = await asyncio.start_server(hook._handle, "127.0.0.1", 0)
    hook.port = server.sockets[0].getsockname()[1]
    try:
        yield hook
    finally:
        server.close()
        await server.wait_closed()
