"""Project snapshots (the note's project-level rollback): record the served release of every
staging-mode toolset of a project, and move them all back to it in one transaction.

A restore is all or nothing: it locks every toolset of the snapshot (in id order), refuses
with 409 naming each toolset deleted or out of staging mode since, honours each toolset's
`block_breaking` policy, and then moves each pointer through the same path as a rollback
(audited, in the served history, clients notified). A restore does a fixed number of
statements per toolset it moves.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.schemas import key_ref
from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.kit.pagination import encode_cursor
from app.policies.service import blocks_breaking, breaking_details, breaking_of, refuse_breaking
from app.projects.service import resolve_project
from app.releases import queries as release_queries
from app.releases.diff import diff_states
from app.releases.service import move_to_release
from app.serving import state
from app.serving.pointers import PointerCache
from app.snapshots import queries
from app.snapshots.schemas import (
    ProjectSnapshot,
    RestoredToolset,
    RestoreRequest,
    RestoreResult,
    SnapshotCreate,
)
from app.toolsets import queries as toolset_queries


def as_snapshot(row: Any) -> ProjectSnapshot:
    by = key_ref(row["created_by"], row["key_name"], row["key_prefix"])
    return ProjectSnapshot.model_validate({**row, "created_by": by})


class SnapshotNotFound(NotFound):
    code = "snapshot_not_found"


class SnapshotNotRestorable(Conflict):
    code = "snapshot_not_restorable"


class SnapshotService:
    def __init__(self, conn: AsyncConnection, principal: Principal, pointers: PointerCache) -> None:
        self.conn = conn
        self.pointers = pointers
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def _project_id(self, project: str) -> UUID:
        project_id: UUID = (await resolve_project(self.conn, self.org, project))["id"]
        return project_id

    async def _snapshot(self, project_id: UUID, snapshot_id: UUID) -> ProjectSnapshot:
        row = await queries.find_snapshot(self.conn, project_id, snapshot_id)
        if row is None:
            raise SnapshotNotFound(f"Snapshot {snapshot_id} does not exist.")
        return as_snapshot(row)

    async def create(self, project: str, body: SnapshotCreate) -> ProjectSnapshot:
        async with self.conn.begin():
            project_id = await self._project_id(project)
            snapshot_id = await queries.insert_snapshot(self.conn, project_id, body.name, self.actor)
            return await self._snapshot(project_id, snapshot_id)

    async def get(self, project: str, snapshot_id: UUID) -> ProjectSnapshot:
        async with self.conn.begin():
            return await self._snapshot(await self._project_id(project), snapshot_id)

    async def list_snapshots(
        self, project: str, after: list[Any] | None, limit: int
    ) -> tuple[list[ProjectSnapshot], str | None]:
        position = None
        if after is not None:
            try:
                position = (datetime.fromisoformat(str(after[0])), UUID(str(after[1])))
            except (ValueError, IndexError, TypeError) as exc:
                raise Unprocessable("The cursor is not one this service issued.") from exc
        async with self.conn.begin():
            project_id = await self._project_id(project)
            rows = await queries.list_snapshots(self.conn, project_id, position, limit + 1)
        items = [as_snapshot(r) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        cursor = encode_cursor([last["created_at"].isoformat(), str(last["id"])]) if last else None
        return items, cursor

    async def restore(
        self, project: str, snapshot_id: UUID, body: RestoreRequest, dry_run: bool
    ) -> RestoreResult:
        moved_ids: list[UUID] = []
        async with self.conn.begin():
            project_id = await self._project_id(project)
            await self._snapshot(project_id, snapshot_id)
            entries = await queries.entries(self.conn, snapshot_id)
            await queries.lock_toolsets(self.conn, [e["toolset_id"] for e in entries if e["toolset_id"]])
            lives = {
                e["toolset_id"]: await toolset_queries.get_toolset(self.conn, e["toolset_id"])
                for e in entries
                if e["toolset_id"] is not None
            }
            self._refuse_unrestorable(entries, lives)
            plan: list[RestoredToolset] = []
            moves: list[tuple[Any, Any, list[dict[str, Any]]]] = []
            blocked: list[dict[str, Any]] = []
            for entry in entries:
                live = lives[entry["toolset_id"]]
                moved = live["current_release_id"] != entry["release_id"]
                diff = diff_states(
                    await state.served_state(self.conn, live),
                    await state.release_state(self.conn, entry["release_id"]),
                )
                plan.append(
                    RestoredToolset(
                        toolset=live["slug"],
                        from_release_number=live["current_release_number"],
                        to_release_number=entry["release_number"],
                        moved=moved,
                        impact=diff["impact"],
                        counts=diff["counts"],
                    )
                )
                if not moved:
                    continue
                breaking = breaking_of(diff) if await blocks_breaking(self.conn, live["id"]) else []
                if breaking and not body.acknowledge_breaking:
                    blocked += [{**change, "toolset": live["slug"]} for change in breaking]
                moves.append((live, entry, breaking))
            if dry_run:
                return RestoreResult(snapshot_id=snapshot_id, dry_run=True, toolsets=plan)
            if blocked:
                raise refuse_breaking(blocked, "restore")
            for live, entry, breaking in moves:
                release = await release_queries.get_release(self.conn, entry["release_id"])
                details = {"snapshot_id": str(snapshot_id), **breaking_details(breaking)}
                await move_to_release(
                    self.conn, project, live, release, "snapshot_restore", self.actor, body.reason, details
                )
                moved_ids.append(live["id"])
        for toolset_id in moved_ids:
            self.pointers.invalidate(toolset_id)
        return RestoreResult(snapshot_id=snapshot_id, dry_run=False, toolsets=plan)

    def _refuse_unrestorable(self, entries: list[Any], lives: dict[UUID, Any]) -> None:
        problems: list[dict[str, str]] = []
        for entry in entries:
            live = lives.get(entry["toolset_id"]) if entry["toolset_id"] is not None else None
            if live is None:
                problems.append({"toolset": entry["toolset_slug"], "problem": "deleted"})
            elif entry["release_id"] is None:
                problems.append({"toolset": live["slug"], "problem": "release_deleted"})
            elif live["editing_mode"] != "staging":
                problems.append({"toolset": live["slug"], "problem": "not_in_staging_mode"})
        if problems:
            names = ", ".join(f"'{p['toolset']}' ({p['problem'].replace('_', ' ')})" for p in problems)
            raise SnapshotNotRestorable(
                f"The snapshot cannot be restored as a whole; since it was made: {names}. Nothing moved.",
                toolsets=problems,
            )


async def snapshot_service(
    request: Request,
    conn: AsyncConnection = Depends(get_connection),
    principal: Principal = Depends(authenticate),
) -> SnapshotService:
    return SnapshotService(conn, principal, request.app.state.pointers)
