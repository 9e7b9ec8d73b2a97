"""Alembic, driven from code: `toolsets migrate`, start-up checks and tests use it."""

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from alembic import command

_PACKAGE = Path(__file__).resolve().parents[1]
# In an installed wheel the revisions ship inside the package (setup.py copies them);
# in a checkout (and an editable install) they are the top-level alembic/ folder.
SCRIPT_LOCATIONS = (_PACKAGE / "_alembic", _PACKAGE.parent / "alembic")


def script_location() -> Path:
    for candidate in SCRIPT_LOCATIONS:
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(f"no Alembic scripts in {' or '.join(map(str, SCRIPT_LOCATIONS))}")


def alembic_config(database_url: str) -> Config:
    """Built in code, not read from alembic.ini, so it works from any directory."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking; runs its own event loop, so call it outside one (or in a thread)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


async def current_revision(conn: AsyncConnection) -> str | None:
    def read(sync_conn: object) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()  # type: ignore[arg-type]

    return await conn.run_sync(read)
