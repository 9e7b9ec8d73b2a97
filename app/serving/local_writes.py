"""Read-your-writes within a process, whoever wrote.

Another process learns of a change from the triggers' NOTIFY; the process that made it
must not wait for that. Every statement this process runs is checked for a write to a
table a served state depends on, and when such a transaction commits, this process
drops its pointers and iteration bodies at once (release bodies never change). Coarse on
purpose: it holds for every write path, including ones added later, and writes are rare
next to reads.
"""

import re
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.serving.caches import ServedCache

# The tables a served state is read from (the triggers of revisions 0005 and 0006 notify
# their changes to the other processes).
SERVED_TABLES = frozenset(
    {
        "toolsets",
        "toolset_versions",
        "toolset_prompts",
        "tool_variations",
        "tool_variations_groups",
        "project_tool_variations",
        "deployments",
        "prompt_templates",
    }
)
_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE)\s+\"?(\w+)", re.IGNORECASE)
_DIRTY = "served_tables_written"


@lru_cache(maxsize=4096)  # statements repeat (compiled once, cached): scan each text once
def writes_served_table(statement: str) -> bool:
    return any(m.group(1).lower() in SERVED_TABLES for m in _WRITE.finditer(statement))


def track_local_writes(engine: AsyncEngine, cache: ServedCache) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _seen(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if writes_served_table(statement):
            conn.info[_DIRTY] = True
            if conn.in_transaction() is False:  # autocommit: already effective
                cache.drop()

    @event.listens_for(sync_engine, "commit")
    def _committed(conn: Any) -> None:
        if conn.info.pop(_DIRTY, False):
            cache.drop()

    @event.listens_for(sync_engine, "rollback")
    def _rolled_back(conn: Any) -> None:
        if not conn.invalidated:  # a lost connection has no info left, and wrote nothing
            conn.info.pop(_DIRTY, None)
