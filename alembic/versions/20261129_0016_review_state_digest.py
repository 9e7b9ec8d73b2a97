"""A review records what it reviewed: the digest of the staging copy's served state.

Approvals are for what clients will be served. A staging copy's state also depends on what
the project shares (deployments' tool definitions, global variations, prompt templates), so
a review keeps the SHA-256 of that state when it is asked for, and its approvals count only
while the state is the same. Reviews made before this revision have none (NULL): they are
judged by the staging copy and its version alone, as before.

When the shared definitions change under an unchanged staging copy, the author asks for a
new review of the same copy and version: the unique constraint on (copy, version) becomes a
plain index, and the latest review of a copy and version is the one whose approvals count.
The index is built CONCURRENTLY before the constraint (and its index) is dropped, so
lookups never lose their index.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "reviews_staging_toolset_id_staging_version_created_at_idx"
UNIQUE = "reviews_staging_toolset_id_staging_version_key"


def _limits() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("SET LOCAL statement_timeout = '60s'")


def _concurrently(statement: str) -> None:
    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.execute(statement)
        op.execute("RESET lock_timeout")


def upgrade() -> None:
    _limits()
    op.execute("ALTER TABLE reviews ADD COLUMN IF NOT EXISTS state_digest bytea")
    _concurrently(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
        "ON reviews (staging_toolset_id, staging_version, created_at DESC, id DESC)"
    )
    _limits()
    op.execute(
        "-- squawk-ignore ban-drop-constraint -- the index above takes over its lookups\n"
        f"ALTER TABLE reviews DROP CONSTRAINT IF EXISTS {UNIQUE}"
    )


def downgrade() -> None:
    _limits()
    # Keep the latest review of each copy and version, as the unique constraint requires.
    op.execute(
        "DELETE FROM reviews r USING reviews newer "
        "WHERE newer.staging_toolset_id = r.staging_toolset_id "
        "AND newer.staging_version = r.staging_version "
        "AND (newer.created_at, newer.id) > (r.created_at, r.id)"
    )
    _concurrently(
        f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {UNIQUE} "
        "ON reviews (staging_toolset_id, staging_version)"
    )
    _limits()
    op.execute(
        "-- squawk-ignore prefer-robust-stmts -- takes over the index built just above, in one step\n"
        f"ALTER TABLE reviews ADD CONSTRAINT {UNIQUE} UNIQUE USING INDEX {UNIQUE}"
    )
    _concurrently(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    op.execute(
        "-- squawk-ignore ban-drop-column -- undoes this revision's own addition\n"
        "ALTER TABLE reviews DROP COLUMN IF EXISTS state_digest"
    )
