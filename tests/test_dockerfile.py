"""No Docker engine runs here, so the Dockerfile's promises are checked by reading it."""

from pathlib import Path

DOCKERFILE = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text(encoding="utf-8")
LINES = [line.strip() for line in DOCKERFILE.splitlines() if line.strip() and not line.startswith("#")]


def test_multi_stage_on_a_slim_python_base() -> None:
    stages = [line for line in LINES if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert all("-slim" in stage for stage in stages)


def test_runs_as_a_non_root_user() -> None:
    users = [line.split()[1] for line in LINES if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")


def test_installs_the_project_from_pyproject() -> None:
    assert "COPY pyproject.toml" in DOCKERFILE
    assert any("pip wheel" in line and " ." in line for line in LINES)


def test_migrates_then_serves() -> None:
    command = next(line for line in LINES if line.startswith("CMD"))
    assert command.index("toolsets migrate") < command.index("toolsets serve")
    # The wheel carries the migrations (setup.py), so the build stage needs them.
    assert "COPY alembic ./alembic" in DOCKERFILE
    assert "setup.py" in DOCKERFILE
