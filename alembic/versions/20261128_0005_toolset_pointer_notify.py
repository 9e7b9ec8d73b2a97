"""NOTIFY when a live toolset's served state pointer changes.

Every process caches which release each toolset serves (app/toolsets/pointers.py) and
LISTENs on `toolset_pointers`. This trigger sends the toolset's id when its editing
mode, current release or slug changes, or when it is deleted. NOTIFY is transactional:
listeners hear it only once the change commits. A trigger rather than application code,
so that no write path (nor a manual fix in psql) can forget it.

Creating a trigger takes a brief SHARE ROW EXCLUSIVE lock on toolsets, bounded by the
lock timeout; nothing is rewritten or scanned.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMEOUTS = ["SET LOCAL lock_timeout = '5s'", "SET LOCAL statement_timeout = '60s'"]

UPGRADE = [
    *TIMEOUTS,
    """
    CREATE OR REPLACE FUNCTION notify_toolset_pointer() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('toolset_pointers', OLD.id::text);
        RETURN NULL;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS toolsets_notify_pointer ON toolsets",
    """
    CREATE TRIGGER toolsets_notify_pointer
        AFTER UPDATE OF editing_mode, current_release_id, slug OR DELETE ON toolsets
        FOR EACH ROW WHEN (OLD.parent_toolset_id IS NULL)
        EXECUTE FUNCTION notify_toolset_pointer()
    """,
]

DOWNGRADE = [
    *TIMEOUTS,
    "DROP TRIGGER IF EXISTS toolsets_notify_pointer ON toolsets",
    # squawk-ignore ban-drop-function -- only this revision's trigger ever called it
    "-- squawk-ignore ban-drop-function\nDROP FUNCTION IF EXISTS notify_toolset_pointer()",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
