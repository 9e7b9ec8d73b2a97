"""Every statement of the prompt templates domain.

Templates are copy-on-write: an edit inserts a row with the same `history_id` and
`predecessor_id` = the row it replaces. The current revision of a history is the row
no other row names as its predecessor; deletion stamps `deleted_at` on every row of the
history. Rows are never updated otherwise, and never deleted.
"""

from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    RowMapping,
    Text,
    cast,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import prompt_templates

pt = prompt_templates

CONTENT_COLUMNS = (
    pt.c.id,
    pt.c.history_id,
    pt.c.name,
    pt.c.description,
    pt.c.prompt,
    pt.c.arguments,
    pt.c.created_at,
)


def is_current(revision: FromClause = pt) -> ColumnElement[bool]:
    """True for the newest revision of its history: no row names it as predecessor.

    The one definition of "current revision" (of `revision`, prompt_templates or an
    alias of it): served states and capture use it too.
    """
    successor = pt.alias("successor")
    return ~exists().where(successor.c.predecessor_id == revision.c.id)


def is_current_live(revision: FromClause = pt) -> ColumnElement[bool]:
    """The current revision of a template that is not deleted."""
    return revision.c.deleted_at.is_(None) & is_current(revision)


def _revision_count() -> ColumnElement[int]:
    """The current revision's number: a history is a chain, so its length."""
    same_history = pt.alias("same_history")
    return (
        select(func.count())
        .select_from(same_history)
        .where(same_history.c.history_id == pt.c.history_id)
        .scalar_subquery()
    )


CURRENT_COLUMNS = (*CONTENT_COLUMNS, _revision_count().label("revision"))


async def lock_project_templates(conn: AsyncConnection, project_id: UUID) -> None:
    """Serialize writers of one project's templates until the transaction ends.

    Name uniqueness among live templates (which no constraint can express over a
    copy-on-write table) holds because every writer takes this lock first.
    """
    key = literal("prompt_templates:").concat(cast(literal(project_id, pt.c.project_id.type), Text))
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def find_current(conn: AsyncConnection, project_id: UUID, name: str) -> RowMapping | None:
    """The current revision of the live (not deleted) template with this name."""
    stmt = select(*CURRENT_COLUMNS).where(pt.c.project_id == project_id, pt.c.name == name, is_current_live())
    return (await conn.execute(stmt)).mappings().first()


async def insert_template(
    conn: AsyncConnection,
    project_id: UUID,
    name: str,
    description: str | None,
    prompt: str,
    arguments: list[dict[str, Any]],
) -> RowMapping | None:
    """A new history's first revision (history_id = its own id); None when a live template
    already has the name."""
    new_id = select(func.gen_random_uuid().label("id")).subquery("new_id")
    live_namesake = exists().where(
        pt.c.project_id == project_id, pt.c.name == name, pt.c.deleted_at.is_(None)
    )
    source = select(
        new_id.c.id,
        new_id.c.id,
        literal(project_id, pt.c.project_id.type),
        literal(name, Text),
        literal(description, Text),
        literal(prompt, Text),
        literal(arguments, pt.c.arguments.type),
    ).where(~live_namesake)
    stmt = (
        pt.insert()
        .from_select(["id", "history_id", "project_id", "name", "description", "prompt", "arguments"], source)
        .returning(*CONTENT_COLUMNS, literal(1, Integer).label("revision"))
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


async def insert_revision(
    conn: AsyncConnection,
    current: RowMapping,
    project_id: UUID,
    description: str | None,
    prompt: str,
    arguments: list[dict[str, Any]],
) -> RowMapping:
    """The successor of `current`; the unique key on predecessor_id refuses a second one."""
    stmt = (
        pt.insert()
        .values(
            project_id=project_id,
            history_id=current["history_id"],
            predecessor_id=current["id"],
            name=current["name"],
            description=description,
            prompt=prompt,
            arguments=arguments,
        )
        .returning(*CONTENT_COLUMNS, literal(current["revision"] + 1, Integer).label("revision"))
    )
    return (await conn.execute(stmt)).mappings().one()


async def tombstone_history(conn: AsyncConnection, history_id: UUID) -> int:
    """Mark every revision of a history deleted; releases keep pointing at the rows."""
    stmt = (
        pt.update()
        .where(pt.c.history_id == history_id, pt.c.deleted_at.is_(None))
        .values(deleted_at=func.now())
    )
    return (await conn.execute(stmt)).rowcount


async def list_current(
    conn: AsyncConnection, project_id: UUID, after_name: str | None, limit: int
) -> list[RowMapping]:
    stmt = select(*CURRENT_COLUMNS).where(pt.c.project_id == project_id, is_current_live())
    if after_name is not None:
        stmt = stmt.where(pt.c.name > after_name)
    stmt = stmt.order_by(pt.c.name).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def list_revisions(
    conn: AsyncConnection, history_id: UUID, before_revision: int | None, limit: int
) -> list[RowMapping]:
    """Revisions of one history, newest first, numbered by their place in the predecessor chain."""
    chain = (
        select(pt.c.id, literal(1, Integer).label("revision"))
        .where(pt.c.history_id == history_id, pt.c.predecessor_id.is_(None))
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(pt.c.id, (chain.c.revision + 1).label("revision"))
        .join(chain, pt.c.predecessor_id == chain.c.id)
        .where(pt.c.history_id == history_id)
    )
    stmt = select(*CONTENT_COLUMNS, chain.c.revision, is_current().label("is_current")).join(
        chain, chain.c.id == pt.c.id
    )
    if before_revision is not None:
        stmt = stmt.where(chain.c.revision < before_revision)
    stmt = stmt.order_by(chain.c.revision.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())
