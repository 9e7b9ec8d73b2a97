"""The per-request database connection. Services open their own transaction on it."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


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
    """`main` (a statement on `conn`) and `side_read`, reads in a transaction of their own on
    a connection of their own, at the same time; both are waited for whatever happens, so
    the side connection is back in the pool before an error propagates."""

    async def side() -> S:
        async with conn.engine.connect() as own, own.begin():
            return await side_read(own)

    first, second = await asyncio.gather(main, side(), return_exceptions=True)
    for outcome in (first, second):
        if isinstance(outcome, BaseException):
            raise outcome
    return first, second  # type: ignore[return-value]
