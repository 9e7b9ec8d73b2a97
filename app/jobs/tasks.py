"""The service's job types: the one place that maps an entrypoint name to its handler."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from pgqueuer import QueueManager
from pgqueuer.models import Job
from sqlalchemy.ext.asyncio import AsyncEngine

from app.jobs import queue
from app.serving.pointers import PointerCache
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class JobDeps:
    """What handlers use; one set per worker."""

    engine: AsyncEngine
    http: httpx.AsyncClient
    settings: Settings
    pointers: PointerCache


# A handler gets the job's payload. It schedules any follow-up itself (by enqueueing,
# in its own transaction), so pgqueuer's in-place retry is not used: a re-queued row
# sends no NOTIFY, and idle workers would only see it at their next poll.
Handler = Callable[[JobDeps, bytes], Awaitable[None]]


def _handlers() -> dict[str, Handler]:
    # Imported here: handlers use services, and services import app.jobs.queue.
    from app.schedules.job import run_scheduled_publish
    from app.webhooks.delivery import deliver_webhook

    return {queue.DELIVER_WEBHOOK: deliver_webhook, queue.SCHEDULED_PUBLISH: run_scheduled_publish}


def register_tasks(manager: QueueManager, deps: JobDeps) -> None:
    for name, handler in _handlers().items():
        manager.entrypoint(name, accepts_context=False)(_entrypoint(handler, deps))


def _entrypoint(handler: Handler, deps: JobDeps) -> Callable[[Job], Awaitable[None]]:
    async def run(job: Job) -> None:
        await handler(deps, job.payload or b"")

    return run
