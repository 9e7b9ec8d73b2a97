"""Release labels: named pointers at a toolset's releases (`stable`, `canary`), moved on request.

`current` is reserved: it is the toolset's served pointer, moved by publish and rollback.
Every move and deletion takes the live toolset's row lock, honours `If-Match` (the label's
version), and is audited and written to the served history in the same transaction.
"""

from typing import Any

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.schemas import key_ref
from app.history import queries as history_queries
from app.history.schemas import CURRENT
from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import NotFound, PreconditionFailed, Unprocessable
from app.kit.etag import check_if_match
from app.kit.pagination import encode_cursor
from app.labels import queries
from app.labels.schemas import ReleaseLabel
from app.releases import queries as release_queries
from app.releases.service import ReleaseNotFound
from app.toolsets.service import live_toolset, locked_live_toolset
from app.webhooks.events import emit_toolset_event


def as_label(row: Any) -> ReleaseLabel:
    by = key_ref(row["updated_by"], row["key_name"], row["key_prefix"])
    return ReleaseLabel.model_validate({**row, "updated_by": by})


class LabelNotFound(NotFound):
    code = "label_not_found"


class ReservedLabel(Unprocessable):
    code = "reserved_label"


def _refuse_reserved(label: str) -> None:
    if label == CURRENT:
        raise ReservedLabel(
            "`current` is reserved: it is the toolset's served pointer, moved by publish and rollback "
            "(POST …/releases/{release_number}/rollback).",
            errors=[{"field": "path.label", "message": "reserved", "type": "reserved"}],
        )


class LabelService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def _label(self, live: RowMapping, label: str) -> RowMapping:
        row = await queries.find_label(self.conn, live["id"], label)
        if row is None:
            raise LabelNotFound(f"Toolset '{live['slug']}' has no label '{label}'.")
        return row

    async def get(self, project: str, slug: str, label: str) -> ReleaseLabel:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            return as_label(await self._label(live, label))

    async def list_labels(
        self, project: str, slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[ReleaseLabel], str | None]:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            rows = await queries.list_labels(
                self.conn, live["id"], str(after[0]) if after else None, limit + 1
            )
        items = [as_label(r) for r in rows[:limit]]
        return items, encode_cursor([items[-1].label]) if len(rows) > limit else None

    async def put(
        self, project: str, slug: str, label: str, release_number: int, if_match: str | None
    ) -> tuple[ReleaseLabel, bool]:
        """Point `label` at a release; returns the label and whether it was created."""
        _refuse_reserved(label)
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            existing = await queries.find_label(self.conn, live["id"], label)
            _check_label_if_match(if_match, existing, label)
            release = await release_queries.find_release(self.conn, live["id"], release_number)
            if release is None:
                raise ReleaseNotFound(f"Toolset '{slug}' has no release {release_number}.")
            if existing is None or existing["release_id"] != release["id"]:
                await self._move(project, live, label, existing, release_number, release["id"])
            row = await self._label(live, label)
        return as_label(row), existing is None

    async def delete(self, project: str, slug: str, label: str, if_match: str | None) -> None:
        _refuse_reserved(label)
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            existing = await self._label(live, label)
            check_if_match(if_match, existing["version"])
            await self._move(project, live, label, existing, None, None)

    async def _move(
        self,
        project: str,
        live: RowMapping,
        label: str,
        existing: RowMapping | None,
        to_number: int | None,
        to_release_id: Any,
    ) -> None:
        """Every label move (or deletion, `to_number` None) goes through here: write, audit,
        history, and the `label.moved` event (`to_release_number` null for a deletion)."""
        from_number = existing["release_number"] if existing is not None else None
        if to_release_id is None:
            await queries.delete_label(self.conn, live["id"], label)
        else:
            await queries.put_label(self.conn, live["id"], label, to_release_id, self.actor)
        action = "label_move" if to_number is not None else "label_delete"
        await release_queries.insert_audit_entry(
            self.conn, live["id"], action, self.actor, from_number, to_number, {"label": label}
        )
        await history_queries.record_label_move(
            self.conn, live["id"], label, action, self.actor, from_number, to_number
        )
        await emit_toolset_event(
            self.conn,
            "label.moved",
            project,
            live,
            self.actor,
            label=label,
            from_release_number=from_number,
            to_release_number=to_number,
        )


def _check_label_if_match(if_match: str | None, existing: RowMapping | None, label: str) -> None:
    if existing is not None:
        check_if_match(if_match, existing["version"])
    elif if_match is not None:
        raise PreconditionFailed(f"If-Match {if_match} given, but there is no label '{label}' yet.")


async def label_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> LabelService:
    return LabelService(conn, principal)
