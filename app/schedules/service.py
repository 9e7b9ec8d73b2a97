"""Scheduled publishes: publish a staging copy at a set time, on any worker, exactly once.

Scheduling records the staging copy's version and enqueues a `scheduled_publish` job due
at `publish_at`, in one transaction. The job (`run_scheduled_publish`) locks the schedule,
then the live toolset, re-checks that the staging copy is still the copy and version it was
given (any later edit, discard or re-creation cancels it) and publishes it as
publishStagingVersion does, with every check publish makes at that moment (the approvals
the policy requires, breaking changes unless the request acknowledged them), audited as a
publish by the key that scheduled it. A publish that
fails is recorded with its reason and reported as a `schedule.failed` webhook event.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.schemas import key_ref
from app.jobs.queue import SCHEDULED_PUBLISH, enqueue
from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.kit.etag import check_if_match
from app.kit.pagination import encode_cursor
from app.policies.service import check_breaking
from app.schedules import queries
from app.schedules.schemas import ScheduledPublish
from app.serving import state
from app.staging.schemas import StagingPublish
from app.toolsets import queries as toolset_queries
from app.toolsets.service import live_toolset, locked_live_toolset

MAX_AHEAD = timedelta(days=366)


class ScheduleNotFound(NotFound):
    code = "scheduled_publish_not_found"


class PublishAlreadyScheduled(Conflict):
    code = "publish_already_scheduled"


class ScheduleFinished(Conflict):
    code = "scheduled_publish_finished"


class NothingToSchedule(Conflict):
    code = "no_staging_copy"


def schedule_path(project: str, slug: str, schedule_id: UUID) -> str:
    return f"/v1/projects/{project}/toolsets/{slug}/scheduled-publishes/{schedule_id}"


def as_schedule(row: RowMapping) -> ScheduledPublish:
    return ScheduledPublish.model_validate(
        {
            **row,
            "reason": row["failure_code"],
            "detail": row["failure_detail"],
            "name": row["release_name"],
            "requested_by": key_ref(row["requested_by"], row["key_name"], row["key_prefix"]),
        }
    )


class ScheduleService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def schedule(
        self, project: str, slug: str, body: StagingPublish, publish_at: datetime, if_match: str | None
    ) -> ScheduledPublish:
        """Record the publish request (notes, name, `acknowledge_breaking`) and the staging copy
        it is for; approvals are not required yet (they are checked when it runs, and may be given
        until then), but a breaking change the policy blocks is refused now, as publish would."""
        now = datetime.now(UTC)
        if not now < publish_at <= now + MAX_AHEAD:
            raise Unprocessable(
                "`publish_at` must be in the future, and at most a year ahead.",
                errors=[
                    {"field": "body.publish_at", "message": "must be in the future, at most a year ahead"}
                ],
            )
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            staging = await toolset_queries.find_staging_copy(self.conn, live["id"])
            if staging is None:
                raise NothingToSchedule(f"Toolset '{slug}' has no staging copy to publish.")
            check_if_match(if_match, staging["version"])
            await check_breaking(
                self.conn,
                live,
                lambda: state.current_state_json(self.conn, staging["id"]),
                body.acknowledge_breaking,
                "publish",
            )
            pending = await queries.find_pending(self.conn, live["id"])
            if pending is not None:
                raise PublishAlreadyScheduled(
                    f"Toolset '{slug}' already has a scheduled publish: cancel it first.",
                    location=schedule_path(project, slug, pending["id"]),
                )
            schedule_id = await queries.insert_schedule(
                self.conn,
                live["id"],
                staging,
                publish_at,
                body.notes,
                self.actor,
                release_name=body.name,
                acknowledge_breaking=body.acknowledge_breaking,
            )
            delay = await queries.seconds_until(self.conn, publish_at)
            await enqueue(
                self.conn,
                SCHEDULED_PUBLISH,
                [schedule_id.bytes],
                execute_after=timedelta(seconds=max(delay, 0)),
            )
            row = await queries.get_schedule(self.conn, live["id"], schedule_id)
        assert row is not None
        return as_schedule(row)

    async def _schedule(self, live: RowMapping, schedule_id: UUID) -> RowMapping:
        row = await queries.get_schedule(self.conn, live["id"], schedule_id)
        if row is None:
            raise ScheduleNotFound(f"Toolset '{live['slug']}' has no scheduled publish {schedule_id}.")
        return row

    async def get(self, project: str, slug: str, schedule_id: UUID) -> ScheduledPublish:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            return as_schedule(await self._schedule(live, schedule_id))

    async def list_schedules(
        self, project: str, slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[ScheduledPublish], str | None]:
        position = (datetime.fromisoformat(after[0]), UUID(after[1])) if after else None
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            rows = await queries.list_schedules(self.conn, live["id"], position, limit + 1)
        items = [as_schedule(r) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        cursor = encode_cursor([last["created_at"].isoformat(), str(last["id"])]) if last else None
        return items, cursor

    async def cancel(self, project: str, slug: str, schedule_id: UUID) -> ScheduledPublish:
        """Only the schedule's row is locked (never the toolset's), so a cancel cannot deadlock with
        the job, which locks the schedule first; while the job runs, a cancel waits for it."""
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            await self._schedule(live, schedule_id)
            row = await queries.lock_for_cancel(self.conn, schedule_id)
            if row["status"] != "scheduled":
                raise ScheduleFinished(f"This scheduled publish is already {row['status']}.")
            await queries.finish(
                self.conn,
                schedule_id,
                "cancelled",
                failure_code="cancelled_by_request",
                failure_detail=f"Cancelled by API key {self.actor}.",
            )
            row = await self._schedule(live, schedule_id)
        return as_schedule(row)


async def schedule_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> ScheduleService:
    return ScheduleService(conn, principal)
