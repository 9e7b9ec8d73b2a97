"""The README tells the truth about configuration and error codes."""

import importlib
import pkgutil
import re
from pathlib import Path

import app
from app.kit.errors import _HTTP_CODES, AppError
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_the_configuration_table_lists_exactly_the_settings() -> None:
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|", _section("Configuration"), flags=re.M)
    assert len(rows) == len(set(rows)), "a variable is listed twice"
    variables = {name.upper() for name in Settings.model_fields}
    assert set(rows) == variables, (
        f"in app/settings.py only: {sorted(variables - set(rows))}; "
        f"in the README only: {sorted(set(rows) - variables)}"
    )


def _answered_codes() -> set[str]:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if not module.name.endswith("__main__"):  # importing it would run the command line
            importlib.import_module(module.name)
    codes = {code for code, _ in _HTTP_CODES.values()}
    pending: list[type[AppError]] = [AppError]
    while pending:
        error = pending.pop()
        codes.add(error.code)
        pending.extend(error.__subclasses__())
    # Answers written directly as problem documents, outside the AppError hierarchy.
    for path in (ROOT / "app").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        codes.update(re.findall(r'problem_response\(\s*\d{3},\s*"([a-z_]+)"', source))
    return codes


def test_every_error_code_the_readme_names_is_one_the_service_answers() -> None:
    # "422 `unknown_references`", "401 `unauthorized`": a status, then a code.
    named = set(re.findall(r"\b[45]\d\d `([a-z_]+)`", README))
    assert named, "the README names error codes after their status"
    assert named <= _answered_codes(), sorted(named - _answered_codes())
