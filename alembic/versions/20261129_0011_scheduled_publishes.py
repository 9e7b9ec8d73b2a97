"""Scheduled publishes: a staging copy's version to publish at a set time, and how it ended.

A new table only; at most one `scheduled` row per toolset (a partial unique index).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMEOUTS = ["SET LOCAL lock_timeout = '5s'", "SET LOCAL statement_timeout = '60s'"]

UPGRADE = [
    *TIMEOUTS,
    """
    CREATE TABLE scheduled_publishes (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        toolset_id uuid NOT NULL,
        staging_version bigint NOT NULL,
        publish_at timestamptz NOT NULL,
        notes text,
        requested_by text NOT NULL,
        status text NOT NULL DEFAULT 'scheduled',
        release_number bigint,
        failure_code text,
        failure_detail text,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        CONSTRAINT scheduled_publishes_pkey PRIMARY KEY (id),
        CONSTRAINT scheduled_publishes_toolset_id_fkey FOREIGN KEY (toolset_id)
            REFERENCES toolsets (id) ON DELETE CASCADE,
        CONSTRAINT scheduled_publishes_status_check
            CHECK (status IN ('scheduled', 'published', 'cancelled', 'failed'))
    )
    """,
    "CREATE INDEX scheduled_publishes_toolset_id_created_at_idx "
    "ON scheduled_publishes (toolset_id, created_at DESC, id DESC)",
    "CREATE UNIQUE INDEX scheduled_publishes_one_pending_key "
    "ON scheduled_publishes (toolset_id) WHERE status = 'scheduled'",
]

DOWNGRADE = [
    *TIMEOUTS,
    "-- squawk-ignore ban-drop-table -- this revision's own table\nDROP TABLE IF EXISTS scheduled_publishes",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
