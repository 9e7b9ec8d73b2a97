"""Reviews and approvals of a staging copy.

A review names one staging copy at one version and the digest of the state it serves.
Approvals (keys with the `approve` scope, never the key that asked; revoked keys' stop
counting) approve exactly that: any later edit bumps the copy's version, a discarded or
re-created copy is another row, and a change the project shares (a deployment, a global
variation, a template) changes the served state, so the review goes `outdated` and its
approvals stop counting, computed on read rather than hooked into every write. A toolset
whose policy sets `required_approvals: N` publishes only with N approvals of the copy as it
is (`check_approvals`, called by every publish, scheduled ones included, under the live
row's lock that every edit and approval takes too). A publish consumes the review.
"""

import hashlib
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.schemas import key_ref
from app.kit.auth import Principal, authenticate
from app.kit.database import get_connection
from app.kit.errors import Conflict, Forbidden, NotFound
from app.kit.etag import check_if_match
from app.policies.service import toolset_policy
from app.releases import queries as release_queries
from app.reviews import queries
from app.reviews.schemas import Approval, Review
from app.serving.state import current_state_json
from app.toolsets import queries as toolset_queries
from app.toolsets.service import live_toolset, locked_live_toolset, no_staging_copy, toolset_path
from app.webhooks.events import emit_toolset_event


class ApprovalRequired(Conflict):
    code = "approval_required"
    title = "Approval required"


class ReviewNotFound(NotFound):
    code = "review_not_found"


class ReviewOutdated(Conflict):
    code = "review_outdated"


class ReviewExists(Conflict):
    code = "review_exists"


class AlreadyApproved(Conflict):
    code = "already_approved"


class SelfApproval(Forbidden):
    code = "self_approval"


def review_path(project: str, slug: str) -> str:
    return f"{toolset_path(project, slug)}/staging/review"


async def required_approvals(conn: AsyncConnection, toolset_id: Any) -> int:
    return int((await toolset_policy(conn, toolset_id))["required_approvals"])


async def state_digest(conn: AsyncConnection, staging_id: UUID) -> bytes:
    """SHA-256 of the staging copy's served state, as clients would be served it: what a
    review reviews. It covers what the project shares too (tool definitions of the active
    deployment, global variations, prompt template revisions)."""
    return hashlib.sha256(await current_state_json(conn, staging_id)).digest()


def shared_definitions_changed(project: str, slug: str, version: int) -> str:
    return (
        f"What the staging copy of '{slug}' serves changed after its review although the copy did not "
        f"(it is still at version {version}): a deployment, a project-wide variation or a prompt template it "
        "uses changed. Its approvals were for the state under review, so they no longer count: request a "
        f"new review (POST {review_path(project, slug)})."
    )


async def check_approvals(
    conn: AsyncConnection, project: str, live: Mapping[Any, Any], staging: Mapping[Any, Any]
) -> dict[str, Any]:
    """409 `approval_required` unless the staging copy, as it is now, has the approvals the
    policy needs; else what the publish's audit entry records of them.

    The caller read, under the live row's lock (a publish in its context read,
    `staging.queries.read_publish_context`), the policy's `required_approvals` on `live`, and
    on `staging` the copy's latest review at its version (`review_id`), its valid approvals
    (`approvals`: keys since revoked do not count) and the digest of the state it reviewed
    (`review_state_digest`), so no edit or approval can slip in before the publish commits.
    Only when the approvals would be enough is the state computed, to check it is still the
    one reviewed (a project-wide change does not move the copy's version)."""
    required = int(live["required_approvals"])
    review_id, valid = staging["review_id"], int(staging["approvals"])
    path = review_path(project, live["slug"])
    reviewed = staging["review_state_digest"]
    if (
        valid >= required > 0
        and reviewed is not None
        and bytes(reviewed) != await state_digest(conn, staging["id"])
    ):
        raise ApprovalRequired(
            shared_definitions_changed(project, live["slug"], staging["version"]),
            hint=f"POST {path}",
            required_approvals=required,
            valid_approvals=0,
        )
    if valid < required:
        if review_id is None:
            todo = f"put it up for review (POST {path}), then have"
            hint = f"POST {path}"
        else:
            todo = "have"
            hint = f"POST {path}/approvals"
        raise ApprovalRequired(
            f"Toolset '{live['slug']}' needs {required} approval(s) of its staging copy (version "
            f"{staging['version']}) to publish, and has {valid}: {todo} other API keys with the "
            f"`approve` scope approve it (POST {path}/approvals). Any edit of the staging copy voids "
            "its approvals.",
            hint=hint,
            required_approvals=required,
            valid_approvals=valid,
        )
    if review_id is None:
        return {}
    return {"review_id": str(review_id), "approvals": valid}


class ReviewService:
    def __init__(self, conn: AsyncConnection, principal: Principal) -> None:
        self.conn = conn
        self.org = principal.organization_id
        self.actor = principal.key_id

    async def _staging(self, project: str, live: RowMapping) -> RowMapping:
        staging = await toolset_queries.find_staging_copy(self.conn, live["id"])
        if staging is None:
            raise no_staging_copy(project, live)
        return staging

    async def _reviews_current_state(
        self, staging: Mapping[Any, Any] | None, review: Mapping[Any, Any]
    ) -> bool:
        """Whether `review` reviews the staging copy as it is now: the same copy, at the same
        version, serving the same state (when the review recorded it)."""
        if (
            staging is None
            or staging["id"] != review["staging_toolset_id"]
            or staging["version"] != review["staging_version"]
        ):
            return False
        recorded = review["state_digest"]
        return recorded is None or bytes(recorded) == await state_digest(self.conn, staging["id"])

    async def _view(self, live: RowMapping, review: RowMapping, current: bool) -> Review:
        approvals = await queries.approvals_of(self.conn, review["id"])
        required = await required_approvals(self.conn, live["id"])
        published = review["release_number"] is not None
        status = "published" if published else "open" if current else "outdated"
        counted = [a for a in approvals if a["key_revoked_at"] is None]
        valid = len(counted) if status == "open" else 0
        return Review.model_validate(
            {
                **review,
                "requested_by": key_ref(review["requested_by"], review["key_name"], review["key_prefix"]),
                "status": status,
                "approvals": [
                    Approval.model_validate(
                        {
                            **a,
                            "approved_by": key_ref(a["approved_by"], a["key_name"], a["key_prefix"]),
                            "counts": a["key_revoked_at"] is None,
                        }
                    )
                    for a in approvals
                ],
                "valid_approvals": valid,
                "required_approvals": required,
                "approved": status == "open" and valid >= required,
            }
        )

    async def request(self, project: str, slug: str, note: str | None, if_match: str | None) -> Review:
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            staging = await self._staging(project, live)
            check_if_match(if_match, staging["version"])
            path = review_path(project, slug)
            existing = await queries.review_of_copy(self.conn, staging["id"], staging["version"])
            if existing is not None and await self._reviews_current_state(staging, existing):
                raise ReviewExists(
                    f"The staging copy of '{slug}' is already under review at version {staging['version']}: "
                    f"read it with GET {path}; an edit of the staging copy makes a new review necessary.",
                    hint=f"GET {path}",
                    location=path,
                )
            # No review of this copy and version yet, or one of a state the project's shared
            # definitions have changed since: this one supersedes it.
            digest = await state_digest(self.conn, staging["id"])
            await queries.insert_review(
                self.conn, live["id"], staging["id"], staging["version"], note, self.actor, digest
            )
            await release_queries.insert_audit_entry(
                self.conn,
                live["id"],
                "review_request",
                self.actor,
                details={"staging_version": staging["version"], **({"note": note} if note else {})},
            )
            review = await queries.review_of_copy(self.conn, staging["id"], staging["version"])
            assert review is not None
            return await self._view(live, review, current=True)

    async def get(self, project: str, slug: str) -> Review:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            staging = await toolset_queries.find_staging_copy(self.conn, live["id"])
            review = await queries.latest_review(self.conn, live["id"])
            if review is None:
                path = review_path(project, slug)
                raise ReviewNotFound(
                    f"Toolset '{slug}' has no review; put its staging copy up for review with POST {path}.",
                    hint=f"POST {path}",
                )
            return await self._view(live, review, await self._reviews_current_state(staging, review))

    async def approve(self, project: str, slug: str, comment: str | None, if_match: str | None) -> Review:
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            staging = await self._staging(project, live)
            check_if_match(if_match, staging["version"])
            review = await queries.review_of_copy(self.conn, staging["id"], staging["version"])
            path = review_path(project, slug)
            if review is None:
                if await queries.latest_review(self.conn, live["id"]) is None:
                    raise ReviewNotFound(
                        f"Toolset '{slug}' has no review to approve; its staging copy is put up for review "
                        f"with POST {path}.",
                        hint=f"POST {path}",
                    )
                raise ReviewOutdated(
                    f"The staging copy of '{slug}' changed after it was put up for review (it is at version "
                    f"{staging['version']} now), so that review no longer counts: read the staging copy, "
                    f"then request a new review (POST {path}).",
                    hint=f"POST {path}",
                )
            if not await self._reviews_current_state(staging, review):
                raise ReviewOutdated(
                    shared_definitions_changed(project, slug, staging["version"]), hint=f"POST {path}"
                )
            if review["requested_by"] == self.actor:
                raise SelfApproval(
                    "The API key that requested a review cannot approve it: approve with another key "
                    "that has the `approve` scope."
                )
            if not await queries.insert_approval(self.conn, review["id"], self.actor, comment):
                raise AlreadyApproved(
                    f"This API key has already approved staging version {staging['version']} of '{slug}'.",
                    location=path,
                )
            view = await self._view(live, review, current=True)
            details = {
                "review_id": str(review["id"]),
                "staging_version": staging["version"],
                "approvals": view.valid_approvals,
                "required_approvals": view.required_approvals,
            }
            await release_queries.insert_audit_entry(
                self.conn,
                live["id"],
                "review_approve",
                self.actor,
                details={**details, **({"comment": comment} if comment else {})},
            )
            await emit_toolset_event(
                self.conn, "review.approved", project, live, self.actor, **details, approved=view.approved
            )
            return view


async def review_service(
    conn: AsyncConnection = Depends(get_connection), principal: Principal = Depends(authenticate)
) -> ReviewService:
    return ReviewService(conn, principal)
