"""The Alembic revisions: head matches app/db/tables.py, data survives, the change is online.

Every test migrates databases of its own (the `new_database` fixture), so the
session database that the API tests share is never touched.
"""

import asyncio
import io
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ForeignKeyConstraint, Index, PrimaryKeyConstraint, UniqueConstraint, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from alembic import command
from app.db import migrations
from app.db.engine import create_engine
from app.db.tables import metadata

NewDatabase = Callable[[], Awaitable[str]]

ROOT = Path(__file__).resolve().parents[1]
OFFLINE_URL = "postgresql://offline@localhost/offline"  # offline SQL never connects

BASELINE_TABLES = (
    "api_keys",
    "projects",
    "deployments",
    "http_tool_definitions",
    "resource_definitions",
    "prompt_templates",
    "tool_variations_groups",
    "project_tool_variations",
    "tool_variations",
    "toolsets",
    "toolset_versions",
    "toolset_prompts",
)
ADDED_COLUMNS = {
    "toolsets": (
        "parent_toolset_id",
        "editing_mode",
        "current_release_id",
        "predecessor_id",
        "version",
        "history_id",
    ),
    "tool_variations": ("predecessor_id", "version"),
    "toolset_versions": ("name", "slug", "description", "prompt_history_ids"),  # 0003
    "api_keys": ("last_used_at",),  # 0007
    "http_tool_definitions": ("argument_mapping",),  # 0009
}
# Every revision in order; the note's is 0002, 0003 adds release snapshots and audit,
# 0004 indexes, 0005 the pointer NOTIFY trigger, 0006 the served-state NOTIFY triggers,
# 0007 api_keys.last_used_at, 0008 the job queue and webhooks,
# 0009 tools' argument mapping, 0010 upstreams, 0011 scheduled publishes,
# 0012 the `rename` audit action, 0013 toolset policies, 0014 release names, labels,
# served history and project snapshots, 0015 reviews and approvals, 0016 the state a
# review reviewed.
REVISIONS = [
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
]
HEAD = REVISIONS[-1]
NEW_TABLES = ("tool_variations_group_versions", "system_source_states", "source_states", "toolset_releases")


def _revision_module() -> Any:
    config = migrations.alembic_config(OFFLINE_URL)
    script = ScriptDirectory.from_config(config).get_revision("0002")
    assert script is not None
    return script.module


LOCK_TIMEOUT_SECONDS = float(_revision_module().LOCK_TIMEOUT.removesuffix("s"))


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[AsyncConnection]:
    """One connection outside any transaction: each statement commits on its own."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        await engine.dispose()


async def at_revision(new_database: NewDatabase, revision: str) -> str:
    url = await new_database()
    await asyncio.to_thread(migrations.upgrade, url, revision)
    return url


async def scalar(url: str, sql: str, **params: object) -> Any:
    async with connect(url) as conn:
        return (await conn.execute(text(sql), params)).scalar()


# --- Baseline data: every table of 0001, a soft-deleted variation, a prompt's history ---

FILL_BASELINE = """
INSERT INTO api_keys (organization_id, name, key_prefix, key_hash)
VALUES ('org-a', 'ci', 'tk_ci', 'hash-of-ci-key');
INSERT INTO projects (organization_id, name, slug)
SELECT 'org-a', 'Project ' || n, 'project-' || n FROM generate_series(1, 3) AS n;
INSERT INTO deployments (organization_id, project_id) SELECT organization_id, id FROM projects;
INSERT INTO http_tool_definitions (project_id, deployment_id, tool_urn, name, http_method, path)
SELECT d.project_id, d.id, 'tools:http:petstore:op_' || n, 'op_' || n, 'GET', '/pets/' || n
FROM deployments AS d, generate_series(1, 5) AS n;
INSERT INTO resource_definitions (project_id, deployment_id, resource_urn, name, uri)
SELECT project_id, id, 'resources:docs', 'docs', 'file:///docs' FROM deployments;
INSERT INTO prompt_templates (project_id, history_id, name, prompt)
SELECT id, gen_random_uuid(), 'greet', 'Say hello' FROM projects;
INSERT INTO prompt_templates (project_id, history_id, predecessor_id, name, prompt)
SELECT project_id, history_id, id, name, 'Say hello politely' FROM prompt_templates;
INSERT INTO tool_variations_groups (project_id, name) SELECT id, 'global' FROM projects;
INSERT INTO project_tool_variations (project_id, group_id) SELECT project_id, id FROM tool_variations_groups;
INSERT INTO toolsets (organization_id, project_id, name, slug)
SELECT p.organization_id, p.id, 'Toolset ' || n, 'toolset-' || n
FROM projects AS p, generate_series(1, 4) AS n;
INSERT INTO tool_variations_groups (project_id, name) SELECT project_id, slug FROM toolsets;
UPDATE toolsets SET tool_variations_group_id = g.id
FROM tool_variations_groups AS g WHERE g.project_id = toolsets.project_id AND g.name = toolsets.slug;
INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name, name, tags)
SELECT g.id, 'tools:http:petstore:op_' || n, 'op_' || n, 'renamed_' || n, ARRAY['pets']
FROM tool_variations_groups AS g, generate_series(1, 3) AS n;
INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name, description, deleted_at)
SELECT id, 'tools:http:petstore:op_1', 'op_1', 'an override deleted before the upgrade', now()
FROM tool_variations_groups;
INSERT INTO toolset_versions (toolset_id, version, tool_urns, resource_urns)
SELECT id, 1, ARRAY['tools:http:petstore:op_1', 'tools:http:petstore:op_2'], ARRAY['resources:docs']
FROM toolsets;
INSERT INTO toolset_versions (toolset_id, version, tool_urns, predecessor_id)
SELECT toolset_id, 2, ARRAY['tools:http:petstore:op_1'], id FROM toolset_versions;
INSERT INTO toolset_prompts (toolset_id, prompt_history_id, prompt_name)
SELECT t.id, pt.history_id, pt.name
FROM toolsets AS t JOIN prompt_templates AS pt ON pt.project_id = t.project_id AND pt.predecessor_id IS NULL
"""


async def execute_script(url: str, script: str) -> None:
    async with connect(url) as conn, conn.begin():
        for statement in script.split(";\n"):
            if statement.strip():
                await conn.execute(text(statement))


async def baseline_fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """(row count, md5 of every row's baseline columns) per baseline table."""
    result: dict[str, tuple[int, str]] = {}
    async with connect(url) as conn:
        for table in BASELINE_TABLES:
            columns = await conn.scalar(
                text(
                    "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) "
                    "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t "
                    "AND NOT column_name = ANY(:added)"
                ),
                {"t": table, "added": list(ADDED_COLUMNS.get(table, ()))},
            )
            count, digest = (
                await conn.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(row({columns})::text, '|' "
                        f"ORDER BY id), '')) FROM {table}"
                    )
                )
            ).one()
            result[table] = (count, digest)
    return result


async def schema_snapshot(url: str) -> set[tuple[str, str, str]]:
    """Every column, constraint and index of the public schema, as PostgreSQL describes it."""
    sql = """
    SELECT 'column', table_name || '.' || column_name,
           concat_ws(' ', data_type, udt_name, is_nullable, column_default, is_identity,
                     identity_generation, is_generated, generation_expression)
    FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL
    SELECT 'constraint', conrelid::regclass::text || '.' || conname,
           pg_get_constraintdef(oid) || ' validated=' || convalidated
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'index', c.relname, pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid
    FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
    WHERE c.relnamespace = 'public'::regnamespace
    """
    async with connect(url) as conn:
        return {(r[0], r[1], r[2]) for r in await conn.execute(text(sql))}


async def metadata_diff(url: str) -> list[Any]:
    def compare(sync_conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    async with connect(url) as conn:
        return await conn.run_sync(compare)


# --- 1. Revision graph, round trip, head == tables.py ---


def test_single_head() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config(OFFLINE_URL))
    assert script.get_heads() == [HEAD]
    assert [s.revision for s in script.walk_revisions()] == list(reversed(REVISIONS))


async def test_upgrade_downgrade_to_base_and_upgrade_again(new_database: NewDatabase) -> None:
    url = await new_database()
    await asyncio.to_thread(migrations.upgrade, url, "head")
    assert await scalar(url, "SELECT version_num FROM alembic_version") == HEAD
    await asyncio.to_thread(migrations.downgrade, url, "base")
    assert await scalar(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 1
    await asyncio.to_thread(migrations.upgrade, url, "head")
    assert await metadata_diff(url) == []


async def test_head_schema_matches_tables_py(new_database: NewDatabase) -> None:
    url = await at_revision(new_database, "head")
    assert await metadata_diff(url) == []


async def test_head_constraints_and_indexes_are_valid_and_match_tables_py(new_database: NewDatabase) -> None:
    """What autogenerate does not compare: ON DELETE actions, CHECKs, NULLS NOT DISTINCT, validity."""
    url = await at_revision(new_database, "head")
    actions = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
    async with connect(url) as conn:
        rows = await conn.execute(
            text(
                "SELECT conname, contype::text, confdeltype::text, pg_get_constraintdef(oid) "
                "FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace AND conrelid <> 'alembic_version'::regclass"
            )
        )
        in_db = {r[0]: (r[1], actions.get(r[2]), r[3]) for r in rows}
        not_valid = await conn.scalar(text("SELECT count(*) FROM pg_constraint WHERE NOT convalidated"))
        invalid = await conn.scalar(text("SELECT count(*) FROM pg_index WHERE NOT indisvalid"))
    assert not_valid == invalid == 0

    expected_fks = {
        str(c.name): c.ondelete.upper() if c.ondelete else "NO ACTION"
        for t in metadata.tables.values()
        for c in t.constraints
        if isinstance(c, ForeignKeyConstraint)
    }
    assert {name: v[1] for name, v in in_db.items() if v[0] == "f"} == expected_fks
    assert in_db["toolsets_editing_mode_check"][0] == "c"
    assert "'iteration'" in in_db["toolsets_editing_mode_check"][2]
    assert "'staging'" in in_db["toolsets_editing_mode_check"][2]
    assert in_db["source_states_deployment_id_system_source_state_id_key"][2] == (
        "UNIQUE NULLS NOT DISTINCT (deployment_id, system_source_state_id)"
    )


async def test_downgrade_returns_exactly_to_the_baseline_schema(new_database: NewDatabase) -> None:
    baseline = await at_revision(new_database, "0001")
    round_trip = await at_revision(new_database, "head")
    await asyncio.to_thread(migrations.downgrade, round_trip, "0001")
    assert await schema_snapshot(round_trip) == await schema_snapshot(baseline)


# --- squawk over the offline SQL ---


def offline_sql(direction: str, revision: str = "0002") -> str:
    config = migrations.alembic_config(OFFLINE_URL)
    config.output_buffer = io.StringIO()
    previous = REVISIONS[REVISIONS.index(revision) - 1]
    if direction == "upgrade":
        command.upgrade(config, f"{previous}:{revision}", sql=True)
    else:
        command.downgrade(config, f"{revision}:{previous}", sql=True)
    sql = config.output_buffer.getvalue()
    assert revision in sql
    return sql


@pytest.mark.parametrize("revision", REVISIONS[1:])
@pytest.mark.parametrize("direction", ["upgrade", "downgrade"])
def test_squawk_reports_nothing(direction: str, revision: str, tmp_path: Path) -> None:
    path = tmp_path / f"{revision}_{direction}.sql"
    path.write_text(offline_sql(direction, revision))
    squawk = Path(sys.executable).parent / "squawk"
    result = subprocess.run(
        [str(squawk), "--config", str(ROOT / ".squawk.toml"), "--reporter", "gcc", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_index_changes_on_existing_tables_run_concurrently_outside_a_transaction() -> None:
    in_transaction = False
    for line in offline_sql("upgrade").splitlines():
        if line in ("BEGIN;", "COMMIT;"):
            in_transaction = line == "BEGIN;"
        if " ON toolsets " in line or " ON tool_variations " in line or "DROP INDEX" in line:
            assert "CONCURRENTLY IF" in line, line
            assert not in_transaction, line


# --- 2. Existing rows survive, with the note's defaults ---


async def test_upgrade_keeps_every_row_and_gives_existing_rows_the_defaults(
    new_database: NewDatabase,
) -> None:
    url = await at_revision(new_database, "0001")
    await execute_script(url, FILL_BASELINE)
    before = await baseline_fingerprints(url)
    assert all(count > 0 for count, _ in before.values()), before

    await asyncio.to_thread(migrations.upgrade, url, "head")

    assert await baseline_fingerprints(url) == before
    async with connect(url) as conn:
        toolsets = (
            await conn.execute(
                text(
                    "SELECT DISTINCT editing_mode, version, current_release_id, parent_toolset_id, "
                    "predecessor_id, history_id FROM toolsets"
                )
            )
        ).all()
        variations = (
            await conn.execute(text("SELECT DISTINCT version, predecessor_id, deleted FROM tool_variations"))
        ).all()
    assert toolsets == [("iteration", 1, None, None, None, None)]
    assert sorted(variations) == [(1, None, False), (1, None, True)]


# --- 3. The design note's verification steps 2 to 7, its SQL as written ---

# Copied verbatim from the design note (phase-1-staging-and-releases-schema.md, "Verification Steps").
NOTE_SQL: dict[int, str] = {
    2: """\
-- Check new tables were created
SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public'
  AND table_name IN (
    'toolset_releases',
    'source_states',
    'system_source_states',
    'tool_variations_group_versions'
  );

-- Should return 4 rows
""",
    3: """\
-- Check new columns on toolsets table
SELECT column_name, data_type, column_default
FROM information_schema.columns
WHERE table_name = 'toolsets'
  AND column_name IN (
    'parent_toolset_id',
    'editing_mode',
    'current_release_id',
    'predecessor_id',
    'version',
    'history_id'
  )
ORDER BY column_name;

-- Should return 6 rows
""",
    4: """\
-- Check all foreign key constraints
SELECT
    con.conname AS constraint_name,
    att.attname AS column_name,
    cl.relname AS table_name,
    referenced_cl.relname AS referenced_table
FROM pg_constraint con
JOIN pg_class cl ON con.conrelid = cl.oid
JOIN pg_attribute att ON att.attrelid = cl.oid AND att.attnum = ANY(con.conkey)
LEFT JOIN pg_class referenced_cl ON con.confrelid = referenced_cl.oid
WHERE cl.relname IN ('toolsets', 'toolset_releases', 'source_states', 'tool_variations', 'tool_variations_group_versions')
  AND con.contype = 'f'
ORDER BY cl.relname, con.conname;

-- Should show all expected foreign keys
""",  # noqa: E501 (verbatim)
    5: """\
-- Create a test project first (if needed)
INSERT INTO projects (name, slug, organization_id)
VALUES ('Test Project', 'test-project', 'test-org')
ON CONFLICT DO NOTHING
RETURNING id;

-- Create a parent toolset
INSERT INTO toolsets (
  organization_id,
  project_id,
  name,
  slug,
  editing_mode
)
VALUES (
  'test-org',
  (SELECT id FROM projects WHERE slug = 'test-project' LIMIT 1),
  'My Parent Toolset',
  'my-parent-toolset',
  'iteration'
)
RETURNING id;

-- Create a staging toolset (child of parent)
INSERT INTO toolsets (
  organization_id,
  project_id,
  name,
  slug,
  parent_toolset_id,
  editing_mode
)
VALUES (
  'test-org',
  (SELECT id FROM projects WHERE slug = 'test-project' LIMIT 1),
  'My Parent Toolset (staging)',
  'my-parent-toolset-staging',
  (SELECT id FROM toolsets WHERE slug = 'my-parent-toolset' LIMIT 1),
  'staging'
)
RETURNING id, parent_toolset_id;

-- Verify parent-child relationship
SELECT
  t1.slug as parent_slug,
  t1.editing_mode as parent_mode,
  t2.slug as staging_slug,
  t2.editing_mode as staging_mode,
  t2.parent_toolset_id IS NOT NULL as has_parent
FROM toolsets t1
LEFT JOIN toolsets t2 ON t2.parent_toolset_id = t1.id
WHERE t1.slug = 'my-parent-toolset';
""",
    6: """\
-- Delete parent toolset, verify staging is deleted too
DELETE FROM toolsets WHERE slug = 'my-parent-toolset';

-- Should have deleted both parent and staging
SELECT COUNT(*) FROM toolsets WHERE slug LIKE 'my-parent-toolset%';
-- Should return 0
""",
    7: """\
-- Check new indexes exist
SELECT
    schemaname,
    tablename,
    indexname
FROM pg_indexes
WHERE tablename IN (
    'toolsets',
    'toolset_releases',
    'source_states',
    'system_source_states',
    'tool_variations',
    'tool_variations_group_versions'
)
ORDER BY tablename, indexname;

-- Verify expected indexes are present
""",
}


def statements(script: str) -> list[str]:
    """The note's blocks hold several statements and trailing comments; run them one by one."""
    chunks = (chunk.strip() for chunk in script.split(";\n"))
    return [c for c in chunks if any(line and not line.startswith("--") for line in c.splitlines())]


async def run_note_step(conn: AsyncConnection, step: int) -> list[list[tuple[Any, ...]]]:
    results = []
    for statement in statements(NOTE_SQL[step]):
        result = await conn.exec_driver_sql(statement)
        results.append([tuple(r) for r in result.all()] if result.returns_rows else [])
    return results


async def test_design_note_verification_steps_pass(new_database: NewDatabase) -> None:
    url = await at_revision(new_database, "head")
    async with connect(url) as conn:
        [tables] = await run_note_step(conn, 2)
        assert sorted(r[0] for r in tables) == sorted(NEW_TABLES)

        [columns] = await run_note_step(conn, 3)
        assert columns == [
            ("current_release_id", "uuid", None),
            ("editing_mode", "text", "'iteration'::text"),
            ("history_id", "uuid", None),
            ("parent_toolset_id", "uuid", None),
            ("predecessor_id", "uuid", None),
            ("version", "bigint", "1"),
        ]

        [foreign_keys] = await run_note_step(conn, 4)
        step_4_tables = {"toolsets", "toolset_releases", "source_states", "tool_variations"}
        step_4_tables.add("tool_variations_group_versions")
        expected = {
            (str(c.name), c.column_keys[0], t.name, c.referred_table.name)
            for t in metadata.tables.values()
            if t.name in step_4_tables
            for c in t.constraints
            if isinstance(c, ForeignKeyConstraint)
        }
        assert set(foreign_keys) == expected
        for name in (
            "toolsets_parent_toolset_id_fkey",
            "toolsets_predecessor_id_fkey",
            "toolsets_current_release_id_fkey",
            "toolset_releases_source_state_id_fkey",
            "toolset_releases_toolset_version_id_fkey",
        ):
            assert name in {fk[0] for fk in foreign_keys}

        project, parent, staging, relationship = await run_note_step(conn, 5)
        assert len(project) == len(parent) == 1
        assert staging[0][1] == parent[0][0]
        assert relationship == [
            ("my-parent-toolset", "iteration", "my-parent-toolset-staging", "staging", True)
        ]

        _, [remaining] = await run_note_step(conn, 6)
        assert remaining == (0,)

        [indexes] = await run_note_step(conn, 7)
        step_7_tables = step_4_tables | {"system_source_states"}
        assert {(r[1], r[2]) for r in indexes} == expected_indexes(step_7_tables)
        for name in (
            "toolsets_parent_toolset_id_idx",
            "toolsets_history_id_version_idx",
            "toolsets_project_id_slug_version_key",
            "tool_variations_scoped_src_tool_urn_version_key",
            "toolset_releases_toolset_id_created_at_idx",
        ):
            assert name in {r[2] for r in indexes}
        assert not {"toolsets_project_id_slug_key", "tool_variations_scoped_src_tool_urn_key"} & {
            r[2] for r in indexes
        }


def expected_indexes(tables: set[str]) -> set[tuple[str, str]]:
    """Indexes PostgreSQL keeps for tables.py's tables: primary keys, unique constraints, indexes."""
    found = set()
    for table in metadata.tables.values():
        if table.name not in tables:
            continue
        for item in [*table.constraints, *table.indexes]:
            if isinstance(item, PrimaryKeyConstraint | UniqueConstraint | Index):
                found.add((table.name, str(item.name)))
    return found


# --- 4. Writers go on while the upgrade runs ---


@dataclass
class Writer:
    """What an application process of the previous release does during the upgrade."""

    url: str
    project_id: uuid.UUID
    group_id: uuid.UUID
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    toolset_ids: list[uuid.UUID] = field(default_factory=list)
    variation_ids: list[uuid.UUID] = field(default_factory=list)
    writes: list[tuple[float, float]] = field(default_factory=list)  # (started, seconds)

    async def run(self) -> None:
        async with connect(self.url) as conn:
            # A bound of its own, so a writer that blocks fails the test instead of hanging it.
            await conn.execute(text("SET lock_timeout = '10s'"))
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.monotonic()
                toolset_id = await conn.scalar(
                    text(
                        "INSERT INTO toolsets (organization_id, project_id, name, slug) "
                        "VALUES ('org-a', :p, :s, :s) RETURNING id"
                    ),
                    {"p": self.project_id, "s": f"written-during-upgrade-{n}"},
                )
                self.toolset_ids.append(toolset_id)
                variation_id = await conn.scalar(
                    text(
                        "INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name, name) "
                        "VALUES (:g, :u, 'op', 'renamed') RETURNING id"
                    ),
                    {"g": self.group_id, "u": f"tools:http:petstore:written_{n}"},
                )
                self.variation_ids.append(variation_id)
                self.writes.append((started, time.monotonic() - started))
                self.started.set()
                await asyncio.sleep(0.002)


async def start_writer(url: str) -> tuple[Writer, asyncio.Task[None]]:
    async with connect(url) as conn:
        project_id, group_id = (
            await conn.execute(text("SELECT project_id, id FROM tool_variations_groups LIMIT 1"))
        ).one()
    writer = Writer(url, project_id, group_id)
    task = asyncio.create_task(writer.run())
    await asyncio.wait_for(writer.started.wait(), timeout=10)  # writing before the migration starts
    return writer, task


async def test_writers_are_never_blocked_longer_than_the_lock_timeout(new_database: NewDatabase) -> None:
    url = await at_revision(new_database, "0001")
    await execute_script(url, FILL_BASELINE)
    # Enough rows that validating and building indexes take a moment.
    await execute_script(
        url,
        """
        INSERT INTO toolsets (organization_id, project_id, name, slug)
        SELECT 'org-a', p.id, 'Bulk ' || n, 'bulk-' || n FROM projects AS p, generate_series(1, 3000) AS n;
        INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name)
        SELECT g.id, 'tools:http:bulk:' || n, 'bulk'
        FROM tool_variations_groups AS g, generate_series(1, 500) AS n
        """,
    )
    writer, task = await start_writer(url)
    migration_started = time.monotonic()
    try:
        await asyncio.to_thread(migrations.upgrade, url, "head")
    finally:
        migration_ended = time.monotonic()
        await asyncio.sleep(0.1)  # and some writes after it
        writer.stop.set()
        await asyncio.wait_for(task, timeout=30)

    during = [s for started, s in writer.writes if migration_started <= started <= migration_ended]
    assert len(during) >= 3, "the writer should have written while the migration ran"
    assert max(seconds for _, seconds in writer.writes) < LOCK_TIMEOUT_SECONDS
    async with connect(url) as conn:
        found_toolsets = await conn.scalar(
            text("SELECT count(*) FROM toolsets WHERE id = ANY(:ids) AND editing_mode = 'iteration'"),
            {"ids": writer.toolset_ids},
        )
        found_variations = await conn.scalar(
            text("SELECT count(*) FROM tool_variations WHERE id = ANY(:ids) AND version = 1"),
            {"ids": writer.variation_ids},
        )
    assert found_toolsets == len(writer.toolset_ids)
    assert found_variations == len(writer.variation_ids)
    assert await metadata_diff(url) == []


async def test_upgrade_gives_up_after_the_lock_timeout_and_changes_nothing(new_database: NewDatabase) -> None:
    """A long transaction on tool_variations: the upgrade fails fast instead of queueing writers."""
    url = await at_revision(new_database, "0001")
    await execute_script(url, FILL_BASELINE)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as blocker:
            await blocker.execute(text("UPDATE tool_variations SET name = 'held' WHERE deleted IS FALSE"))
            # Its writes queue behind the migration's lock requests until the migration gives up.
            writer, task = await start_writer(url)
            started = time.monotonic()
            with pytest.raises(DBAPIError, match="lock timeout"):
                await asyncio.to_thread(migrations.upgrade, url, "head")
            assert time.monotonic() - started < LOCK_TIMEOUT_SECONDS + 5
            writer.stop.set()
            await asyncio.wait_for(task, timeout=30)
            await blocker.rollback()
    finally:
        await engine.dispose()

    assert max(seconds for _, seconds in writer.writes) < LOCK_TIMEOUT_SECONDS + 1
    assert await scalar(url, "SELECT version_num FROM alembic_version") == "0001"
    assert await scalar(url, "SELECT to_regclass('toolset_releases') IS NULL")
    assert not await scalar(
        url,
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'toolsets' AND column_name = 'editing_mode')",
    )
    await asyncio.to_thread(migrations.upgrade, url, "head")
    assert await metadata_diff(url) == []


async def test_upgrade_rebuilds_an_invalid_index_left_by_a_failed_run(new_database: NewDatabase) -> None:
    """Cancel the first CONCURRENTLY build half-way: a re-run drops the INVALID index and builds it."""
    url = await at_revision(new_database, "0001")
    await execute_script(url, FILL_BASELINE)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as blocker:
            # An open snapshot: CREATE INDEX CONCURRENTLY waits for it before the index becomes valid.
            await blocker.execution_options(isolation_level="REPEATABLE READ")
            await blocker.execute(text("SELECT count(*) FROM projects"))
            upgrade = asyncio.create_task(asyncio.to_thread(migrations.upgrade, url, "head"))
            async with connect(url) as observer:
                for _ in range(200):
                    pid = await observer.scalar(
                        text(
                            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND query LIKE 'CREATE INDEX CONCURRENTLY%'"
                        )
                    )
                    if pid is not None:
                        break
                    await asyncio.sleep(0.05)
                assert pid is not None, "the index build never waited for the open snapshot"
                await observer.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError, match="cancel"):
                await upgrade
            await blocker.rollback()
    finally:
        await engine.dispose()

    assert await scalar(url, "SELECT version_num FROM alembic_version") == "0001"
    assert await scalar(
        url,
        "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)",
        name="toolsets_parent_toolset_id_idx",
    )
    await asyncio.to_thread(migrations.upgrade, url, "head")
    assert await scalar(url, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
    assert await metadata_diff(url) == []


# --- 5. Downgrade of a populated database ---

FILL_HEAD = """
INSERT INTO toolsets (organization_id, project_id, name, slug, parent_toolset_id, predecessor_id,
                      history_id, version, editing_mode)
SELECT organization_id, project_id, name, slug, id, id, id, 2, 'staging'
FROM toolsets WHERE slug = 'toolset-1';
INSERT INTO toolset_versions (toolset_id, version, tool_urns)
SELECT id, 1, ARRAY['tools:http:petstore:op_3'] FROM toolsets WHERE parent_toolset_id IS NOT NULL;
INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name, name, version, predecessor_id)
SELECT group_id, src_tool_urn, src_tool_name, 'renamed again', 2, id
FROM tool_variations WHERE src_tool_urn = 'tools:http:petstore:op_2' AND deleted IS FALSE;
INSERT INTO tool_variations (group_id, src_tool_urn, src_tool_name, version, predecessor_id, deleted_at)
SELECT group_id, src_tool_urn, src_tool_name, 2, id, now()
FROM tool_variations WHERE src_tool_urn = 'tools:http:petstore:op_3' AND deleted IS FALSE;
INSERT INTO tool_variations_group_versions (group_id, version, variation_ids)
SELECT group_id, 1, array_agg(id) FROM tool_variations GROUP BY group_id;
INSERT INTO system_source_states (project_id, prompt_template_ids)
SELECT project_id, array_agg(id) FROM prompt_templates GROUP BY project_id;
INSERT INTO source_states (project_id, deployment_id, system_source_state_id)
SELECT s.project_id, d.id, s.id FROM system_source_states AS s JOIN deployments AS d USING (project_id);
INSERT INTO toolset_releases (toolset_id, source_state_id, toolset_version_id, global_variations_version_id,
                              release_number, notes, released_by_user_id)
SELECT t.id, s.id, v.id, gv.id, 1, 'first', 'user-1'
FROM toolsets AS t
JOIN source_states AS s ON s.project_id = t.project_id
JOIN toolset_versions AS v ON v.toolset_id = t.id AND v.version = 2
JOIN project_tool_variations AS p ON p.project_id = t.project_id
JOIN tool_variations_group_versions AS gv ON gv.group_id = p.group_id
WHERE t.parent_toolset_id IS NULL;
UPDATE toolsets SET current_release_id = r.id, editing_mode = 'staging', version = 3
FROM toolset_releases AS r WHERE r.toolset_id = toolsets.id
"""


async def test_downgrade_of_a_populated_database_keeps_the_baseline_rows(new_database: NewDatabase) -> None:
    url = await at_revision(new_database, "0001")
    await execute_script(url, FILL_BASELINE)
    before = await baseline_fingerprints(url)
    await asyncio.to_thread(migrations.upgrade, url, "head")
    await execute_script(url, FILL_HEAD)
    assert await scalar(url, "SELECT count(*) FROM toolset_releases") == 12

    await asyncio.to_thread(migrations.downgrade, url, "0001")

    after = await baseline_fingerprints(url)
    # Variations changed on purpose (below); every other baseline row is as it was.
    assert {t: v for t, v in after.items() if t != "tool_variations"} == {
        t: v for t, v in before.items() if t != "tool_variations"
    }
    async with connect(url) as conn:
        live = (
            await conn.execute(
                text(
                    "SELECT src_tool_urn, coalesce(name, '') FROM tool_variations WHERE deleted IS FALSE "
                    "AND group_id = (SELECT group_id FROM project_tool_variations LIMIT 1) "
                    "ORDER BY src_tool_urn"
                )
            )
        ).all()
        total = await conn.scalar(text("SELECT count(*) FROM tool_variations"))
    # op_2's newest version stays live, op_3's tombstone deletes it, op_1 is untouched.
    assert live == [
        ("tools:http:petstore:op_1", "renamed_1"),
        ("tools:http:petstore:op_2", "renamed again"),
    ]
    assert total == before["tool_variations"][0] + 2 * 15  # two new versions per group, none lost
    await asyncio.to_thread(migrations.upgrade, url, "head")
    assert await metadata_diff(url) == []
