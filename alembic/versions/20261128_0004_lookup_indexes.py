"""Indexes for the lookups that staging and releases make on every publish.

- tool_variations (group_id, src_tool_urn, version DESC): "the latest version of each
  tool in a group", tombstones included (the unique index of 0002 is partial on live
  rows), and the cascade when a staging copy's group is deleted;
- the self-referencing predecessor_id columns (ON DELETE SET NULL) and
  toolset_releases.toolset_version_id: without them, deleting N rows scans the whole
  table N times to find rows that point at them.

All built CONCURRENTLY with IF NOT EXISTS (re-runnable), with lock and statement
timeouts; an INVALID index left by a failed build is dropped and built again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "tool_variations_group_id_src_tool_urn_version_idx": (
        "tool_variations (group_id, src_tool_urn, version DESC)"
    ),
    "toolsets_predecessor_id_idx": "toolsets (predecessor_id)",
    "toolset_versions_predecessor_id_idx": "toolset_versions (predecessor_id)",
    "tool_variations_group_versions_predecessor_id_idx": "tool_variations_group_versions (predecessor_id)",
    "toolset_releases_toolset_version_id_idx": "toolset_releases (toolset_version_id)",
}


def _is_online() -> bool:
    return not op.get_context().as_sql


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '10s'")
        op.execute("SET statement_timeout = '30min'")
        for name, target in INDEXES.items():
            if _is_online():
                valid = (
                    op.get_bind()
                    .exec_driver_sql(
                        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        f"WHERE c.relname = '{name}'"
                    )
                    .scalar()
                )
                if valid is False:
                    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {target}")
        op.execute("RESET statement_timeout")
        op.execute("RESET lock_timeout")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '10s'")
        op.execute("SET statement_timeout = '30min'")
        for name in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.execute("RESET statement_timeout")
        op.execute("RESET lock_timeout")
