"""The `scheduled_publish` job: publish a staging copy at its time, exactly once."""

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.jobs.queue import SCHEDULED_PUBLISH, enqueue
from app.jobs.tasks import JobDeps
from app.kit.auth import Principal
from app.kit.errors import AppError
from app.kit.metrics import RELEASES
from app.schedules import queries
from app.staging import queries as staging_queries
from app.staging.service import StagingService
from app.toolsets import queries as toolset_queries
from app.webhooks.events import emit_toolset_event

logger = logging.getLogger("app.schedules")


async def run_scheduled_publish(deps: JobDeps, payload: bytes) -> None:
    schedule_id = UUID(bytes=payload)
    published: UUID | None = None
    async with deps.engine.connect() as conn, conn.begin():
        schedule = await queries.lock_for_run(conn, schedule_id)
        if schedule is None or schedule["status"] != "scheduled":
            return  # cancelled, done, gone, or being run by another worker right now
        early = await queries.seconds_until(conn, schedule["publish_at"])
        if early > 0:  # offered before its time (clocks differ): run again when due
            await enqueue(conn, SCHEDULED_PUBLISH, [payload], execute_after=timedelta(seconds=early))
            return
        live = await toolset_queries.get_toolset(conn, schedule["toolset_id"])
        live_id = await toolset_queries.lock_live_toolset(conn, live["project_id"], live["slug"])
        if live_id is not None:
            live, staging = await staging_queries.read_publish_context(conn, live_id, "publish", None)
        else:
            staging = None  # the toolset is gone, and its staging copy with it
        if schedule["staging_toolset_id"] not in (None, staging and staging["id"]):
            staging = None  # discarded and made again: another copy, whatever its version
        if staging is None or staging["version"] != schedule["staging_version"]:
            reason, detail = (
                (
                    "staging_gone",
                    "The staging copy was published or discarded (maybe made again) before the scheduled "
                    "time.",
                )
                if staging is None
                else (
                    "staging_changed",
                    f"The staging copy was edited after it was scheduled (version {staging['version']}, "
                    f"scheduled {schedule['staging_version']}).",
                )
            )
            await _give_up(conn, schedule, live, "cancelled", reason, detail)
            return
        actor = Principal(schedule["organization_id"], schedule["requested_by"], frozenset())
        service = StagingService(conn, actor, deps.pointers)
        details = {"scheduled_publish_id": str(schedule_id)}
        try:
            async with conn.begin_nested():
                released = await service.publish_locked(
                    schedule["project_slug"],
                    live,
                    staging,
                    schedule["notes"],
                    "scheduled_publish",
                    details,
                    name=schedule["release_name"],
                    acknowledge_breaking=schedule["acknowledge_breaking"],
                )
                number = released["release_number"]
        except (AppError, IntegrityError) as exc:
            code = exc.code if isinstance(exc, AppError) else "conflict"
            detail = (
                exc.detail if isinstance(exc, AppError) else "The publish conflicted with another change."
            )
            await _give_up(conn, schedule, live, "failed", code, detail)
            return
        await queries.finish(conn, schedule_id, "published", release_number=number)
        published = live["id"]
    deps.pointers.invalidate(published)
    RELEASES.labels("publish").inc()
    logger.info("scheduled publish done", extra={"schedule_id": str(schedule_id)})


async def _give_up(
    conn: AsyncConnection, schedule: Any, live: Any, status: str, reason: str, detail: str
) -> None:
    """Recorded on the schedule, and reported to webhooks as `schedule.failed`."""
    await queries.finish(conn, schedule["id"], status, failure_code=reason, failure_detail=detail)
    await emit_toolset_event(
        conn,
        "schedule.failed",
        schedule["project_slug"],
        live,
        schedule["requested_by"],
        scheduled_publish_id=str(schedule["id"]),
        staging_version=schedule["staging_version"],
        publish_at=schedule["publish_at"].isoformat(),
        status=status,
        reason=reason,
        detail=detail,
    )
    logger.info("scheduled publish %s: %s", status, reason, extra={"schedule_id": str(schedule["id"])})
