import asyncio
from collections.abc import Awaitable, Callable

import pytest

from app.db import migrations
from app.main import create_app


async def test_the_app_refuses_a_database_that_is_not_at_head(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    url = await new_database()
    await asyncio.to_thread(migrations.upgrade, url, "0001")
    app = create_app(url)
    with pytest.raises(RuntimeError, match="toolsets migrate"):
        async with app.router.lifespan_context(app):
            pass
