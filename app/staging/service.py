"""Staging use cases: editing modes, the staging copy, publish and discard.

A toolset in staging mode serves its current release; edits go to its staging
copy, a `toolsets` row with `parent_toolset_id` = the live row, which publish
turns into the next release in one transaction.
"""

from collections.abc import Mapping
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.history import queries as history_queries
from app.kit.auth import Principal, authenticate
from app.kit.database import alongside, get_connection
from app.kit.errors import Conflict, violated_constraint
from app.kit.etag import check_if_match
from app.kit.metrics import RELEASES
from app.policies.service import breaking_details, breaking_under_policy
from app.releases import queries as release_queries
from app.releases.diff import diff_bodies
from app.releases.schemas import Release, ReleaseCreate, StateDiff
from app.releases.service import (
    RELEASE_NAME_CONSTRAINT,
    ReleaseNameTaken,
    as_release,
    idempotency_key_reused,
    record_release,
    request_fingerprint,
)
from app.reviews.service import check_approvals
from app.serving import state
from app.serving.names import refusal as names_refusal
from app.serving.names import refuse_duplicate_names
from app.serving.pointers import PointerCache
from app.staging import queries as staging_queries
from app.toolsets import queries as toolset_queries
from app.toolsets.schemas import StagingUpdate, Toolset
from app.toolsets.service import (
    SLUG_CONSTRAINTS,
    ToolsetSlugTaken,
    apply_toolset_update,
    live_toolset,
    lock_live_toolset,
    locked_live_toolset,
    no_staging_copy,
    to_staging_mode,
    toolset_path,
)
from app.variations import queries as variation_queries
from app.variations.schemas import Variation, VariationFields
from app.variations.service import (
    VariationNotFound,
    as_variation,
    current_of,
    ensure_toolset_group,
    write_variation,
)
from app.webhooks.events import emit_toolset_event, enqueue_deliveries, event_payload, toolset_event_data


class StagingExists(Conflict):
    code = "staging_exists"


class NotInStagingMode(Conflict):
    code = "not_in_staging_mode"


class NoStagingToPublish(Conflict):
    code = "no_staging_copy"


def staging_path(project: str, slug: str) -> str:
    return f"/v1/projects/{project}/toolsets/{slug}/staging"


class StagingService:
    def __init__(self, conn: AsyncConnection, principal: Principal, pointers: PointerCache) -> None:
        self.conn = conn
        # Dropped after each commit that moves what a toolset serves: this process
        # reads its own writes at once; the others hear the trigger's NOTIFY.
        self.pointers = pointers
        self.org = principal.organization_id
        self.actor = principal.key_id

    # --- editing mode ---

    async def switch_mode(self, project: str, slug: str, mode: str, discard_staging: bool) -> Toolset:
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            if live["editing_mode"] == mode:
                return Toolset.model_validate(live)
            details: dict[str, Any] = {"from": live["editing_mode"], "to": mode}
            if mode == "staging":
                release_number = await self._release_for_switch(live)
                details["release_number"] = release_number
            else:
                staging = await toolset_queries.find_staging_copy(self.conn, live["id"])
                if staging is not None:
                    # Only unpublished changes stop the switch; an untouched copy just goes.
                    # Equal states computed by one statement are equal bytes: nothing is parsed.
                    unchanged = await state.current_state_json(
                        self.conn, staging["id"]
                    ) == await state.current_state_json(self.conn, live["id"])
                    if not (discard_staging or unchanged):
                        raise self._staging_blocks_switch(project, live)
                    await self._delete_staging(staging)
                    details["discarded_staging_version"] = staging["version"]
                # From now on the toolset serves its current data.
                await refuse_duplicate_names(self.conn, [live["id"]])
            version = await toolset_queries.next_history_version(self.conn, live["id"])
            await toolset_queries.update_toolset(self.conn, live["id"], editing_mode=mode, version=version)
            await history_queries.record_served_move(self.conn, live, "mode_switch", self.actor)
            await release_queries.insert_audit_entry(
                self.conn,
                live["id"],
                "mode_switch",
                self.actor,
                live["current_release_number"],
                details.get("release_number", live["current_release_number"]),
                details,
            )
            await emit_toolset_event(self.conn, "toolset.mode_changed", project, live, self.actor, **details)
            row = await toolset_queries.get_toolset(self.conn, live["id"])
        self.pointers.invalidate(live["id"])
        return Toolset.model_validate(row)

    @staticmethod
    def _staging_blocks_switch(project: str, live: RowMapping) -> StagingExists:
        base = staging_path(project, live["slug"])
        mode = f"{toolset_path(project, live['slug'])}/editing-mode"
        discard = f'PUT {mode} {{"mode": "iteration", "discard_staging": true}}'
        # Only a copy that differs from the live toolset stops the switch (switch_mode).
        return StagingExists(
            f"Toolset '{live['slug']}' has a staging copy with unpublished changes: publish it "
            f"(POST {base}/publish) or discard it (DELETE {base}) first, or switch and discard it "
            f"in one call ({discard}).",
            hint=discard,
        )

    async def _changes(self, live: RowMapping, staging: RowMapping) -> dict[str, Any]:
        """What publishing the staging copy would change in what the toolset serves."""
        if live["editing_mode"] == "staging" and live["current_release_id"] is not None:
            # The release on a connection of its own while this one computes the staging copy.
            before, after = await state.both(
                state.served_body(self.conn, live, self.pointers, apart=True),
                state.current_state_json(self.conn, staging["id"]),
            )
        else:
            before = await state.served_body(self.conn, live, self.pointers)
            after = await state.current_state_json(self.conn, staging["id"])
        return diff_bodies(before, after)

    async def _release_for_switch(self, live: RowMapping) -> int:
        """Capture the current state as a release, reusing the current one when nothing changed,
        so that clients see no change at the switch. Equal captures say so without computing
        a state; else the two states are compared as JSON (see `_serves_current_data`)."""
        current = None
        if live["current_release_id"] is not None:
            current = await release_queries.get_release(self.conn, live["current_release_id"])

        async def same_state() -> bool:
            assert current is not None
            return await self._serves_current_data(live, current)

        _, number = await record_release(
            self.conn,
            live,
            live["id"],
            "Captured when switching to staging mode",
            self.actor,
            reuse=current,
            same_state=same_state,
        )
        return number

    async def _serves_current_data(self, live: RowMapping, release: RowMapping) -> bool:
        """Whether `release` serves exactly the live row's current data. Both states come from
        one statement's JSON, so equal states are equal bytes once the release's number (the
        top-level key's value, the one place `"release_number" : ` can appear unescaped) reads
        null as current data's does: nothing is parsed."""
        now = await state.current_state_json(self.conn, live["id"])
        published = await state.release_body(self.conn, release["id"], self.pointers, live["slug"])
        number = b'"release_number" : %d' % release["release_number"]
        return now == published.replace(number, b'"release_number" : null', 1)

    # --- the staging copy ---

    async def create(self, project: str, slug: str) -> Toolset:
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            if live["editing_mode"] != "staging":
                raise NotInStagingMode(
                    f"Toolset '{slug}' is in iteration mode, where edits are served at once: switch it "
                    f"to staging mode first ({to_staging_mode(project, slug)}).",
                    hint=to_staging_mode(project, slug),
                )
            existing = await toolset_queries.find_staging_copy(self.conn, live["id"])
            if existing is not None:
                base = staging_path(project, slug)
                raise StagingExists(
                    f"Toolset '{slug}' already has a staging copy (version {existing['version']}): "
                    f"edit it with PATCH {base}.",
                    hint=f"PATCH {base}",
                )
            staging_id = await toolset_queries.insert_toolset(
                self.conn,
                organization_id=self.org,
                project_id=live["project_id"],
                name=live["name"],
                slug=live["slug"],
                description=live["description"],
                parent_toolset_id=live["id"],
                predecessor_id=live["id"],
                history_id=await toolset_queries.history_of(self.conn, live["id"]),
                editing_mode="staging",
                version=await toolset_queries.next_history_version(self.conn, live["id"]),
            )
            assert staging_id is not None  # the version is fresh under the live row's lock
            await toolset_queries.insert_selection(
                self.conn, staging_id, live["tool_urns"], live["resource_urns"], None
            )
            await toolset_queries.copy_prompts(self.conn, live["id"], staging_id)
            if live["tool_variations_group_id"] is not None:
                staging = await toolset_queries.get_toolset(self.conn, staging_id)
                group_id = await ensure_toolset_group(self.conn, staging)
                live_ids = await variation_queries.current_variation_ids(
                    self.conn, live["tool_variations_group_id"]
                )
                await variation_queries.sync_group(self.conn, group_id, live_ids)
            row = await toolset_queries.get_toolset(self.conn, staging_id)
        return Toolset.model_validate(row)

    async def _staging_of(self, project: str, live: RowMapping) -> RowMapping:
        staging = await toolset_queries.find_staging_copy(self.conn, live["id"])
        if staging is None:
            raise no_staging_copy(project, live)
        return staging

    async def get(self, project: str, slug: str) -> Toolset:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            return Toolset.model_validate(await self._staging_of(project, live))

    async def update(self, project: str, slug: str, body: StagingUpdate, if_match: str | None) -> Toolset:
        try:
            async with self.conn.begin():
                live = await locked_live_toolset(self.conn, self.org, project, slug)
                staging = await self._staging_of(project, live)
                check_if_match(if_match, staging["version"])
                await apply_toolset_update(self.conn, staging, live["id"], live["project_id"], body)
                row = await toolset_queries.get_toolset(self.conn, staging["id"])
        except IntegrityError as exc:
            if violated_constraint(exc) not in SLUG_CONSTRAINTS:
                raise
            raise ToolsetSlugTaken(f"A toolset with slug '{body.slug}' already exists.") from exc
        return Toolset.model_validate(row)

    async def discard(self, project: str, slug: str, if_match: str | None) -> None:
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            staging = await self._staging_of(project, live)
            check_if_match(if_match, staging["version"])
            await self._delete_staging(staging)
            await release_queries.insert_audit_entry(
                self.conn,
                live["id"],
                "discard",
                self.actor,
                details={"staging_version": staging["version"]},
            )

    async def _delete_staging(self, staging: RowMapping) -> None:
        await toolset_queries.delete_toolset(self.conn, staging["id"])
        if staging["tool_variations_group_id"] is not None:
            await variation_queries.delete_groups(self.conn, [staging["tool_variations_group_id"]])

    # --- staging variations ---

    async def list_variations(
        self, project: str, slug: str, after: list[Any] | None, limit: int
    ) -> tuple[list[Variation], str | None]:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            staging = await self._staging_of(project, live)
            return await current_of(self.conn, staging["tool_variations_group_id"], after, limit)

    async def write_variation(
        self, project: str, slug: str, tool_urn: str, body: VariationFields | None, if_match: str | None
    ) -> tuple[Variation, int]:
        """The variation version, and the staging copy's version (its ETag) after the write."""
        async with self.conn.begin():
            live = await locked_live_toolset(self.conn, self.org, project, slug)
            staging = await self._staging_of(project, live)
            check_if_match(if_match, staging["version"])
            if body is None and staging["tool_variations_group_id"] is None:
                raise VariationNotFound(f"No variation of {tool_urn} to delete.")
            group_id = await ensure_toolset_group(self.conn, staging)
            fields = body.model_dump() if body is not None else None
            row, changed = await write_variation(self.conn, live["project_id"], group_id, tool_urn, fields)
            version: int = staging["version"]
            if changed:
                await refuse_duplicate_names(self.conn, [staging["id"]])
                version = await toolset_queries.next_history_version(self.conn, live["id"])
                await toolset_queries.update_toolset(self.conn, staging["id"], version=version)
        return as_variation(row), version

    # --- diff and publish ---

    async def diff(self, project: str, slug: str) -> StateDiff:
        async with self.conn.begin():
            live = await live_toolset(self.conn, self.org, project, slug)
            staging = await self._staging_of(project, live)
            changes = await self._changes(live, staging)
        return StateDiff.model_validate({"from": "live", "to": "staging", **changes})

    @staticmethod
    def _nothing_to_publish(project: str, live: RowMapping) -> Conflict:
        slug = live["slug"]
        if live["editing_mode"] != "staging":
            return NotInStagingMode(
                f"Toolset '{slug}' is in iteration mode: its edits are already served, so there is no "
                f"staging copy to publish. To make a release of what it serves, POST "
                f"{toolset_path(project, slug)}/releases; to stage changes first, switch it to staging "
                f"mode ({to_staging_mode(project, slug)}).",
                hint=to_staging_mode(project, slug),
            )
        base = staging_path(project, slug)
        return NoStagingToPublish(
            f"Toolset '{slug}' has no staging copy to publish (already published or discarded); "
            f"make one with POST {base}.",
            hint=f"POST {base}",
        )

    async def publish(
        self, project: str, slug: str, body: ReleaseCreate, if_match: str | None, idempotency_key: str | None
    ) -> tuple[Release, bool]:
        """PublishStagingVersion, in one transaction: the staging copy becomes the next release,
        the live row shows it, and the staging copy is gone.

        Four statements when the policy does not block breaking changes (the live row's
        lock, the capture's locks, the context read, the publish), whatever the toolset's
        size, and beside the publish the check of tool names (`staging.queries`)."""
        fingerprint = request_fingerprint(body.fingerprint_fields())
        try:
            async with self.conn.begin():
                live_id = await lock_live_toolset(self.conn, self.org, project, slug)
                live, staging = await staging_queries.read_publish_context(
                    self.conn, live_id, "publish", idempotency_key
                )
                if live["stored_release_id"] is not None:
                    if live["stored_request_hash"] != fingerprint:
                        raise idempotency_key_reused(idempotency_key)
                    row = await release_queries.get_release(self.conn, live["stored_release_id"])
                    return as_release(row, live["current_release_id"]), True
                if staging is None:
                    raise self._nothing_to_publish(project, live)
                check_if_match(if_match, staging["version"])
                row = await self.publish_locked(
                    project,
                    live,
                    staging,
                    body.notes,
                    name=body.name,
                    acknowledge_breaking=body.acknowledge_breaking,
                    idempotency=(idempotency_key, fingerprint) if idempotency_key is not None else None,
                )
        except IntegrityError as exc:
            constraint = violated_constraint(exc)
            if constraint == RELEASE_NAME_CONSTRAINT:
                raise ReleaseNameTaken(
                    f"Toolset '{slug}' already has a release named '{body.name}'."
                ) from exc
            if constraint not in SLUG_CONSTRAINTS:
                raise
            raise ToolsetSlugTaken("The staging copy's slug is taken by another toolset.") from exc
        self.pointers.invalidate(live["id"])
        RELEASES.labels("publish").inc()
        return as_release(row, row["id"]), False

    async def publish_locked(
        self,
        project: str,
        live: Mapping[Any, Any],
        staging: Mapping[Any, Any],
        notes: str | None,
        trigger: str = "publish",
        details: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        acknowledge_breaking: bool = False,
        idempotency: tuple[str, str] | None = None,
    ) -> RowMapping:
        """The publish itself, inside the caller's transaction, with `live` and `staging` as
        `read_publish_context` read them (so under the live row's lock and the capture's, with
        the policy and the staging copy's approvals): shared by publishStagingVersion and a
        scheduled publish (`trigger`), so both make the same checks (approvals, then breaking
        changes), the same audit entry and the same webhook event. Every edit and approval
        takes the same lock, so the approvals counted are those of the very version published.

        One statement (`staging_queries.publish`), with the check of tool names beside it on
        a side connection, when the policy does not block breaking changes (else the staging
        copy's state is computed and compared first), and one more to enqueue webhook
        deliveries when a webhook listens. Returns the release row (`release_number`: its
        number)."""
        approvals = await check_approvals(self.conn, project, live, staging)
        breaking: list[dict[str, Any]] = []
        if live["block_breaking"]:  # else no state is computed, and no diff
            after = await state.current_state_json(self.conn, staging["id"])
            breaking = await breaking_under_policy(
                self.conn, live, after, acknowledge_breaking, "publish", self.pointers
            )
        if live["tool_variations_group_id"] is None and staging["tool_variations_group_id"] is not None:
            # The live toolset's first own variations: its group is made first (rare).
            live = {**live, "tool_variations_group_id": await ensure_toolset_group(self.conn, live)}
        previous = live["current_release_number"]
        event_id, payload = event_payload(
            "release.published",
            toolset_event_data(
                project,
                live,
                self.actor,
                release_number=None,  # set by the statement
                previous_release_number=previous,
                trigger=trigger,
                **(details or {}),
            ),
        )
        audit = {
            "staging_version": staging["version"],
            **(details or {}),
            **approvals,
            **breaking_details(breaking),
        }
        key, request_hash = idempotency if idempotency is not None else (None, None)
        params = staging_queries.publish_params(
            live=live,
            staging=staging,
            global_group=live["global_group_id"],
            action="publish",
            actor=self.actor,
            notes=notes,
            name=name,
            acknowledged_breaking=bool(breaking),
            details=audit,
            event_id=event_id,
            payload=payload,
            idempotency_key=key,
            request_hash=request_hash,
        )
        # The tool names are checked on a side connection while the publish statement runs
        # (at 5,000 tools the check is a third of the work): the groups and deployment the
        # statement captures, given explicitly, and the staging copy, which this row lock
        # keeps still; a clash rolls the statement back.
        row, duplicates = await alongside(
            self.conn,
            staging_queries.publish(self.conn, **params),
            lambda own: staging_queries.name_clashes(own, **params),
        )
        if duplicates:  # no release serves two tools with one name: this rolls back
            raise names_refusal(duplicates)
        if row["delivery_ids"]:
            await enqueue_deliveries(self.conn, list(row["delivery_ids"]))
        return row


async def staging_service(
    request: Request,
    conn: AsyncConnection = Depends(get_connection),
    principal: Principal = Depends(authenticate),
) -> StagingService:
    return StagingService(conn, principal, request.app.state.pointers)
