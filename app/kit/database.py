"""The per-request database connection. Services open their own transaction on it."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.engine import side_engine


async def get_engine(request: Request) -> AsyncEngine:
    # async, like every dependency here: FastAPI runs a plain `def` in a worker thread.
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        yield conn


T = TypeVar("T")
S = TypeVar("S")


async def alongside(
    conn: AsyncConnection, main: Awaitable[T], side_read: Callable[[AsyncConnection], Awaitable[S]]
) -> tuple[T, S]:
    """`main` (a statement on `conn`) and, at the same time, `side_read`: reads in a read-only
    transaction of their own, on a connection of the side pool (`app.db.engine.side_engine`:
    never one `conn`'s own pool might have to wait for). Both are waited for whatever
    happens, so the side connection is back in its pool before an error propagates; when
    both fail, `main`'s error is raised, with a note of the side's."""

    async def side() -> S:
        async with side_engine(conn.engine).connect() as own:
            await own.execution_options(postgresql_readonly=True)  # BEGIN READ ONLY
            async with own.begin():
                return await side_read(own)

    first, second = await asyncio.gather(main, side(), return_exceptions=True)
    if isinstance(first, BaseException):
        if isinstance(second, BaseException):
            first.add_note(f"The read beside it failed too: {second!r}")
        raise first
    if isinstance(second, BaseException):
        raise second
    return first, second
