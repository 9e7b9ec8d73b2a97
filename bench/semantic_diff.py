"""The semantic diff's cost, in-process: two states of N tools whose every input schema changed.

    .venv/bin/python bench/semantic_diff.py [N ...]     # default 1000 10000

Each tool's schema has a required integer, a string with `maxLength` (lowered in the second
state: one breaking change per tool) and an object behind a `$ref` into `$defs`. Reports the
median of 5 runs of `diff_states` (structural diff plus classification) for the changed pair
and for a state against itself.
"""

import statistics
import sys
import time
from typing import Any

from app.releases.diff import diff_states


def tool(i: int, max_length: int) -> dict[str, Any]:
    pet = {"type": "object", "properties": {"name": {"type": "string"}, "tags": {"type": "array"}}}
    return {
        "urn": f"tools:http:bench:op_{i:05d}",
        "name": f"op_{i:05d}",
        "summary": "s",
        "description": "d",
        "input_schema": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "q": {"type": "string", "maxLength": max_length},
                "pet": {"$ref": "#/$defs/Pet"},
            },
            "required": ["id"],
            "$defs": {"Pet": pet},
        },
        "http_method": "GET",
        "path": f"/op/{i}",
        "tags": [],
        "title": None,
        "confirm": None,
        "confirm_prompt": None,
        "summarizer": None,
        "read_only_hint": True,
        "destructive_hint": None,
        "idempotent_hint": None,
        "open_world_hint": None,
    }


def state(n: int, max_length: int) -> dict[str, Any]:
    tools = [tool(i, max_length) for i in range(n)]
    return {"name": "n", "slug": "s", "description": None, "tools": tools, "resources": [], "prompts": []}


def median_seconds(before: dict[str, Any], after: dict[str, Any]) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        diff_states(before, after)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    print("| tools | every schema changed | unchanged |")
    print("| ---: | ---: | ---: |")
    for n in sizes:
        before, after = state(n, 100), state(n, 50)
        changed, same = median_seconds(before, after), median_seconds(before, before)
        print(f"| {n:,} | {changed * 1000:.0f} ms | {same * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
