"""Where each argument of an HTTP tool goes in the request it makes.

`http_tool_definitions.argument_mapping` (jsonb, nullable) holds what
importOpenApiDeployment derived from the operation: the default base URL
(the document's `servers[0].url`) and, per input argument, `in` (path, query,
header, cookie or body) and the parameter's name, style and explode. Tools made
by hand through createDeployment have none (NULL), and existing rows keep NULL.

A nullable column without a default changes only the catalog: no rewrite, no scan.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMEOUTS = ["SET LOCAL lock_timeout = '5s'", "SET LOCAL statement_timeout = '60s'"]


def upgrade() -> None:
    for statement in [
        *TIMEOUTS,
        "ALTER TABLE http_tool_definitions ADD COLUMN IF NOT EXISTS argument_mapping jsonb",
    ]:
        op.execute(statement)


def downgrade() -> None:
    for statement in [
        *TIMEOUTS,
        "-- squawk-ignore ban-drop-column -- undoes this revision's own addition\n"
        "ALTER TABLE http_tool_definitions DROP COLUMN IF EXISTS argument_mapping",
    ]:
        op.execute(statement)
