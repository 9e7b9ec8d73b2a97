"""Audit entries may record `rename`: a live toolset's slug (its address) changed.

The action CHECK is replaced: dropped and added again `NOT VALID` in one short
transaction (no scan under the lock), then validated outside it, which reads the
table without blocking writes. Downgrade deletes `rename` entries first, since the
old constraint cannot hold them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMEOUTS = ["SET LOCAL lock_timeout = '5s'", "SET LOCAL statement_timeout = '60s'"]
OLD_ACTIONS = "'create_release', 'publish', 'rollback', 'mode_switch', 'discard'"
NEW_ACTIONS = f"{OLD_ACTIONS}, 'rename'"


def _replace_check(actions: str) -> list[str]:
    return [
        "-- squawk-ignore ban-drop-constraint -- replaced by a wider check in this transaction\n"
        "ALTER TABLE toolset_audit_entries DROP CONSTRAINT IF EXISTS toolset_audit_entries_action_check",
        "ALTER TABLE toolset_audit_entries ADD CONSTRAINT toolset_audit_entries_action_check "
        f"CHECK (action IN ({actions})) NOT VALID",
    ]


def _validate() -> None:
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.execute("ALTER TABLE toolset_audit_entries VALIDATE CONSTRAINT toolset_audit_entries_action_check")
        op.execute("RESET lock_timeout")


def upgrade() -> None:
    for statement in [*TIMEOUTS, *_replace_check(NEW_ACTIONS)]:
        op.execute(statement)
    _validate()


def downgrade() -> None:
    for statement in [
        *TIMEOUTS,
        "DELETE FROM toolset_audit_entries WHERE action = 'rename'",
        *_replace_check(OLD_ACTIONS),
    ]:
        op.execute(statement)
    _validate()
