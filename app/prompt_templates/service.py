"""Prompt template use cases. Every write takes the project's template lock first, so name
uniqueness and one-successor-per-revision hold across any number of server processes."""

import re
from typing import Any, TypeVar
from uuid import UUID

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict, NotFound, Unprocessable, violated_constraint
from app.kit.pagination import encode_cursor
from app.projects.service import resolve_project
from app.prompt_templates import queries
from app.prompt_templates.schemas import (
    PromptTemplate,
    PromptTemplateCreate,
    PromptTemplateRevision,
    PromptTemplateUpdate,
)

PREDECESSOR_KEY = "prompt_templates_predecessor_id_key"
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,60}")

T = TypeVar("T")


class PromptTemplateNotFound(NotFound):
    code = "prompt_template_not_found"


class PromptTemplateNameTaken(Conflict):
    code = "prompt_template_name_taken"


class ConcurrentUpdate(Conflict):
    code = "concurrent_update"


class PromptTemplateService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id

    async def create(self, project_slug: str, body: PromptTemplateCreate) -> PromptTemplate:
        arguments = [a.model_dump(mode="json") for a in body.arguments]
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            await queries.lock_project_templates(self.conn, project["id"])
            row = await queries.insert_template(
                self.conn, project["id"], body.name, body.description, body.prompt, arguments
            )
        if row is None:
            raise PromptTemplateNameTaken(f"A prompt template named '{body.name}' already exists.")
        return PromptTemplate.model_validate(row)

    async def list_templates(
        self, project_slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[PromptTemplate], str | None]:
        after_name = _position(after, str)
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            rows = await queries.list_current(self.conn, project["id"], after_name, limit + 1)
        items = [PromptTemplate.model_validate(r) for r in rows[:limit]]
        cursor = encode_cursor([items[-1].name]) if len(rows) > limit else None
        return items, cursor

    async def get(self, project_slug: str, name: str) -> PromptTemplate:
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            row = await self._current(project["id"], name)
        return PromptTemplate.model_validate(row)

    async def update(self, project_slug: str, name: str, body: PromptTemplateUpdate) -> PromptTemplate:
        """A new revision replacing the current one; the old row is never modified. A PUT of
        the current content changes nothing and makes no revision."""
        arguments = [a.model_dump(mode="json") for a in body.arguments]
        try:
            async with self.conn.begin():
                project = await resolve_project(self.conn, self.org, project_slug)
                await queries.lock_project_templates(self.conn, project["id"])
                current = await self._current(project["id"], name)
                if (current["description"], current["prompt"], current["arguments"]) == (
                    body.description,
                    body.prompt,
                    arguments,
                ):
                    return PromptTemplate.model_validate(current)
                row = await queries.insert_revision(
                    self.conn, current, project["id"], body.description, body.prompt, arguments
                )
        except IntegrityError as exc:
            if violated_constraint(exc) == PREDECESSOR_KEY:
                raise ConcurrentUpdate(
                    f"Prompt template '{name}' was changed by another request; read it and retry."
                ) from exc
            raise
        return PromptTemplate.model_validate(row)

    async def delete(self, project_slug: str, name: str) -> None:
        """A tombstone: every revision stays, marked deleted, because releases reference them."""
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            await queries.lock_project_templates(self.conn, project["id"])
            current = await self._current(project["id"], name)
            await queries.tombstone_history(self.conn, current["history_id"])

    async def list_revisions(
        self, project_slug: str, name: str, after: list[Any] | None, limit: int
    ) -> tuple[list[PromptTemplateRevision], str | None]:
        before_revision = _position(after, int)
        async with self.conn.begin():
            project = await resolve_project(self.conn, self.org, project_slug)
            current = await self._current(project["id"], name)
            rows = await queries.list_revisions(self.conn, current["history_id"], before_revision, limit + 1)
        items = [PromptTemplateRevision.model_validate(r) for r in rows[:limit]]
        cursor = encode_cursor([items[-1].revision]) if len(rows) > limit else None
        return items, cursor

    async def _current(self, project_id: UUID, name: str) -> RowMapping:
        # A name no template can have is simply absent, without a query.
        valid = NAME_RE.fullmatch(name) is not None
        row = await queries.find_current(self.conn, project_id, name) if valid else None
        if row is None:
            raise PromptTemplateNotFound(f"Prompt template '{name}' does not exist.")
        return row


def _position(after: list[Any] | None, kind: type[T]) -> T | None:
    if not after:
        return None
    value = after[0]
    if len(after) != 1 or type(value) is not kind:
        raise Unprocessable("The cursor is not one this service issued.")
    return value


async def prompt_template_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> PromptTemplateService:
    return PromptTemplateService(conn, principal)
