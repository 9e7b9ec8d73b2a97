"""Toolset policies: reading and setting them, and the breaking-change guard they impose.

`check_breaking` is the one place publish, createRelease and rollback ask whether a
move of the served pointer may go ahead; `toolset_policy` is how other domains (reviews,
retention) read a policy, defaults included.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.schemas import key_ref
from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict
from app.policies import queries
from app.policies.schemas import Policy, PolicyFields
from app.releases import queries as release_queries
from app.releases.diff import diff_bodies
from app.serving import state
from app.serving.caches import ServedCache
from app.toolsets.service import live_toolset, locked_live_toolset

# An audit entry keeps at most this many reasons of the breaking changes it let through.
AUDITED_REASONS = 50


def as_policy(row: dict[str, Any]) -> Policy:
    by = key_ref(row["updated_by"], row["key_name"], row["key_prefix"])
    return Policy.model_validate({**row, "updated_by": by})


class BreakingChanges(Conflict):
    code = "breaking_changes"
    title = "Breaking changes"


async def toolset_policy(conn: AsyncConnection, toolset_id: UUID) -> dict[str, Any]:
    """A live toolset's policy, with the defaults when it has none."""
    row = await queries.find_policy(conn, toolset_id)
    return dict(row) if row is not None else dict(queries.DEFAULTS)


async def blocks_breaking(conn: AsyncConnection, toolset_id: UUID) -> bool:
    policy = await queries.find_policy(conn, toolset_id)
    return policy is not None and bool(policy["block_breaking"])


def breaking_of(diff: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in diff["changes"] if c["impact"] == "breaking"]


def refuse_breaking(breaking: list[dict[str, Any]], action: str) -> BreakingChanges:
    return BreakingChanges(
        f"The toolset's policy blocks breaking changes, and this {action} has {len(breaking)}: "
        f"{breaking[0]['reason']}{' …' if len(breaking) > 1 else ''}. Review them in `changes`, "
        "then send `acknowledge_breaking: true` to go ahead.",
        changes=breaking,
    )


async def check_breaking(
    conn: AsyncConnection,
    live: RowMapping,
    after: Callable[[], Awaitable[bytes]],
    acknowledge: bool,
    action: str,
    cache: ServedCache | None = None,
) -> list[dict[str, Any]]:
    """Under `block_breaking`, the breaking changes from what `live` serves now to the state
    `after()` computes (as JSON; called only when the policy blocks: otherwise nothing is
    computed and nothing compared).

    Raises 409 `breaking_changes` listing them unless `acknowledge`; returns the ones
    let through (empty when the policy does not block, or nothing breaks), for the
    release and the audit entry to record. The caller holds the live row's lock.
    """
    if not await blocks_breaking(conn, live["id"]):
        return []
    return await breaking_under_policy(conn, live, await after(), acknowledge, action, cache)


async def breaking_under_policy(
    conn: AsyncConnection,
    live: Mapping[Any, Any],
    after: bytes,
    acknowledge: bool,
    action: str,
    cache: ServedCache | None = None,
) -> list[dict[str, Any]]:
    """`check_breaking` for a caller that read the policy already and found it blocking, with
    the state `after` as JSON (`cache`: the process's served states, where the live
    release's body may be)."""
    breaking = breaking_of(diff_bodies(await state.served_body(conn, live, cache), after))
    if breaking and not acknowledge:
        raise refuse_breaking(breaking, action)
    return breaking


def breaking_details(breaking: list[dict[str, Any]]) -> dict[str, Any]:
    """What an audit entry records of breaking changes let through (nothing when there were none)."""
    if not breaking:
        return {}
    return {
        "acknowledged_breaking": True,
        "breaking_changes": len(breaking),
        "breaking_reasons": [c["reason"] for c in breaking[:AUDITED_REASONS]],
    }


class PolicyService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def get(self, project: str, slug: str) -> Policy:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            return as_policy(await toolset_policy(self.conn, live["id"]))

    async def put(self, project: str, slug: str, body: PolicyFields) -> Policy:
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            before = await toolset_policy(self.conn, live["id"])
            values = body.model_dump()
            await queries.upsert_policy(self.conn, live["id"], self.actor, **values)
            row = await toolset_policy(self.conn, live["id"])
            changed = {k: {"from": before[k], "to": v} for k, v in values.items() if before[k] != v}
            if changed:
                await release_queries.insert_audit_entry(
                    self.conn, live["id"], "policy_update", self.actor, details={"changed": changed}
                )
        return as_policy(row)


async def policy_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> PolicyService:
    return PolicyService(conn, principal)
