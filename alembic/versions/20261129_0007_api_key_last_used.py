"""API keys remember when they were last used, for `toolsets list-api-keys`.

A nullable column without a default: adding it changes only the catalog (no table
rewrite, no scan), under a short lock timeout.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMEOUTS = ["SET LOCAL lock_timeout = '5s'", "SET LOCAL statement_timeout = '60s'"]

UPGRADE = [*TIMEOUTS, "ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS last_used_at timestamptz"]

DOWNGRADE = [
    *TIMEOUTS,
    # squawk-ignore ban-drop-column -- undoes this revision's own addition
    "-- squawk-ignore ban-drop-column\nALTER TABLE api_keys DROP COLUMN IF EXISTS last_used_at",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
