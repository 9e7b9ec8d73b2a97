"""Retention: pruneReleases deletes releases beyond the policy's `keep_last`.

Never the current release, a named or labelled one, nor one a project snapshot holds;
release numbers are never reused (numbering counts up from the highest ever made, and the
newest release is always kept). Captured rows that no release refers to any more go with
them. A dry run does all of it and rolls back, so it reports exactly what would go.
"""

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict
from app.policies.service import toolset_policy
from app.releases import capture
from app.releases import queries as release_queries
from app.retention import queries
from app.retention.schemas import CapturedRows, PruneResult
from app.toolsets.service import locked_live_toolset


class NoRetentionPolicy(Conflict):
    code = "no_retention_policy"


class RetentionService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def prune(self, project: str, slug: str, dry_run: bool) -> PruneResult:
        async with self.conn.begin() as transaction:
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            keep = (await toolset_policy(self.conn, live["id"]))["keep_last"]
            if keep is None:
                raise NoRetentionPolicy(
                    f"Toolset '{slug}' keeps every release: set `keep_last` in its policy "
                    "(PUT …/policy) before pruning."
                )
            # Captured rows may be shared with other toolsets of the project: no capture
            # may reuse one while this looks for those nothing refers to.
            await capture.lock_captures_exclusively(self.conn, live["project_id"])
            numbers, counts = await queries.prune(self.conn, live["id"], keep)
            if dry_run:
                await transaction.rollback()
            elif numbers:
                await release_queries.insert_audit_entry(
                    self.conn,
                    live["id"],
                    "prune",
                    self.actor,
                    details={"keep_last": keep, "release_numbers": numbers, "deleted_rows": counts},
                )
        return PruneResult(
            dry_run=dry_run,
            keep_last=keep,
            pruned_release_numbers=numbers,
            deleted_rows=CapturedRows.model_validate(counts),
        )


async def retention_service(
    request: Request,
    conn: AsyncConnection = Depends(get_connection),
    principal: Principal = Depends(authenticate),
) -> RetentionService:
    return RetentionService(conn, principal)
