"""Installed as a user installs it: a built wheel in a fresh virtual environment, run from
another directory, with no environment variable but DATABASE_URL.

The wheel is built from a copy of the files a release ships, with pip's cache. The new
environment holds only the wheel; its dependencies are reached through a path entry to this
test environment's site-packages (a plain path, so this checkout's editable `app` is never
imported): the test is about what the wheel carries, not about downloading dependencies.
"""

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from tests.processes import ToolsetsProcess

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "app", "alembic")


def build_and_install(tmp: Path) -> Path:
    """The wheel installed in a new virtual environment; returns that environment's bin folder."""
    source = tmp / "source"
    source.mkdir()
    for name in SHIPPED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(source)], check=True)
    (wheel,) = (tmp / "dist").glob("*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    shutil.rmtree(source)  # nothing of the checkout is left to find by accident
    return venv / "bin"


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_built_wheel_migrates_and_serves_from_any_directory(
    new_database: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    database_url = await new_database()
    bin_dir = await asyncio.to_thread(build_and_install, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(elsewhere),
        "DATABASE_URL": database_url,
        "TOOLSETS_LOG_LEVEL": "WARNING",
    }

    location = await asyncio.to_thread(
        run, [str(bin_dir / "python"), "-c", "import app; print(app.__file__)"], elsewhere, env
    )
    assert location.startswith(str(tmp_path / "venv"))  # the wheel's package, not this checkout

    out = await asyncio.to_thread(run, [str(bin_dir / "toolsets"), "migrate"], elsewhere, env)
    assert "database is at" in out

    server = ToolsetsProcess("serve", program=[str(bin_dir / "toolsets")], env=env, cwd=elsewhere)
    try:
        await server.serve()
        async with httpx.AsyncClient() as http:
            unauthenticated = await http.get(f"{server.url}/v1/projects")
            assert unauthenticated.status_code == 401
    finally:
        await server.stop(grace_seconds=10)
