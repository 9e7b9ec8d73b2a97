"""Every table of the service as SQLAlchemy Core, matching the schema at Alembic head.

Alembic owns the schema; these definitions mirror it so queries read like the SQL
they emit. A test compares them with a freshly migrated database.
"""

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, ENUM, JSONB, UUID

# PostgreSQL's own default names, so that constraints created by hand, by the
# design note's SQL and by Alembic all agree.
NAMING_CONVENTION = {
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _id() -> Column[object]:
    return Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _updated_at() -> Column[object]:
    return Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _deleted() -> list[Column[object]]:
    return [
        Column("deleted_at", DateTime(timezone=True)),
        Column("deleted", Boolean, Computed("deleted_at IS NOT NULL", persisted=True), nullable=False),
    ]


def _owned_by(parent: str, name: str | None = None, **options: Any) -> Column[object]:
    """A required reference to the row that owns this one: deleting the owner deletes it."""
    column = name or f"{parent.removesuffix('s')}_id"
    return Column(
        column, UUID(as_uuid=True), ForeignKey(f"{parent}.id", ondelete="CASCADE"), nullable=False, **options
    )


TEXT_ARRAY = ARRAY(Text)
UUID_ARRAY = ARRAY(UUID(as_uuid=True))

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    Column("organization_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("key_prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False),
    Column("scopes", TEXT_ARRAY, nullable=False, server_default=text("'{}'")),
    _created_at(),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),  # 0007; to the minute (kit/auth.py)
    UniqueConstraint("key_hash"),
)

projects = Table(
    "projects",
    metadata,
    _id(),
    Column("organization_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("slug", Text, nullable=False),
    _created_at(),
    _updated_at(),
    UniqueConstraint("organization_id", "slug"),
)

deployments = Table(
    "deployments",
    metadata,
    _id(),
    Column("organization_id", Text, nullable=False),
    _owned_by("projects"),
    Column("status", Text, nullable=False, server_default=text("'completed'")),
    # A strictly increasing number per database: "latest completed" must not depend on clock ties.
    Column("seq", BigInteger, Identity(always=True), nullable=False),
    _created_at(),
    CheckConstraint("status IN ('pending', 'completed', 'failed')", name="status"),
    Index("deployments_project_id_seq_idx", "project_id", text("seq DESC")),
)

http_tool_definitions = Table(
    "http_tool_definitions",
    metadata,
    _id(),
    _owned_by("projects"),
    _owned_by("deployments"),
    Column("tool_urn", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("summary", Text),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column("input_schema", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("http_method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("tags", TEXT_ARRAY, nullable=False, server_default=text("'{}'")),
    Column("read_only_hint", Boolean),
    Column("destructive_hint", Boolean),
    Column("idempotent_hint", Boolean),
    Column("open_world_hint", Boolean),
    _created_at(),
    # Where each argument goes in the HTTP request (importOpenApiDeployment); NULL for hand-made tools.
    Column("argument_mapping", JSONB),
    UniqueConstraint("deployment_id", "tool_urn"),
)

resource_definitions = Table(
    "resource_definitions",
    metadata,
    _id(),
    _owned_by("projects"),
    _owned_by("deployments"),
    Column("resource_urn", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("uri", Text, nullable=False),
    Column("description", Text),
    Column("mime_type", Text),
    _created_at(),
    UniqueConstraint("deployment_id", "resource_urn"),
)

prompt_templates = Table(
    "prompt_templates",
    metadata,
    _id(),
    _owned_by("projects"),
    # Copy-on-write: every revision of one template shares history_id; the current
    # revision is the one no other row names as its predecessor.
    Column("history_id", UUID(as_uuid=True), nullable=False),
    Column("predecessor_id", UUID(as_uuid=True), ForeignKey("prompt_templates.id", ondelete="SET NULL")),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("prompt", Text, nullable=False),
    Column("arguments", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    _created_at(),
    *_deleted(),
    # One successor per revision: two concurrent edits of the same revision cannot fork history.
    UniqueConstraint("predecessor_id"),
    Index("prompt_templates_project_id_name_idx", "project_id", "name"),
    Index("prompt_templates_history_id_idx", "history_id"),
)

tool_variations_groups = Table(
    "tool_variations_groups",
    metadata,
    _id(),
    _owned_by("projects"),
    Column("name", Text, nullable=False),
    Column("description", Text),
    _created_at(),
)

project_tool_variations = Table(
    "project_tool_variations",
    metadata,
    _id(),
    _owned_by("projects"),
    _owned_by("tool_variations_groups", "group_id"),
    _created_at(),
    UniqueConstraint("project_id"),
)

tool_variations = Table(
    "tool_variations",
    metadata,
    _id(),
    _owned_by("tool_variations_groups", "group_id"),
    Column("src_tool_urn", Text, nullable=False),
    Column("src_tool_name", Text, nullable=False),
    Column("confirm", Text),
    Column("confirm_prompt", Text),
    Column("name", Text),
    Column("summary", Text),
    Column("description", Text),
    Column("tags", TEXT_ARRAY),
    Column("summarizer", Text),
    Column("title", Text),
    Column("read_only_hint", Boolean),
    Column("destructive_hint", Boolean),
    Column("idempotent_hint", Boolean),
    Column("open_world_hint", Boolean),
    # Added by the staging-and-releases revision: each edit is a new row.
    # No foreign key, on purpose: a variation's versions live in one group and are only
    # ever deleted with that whole group, so the link cannot dangle, while a foreign key
    # would fire a trigger per deleted row whenever a staging copy's group goes away.
    Column("predecessor_id", UUID(as_uuid=True)),
    Column("version", BigInteger, nullable=False, server_default=text("1")),
    _created_at(),
    _updated_at(),
    *_deleted(),
    Index(
        "tool_variations_scoped_src_tool_urn_version_key",
        "group_id",
        "src_tool_urn",
        "version",
        unique=True,
        postgresql_where=text("deleted IS FALSE"),
    ),
    # 0004: latest version per tool (tombstones included).
    Index(
        "tool_variations_group_id_src_tool_urn_version_idx", "group_id", "src_tool_urn", text("version DESC")
    ),
)

toolsets = Table(
    "toolsets",
    metadata,
    _id(),
    Column("organization_id", Text, nullable=False),
    _owned_by("projects"),
    Column("name", Text, nullable=False),
    Column("slug", Text, nullable=False),
    Column("description", Text),
    Column(
        "tool_variations_group_id",
        UUID(as_uuid=True),
        ForeignKey("tool_variations_groups.id", ondelete="SET NULL"),
    ),
    _created_at(),
    _updated_at(),
    # Added by the staging-and-releases revision.
    Column("parent_toolset_id", UUID(as_uuid=True), ForeignKey("toolsets.id", ondelete="CASCADE")),
    Column("editing_mode", Text, nullable=False, server_default=text("'iteration'")),
    Column(
        "current_release_id",
        UUID(as_uuid=True),
        ForeignKey("toolset_releases.id", ondelete="SET NULL", use_alter=True),
    ),
    Column("predecessor_id", UUID(as_uuid=True), ForeignKey("toolsets.id", ondelete="SET NULL")),
    Column("version", BigInteger, nullable=False, server_default=text("1")),
    Column("history_id", UUID(as_uuid=True)),
    CheckConstraint("editing_mode IN ('iteration', 'staging')", name="editing_mode"),
    Index("toolsets_parent_toolset_id_idx", "parent_toolset_id"),
    Index("toolsets_predecessor_id_idx", "predecessor_id"),  # 0004
    Index("toolsets_history_id_version_idx", "history_id", text("version DESC")),
    Index("toolsets_project_id_slug_version_key", "project_id", "slug", "version", unique=True),
    # Not in the note: the note's key allows two live toolsets with one slug at
    # different versions; live rows (no parent) keep their slug unique.
    Index(
        "toolsets_project_id_slug_live_key",
        "project_id",
        "slug",
        unique=True,
        postgresql_where=text("parent_toolset_id IS NULL"),
    ),
)

toolset_versions = Table(
    "toolset_versions",
    metadata,
    _id(),
    _owned_by("toolsets"),
    Column("version", BigInteger, nullable=False),
    Column("tool_urns", TEXT_ARRAY, nullable=False, server_default=text("'{}'")),
    Column("resource_urns", TEXT_ARRAY, nullable=False, server_default=text("'{}'")),
    Column("predecessor_id", UUID(as_uuid=True), ForeignKey("toolset_versions.id", ondelete="SET NULL")),
    _created_at(),
    # Added with releases (0003): the metadata a release must reproduce, captured with the selection.
    Column("name", Text),
    Column("slug", Text),
    Column("description", Text),
    Column("prompt_history_ids", UUID_ARRAY, nullable=False, server_default=text("'{}'")),
    UniqueConstraint("toolset_id", "version"),
    Index("toolset_versions_predecessor_id_idx", "predecessor_id"),  # 0004
)

toolset_prompts = Table(
    "toolset_prompts",
    metadata,
    _id(),
    _owned_by("toolsets"),
    Column("prompt_history_id", UUID(as_uuid=True), nullable=False),
    Column("prompt_name", Text, nullable=False),
    _created_at(),
    UniqueConstraint("toolset_id", "prompt_history_id"),
)

# --- Staging and releases (the design note's revision) ---

tool_variations_group_versions = Table(
    "tool_variations_group_versions",
    metadata,
    _id(),
    _owned_by("tool_variations_groups", "group_id"),
    Column("version", BigInteger, nullable=False),
    Column("variation_ids", UUID_ARRAY, nullable=False, server_default=text("'{}'")),
    Column(
        "predecessor_id",
        UUID(as_uuid=True),
        ForeignKey("tool_variations_group_versions.id", ondelete="SET NULL"),
    ),
    _created_at(),
    UniqueConstraint("group_id", "version"),
    Index("tool_variations_group_versions_predecessor_id_idx", "predecessor_id"),  # 0004
)

system_source_states = Table(
    "system_source_states",
    metadata,
    _id(),
    _owned_by("projects"),
    Column("prompt_template_ids", UUID_ARRAY, nullable=False, server_default=text("'{}'")),
    _created_at(),
    Index("system_source_states_project_id_idx", "project_id"),  # 0003: capture's reuse lookup
)

source_states = Table(
    "source_states",
    metadata,
    _id(),
    _owned_by("projects"),
    Column("deployment_id", UUID(as_uuid=True), ForeignKey("deployments.id", ondelete="RESTRICT")),
    Column(
        "system_source_state_id",
        UUID(as_uuid=True),
        ForeignKey("system_source_states.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    _created_at(),
    UniqueConstraint("deployment_id", "system_source_state_id", postgresql_nulls_not_distinct=True),
)

toolset_releases = Table(
    "toolset_releases",
    metadata,
    _id(),
    _owned_by("toolsets"),
    Column(
        "source_state_id",
        UUID(as_uuid=True),
        ForeignKey("source_states.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column(
        "toolset_version_id",
        UUID(as_uuid=True),
        # NO ACTION rather than RESTRICT: deleting a toolset cascades to both its
        # versions and its releases in one statement, and NO ACTION checks at the
        # statement's end, after the releases are gone. Alone, it still refuses.
        ForeignKey("toolset_versions.id"),
        nullable=False,
    ),
    Column(
        "global_variations_version_id",
        UUID(as_uuid=True),
        ForeignKey("tool_variations_group_versions.id", ondelete="RESTRICT"),
    ),
    Column(
        "toolset_variations_version_id",
        UUID(as_uuid=True),
        ForeignKey("tool_variations_group_versions.id", ondelete="RESTRICT"),
    ),
    Column("release_number", BigInteger, nullable=False),
    Column("notes", Text),
    Column("released_by_user_id", Text),
    _created_at(),
    # 0013: made with breaking changes that a block_breaking policy let through on request.
    Column("acknowledged_breaking", Boolean, nullable=False, server_default=text("false")),
    Column("name", Text),  # 0014: optional, unique per toolset
    UniqueConstraint("toolset_id", "release_number"),
    Index("toolset_releases_toolset_id_created_at_idx", "toolset_id", text("created_at DESC")),
    Index("toolset_releases_toolset_version_id_idx", "toolset_version_id"),  # 0004
    Index(
        "toolset_releases_toolset_id_name_key",
        "toolset_id",
        "name",
        unique=True,
        postgresql_where=text("name IS NOT NULL"),
    ),  # 0014
)

# --- Audit and idempotency (revision 0003) ---

toolset_audit_entries = Table(
    "toolset_audit_entries",
    metadata,
    _id(),
    _owned_by("toolsets"),
    Column("action", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("from_release_number", BigInteger),
    Column("to_release_number", BigInteger),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _created_at(),
    CheckConstraint(
        "action IN ('create_release', 'publish', 'rollback', 'mode_switch', 'discard', 'rename', "
        "'policy_update', 'label_move', 'label_delete', 'prune', 'snapshot_restore', "
        "'review_request', 'review_approve')",
        name="action",
    ),
    Index(
        "toolset_audit_entries_toolset_id_created_at_idx",
        "toolset_id",
        text("created_at DESC"),
        text("id DESC"),
    ),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    _id(),
    _owned_by("toolsets"),
    Column("operation", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column(
        "release_id",
        UUID(as_uuid=True),
        ForeignKey("toolset_releases.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _created_at(),
    UniqueConstraint("toolset_id", "operation", "key"),
)


# --- Webhooks (revision 0008) ---

webhooks = Table(
    "webhooks",
    metadata,
    _id(),
    Column("organization_id", Text, nullable=False),
    _owned_by("projects"),
    Column("url", Text, nullable=False),
    Column("events", TEXT_ARRAY, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    _created_at(),
    Index("webhooks_project_id_created_at_idx", "project_id", text("created_at DESC"), text("id DESC")),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _id(),
    Column("webhook_id", UUID(as_uuid=True), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempt_count", BigInteger, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True)),
    _created_at(),
    _updated_at(),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    Index(
        "webhook_deliveries_webhook_id_created_at_idx",
        "webhook_id",
        text("created_at DESC"),
        text("id DESC"),
    ),
)

webhook_delivery_attempts = Table(
    "webhook_delivery_attempts",
    metadata,
    _id(),
    Column(
        "delivery_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempt", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("status_code", BigInteger),
    Column("succeeded", Boolean, nullable=False),
    Column("error", Text),
    Index("webhook_delivery_attempts_delivery_id_attempt_idx", "delivery_id", text("attempt DESC")),
)

# --- The job queue library's tables (revision 0008), as pgqueuer 1.6.0 declares them ---
# Only app/jobs/ touches them, through pgqueuer's own API; they are mirrored here
# so that this module stays equal to the migrated head.

PGQUEUER_STATUS = ENUM(
    "queued",
    "picked",
    "successful",
    "exception",
    "canceled",
    "deleted",
    "failed",
    name="pgqueuer_status",
    create_type=False,
)
_QUEUED = text("status = 'queued'::pgqueuer_status")
_PICKED = text("status = 'picked'::pgqueuer_status")


def _pgqueuer_now(name: str) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


pgqueuer = Table(
    "pgqueuer",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("priority", Integer, nullable=False),
    Column("queue_manager_id", UUID(as_uuid=True)),
    _pgqueuer_now("created"),
    _pgqueuer_now("updated"),
    _pgqueuer_now("heartbeat"),
    _pgqueuer_now("execute_after"),
    Column("status", PGQUEUER_STATUS, nullable=False),
    Column("entrypoint", Text, nullable=False),
    Column("dedupe_key", Text),
    Column("payload", LargeBinary),
    Column("headers", JSONB),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("slot", BigInteger),
    Index("pgqueuer_ep_ea_idx", "entrypoint", "execute_after", postgresql_where=_QUEUED),
    Index("pgqueuer_ep_prio_id_idx", "entrypoint", text("priority DESC"), "id", postgresql_where=_QUEUED),
    Index("pgqueuer_picked_heartbeat_idx", "heartbeat", postgresql_where=_PICKED),
    Index(
        "pgqueuer_picked_slot_idx",
        "entrypoint",
        "slot",
        unique=True,
        postgresql_where=text("status = 'picked'::pgqueuer_status AND slot IS NOT NULL"),
    ),
    Index(
        "pgqueuer_priority_id_id1_idx",
        "priority",
        text("id DESC"),
        postgresql_include=["id"],
        postgresql_where=_QUEUED,
    ),
    Index(
        "pgqueuer_queue_manager_id_idx",
        "queue_manager_id",
        postgresql_where=text("queue_manager_id IS NOT NULL"),
    ),
    Index(
        "pgqueuer_unique_dedupe_key",
        "dedupe_key",
        unique=True,
        postgresql_where=text(
            "status = ANY (ARRAY['queued'::pgqueuer_status, 'picked'::pgqueuer_status]) "
            "AND dedupe_key IS NOT NULL"
        ),
    ),
    Index(
        "pgqueuer_updated_id_id1_idx",
        "updated",
        text("id DESC"),
        postgresql_include=["id"],
        postgresql_where=_PICKED,
    ),
)

pgqueuer_log = Table(
    "pgqueuer_log",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    _pgqueuer_now("created"),
    Column("job_id", BigInteger, nullable=False),
    Column("status", PGQUEUER_STATUS, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("entrypoint", Text, nullable=False),
    Column("traceback", JSONB),
    Column("aggregated", Boolean, server_default=text("false")),
    Index("pgqueuer_log_created", "created"),
    Index("pgqueuer_log_job_id_status", "job_id", text("created DESC")),
    Index("pgqueuer_log_not_aggregated", text("(1)"), postgresql_where=text("NOT aggregated")),
    Index("pgqueuer_log_status", "status"),
)

pgqueuer_schedules = Table(
    "pgqueuer_schedules",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("expression", Text, nullable=False),
    Column("entrypoint", Text, nullable=False),
    _pgqueuer_now("heartbeat"),
    _pgqueuer_now("created"),
    _pgqueuer_now("updated"),
    _pgqueuer_now("next_run"),
    Column("last_run", DateTime(timezone=True)),
    Column("status", PGQUEUER_STATUS, server_default=text("'queued'::pgqueuer_status")),
    UniqueConstraint("expression", "entrypoint"),
)

pgqueuer_statistics = Table(
    "pgqueuer_statistics",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "created",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("date_trunc('sec'::text, now())"),
    ),
    Column("count", BigInteger, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("status", PGQUEUER_STATUS, nullable=False),
    Column("entrypoint", Text, nullable=False),
    Index(
        "pgqueuer_statistics_unique_count",
        "priority",
        text("date_trunc('sec'::text, timezone('UTC'::text, created))"),
        "status",
        "entrypoint",
        unique=True,
    ),
)

upstreams = Table(
    "upstreams",
    metadata,
    _id(),
    _owned_by("projects"),
    Column("source", Text, nullable=False),
    Column("base_url", Text, nullable=False),
    Column("header_names", TEXT_ARRAY, nullable=False, server_default=text("'{}'")),
    # Every header value, sealed together (app/kit/secrets.py); never stored in clear.
    Column("headers_sealed", LargeBinary),
    _created_at(),
    _updated_at(),
    UniqueConstraint("project_id", "source"),
)

# --- Scheduled publishes (revision 0011) ---

scheduled_publishes = Table(
    "scheduled_publishes",
    metadata,
    _id(),
    _owned_by("toolsets"),
    Column("staging_version", BigInteger, nullable=False),
    Column("publish_at", DateTime(timezone=True), nullable=False),
    Column("notes", Text),
    Column("requested_by", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'scheduled'")),
    Column("release_number", BigInteger),
    Column("failure_code", Text),
    Column("failure_detail", Text),
    _created_at(),
    Column("finished_at", DateTime(timezone=True)),
    # 0015: the staging copy it was given, and the publish request's name and acknowledgement.
    Column("staging_toolset_id", UUID(as_uuid=True)),
    Column("release_name", Text),
    Column("acknowledge_breaking", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("status IN ('scheduled', 'published', 'cancelled', 'failed')", name="status"),
    Index(
        "scheduled_publishes_toolset_id_created_at_idx",
        "toolset_id",
        text("created_at DESC"),
        text("id DESC"),
    ),
    Index(
        "scheduled_publishes_one_pending_key",
        "toolset_id",
        unique=True,
        postgresql_where=text("status = 'scheduled'"),
    ),
)

# --- Toolset policies (revision 0013) ---

toolset_policies = Table(
    "toolset_policies",
    metadata,
    _owned_by("toolsets", primary_key=True),
    Column("block_breaking", Boolean, nullable=False, server_default=text("false")),
    Column("keep_last", BigInteger),
    Column("required_approvals", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_by", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("keep_last IS NULL OR keep_last >= 1", name="keep_last"),
    CheckConstraint("required_approvals >= 0", name="required_approvals"),
)

# --- Release lifecycle (revision 0014) ---

release_labels = Table(
    "release_labels",
    metadata,
    _owned_by("toolsets", primary_key=True),
    Column("label", Text, primary_key=True),
    # NO ACTION: deleting a toolset cascades to its labels and releases in one statement.
    Column("release_id", UUID(as_uuid=True), ForeignKey("toolset_releases.id"), nullable=False),
    Column("version", BigInteger, nullable=False, server_default=text("1")),
    Column("updated_by", Text),
    _created_at(),
    _updated_at(),
    Index("release_labels_release_id_idx", "release_id"),
)

served_history = Table(
    "served_history",
    metadata,
    _id(),
    _owned_by("toolsets"),
    Column("label", Text),  # NULL: the toolset's served pointer; else that label's
    Column("action", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text),
    Column("from_mode", Text),
    Column("from_release_number", BigInteger),
    Column("to_mode", Text),
    Column("to_release_number", BigInteger),
    _created_at(),
    Index(
        "served_history_toolset_id_label_created_at_idx",
        "toolset_id",
        "label",
        text("created_at DESC"),
        text("id DESC"),
    ),
)

project_snapshots = Table(
    "project_snapshots",
    metadata,
    _id(),
    _owned_by("projects"),
    Column("name", Text),
    Column("created_by", Text, nullable=False),
    _created_at(),
    Index(
        "project_snapshots_project_id_created_at_idx", "project_id", text("created_at DESC"), text("id DESC")
    ),
)

project_snapshot_toolsets = Table(
    "project_snapshot_toolsets",
    metadata,
    Column(
        "snapshot_id",
        UUID(as_uuid=True),
        ForeignKey("project_snapshots.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("toolset_slug", Text, primary_key=True),
    # SET NULL: the entry outlives a deleted toolset, so a restore can name it.
    Column("toolset_id", UUID(as_uuid=True), ForeignKey("toolsets.id", ondelete="SET NULL")),
    Column("release_id", UUID(as_uuid=True), ForeignKey("toolset_releases.id", ondelete="SET NULL")),
    Column("release_number", BigInteger, nullable=False),
    Index("project_snapshot_toolsets_toolset_id_idx", "toolset_id"),
    Index("project_snapshot_toolsets_release_id_idx", "release_id"),
)

# --- Reviews (revision 0015) ---

reviews = Table(
    "reviews",
    metadata,
    _id(),
    Column("toolset_id", UUID(as_uuid=True), ForeignKey("toolsets.id", ondelete="CASCADE"), nullable=False),
    # No foreign key: publish and discard delete the staging copy; the review stays as a record.
    Column("staging_toolset_id", UUID(as_uuid=True), nullable=False),
    Column("staging_version", BigInteger, nullable=False),
    Column("note", Text),
    Column("requested_by", Text, nullable=False),
    Column("release_number", BigInteger),  # the release that published the reviewed copy
    # SHA-256 of the copy's served state when reviewed (revision 0016; NULL before it).
    Column("state_digest", LargeBinary),
    _created_at(),
    Index("reviews_toolset_id_created_at_idx", "toolset_id", text("created_at DESC"), text("id DESC")),
    # The latest review of a copy and version is the one whose approvals count (revision 0016).
    Index(
        "reviews_staging_toolset_id_staging_version_created_at_idx",
        "staging_toolset_id",
        "staging_version",
        text("created_at DESC"),
        text("id DESC"),
    ),
)

review_approvals = Table(
    "review_approvals",
    metadata,
    _id(),
    Column("review_id", UUID(as_uuid=True), ForeignKey("reviews.id", ondelete="CASCADE"), nullable=False),
    Column("approved_by", Text, nullable=False),
    Column("comment", Text),
    _created_at(),
    UniqueConstraint("review_id", "approved_by"),
)
