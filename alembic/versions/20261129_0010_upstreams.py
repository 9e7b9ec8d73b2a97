"""Upstreams: the base URL and secret headers of each source of a project's tools.

`upstreams` holds one row per (project, source): `base_url`, the names of its headers
in clear (responses list them) and their values sealed together (`headers_sealed`,
AES-GCM under TOOLSETS_SECRET_KEY, see app/kit/secrets.py). A new table: nothing
existing is locked beyond the brief reference the foreign key takes on `projects`.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMEOUTS = ["SET LOCAL lock_timeout = '5s'", "SET LOCAL statement_timeout = '60s'"]


def upgrade() -> None:
    for statement in [
        *TIMEOUTS,
        """
        CREATE TABLE IF NOT EXISTS upstreams (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            project_id uuid NOT NULL,
            source text NOT NULL,
            base_url text NOT NULL,
            header_names text[] NOT NULL DEFAULT '{}',
            headers_sealed bytea,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT upstreams_pkey PRIMARY KEY (id),
            CONSTRAINT upstreams_project_id_fkey FOREIGN KEY (project_id)
                REFERENCES projects (id) ON DELETE CASCADE,
            CONSTRAINT upstreams_project_id_source_key UNIQUE (project_id, source)
        )
        """,
    ]:
        op.execute(statement)


def downgrade() -> None:
    for statement in [
        *TIMEOUTS,
        "-- squawk-ignore ban-drop-table -- undoes this revision's own table\nDROP TABLE IF EXISTS upstreams",
    ]:
        op.execute(statement)
