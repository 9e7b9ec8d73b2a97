"""NOTIFY when anything a project's current (iteration-mode or staging-copy) state reads changes.

Revision 0005 tells every process when a toolset's pointer moves (publish, rollback,
mode switch). A toolset in iteration mode, and every staging copy, serves current
data instead, so it changes with any edit of what that data is made of. These
triggers send `NOTIFY served_state, '<project id>'` when, in a project:

- a toolset row (live or staging copy) is created, changed or deleted: its selection,
  prompt attachments, own variations and metadata all bump its row;
- a variation version is written (global or a toolset's own group; tombstones too);
- a prompt template revision is written or changed;
- a deployment is created or changes status.

Statement-level triggers with transition tables on the bulk tables (a publish of
5,000 variations sends one message per project, not one per row); NOTIFY is
transactional and deduplicated within a transaction, so listeners (the MCP change hub,
iteration-mode caches) hear each committed change once, after the commit.

Creating triggers takes a brief SHARE ROW EXCLUSIVE lock on each table, bounded by the
lock timeout; nothing is rewritten or scanned.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMEOUTS = ["SET LOCAL lock_timeout = '5s'", "SET LOCAL statement_timeout = '60s'"]

# (trigger, table, event, the SELECT of the affected project ids from the transition table)
STATEMENT_TRIGGERS = [
    (
        "tool_variations_notify_served_state",
        "tool_variations",
        "INSERT",
        "SELECT DISTINCT g.project_id FROM changed_rows c JOIN tool_variations_groups g ON g.id = c.group_id",
    ),
    ("prompt_templates_notify_served_state", "prompt_templates", "INSERT", None),
    ("prompt_templates_notify_served_state_update", "prompt_templates", "UPDATE", None),
    ("deployments_notify_served_state", "deployments", "INSERT", None),
    ("deployments_notify_served_state_update", "deployments", "UPDATE", None),
]


def _statement_function(trigger: str, projects: str | None) -> str:
    select = projects or "SELECT DISTINCT c.project_id FROM changed_rows c"
    return f"""
    CREATE OR REPLACE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('served_state', p.project_id::text) FROM ({select}) AS p(project_id);
        RETURN NULL;
    END
    $$
    """


UPGRADE = [
    *TIMEOUTS,
    """
    CREATE OR REPLACE FUNCTION toolsets_notify_served_state() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('served_state', coalesce(NEW.project_id, OLD.project_id)::text);
        RETURN NULL;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS toolsets_notify_served_state ON toolsets",
    """
    CREATE TRIGGER toolsets_notify_served_state
        AFTER INSERT OR UPDATE OR DELETE ON toolsets
        FOR EACH ROW EXECUTE FUNCTION toolsets_notify_served_state()
    """,
]
for _trigger, _table, _event, _projects in STATEMENT_TRIGGERS:
    _transition = "NEW TABLE AS changed_rows"
    UPGRADE += [
        _statement_function(_trigger, _projects),
        f"DROP TRIGGER IF EXISTS {_trigger} ON {_table}",
        f"CREATE TRIGGER {_trigger} AFTER {_event} ON {_table} REFERENCING {_transition} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_trigger}()",
    ]

DOWNGRADE = [*TIMEOUTS]
for _trigger, _table, _event, _projects in [
    ("toolsets_notify_served_state", "toolsets", "", None),
    *STATEMENT_TRIGGERS,
]:
    DOWNGRADE += [
        f"DROP TRIGGER IF EXISTS {_trigger} ON {_table}",
        # squawk-ignore ban-drop-function -- only this revision's trigger ever called it
        f"-- squawk-ignore ban-drop-function\nDROP FUNCTION IF EXISTS {_trigger}()",
    ]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
