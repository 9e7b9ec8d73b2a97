"""Build hook: the wheel carries the Alembic revisions, so an installed `toolsets migrate` works.

The revisions stay in the top-level `alembic/` (developers and parallel branches add files
there); building copies that folder into the package as `app/_alembic`, where
`app/db/migrations.py` looks first. Everything else is configured in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MIGRATIONS = Path(__file__).resolve().parent / "alembic"


class BuildPyWithMigrations(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the checkout's alembic/ in place
        shutil.copytree(
            MIGRATIONS,
            Path(self.build_lib) / "app" / "_alembic",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )


setup(cmdclass={"build_py": BuildPyWithMigrations})
