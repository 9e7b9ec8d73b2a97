"""The per-request database connection. Services open their own transaction on it."""

from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


async def get_engine(request: Request) -> AsyncEngine:
    # async, like every dependency here: FastAPI runs a plain `def` in a worker thread.
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        yield conn
