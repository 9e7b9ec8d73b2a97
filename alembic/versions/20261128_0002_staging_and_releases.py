"""Staging and releases: staging copies, versioned toolsets and variations, release snapshots.

The design note's schema (phase-1-staging-and-releases-schema.md, in the spec's seed
folder): six columns and four constraints on `toolsets`, two columns on
`tool_variations`, the tables `tool_variations_group_versions`, `system_source_states`,
`source_states` and `toolset_releases`, and unique indexes that make room for
versions. `app/db/tables.py` describes the result.

It runs against a live database without blocking writers for long:

1. One short transaction (`SET LOCAL lock_timeout`) holds ACCESS EXCLUSIVE locks only
   for catalog changes: columns with constant defaults (no rewrite on PostgreSQL 11+),
   the new (empty) tables, and the constraints on existing tables added NOT VALID, so
   nothing scans a table while writers wait. If a lock is not granted within
   LOCK_TIMEOUT, the transaction fails and nothing changed.
2. Outside any transaction (`autocommit_block`, session `SET lock_timeout`), the
   constraints are validated (SHARE UPDATE EXCLUSIVE: writers go on), the new indexes
   are built CONCURRENTLY before the indexes they replace are dropped CONCURRENTLY,
   so uniqueness of live slugs and live variations is enforced at every moment.

Safe to re-run after a failure at any point: tables, columns and indexes use
IF [NOT] EXISTS, constraints are dropped IF EXISTS before they are added again,
validating twice is a no-op, and an INVALID index that a failed CONCURRENTLY build
left behind (pg_index.indisvalid false) is dropped and rebuilt; IF NOT EXISTS alone
would keep it. That check needs the database, so offline SQL (`--sql`) leaves it out.

Existing rows: every toolset reads editing_mode 'iteration', version 1,
parent_toolset_id and current_release_id NULL; every variation reads version 1. No
row is rewritten. `history_id` stays NULL for toolsets made before this revision, and
readers take NULL as "the row's own id" (COALESCE(history_id, id)): a backfill would
update every toolset row, and processes of the previous release keep inserting NULL
until they are replaced, so readers need that rule anyway.

Downgrade returns to the baseline exactly. What the baseline cannot represent goes:
releases and snapshots (the four tables), staging copies (rows with a parent), and
superseded variation versions are soft-deleted (deleted_at set) so that at most one
live row per tool and group remains, the newest one unless it is a tombstone. Stop
processes of this release before downgrading, or they may write rows that break the
baseline's unique indexes again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# While the transactional part holds ACCESS EXCLUSIVE locks, writers queue behind it:
# give up quickly rather than queue them behind a long transaction of someone else.
LOCK_TIMEOUT = "2s"
STATEMENT_TIMEOUT = "15s"
# Nothing in the non-transactional part blocks writers (validation and CONCURRENTLY
# builds take SHARE UPDATE EXCLUSIVE), but CONCURRENTLY waits for older transactions
# to end: wait longer, and give table scans of a large table time to finish.
ONLINE_LOCK_TIMEOUT = "10s"
ONLINE_STATEMENT_TIMEOUT = "30min"

TRANSACTION_TIMEOUTS = f"""
SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}';
"""

# Every statement here changes the catalog only, so the transaction's locks last milliseconds.
# Tables before the constraints that point at them: toolsets_current_release_id_fkey
# needs toolset_releases.
CREATE_TABLES_AND_COLUMNS = """
CREATE TABLE IF NOT EXISTS tool_variations_group_versions (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    group_id uuid NOT NULL,
    version bigint NOT NULL,
    variation_ids uuid[] NOT NULL DEFAULT '{}',
    predecessor_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tool_variations_group_versions_pkey PRIMARY KEY (id),
    CONSTRAINT tool_variations_group_versions_group_id_fkey FOREIGN KEY (group_id)
        REFERENCES tool_variations_groups (id) ON DELETE CASCADE,
    CONSTRAINT tool_variations_group_versions_predecessor_id_fkey FOREIGN KEY (predecessor_id)
        REFERENCES tool_variations_group_versions (id) ON DELETE SET NULL,
    CONSTRAINT tool_variations_group_versions_group_id_version_key UNIQUE (group_id, version)
);

CREATE TABLE IF NOT EXISTS system_source_states (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    prompt_template_ids uuid[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT system_source_states_pkey PRIMARY KEY (id),
    CONSTRAINT system_source_states_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS source_states (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    deployment_id uuid,
    system_source_state_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT source_states_pkey PRIMARY KEY (id),
    CONSTRAINT source_states_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT source_states_deployment_id_fkey FOREIGN KEY (deployment_id)
        REFERENCES deployments (id) ON DELETE RESTRICT,
    CONSTRAINT source_states_system_source_state_id_fkey FOREIGN KEY (system_source_state_id)
        REFERENCES system_source_states (id) ON DELETE RESTRICT,
    -- A project without a deployment has one source state per system state too.
    CONSTRAINT source_states_deployment_id_system_source_state_id_key
        UNIQUE NULLS NOT DISTINCT (deployment_id, system_source_state_id)
);

CREATE TABLE IF NOT EXISTS toolset_releases (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    toolset_id uuid NOT NULL,
    source_state_id uuid NOT NULL,
    toolset_version_id uuid NOT NULL,
    global_variations_version_id uuid,
    toolset_variations_version_id uuid,
    release_number bigint NOT NULL,
    notes text,
    released_by_user_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT toolset_releases_pkey PRIMARY KEY (id),
    CONSTRAINT toolset_releases_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE CASCADE,
    CONSTRAINT toolset_releases_source_state_id_fkey FOREIGN KEY (source_state_id)
        REFERENCES source_states (id) ON DELETE RESTRICT,
    -- NO ACTION, checked at the end of the statement: deleting a toolset removes its
    -- versions and its releases in one statement (see app/db/tables.py).
    CONSTRAINT toolset_releases_toolset_version_id_fkey FOREIGN KEY (toolset_version_id)
        REFERENCES toolset_versions (id),
    CONSTRAINT toolset_releases_global_variations_version_id_fkey FOREIGN KEY (global_variations_version_id)
        REFERENCES tool_variations_group_versions (id) ON DELETE RESTRICT,
    CONSTRAINT toolset_releases_toolset_variations_version_id_fkey FOREIGN KEY (toolset_variations_version_id)
        REFERENCES tool_variations_group_versions (id) ON DELETE RESTRICT,
    CONSTRAINT toolset_releases_toolset_id_release_number_key UNIQUE (toolset_id, release_number)
);

CREATE INDEX IF NOT EXISTS toolset_releases_toolset_id_created_at_idx
    ON toolset_releases (toolset_id, created_at DESC);

ALTER TABLE toolsets
    ADD COLUMN IF NOT EXISTS parent_toolset_id uuid,
    ADD COLUMN IF NOT EXISTS editing_mode text NOT NULL DEFAULT 'iteration',
    ADD COLUMN IF NOT EXISTS current_release_id uuid,
    ADD COLUMN IF NOT EXISTS predecessor_id uuid,
    ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1,
    ADD COLUMN IF NOT EXISTS history_id uuid;

ALTER TABLE tool_variations
    ADD COLUMN IF NOT EXISTS predecessor_id uuid,
    ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1;
"""

# NOT VALID: checked for new rows at once, for existing rows by VALIDATE later,
# without a table scan under the ACCESS EXCLUSIVE lock. Dropped first so a re-run can add them again.
ADD_CONSTRAINTS_NOT_VALID = """
-- squawk-ignore ban-drop-constraint -- our own constraint, added again in this transaction
ALTER TABLE toolsets DROP CONSTRAINT IF EXISTS toolsets_editing_mode_check;

ALTER TABLE toolsets ADD CONSTRAINT toolsets_editing_mode_check
    CHECK (editing_mode IN ('iteration', 'staging')) NOT VALID;

-- squawk-ignore ban-drop-constraint -- our own constraint, added again in this transaction
ALTER TABLE toolsets DROP CONSTRAINT IF EXISTS toolsets_parent_toolset_id_fkey;

ALTER TABLE toolsets ADD CONSTRAINT toolsets_parent_toolset_id_fkey FOREIGN KEY (parent_toolset_id)
    REFERENCES toolsets (id) ON DELETE CASCADE NOT VALID;

-- squawk-ignore ban-drop-constraint -- our own constraint, added again in this transaction
ALTER TABLE toolsets DROP CONSTRAINT IF EXISTS toolsets_predecessor_id_fkey;

ALTER TABLE toolsets ADD CONSTRAINT toolsets_predecessor_id_fkey FOREIGN KEY (predecessor_id)
    REFERENCES toolsets (id) ON DELETE SET NULL NOT VALID;

-- squawk-ignore ban-drop-constraint -- our own constraint, added again in this transaction
ALTER TABLE toolsets DROP CONSTRAINT IF EXISTS toolsets_current_release_id_fkey;

ALTER TABLE toolsets ADD CONSTRAINT toolsets_current_release_id_fkey FOREIGN KEY (current_release_id)
    REFERENCES toolset_releases (id) ON DELETE SET NULL NOT VALID;
"""

VALIDATE_CONSTRAINTS = """
ALTER TABLE toolsets VALIDATE CONSTRAINT toolsets_editing_mode_check;
ALTER TABLE toolsets VALIDATE CONSTRAINT toolsets_parent_toolset_id_fkey;
ALTER TABLE toolsets VALIDATE CONSTRAINT toolsets_predecessor_id_fkey;
ALTER TABLE toolsets VALIDATE CONSTRAINT toolsets_current_release_id_fkey;
"""

# (name, statement): built before the indexes they replace are dropped.
HEAD_INDEXES: list[tuple[str, str]] = [
    (
        "toolsets_parent_toolset_id_idx",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS toolsets_parent_toolset_id_idx"
        " ON toolsets (parent_toolset_id)",
    ),
    (
        "toolsets_history_id_version_idx",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS toolsets_history_id_version_idx"
        " ON toolsets (history_id, version DESC)",
    ),
    (
        "toolsets_project_id_slug_version_key",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS toolsets_project_id_slug_version_key"
        " ON toolsets (project_id, slug, version)",
    ),
    # Not in the note: a staging copy shares its parent's slug at another version, but
    # two live toolsets of a project must never share one.
    (
        "toolsets_project_id_slug_live_key",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS toolsets_project_id_slug_live_key"
        " ON toolsets (project_id, slug) WHERE parent_toolset_id IS NULL",
    ),
    (
        "tool_variations_scoped_src_tool_urn_version_key",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS tool_variations_scoped_src_tool_urn_version_key"
        " ON tool_variations (group_id, src_tool_urn, version) WHERE deleted IS FALSE",
    ),
]

BASELINE_INDEXES: list[tuple[str, str]] = [
    (
        "toolsets_project_id_slug_key",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS toolsets_project_id_slug_key"
        " ON toolsets (project_id, slug)",
    ),
    (
        "tool_variations_scoped_src_tool_urn_key",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS tool_variations_scoped_src_tool_urn_key"
        " ON tool_variations (group_id, src_tool_urn) WHERE deleted IS FALSE",
    ),
]

# Downgrade, first transaction: what the baseline cannot hold, before its unique indexes return.
DROP_TABLES_AND_STAGING = """
-- squawk-ignore-file ban-drop-table, ban-drop-column, ban-drop-constraint -- undoes 0002
ALTER TABLE toolsets DROP CONSTRAINT IF EXISTS toolsets_current_release_id_fkey;
DROP TABLE IF EXISTS toolset_releases;
DROP TABLE IF EXISTS source_states;
DROP TABLE IF EXISTS system_source_states;
DROP TABLE IF EXISTS tool_variations_group_versions;
DELETE FROM toolsets WHERE parent_toolset_id IS NOT NULL;
UPDATE tool_variations AS v SET deleted_at = now()
WHERE v.deleted IS FALSE
  AND EXISTS (
    SELECT 1 FROM tool_variations AS newer
    WHERE newer.group_id = v.group_id
      AND newer.src_tool_urn = v.src_tool_urn
      AND newer.version > v.version
  );
"""

DROP_COLUMNS = """
ALTER TABLE toolsets
    DROP CONSTRAINT IF EXISTS toolsets_editing_mode_check,
    DROP CONSTRAINT IF EXISTS toolsets_parent_toolset_id_fkey,
    DROP CONSTRAINT IF EXISTS toolsets_predecessor_id_fkey,
    DROP COLUMN IF EXISTS history_id,
    DROP COLUMN IF EXISTS version,
    DROP COLUMN IF EXISTS predecessor_id,
    DROP COLUMN IF EXISTS current_release_id,
    DROP COLUMN IF EXISTS editing_mode,
    DROP COLUMN IF EXISTS parent_toolset_id;

ALTER TABLE tool_variations
    DROP COLUMN IF EXISTS version,
    DROP COLUMN IF EXISTS predecessor_id;
"""


def _execute_each(script: str) -> None:
    # asyncpg prepares each statement, and a prepared statement holds one command.
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


@contextmanager
def _outside_transaction() -> Iterator[None]:
    """Commits what came before; each statement inside is its own transaction."""
    with op.get_context().autocommit_block():
        # Session-level: SET LOCAL means nothing without a transaction block.
        op.execute(f"SET lock_timeout = '{ONLINE_LOCK_TIMEOUT}'")
        op.execute(f"SET statement_timeout = '{ONLINE_STATEMENT_TIMEOUT}'")
        yield
        # Not in a `finally`: after a failure the migration's connection is discarded.
        op.execute("RESET statement_timeout")
        op.execute("RESET lock_timeout")


def _create_index_concurrently(name: str, statement: str) -> None:
    # A failed CONCURRENTLY build leaves an INVALID index behind, which IF NOT EXISTS
    # would then accept as done: drop it and build again.
    if not op.get_context().as_sql:
        invalid = (
            op.get_bind()
            .execute(
                text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
                {"name": name},
            )
            .scalar()
        )
        if invalid:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(statement)


def upgrade() -> None:
    _execute_each(TRANSACTION_TIMEOUTS)
    _execute_each(CREATE_TABLES_AND_COLUMNS)
    _execute_each(ADD_CONSTRAINTS_NOT_VALID)
    with _outside_transaction():
        _execute_each(VALIDATE_CONSTRAINTS)
        for name, statement in HEAD_INDEXES:
            _create_index_concurrently(name, statement)
        for name, _ in BASELINE_INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def downgrade() -> None:
    _execute_each(TRANSACTION_TIMEOUTS)
    _execute_each(DROP_TABLES_AND_STAGING)
    with _outside_transaction():
        for name, statement in BASELINE_INDEXES:
            _create_index_concurrently(name, statement)
        for name, _ in reversed(HEAD_INDEXES):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    # autocommit_block has begun a new transaction: its SET LOCALs are gone.
    _execute_each(TRANSACTION_TIMEOUTS)
    _execute_each(DROP_COLUMNS)
