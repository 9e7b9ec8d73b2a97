"""Toolset policies, breaking changes acknowledged on releases, new audit actions.

- toolset_policies: one row per live toolset that has a policy (no row = the defaults):
  `block_breaking` (publish, createRelease and rollback refuse breaking changes unless
  acknowledged), `keep_last` (retention), `required_approvals` (reviews).
- toolset_releases.acknowledged_breaking: a constant default, so no table rewrite.
- toolset_audit_entries' action CHECK admits policy updates, label moves, prunes and
  snapshot restores: the new constraint is added NOT VALID in the short transaction and
  validated afterwards, outside it, without blocking writes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ACTIONS = "'create_release', 'publish', 'rollback', 'mode_switch', 'discard', 'rename'"
NEW_ACTIONS = OLD_ACTIONS + ", 'policy_update', 'label_move', 'label_delete', 'prune', 'snapshot_restore'"

UPGRADE = f"""
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE TABLE IF NOT EXISTS toolset_policies (
    toolset_id uuid NOT NULL,
    block_breaking boolean NOT NULL DEFAULT false,
    keep_last bigint,
    required_approvals bigint NOT NULL DEFAULT 0,
    updated_by text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT toolset_policies_pkey PRIMARY KEY (toolset_id),
    CONSTRAINT toolset_policies_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE CASCADE,
    CONSTRAINT toolset_policies_keep_last_check CHECK (keep_last IS NULL OR keep_last >= 1),
    CONSTRAINT toolset_policies_required_approvals_check CHECK (required_approvals >= 0)
);
ALTER TABLE toolset_releases ADD COLUMN IF NOT EXISTS acknowledged_breaking boolean NOT NULL DEFAULT false;
-- squawk-ignore ban-drop-constraint -- replaced at once by a wider CHECK (validated below)
ALTER TABLE toolset_audit_entries DROP CONSTRAINT IF EXISTS toolset_audit_entries_action_check;
ALTER TABLE toolset_audit_entries ADD CONSTRAINT toolset_audit_entries_action_check
    CHECK (action IN ({NEW_ACTIONS})) NOT VALID
"""

DOWNGRADE = f"""
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
-- squawk-ignore-file ban-drop-table, ban-drop-column -- undoes this revision's own additions
DELETE FROM toolset_audit_entries WHERE action NOT IN ({OLD_ACTIONS});
-- squawk-ignore ban-drop-constraint -- replaced at once by the narrower CHECK of 0003
ALTER TABLE toolset_audit_entries DROP CONSTRAINT IF EXISTS toolset_audit_entries_action_check;
ALTER TABLE toolset_audit_entries ADD CONSTRAINT toolset_audit_entries_action_check
    CHECK (action IN ({OLD_ACTIONS})) NOT VALID;
ALTER TABLE toolset_releases DROP COLUMN IF EXISTS acknowledged_breaking;
DROP TABLE IF EXISTS toolset_policies
"""

VALIDATE = "ALTER TABLE toolset_audit_entries VALIDATE CONSTRAINT toolset_audit_entries_action_check"


def _execute_each(script: str) -> None:
    # asyncpg prepares each statement, and a prepared statement holds one command.
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def _validate() -> None:
    # SHARE UPDATE EXCLUSIVE: reads and writes go on while existing rows are checked.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.execute("SET statement_timeout = '15min'")
        op.execute(VALIDATE)
        op.execute("RESET statement_timeout")
        op.execute("RESET lock_timeout")


def upgrade() -> None:
    _execute_each(UPGRADE)
    _validate()


def downgrade() -> None:
    _execute_each(DOWNGRADE)
    _validate()
