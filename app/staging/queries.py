"""Every statement of a publish: its locks, what it reads under them, and the publish itself.

A publish is four statements on its connection whatever the toolset's size (plus one that
enqueues webhook deliveries when a webhook listens), and a check beside them:

1. the live row's lock (`toolsets.queries.lock_live_toolset_at`);
2. `read_publish_context`, first the locks a capture needs (both variation groups, and the
   project's capture lock, shared), then, in a statement whose snapshot comes after them,
   the live row and its staging copy, the active deployment, the policy, the copy's review
   and approvals, and an earlier request's Idempotency-Key;
3. `publish`: bring the live toolset to its staging copy, capture, insert the release,
   move the pointer, record the move, the audit entry, the webhook deliveries, the
   review's release and the key, and delete the staging copy, as one statement of
   data-modifying CTEs. Each piece is its domain's own definition (capture's,
   variations', history's…); a statement does not see its own writes, so the live group's
   current variations after the sync are told from the sync's RETURNING
   (`current_after_sync`);
4. beside it, on a side connection (`app.kit.database.alongside`), `name_clashes`: the
   tool names that two tools of the staging copy would share, for the groups and the
   deployment the publish captures, given explicitly; the live row's lock keeps the
   staging copy still and the groups' locks the global variations.
"""

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    RowMapping,
    Select,
    Text,
    bindparam,
    case,
    delete,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.queries import acted_as
from app.db.tables import (
    api_keys,
    idempotency_keys,
    project_tool_variations,
    served_history,
    tool_variations,
    tool_variations_groups,
    toolset_audit_entries,
    toolset_policies,
    toolset_prompts,
    toolset_releases,
    toolsets,
    webhook_deliveries,
    webhooks,
)
from app.deployments.queries import active_deployment_id
from app.releases.capture import capture_lock_key, source_state_capture, toolset_state_capture
from app.releases.queries import RELEASE_COLUMNS
from app.reviews.queries import approvals_of_copy, mark_published, review_of_copy_id, state_digest_of_copy
from app.serving.state import duplicate_names
from app.toolsets.queries import CURRENT_RELEASE_NUMBER
from app.variations.queries import (
    capture_group_version_of,
    current_after_sync,
    current_ids_of,
    current_rows_of,
    sync_changes,
)

_UUID = PG_UUID(as_uuid=True)
# What a group version's ids, and a check of tool names, read of a group's variations.
_ID_COLUMNS = (tool_variations.c.id, tool_variations.c.src_tool_urn, tool_variations.c.deleted)
_NAME_COLUMNS = (tool_variations.c.src_tool_urn, tool_variations.c.name, tool_variations.c.deleted)


def _uuid(name: str) -> Any:
    return bindparam(name, type_=_UUID)


# --- 2. the capture's locks, then what a publish reads under them ---


def _planner_settings() -> list[Any]:
    """For the rest of the transaction: the publish statement is planned for its own
    parameters every time (a generic plan, made once per connection from the statistics of
    that moment, was no faster over HTTP and kept a bad choice for good), and reads no table
    whole: with statistics behind a burst of writes, a table scanned whole would make a
    small toolset's publish cost the whole table."""
    return [
        func.set_config("plan_cache_mode", "force_custom_plan", true()).label("plan_cache_mode"),
        func.set_config("enable_seqscan", "off", true()).label("enable_seqscan"),
    ]


def _publish_locks() -> Select[Any]:
    """The project's capture lock, shared (pruning and a new deployment take it alone), then
    both groups a capture reads, in id order: every capture takes them in that order, so
    two captures, or a capture and a deployment waiting for the lock, never deadlock."""
    live_id = _uuid("p_live_id")
    g = tool_variations_groups
    owner = toolsets.alias("owner")
    project_id = select(owner.c.project_id).where(owner.c.id == live_id).scalar_subquery()
    own_group = select(owner.c.tool_variations_group_id).where(owner.c.id == live_id)
    global_group = select(project_tool_variations.c.group_id).where(
        project_tool_variations.c.project_id == project_id
    )
    capture_lock = select(func.pg_advisory_xact_lock_shared(capture_lock_key(project_id)).label("taken")).cte(
        "capture_lock"
    )
    # Joined to the lock: a group row is locked (above the join) only once the lock is held.
    locked_groups = (
        select(g.c.id)
        .select_from(g.join(capture_lock, true()))
        .where(or_(g.c.id.in_(own_group), g.c.id.in_(global_group)))
        .order_by(g.c.id)
        .with_for_update(of=g)
        .cte("locked_groups")
    )
    return select(
        select(capture_lock.c.taken).scalar_subquery().label("capture_lock"),
        select(func.count()).select_from(locked_groups).scalar_subquery().label("locked_groups"),
    )


def _publish_context() -> Select[Any]:
    live_id = _uuid("p_live_id")
    policy = toolset_policies
    key = idempotency_keys
    stored_key = (
        select(key.c.request_hash, key.c.release_id)
        .where(
            key.c.toolset_id == live_id,
            key.c.operation == bindparam("p_operation", type_=Text),
            key.c.key == bindparam("p_idempotency_key", type_=Text),
        )
        .subquery("stored_key")
    )
    ts = toolsets
    return (
        select(
            ts.c.id,
            ts.c.project_id,
            ts.c.name,
            ts.c.slug,
            ts.c.editing_mode,
            ts.c.version,
            ts.c.parent_toolset_id,
            ts.c.current_release_id,
            ts.c.tool_variations_group_id,
            CURRENT_RELEASE_NUMBER.label("current_release_number"),
            # The deployment a publish captures, and whose tool names it checks.
            active_deployment_id(ts.c.project_id).label("deployment_id"),
            # The staging copy's review at its version, and its approvals (reviews, SPEC 9).
            review_of_copy_id(ts.c.id, ts.c.version).label("review_id"),
            approvals_of_copy(ts.c.id, ts.c.version).label("approvals"),
            state_digest_of_copy(ts.c.id, ts.c.version).label("review_state_digest"),
            select(project_tool_variations.c.group_id)
            .where(project_tool_variations.c.project_id == toolsets.c.project_id)
            .scalar_subquery()
            .label("global_group_id"),
            func.coalesce(
                select(policy.c.block_breaking).where(policy.c.toolset_id == live_id).scalar_subquery(),
                false(),
            ).label("block_breaking"),
            func.coalesce(
                select(policy.c.required_approvals).where(policy.c.toolset_id == live_id).scalar_subquery(),
                0,
            ).label("required_approvals"),
            select(stored_key.c.request_hash).scalar_subquery().label("stored_request_hash"),
            select(stored_key.c.release_id).scalar_subquery().label("stored_release_id"),
            *_planner_settings(),
        )
        .where(or_(toolsets.c.id == live_id, toolsets.c.parent_toolset_id == live_id))
        .order_by(toolsets.c.parent_toolset_id.is_not(None))
    )


_PUBLISH_LOCKS = _publish_locks()
_PUBLISH_CONTEXT = _publish_context()


async def read_publish_context(
    conn: AsyncConnection, live_id: UUID, operation: str, idempotency_key: str | None
) -> tuple[RowMapping, RowMapping | None]:
    """The live row (with its policy, the stored key, the global group and the active
    deployment) and its staging copy, after taking the capture's locks (two statements: a
    statement that waited for a lock reads with the snapshot of before the wait); call with
    the live row locked. The rows carry what a publish needs of a toolset row (not its
    selection: the statement reads that)."""
    await conn.execute(_PUBLISH_LOCKS, {"p_live_id": live_id})
    # Parameters are named p_…: no column of any table a statement writes has such a name
    # (SQLAlchemy would take a parameter named like a column for that column's value).
    params = {"p_live_id": live_id, "p_operation": operation, "p_idempotency_key": idempotency_key}
    rows = (await conn.execute(_PUBLISH_CONTEXT, params)).mappings().all()
    return rows[0], rows[1] if len(rows) > 1 else None


# --- 3. the publish itself ---


def _publish() -> Select[Any]:
    live_id, staging_id, project_id = _uuid("p_live_id"), _uuid("p_staging_id"), _uuid("p_project_id")
    live_group, staging_group, global_group = (
        _uuid("p_live_group"),
        _uuid("p_staging_group"),
        _uuid("p_global_group"),
    )
    actor = bindparam("p_actor", type_=Text)
    action = bindparam("p_action", type_=Text)

    # The staging copy's current variations are read once, for the sync and the capture;
    # of the global group's, only what its version holds.
    staging_rows = current_rows_of(staging_group, "staging_rows")
    global_rows = current_rows_of(global_group, "global_rows", _ID_COLUMNS)

    # The live toolset's own variations become the staging copy's.
    sync, tgt = sync_changes(live_group, staging_rows)
    v = tool_variations
    synced = sync.returning(v.c.id, v.c.src_tool_urn, v.c.deleted).cte("synced")
    live_ids = current_after_sync(tgt, synced, "own_")

    # Capture: source state, toolset state (the staging copy's selection, metadata and
    # prompts) and a version of each variation group.
    source_state = source_state_capture(project_id, deployment_id=_uuid("p_deployment_id"))
    toolset_state = toolset_state_capture(live_id, staging_id)
    global_version = capture_group_version_of(
        global_group, "global_", current_ids_of(global_group, "global_", global_rows)
    ).subquery("global_version")
    toolset_version = capture_group_version_of(live_group, "own_", live_ids).subquery("toolset_version")

    r = toolset_releases
    number = (
        select(func.coalesce(func.max(r.c.release_number), 0) + 1)
        .where(r.c.toolset_id == live_id)
        .scalar_subquery()
    )
    released = (
        insert(r)
        .from_select(
            [
                "toolset_id",
                "release_number",
                "source_state_id",
                "toolset_version_id",
                "global_variations_version_id",
                "toolset_variations_version_id",
                "notes",
                "released_by_user_id",
                "name",
                "acknowledged_breaking",
                "created_at",
            ],
            select(
                live_id,
                number,
                select(source_state.c.id).scalar_subquery(),
                select(toolset_state.c.id).scalar_subquery(),
                select(global_version.c.id).scalar_subquery(),
                select(toolset_version.c.id).scalar_subquery(),
                bindparam("p_notes", type_=Text),
                actor,
                bindparam("p_name", type_=Text),
                bindparam("p_acknowledged_breaking", type_=Boolean),
                # clock_timestamp(): a transaction that waited for the lock lists after the one it waited for.
                func.clock_timestamp(),
            ),
        )
        .returning(*RELEASE_COLUMNS)
        .cte("released")
    )

    # The live row: its metadata becomes the staging copy's, its version moves on, and it
    # points at the new release.
    staging = toolsets.alias("staging")
    history = toolsets.alias("history")
    pointed = (
        update(toolsets)
        .where(toolsets.c.id == live_id)
        .values(
            current_release_id=select(released.c.id).scalar_subquery(),
            name=select(staging.c.name).where(staging.c.id == staging_id).scalar_subquery(),
            description=select(staging.c.description).where(staging.c.id == staging_id).scalar_subquery(),
            version=select(func.max(history.c.version) + 1)
            .where(or_(history.c.id == live_id, history.c.parent_toolset_id == live_id))
            .scalar_subquery(),
            updated_at=func.now(),
        )
        .returning(toolsets.c.editing_mode)
        .cte("pointed")
    )

    # Prompt attachments: the staging copy's, writing only the differences.
    tp, staged = toolset_prompts, toolset_prompts.alias("staged")
    detached = (
        delete(tp)
        .where(
            tp.c.toolset_id == live_id,
            tp.c.prompt_history_id.not_in(
                select(staged.c.prompt_history_id).where(staged.c.toolset_id == staging_id)
            ),
        )
        .cte("detached")
    )
    attach = insert(tp).from_select(
        ["toolset_id", "prompt_history_id", "prompt_name"],
        select(live_id, staged.c.prompt_history_id, staged.c.prompt_name).where(
            staged.c.toolset_id == staging_id
        ),
    )
    attached = attach.on_conflict_do_update(
        constraint="toolset_prompts_toolset_id_prompt_history_id_key",
        set_={"prompt_name": attach.excluded.prompt_name},
        where=tp.c.prompt_name != attach.excluded.prompt_name,
    ).cte("attached")

    # The served history: from what the live row served before to the new release.
    from_mode, from_number = (
        bindparam("p_from_mode", type_=Text),
        bindparam("p_from_number", type_=r.c.release_number.type),
    )
    to_number = case((pointed.c.editing_mode == "staging", released.c.release_number))
    moved = (
        insert(served_history)
        .from_select(
            [
                "toolset_id",
                "action",
                "actor",
                "from_mode",
                "from_release_number",
                "to_mode",
                "to_release_number",
                "created_at",
            ],
            select(
                live_id,
                action,
                actor,
                from_mode,
                from_number,
                pointed.c.editing_mode,
                to_number,
                func.clock_timestamp(),
            )
            .select_from(pointed.join(released, true()))
            .where(
                tuple_(pointed.c.editing_mode, to_number).is_distinct_from(tuple_(from_mode, from_number))
            ),
        )
        .cte("moved")
    )

    # The staging copy goes, with its own group.
    staging_gone = delete(toolsets).where(toolsets.c.id == staging_id).cte("staging_gone")
    group_gone = (
        delete(tool_variations_groups)
        .where(tool_variations_groups.c.id == staging_group)
        .cte("staging_group_gone")
    )

    audited = (
        insert(toolset_audit_entries)
        .from_select(
            [
                "toolset_id",
                "action",
                "actor",
                "from_release_number",
                "to_release_number",
                "details",
                "created_at",
            ],
            select(
                live_id,
                action,
                actor,
                bindparam("p_previous_number", type_=r.c.release_number.type),
                released.c.release_number,
                bindparam("p_details", type_=JSONB),
                func.clock_timestamp(),
            ),
        )
        .cte("audited")
    )

    # Webhooks: one delivery per listening webhook, the event naming the new release.
    event_type = bindparam("p_event_type", type_=Text)
    payload = func.jsonb_set(
        bindparam("p_payload", type_=JSONB),
        literal_column("'{data,release_number}'"),
        func.to_jsonb(released.c.release_number),
    )
    delivered = (
        insert(webhook_deliveries)
        .from_select(
            ["webhook_id", "event_id", "event_type", "payload"],
            select(webhooks.c.id, _uuid("p_event_id"), event_type, payload)
            .select_from(webhooks.join(released, true()))
            .where(webhooks.c.project_id == project_id, event_type == func.any(webhooks.c.events)),
        )
        .returning(webhook_deliveries.c.id)
        .cte("delivered")
    )

    reviewed = mark_published(
        staging_id,
        bindparam("p_staging_version", type_=toolsets.c.version.type),
        select(released.c.release_number).scalar_subquery(),
    ).cte("reviewed")

    key = bindparam("p_idempotency_key", type_=Text)
    remembered = (
        insert(idempotency_keys)
        .from_select(
            ["toolset_id", "operation", "key", "request_hash", "release_id"],
            select(live_id, action, key, bindparam("p_request_hash", type_=Text), released.c.id).where(
                key.is_not(None)
            ),
        )
        .cte("remembered")
    )

    return select(
        *released.c,
        select(toolset_state.c.version).scalar_subquery().label("toolset_version"),
        *(
            select(c).where(acted_as(actor)).scalar_subquery().label(c.key)
            for c in (api_keys.c.name.label("key_name"), api_keys.c.key_prefix.label("key_prefix"))
        ),
        select(func.array_agg(delivered.c.id)).scalar_subquery().label("delivery_ids"),
    ).add_cte(
        synced, pointed, detached, attached, moved, staging_gone, group_gone, audited, reviewed, remembered
    )


def _name_clashes() -> Select[Any]:
    """`duplicates`: the staging copy's tool names that two tools would share, as JSON
    ([{name, tool_urns}], NULL for none), for the given groups and deployment (those the
    publish captures) and the staging copy's selection."""
    staging_rows = current_rows_of(_uuid("p_staging_group"), "staging_names", _NAME_COLUMNS)
    global_rows = current_rows_of(_uuid("p_global_group"), "global_names", _NAME_COLUMNS)
    clashes = duplicate_names(
        _uuid("p_staging_id"), global_rows, staging_rows, _uuid("p_deployment_id")
    ).subquery("duplicates")
    return select(
        select(func.json_agg(func.json_build_object("name", clashes.c.name, "tool_urns", clashes.c.urns)))
        .scalar_subquery()
        .label("duplicates")
    )


_PUBLISH = _publish()
_NAME_CLASHES = _name_clashes()
_PLANNER_SETTINGS = select(*_planner_settings())
_NAME_CLASH_PARAMS = ("p_staging_id", "p_staging_group", "p_global_group", "p_deployment_id")


async def publish(conn: AsyncConnection, **params: Any) -> RowMapping:
    """The publish (see the module's docstring): the release row as `_RELEASE_VIEW` reads it,
    with `delivery_ids` (webhook deliveries to enqueue)."""
    row: RowMapping = (await conn.execute(_PUBLISH, params)).mappings().one()
    return row


async def name_clashes(conn: AsyncConnection, **params: Any) -> list[dict[str, Any]] | None:
    """The publish's `duplicates` (see `_name_clashes`), from the publish's own parameters,
    planned as the publish is; call in a transaction (the settings last until its end)."""
    await conn.execute(_PLANNER_SETTINGS)
    wanted = {name: params[name] for name in _NAME_CLASH_PARAMS}
    clashes: list[dict[str, Any]] | None = (await conn.execute(_NAME_CLASHES, wanted)).scalar_one()
    return clashes


def publish_params(
    *,
    live: Mapping[Any, Any],
    staging: Mapping[Any, Any],
    global_group: UUID | None,
    action: str,
    actor: str,
    notes: str | None,
    name: str | None,
    acknowledged_breaking: bool,
    details: dict[str, Any],
    event_id: UUID,
    payload: dict[str, Any],
    idempotency_key: str | None,
    request_hash: str | None,
) -> dict[str, Any]:
    from_mode = live["editing_mode"]
    return {
        "p_live_id": live["id"],
        "p_staging_id": staging["id"],
        "p_staging_version": staging["version"],
        "p_project_id": live["project_id"],
        "p_deployment_id": live["deployment_id"],
        "p_live_group": live["tool_variations_group_id"],
        "p_staging_group": staging["tool_variations_group_id"],
        "p_global_group": global_group,
        "p_action": action,
        "p_actor": actor,
        "p_notes": notes,
        "p_name": name,
        "p_acknowledged_breaking": acknowledged_breaking,
        "p_from_mode": from_mode,
        "p_from_number": live["current_release_number"] if from_mode == "staging" else None,
        "p_previous_number": live["current_release_number"],
        "p_details": details,
        "p_event_type": "release.published",
        "p_event_id": event_id,
        "p_payload": payload,
        "p_idempotency_key": idempotency_key,
        "p_request_hash": request_hash,
    }


__all__: Sequence[str] = ("name_clashes", "publish", "publish_params", "read_publish_context")
