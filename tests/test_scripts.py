"""`./scripts/serve` installs the project only when its packaging files changed."""

import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Stand-ins for the virtual environment's python and toolsets: they log how they were called.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "$(dirname "$0")/../calls.log"
if [ "$1" = "-c" ]; then exec python3 "$@"; fi
if [ "$*" = "-m pip install --quiet -e ." ]; then
  cp "$(dirname "$0")/../fake-toolsets" "$(dirname "$0")/toolsets"
fi
"""
FAKE_TOOLSETS = """#!/usr/bin/env bash
echo "toolsets $*" >> "$(dirname "$0")/../calls.log"
"""


def _checkout(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "serve", checkout / "scripts" / "serve")
    shutil.copy(ROOT / "pyproject.toml", checkout / "pyproject.toml")
    shutil.copy(ROOT / "setup.py", checkout / "setup.py")
    bin_dir = checkout / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    toolsets = checkout / ".venv" / "fake-toolsets"
    toolsets.write_text(FAKE_TOOLSETS)
    toolsets.chmod(toolsets.stat().st_mode | stat.S_IEXEC)
    return checkout


def _serve(checkout: Path) -> list[str]:
    log = checkout / ".venv" / "calls.log"
    log.unlink(missing_ok=True)
    subprocess.run([str(checkout / "scripts" / "serve"), "--port", "1"], cwd=checkout, check=True)
    calls = log.read_text().splitlines()
    assert calls[-1] == "toolsets serve --port 1"
    return [line for line in calls if "pip install" in line]


def test_serve_installs_again_only_when_the_packaging_changed(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    assert _serve(checkout) == ["python -m pip install --quiet -e ."]
    assert _serve(checkout) == []  # nothing changed: straight to `toolsets serve`
    (checkout / "app.py").write_text("# code changes need no install: it is editable\n")
    assert _serve(checkout) == []
    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a new dependency\n")
    assert _serve(checkout) == ["python -m pip install --quiet -e ."]
    assert _serve(checkout) == []
