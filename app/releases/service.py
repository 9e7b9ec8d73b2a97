"""Release use cases: create, read, list, state, rollback, diff and the audit log.

Every write takes the live toolset's row lock first; release numbers, the
current-release pointer and idempotency keys are therefore consistent across
any number of server processes, by PostgreSQL alone.
"""

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.schemas import key_ref
from app.history import queries as history_queries
from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.kit.metrics import RELEASES, ROLLBACKS
from app.kit.pagination import encode_cursor
from app.policies.service import breaking_details, check_breaking
from app.releases import capture
from app.releases import queries as release_queries
from app.releases.diff import diff_bodies
from app.releases.schemas import AuditEntry, Release, ReleaseCreate, RollbackRequest, StateDiff
from app.serving import state
from app.serving.names import refuse_duplicate_names
from app.serving.pointers import PointerCache
from app.toolsets import queries as toolset_queries
from app.toolsets.service import live_toolset, locked_live_toolset, no_staging_copy, to_staging_mode
from app.variations import queries as variation_queries
from app.webhooks.events import emit_toolset_event


class ReleaseNotFound(NotFound):
    code = "release_not_found"


class RollbackInIterationMode(Conflict):
    code = "rollback_in_iteration_mode"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class ReleaseNameTaken(Conflict):
    code = "release_name_taken"


# A release's name is unique within its toolset.
RELEASE_NAME_CONSTRAINT = "toolset_releases_toolset_id_name_key"


def as_release(row: RowMapping, current_release_id: UUID | None) -> Release:
    released_by = key_ref(row["released_by"], row["key_name"], row["key_prefix"])
    return Release.model_validate(
        {**row, "released_by": released_by, "current": row["id"] == current_release_id}
    )


def as_audit_entry(row: RowMapping) -> AuditEntry:
    return AuditEntry.model_validate(
        {**row, "actor": key_ref(row["actor"], row["key_name"], row["key_prefix"])}
    )


async def record_release(
    conn: AsyncConnection,
    live: RowMapping,
    source_id: UUID,
    notes: str | None,
    actor: str,
    *,
    name: str | None = None,
    acknowledged_breaking: bool = False,
    reuse: RowMapping | None = None,
    same_state: Callable[[], Awaitable[bool]] | None = None,
) -> tuple[UUID, int]:
    """Capture state and insert the next release of `live`, making it current.

    `source_id` is whose selection and metadata are captured: the live row itself,
    or its staging copy at publish. The caller holds the live row's lock and has
    brought the live toolset's own variations group to what is being released, so a
    name checked here stays free until it commits. With `reuse` (a release of `live`),
    a capture identical to it makes no new release: that one is returned (capture reuses
    every row that did not change, so equal references mean an equal state, with no state
    computed).
    """
    await capture.lock_captures_shared(conn, live["project_id"])
    source_state_id = await capture.capture_source_state(conn, live["project_id"])
    toolset_version_id = await capture.capture_toolset_state(conn, live["id"], source_id)
    variations = await capture.capture_variations_state(
        conn, live["project_id"], live["tool_variations_group_id"]
    )
    captured = {
        "source_state_id": source_state_id,
        "toolset_version_id": toolset_version_id,
        "global_variations_version_id": variations.global_version_id,
        "toolset_variations_version_id": variations.toolset_version_id,
    }
    if reuse is not None and (
        all(reuse[k] == v for k, v in captured.items()) or (same_state is not None and await same_state())
    ):
        return reuse["id"], reuse["release_number"]
    await refuse_duplicate_names(conn, [source_id])  # no release serves two tools with one name
    if name is not None and await release_queries.find_release_by_name(conn, live["id"], name) is not None:
        raise ReleaseNameTaken(f"Toolset '{live['slug']}' already has a release named '{name}'.")
    return await release_queries.insert_current_release(
        conn,
        live["id"],
        **captured,
        notes=notes,
        released_by_user_id=actor,
        name=name,
        acknowledged_breaking=acknowledged_breaking,
    )


def idempotency_key_reused(key: str | None) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        f"Idempotency-Key '{key}' was used with a different request; use a new key for a new request."
    )


def request_fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def replayed_release(
    conn: AsyncConnection, toolset_id: UUID, operation: str, key: str | None, fingerprint: str
) -> UUID | None:
    """The release an earlier request with this Idempotency-Key made, if any."""
    if key is None:
        return None
    stored = await release_queries.find_idempotency_key(conn, toolset_id, operation, key)
    if stored is None:
        return None
    if stored["request_hash"] != fingerprint:
        raise idempotency_key_reused(key)
    release_id: UUID = stored["release_id"]
    return release_id


@dataclass(frozen=True, slots=True)
class Side:
    """A side of a diff: a release's state, or a toolset row's current data."""

    release_id: UUID | None = None
    toolset_id: UUID | None = None


_SIDE = re.compile(r"^(live|staging|next|release:([1-9][0-9]{0,17}|[A-Za-z0-9][A-Za-z0-9._+-]{0,59}))$")


class ReleaseService:
    def __init__(self, conn: AsyncConnection, principal: Principal, pointers: PointerCache) -> None:
        self.conn = conn
        # Dropped after each commit that moves what a toolset serves: this process
        # reads its own writes at once; the others hear the trigger's NOTIFY.
        self.pointers = pointers
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def _release(self, live: RowMapping, number: int) -> RowMapping:
        row = await release_queries.find_release(self.conn, live["id"], number)
        if row is None:
            raise ReleaseNotFound(f"Toolset '{live['slug']}' has no release {number}.")
        return row

    async def create(
        self, project: str, slug: str, body: ReleaseCreate, idempotency_key: str | None
    ) -> tuple[Release, bool]:
        """CreateRelease; returns the release and whether it was replayed for a retried key."""
        fingerprint = request_fingerprint(body.fingerprint_fields())
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            # Before the breaking-change check reads current data: no deployment becomes
            # active until this commits, so the state judged is the state captured.
            await capture.lock_captures_shared(self.conn, live["project_id"])
            replayed = await replayed_release(
                self.conn, live["id"], "create_release", idempotency_key, fingerprint
            )
            if replayed is not None:
                row = await release_queries.get_release(self.conn, replayed)
                live = await toolset_queries.get_toolset(self.conn, live["id"])
                return as_release(row, live["current_release_id"]), True
            breaking = await check_breaking(
                self.conn,
                live,
                lambda: state.current_state_json(self.conn, live["id"]),
                body.acknowledge_breaking,
                "release",
                self.pointers,
            )
            previous = live["current_release_number"]
            release_id, number = await record_release(
                self.conn,
                live,
                live["id"],
                body.notes,
                self.actor,
                name=body.name,
                acknowledged_breaking=bool(breaking),
            )
            await history_queries.record_served_move(self.conn, live, "create_release", self.actor)
            await release_queries.insert_audit_entry(
                self.conn,
                live["id"],
                "create_release",
                self.actor,
                previous,
                number,
                breaking_details(breaking),
            )
            await emit_toolset_event(
                self.conn,
                "release.published",
                project,
                live,
                self.actor,
                release_number=number,
                previous_release_number=previous,
                trigger="create_release",
            )
            if idempotency_key is not None:
                await release_queries.insert_idempotency_key(
                    self.conn, live["id"], "create_release", idempotency_key, fingerprint, release_id
                )
            row = await release_queries.get_release(self.conn, release_id)
        self.pointers.invalidate(live["id"])
        RELEASES.labels("create_release").inc()
        return as_release(row, release_id), False

    async def get(self, project: str, slug: str, number: int) -> Release:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            return as_release(await self._release(live, number), live["current_release_id"])

    async def list_releases(
        self, project: str, slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[Release], str | None]:
        position = None
        if after is not None:
            try:
                position = (datetime.fromisoformat(str(after[0])), int(after[1]))
            except (ValueError, IndexError, TypeError) as exc:
                raise Unprocessable("The cursor is not one this service issued.") from exc
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            rows = await release_queries.list_releases(self.conn, live["id"], position, limit + 1)
        items = [as_release(r, live["current_release_id"]) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        cursor = encode_cursor([last["created_at"].isoformat(), last["release_number"]]) if last else None
        return items, cursor

    async def state(self, project: str, slug: str, number: int) -> bytes:
        """The release's effective state as JSON (computed in the database, served as is)."""
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            release = await self._release(live, number)
            # Immutable but for the slug (the live toolset's): right in any transaction.
            cached = self.pointers.release_body(release["id"], live["slug"])
            if cached is not None:
                return cached.body
            body = await state.release_state_json(self.conn, release["id"])
            return self.pointers.put_release_body(release["id"], live["slug"], body).body

    async def rollback(
        self, project: str, slug: str, number: int, body: RollbackRequest
    ) -> tuple[Release, int]:
        """Make release `number` current again; no state is copied, only pointers move.
        Returns the release and the live toolset's version (its ETag) after the move."""
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            release = await self._rollback_target(live, project, number)
            moved = release["id"] != live["current_release_id"]
            version: int = live["version"]
            if moved:
                breaking = await check_breaking(
                    self.conn,
                    live,
                    lambda: state.release_body(self.conn, release["id"], self.pointers, live["slug"]),
                    body.acknowledge_breaking,
                    "rollback",
                    self.pointers,
                )
                await move_to_release(
                    self.conn,
                    project,
                    live,
                    release,
                    "rollback",
                    self.actor,
                    body.reason,
                    breaking_details(breaking),
                )
                version = (await toolset_queries.get_toolset(self.conn, live["id"]))["version"]
        if moved:
            self.pointers.invalidate(live["id"])
            ROLLBACKS.inc()
        return as_release(release, release["id"]), version

    async def rollback_preview(self, project: str, slug: str, number: int) -> tuple[StateDiff, int]:
        """What a rollback to `number` would change for clients, and the live toolset's version
        (its ETag, unchanged); changes nothing."""
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            release = await self._rollback_target(live, project, number)
            before, after = await state.both(
                state.served_body(self.conn, live, self.pointers),
                state.release_body(self.conn, release["id"], self.pointers, live["slug"], apart=True),
            )
        diff = StateDiff.model_validate(
            {"from": "live", "to": f"release:{number}", **diff_bodies(before, after)}
        )
        return diff, live["version"]

    async def _rollback_target(self, live: RowMapping, project: str, number: int) -> RowMapping:
        if live["editing_mode"] != "staging":
            slug = live["slug"]
            raise RollbackInIterationMode(
                f"Toolset '{slug}' is in iteration mode and serves its current data; switch it "
                f"to staging mode ({to_staging_mode(project, slug)}) before rolling back to a release.",
                hint=to_staging_mode(project, slug),
            )
        return await self._release(live, number)

    async def diff(self, project: str, slug: str, from_side: str, to_side: str) -> StateDiff:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            before_side = await self._side(project, live, from_side, "from")
            after_side = await self._side(project, live, to_side, "to")
            before, after = await self._bodies(live, before_side, after_side)
        return StateDiff.model_validate({"from": from_side, "to": to_side, **diff_bodies(before, after)})

    async def _side(self, project: str, live: RowMapping, side: str, parameter: str) -> Side:
        """Which state a diff side names: a release, or a toolset row's current data."""
        match = _SIDE.match(side)
        if match is None:
            raise Unprocessable(
                f"`{parameter}` must be live, staging, next, release:N or release:NAME, not '{side}'.",
                errors=[
                    {
                        "field": f"query.{parameter}",
                        "message": "expected live, staging, next, release:N or release:NAME",
                    }
                ],
            )
        staging_mode = live["editing_mode"] == "staging" and live["current_release_id"] is not None
        if side == "live" and staging_mode:
            return Side(release_id=live["current_release_id"])
        if side in ("live", "next"):
            # `next`, what createRelease would capture now: the live toolset's own selection,
            # metadata and variations (in staging mode, those of the release it serves) with
            # current upstream data, which is exactly the current state of the live row.
            return Side(toolset_id=live["id"])
        if side == "staging":
            staging = await toolset_queries.find_staging_copy(self.conn, live["id"])
            if staging is None:
                raise no_staging_copy(project, live)
            return Side(toolset_id=staging["id"])
        reference = match.group(2)
        if reference.isdigit():
            release = await self._release(live, int(reference))
        else:
            found = await release_queries.find_release_by_name(self.conn, live["id"], reference)
            if found is None:
                raise ReleaseNotFound(f"Toolset '{live['slug']}' has no release named '{reference}'.")
            release = found
        return Side(release_id=release["id"])

    async def _bodies(self, live: RowMapping, before: "Side", after: "Side") -> tuple[bytes, bytes]:
        """Both sides' states as JSON: releases through the process's cache, a release side
        computed on a connection of its own while the other side is, and one state computed
        once when both sides are it (`live` in iteration mode and `next`)."""
        if before == after:
            body = await self._body(live, before)
            return body, body
        if before.release_id is None and after.release_id is None:  # two current states: one connection
            return await self._body(live, before), await self._body(live, after)
        release_first = before.release_id is not None
        return await state.both(
            self._body(live, before, apart=release_first), self._body(live, after, apart=not release_first)
        )

    async def _body(self, live: RowMapping, side: "Side", *, apart: bool = False) -> bytes:
        if side.release_id is not None:
            return await state.release_body(
                self.conn, side.release_id, self.pointers, live["slug"], apart=apart
            )
        assert side.toolset_id is not None
        return await state.current_state_json(self.conn, side.toolset_id)

    async def audit(
        self, project: str, slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[AuditEntry], str | None]:
        position = None
        if after is not None:
            try:
                position = (datetime.fromisoformat(str(after[0])), UUID(str(after[1])))
            except (ValueError, IndexError, TypeError) as exc:
                raise Unprocessable("The cursor is not one this service issued.") from exc
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            rows = await release_queries.list_audit_entries(self.conn, live["id"], position, limit + 1)
        items = [as_audit_entry(r) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        cursor = encode_cursor([last["created_at"].isoformat(), str(last["id"])]) if last else None
        return items, cursor


async def move_to_release(
    conn: AsyncConnection,
    project: str,
    live: RowMapping,
    release: RowMapping,
    action: str,
    actor: str,
    reason: str | None,
    details: dict[str, Any],
) -> None:
    """Make `live` serve an existing release: the one path of rollback and snapshot restore.

    Moves the pointer (and the live row with it), records the move in the served history
    and the audit log, and emits `release.rolled_back`. The caller holds the live row's lock
    and has checked the policy.
    """
    await bring_live_to_release(conn, live, release)
    await history_queries.record_served_move(conn, live, action, actor, reason)
    if reason is not None:
        details = {**details, "reason": reason}
    await release_queries.insert_audit_entry(
        conn, live["id"], action, actor, live["current_release_number"], release["release_number"], details
    )
    await emit_toolset_event(
        conn,
        "release.rolled_back",
        project,
        live,
        actor,
        from_release_number=live["current_release_number"],
        to_release_number=release["release_number"],
        **({"via": action} if action != "rollback" else {}),
        **({"reason": reason} if reason is not None else {}),
    )


async def bring_live_to_release(conn: AsyncConnection, live: RowMapping, release: RowMapping) -> None:
    """Point the live toolset at `release` and make its row show that release.

    Metadata, selection, prompt attachments and own variations follow the release
    (so the next staging copy starts from what is served); the slug stays, since it
    is the toolset's address. Every write is set-based.
    """
    snapshot = await toolset_queries.get_toolset_version(conn, release["toolset_version_id"])
    if list(snapshot["tool_urns"]) != list(live["tool_urns"]) or list(snapshot["resource_urns"]) != list(
        live["resource_urns"]
    ):
        await toolset_queries.insert_selection(
            conn, live["id"], snapshot["tool_urns"], snapshot["resource_urns"], live["toolset_version_id"]
        )
    await toolset_queries.attach_prompt_histories(conn, live["id"], snapshot["prompt_history_ids"])
    group_ids: list[UUID] = []
    if release["toolset_variations_version_id"] is not None:
        group_ids = await variation_queries.group_version_ids(conn, release["toolset_variations_version_id"])
    if live["tool_variations_group_id"] is not None:
        await variation_queries.sync_group(conn, live["tool_variations_group_id"], group_ids)
    version = await toolset_queries.next_history_version(conn, live["id"])
    await toolset_queries.update_toolset(
        conn,
        live["id"],
        current_release_id=release["id"],
        name=snapshot["name"] or live["name"],
        description=snapshot["description"],
        version=version,
    )


async def release_service(
    request: Request,
    conn: AsyncConnection = Depends(get_connection),
    principal: Principal = Depends(authenticate),
) -> ReleaseService:
    return ReleaseService(conn, principal, request.app.state.pointers)
