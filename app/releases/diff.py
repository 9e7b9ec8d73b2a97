"""The difference between two effective states, ordered stably (by URN, then name),
with every change classified by its impact on clients (`semantic_diff`)."""

import gc
from typing import Any

from app.releases.semantic_diff import annotate
from app.serving.state import parsed

METADATA_FIELDS = ("name", "slug", "description")


def _changed_fields(before: dict[str, Any], after: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {
        field: {"from": before.get(field), "to": after.get(field)}
        for field in sorted(set(before) | set(after))
        if field != key and before.get(field) != after.get(field)
    }


def _diff_items(before: list[dict[str, Any]], after: list[dict[str, Any]], key: str) -> dict[str, Any]:
    old = {item[key]: item for item in before}
    new = {item[key]: item for item in after}
    changed = []
    for name in sorted(old.keys() & new.keys()):
        if old[name] == new[name]:  # most items of two states are equal: one comparison in C
            continue
        fields = _changed_fields(old[name], new[name], key)
        if fields:
            changed.append({key: name, "fields": fields})
    return {
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": changed,
    }


def diff_states(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return annotate(structural_diff(before, after), before, after)


_NOTHING: dict[str, Any] = {
    "name": None,
    "slug": None,
    "description": None,
    "tools": [],
    "resources": [],
    "prompts": [],
}


def diff_bodies(before: bytes, after: bytes) -> dict[str, Any]:
    """`diff_states` of two states as JSON (as computed, or as cached): identical bodies are
    the same state, so nothing is parsed and nothing compared (equal states computed by the
    same statement are byte for byte equal)."""
    if before == after:
        return annotate(structural_diff(_NOTHING, _NOTHING), None, None)
    # Two large states are hundreds of thousands of objects, none in a cycle: the cyclic
    # collector is paused until they are freed (a collection meanwhile would traverse them all).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return diff_states(parsed(before), parsed(after))
    finally:
        if collecting:
            gc.enable()


def structural_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {
            field: {"from": before[field], "to": after[field]}
            for field in METADATA_FIELDS
            if before[field] != after[field]
        },
        "tools": _diff_items(before["tools"], after["tools"], "urn"),
        "resources": _diff_items(before["resources"], after["resources"], "urn"),
        "prompts": _diff_items(before["prompts"], after["prompts"], "name"),
    }
