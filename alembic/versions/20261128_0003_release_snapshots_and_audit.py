"""Release snapshots and audit: what the note's tables do not hold.

- toolset_versions gains the metadata a release must reproduce (name, slug,
  description, attached prompt template histories), as SPEC §2 asks: columns,
  not a JSON dump.
- toolset_audit_entries records publish, rollback, mode switches and discards.
- idempotency_keys makes createRelease and publishStagingVersion retry-safe.
- system_source_states gets a project index for capture's reuse lookup.

All new columns are nullable or have constant defaults (no table rewrite); the
only index on a table that may already hold rows is built CONCURRENTLY.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
ALTER TABLE toolset_versions ADD COLUMN IF NOT EXISTS name text;
ALTER TABLE toolset_versions ADD COLUMN IF NOT EXISTS slug text;
ALTER TABLE toolset_versions ADD COLUMN IF NOT EXISTS description text;
ALTER TABLE toolset_versions ADD COLUMN IF NOT EXISTS prompt_history_ids uuid[] NOT NULL DEFAULT '{}';
CREATE TABLE IF NOT EXISTS toolset_audit_entries (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    toolset_id uuid NOT NULL,
    action text NOT NULL,
    actor text NOT NULL,
    from_release_number bigint,
    to_release_number bigint,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT toolset_audit_entries_pkey PRIMARY KEY (id),
    CONSTRAINT toolset_audit_entries_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE CASCADE,
    CONSTRAINT toolset_audit_entries_action_check
        CHECK (action IN ('create_release', 'publish', 'rollback', 'mode_switch', 'discard'))
);
CREATE INDEX IF NOT EXISTS toolset_audit_entries_toolset_id_created_at_idx
    ON toolset_audit_entries (toolset_id, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    toolset_id uuid NOT NULL,
    operation text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    release_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (id),
    CONSTRAINT idempotency_keys_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE CASCADE,
    CONSTRAINT idempotency_keys_release_id_fkey FOREIGN KEY (release_id)
        REFERENCES toolset_releases (id) ON DELETE CASCADE,
    CONSTRAINT idempotency_keys_toolset_id_operation_key_key UNIQUE (toolset_id, operation, key)
)
"""

DOWNGRADE = """
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
-- squawk-ignore-file ban-drop-table, ban-drop-column -- undoes this revision's own additions
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS toolset_audit_entries;
ALTER TABLE toolset_versions DROP COLUMN IF EXISTS prompt_history_ids;
ALTER TABLE toolset_versions DROP COLUMN IF EXISTS description;
ALTER TABLE toolset_versions DROP COLUMN IF EXISTS slug;
ALTER TABLE toolset_versions DROP COLUMN IF EXISTS name
"""


def _execute_each(script: str) -> None:
    # asyncpg prepares each statement, and a prepared statement holds one command.
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _execute_each(UPGRADE)
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.execute("SET statement_timeout = '15min'")
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS system_source_states_project_id_idx "
            "ON system_source_states (project_id)"
        )
        op.execute("RESET statement_timeout")
        op.execute("RESET lock_timeout")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.execute("SET statement_timeout = '15min'")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS system_source_states_project_id_idx")
        op.execute("RESET statement_timeout")
        op.execute("RESET lock_timeout")
    _execute_each(DOWNGRADE)
