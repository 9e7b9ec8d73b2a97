"""Release lifecycle: release names, labels, served history and project snapshots.

- toolset_releases.name: optional, unique per toolset. The unique index is built
  CONCURRENTLY, outside the transaction, since the table may already hold many rows.
- release_labels: a named pointer per toolset at one of its releases (`current` is
  reserved: the served pointer lives on toolsets). A trigger sends the toolset's id on
  `NOTIFY toolset_pointers` when a label is made, moved or deleted, as 0005's does for
  the served pointer, so every process re-reads the MCP endpoints that follow it.
- served_history: every move of a toolset's served pointer (label IS NULL) or of one of
  its labels, with from, to, actor, reason and time.
- project_snapshots and project_snapshot_toolsets: the served release of every
  staging-mode toolset of a project at one moment. An entry outlives its toolset
  (SET NULL), so that a restore can name what was deleted since.

Every new table is new: creating it and its indexes blocks nothing. Locks are taken in
the order writers take them (toolsets, then toolset_releases), so a concurrent insert
waits briefly instead of deadlocking with the upgrade.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from sqlalchemy import text

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE TABLE IF NOT EXISTS release_labels (
    toolset_id uuid NOT NULL,
    label text NOT NULL,
    release_id uuid NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    updated_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT release_labels_pkey PRIMARY KEY (toolset_id, label),
    CONSTRAINT release_labels_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE CASCADE,
    CONSTRAINT release_labels_release_id_fkey FOREIGN KEY (release_id)
        REFERENCES toolset_releases (id)
);
CREATE INDEX IF NOT EXISTS release_labels_release_id_idx ON release_labels (release_id);
ALTER TABLE toolset_releases ADD COLUMN IF NOT EXISTS name text;
CREATE TABLE IF NOT EXISTS served_history (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    toolset_id uuid NOT NULL,
    label text,
    action text NOT NULL,
    actor text NOT NULL,
    reason text,
    from_mode text,
    from_release_number bigint,
    to_mode text,
    to_release_number bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT served_history_pkey PRIMARY KEY (id),
    CONSTRAINT served_history_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS served_history_toolset_id_label_created_at_idx
    ON served_history (toolset_id, label, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS project_snapshots (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    name text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT project_snapshots_pkey PRIMARY KEY (id),
    CONSTRAINT project_snapshots_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS project_snapshots_project_id_created_at_idx
    ON project_snapshots (project_id, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS project_snapshot_toolsets (
    snapshot_id uuid NOT NULL,
    toolset_slug text NOT NULL,
    toolset_id uuid,
    release_id uuid,
    release_number bigint NOT NULL,
    CONSTRAINT project_snapshot_toolsets_pkey PRIMARY KEY (snapshot_id, toolset_slug),
    CONSTRAINT project_snapshot_toolsets_snapshot_id_fkey FOREIGN KEY (snapshot_id)
        REFERENCES project_snapshots (id) ON DELETE CASCADE,
    CONSTRAINT project_snapshot_toolsets_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE SET NULL,
    CONSTRAINT project_snapshot_toolsets_release_id_fkey FOREIGN KEY (release_id)
        REFERENCES toolset_releases (id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS project_snapshot_toolsets_toolset_id_idx ON project_snapshot_toolsets (toolset_id);
CREATE INDEX IF NOT EXISTS project_snapshot_toolsets_release_id_idx ON project_snapshot_toolsets (release_id)
"""

LABEL_TRIGGER = [
    """
    CREATE OR REPLACE FUNCTION notify_release_label() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('toolset_pointers', coalesce(NEW.toolset_id, OLD.toolset_id)::text);
        RETURN NULL;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS release_labels_notify_pointer ON release_labels",
    """
    CREATE TRIGGER release_labels_notify_pointer
        AFTER INSERT OR UPDATE OF release_id OR DELETE ON release_labels
        FOR EACH ROW EXECUTE FUNCTION notify_release_label()
    """,
]

DOWNGRADE = """
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
-- squawk-ignore-file ban-drop-table, ban-drop-column -- undoes this revision's own additions
DROP TABLE IF EXISTS project_snapshot_toolsets;
DROP TABLE IF EXISTS project_snapshots;
DROP TABLE IF EXISTS served_history;
DROP TABLE IF EXISTS release_labels;
-- squawk-ignore ban-drop-function -- only this revision's trigger ever called it
DROP FUNCTION IF EXISTS notify_release_label();
ALTER TABLE toolset_releases DROP COLUMN IF EXISTS name
"""

NAME_INDEX = "toolset_releases_toolset_id_name_key"


def _execute_each(script: str) -> None:
    # asyncpg prepares each statement, and a prepared statement holds one command.
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def _concurrently(statement: str) -> None:
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.execute("SET statement_timeout = '15min'")
        op.execute(statement)
        op.execute("RESET statement_timeout")
        op.execute("RESET lock_timeout")


def upgrade() -> None:
    _execute_each(UPGRADE)
    for statement in LABEL_TRIGGER:
        op.execute(statement)
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.execute("SET statement_timeout = '15min'")
        # A failed CONCURRENTLY build leaves an INVALID index behind, which IF NOT EXISTS
        # would then accept as done: drop it and build again (needs the database, so
        # offline SQL leaves the check out).
        if not op.get_context().as_sql:
            invalid = (
                op.get_bind()
                .execute(
                    text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
                    {"name": NAME_INDEX},
                )
                .scalar()
            )
            if invalid:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME_INDEX}")
        op.execute(
            f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {NAME_INDEX} "
            "ON toolset_releases (toolset_id, name) WHERE name IS NOT NULL"
        )
        op.execute("RESET statement_timeout")
        op.execute("RESET lock_timeout")


def downgrade() -> None:
    _concurrently(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME_INDEX}")
    _execute_each(DOWNGRADE)
