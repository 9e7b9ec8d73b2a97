"""What an endpoint's served state looks like in MCP: tools, prompts and resources.

One mapping from the effective state (what getEffectiveToolset answers) to the MCP
results, so that `tools/list` and getEffectiveToolset of one endpoint always agree:

- a tool's `name`, `title`, `description` and `inputSchema` are the effective tool's
  (variations applied); `inputSchema` gains `"type": "object"` only when the stored
  schema declares no type (a deployment's tool without a schema stores `{}`);
- `annotations` carry the title and the four hints, where set;
- `_meta` carries the tool's `urn` and, when the endpoint serves a release, its
  `release_number`.

Lists are rendered once per served state and protocol era and kept pre-serialized
(`ListCache`), keyed like the served state, so an unchanged list costs a dictionary
lookup rather than a model validation and a JSON dump of every tool.
"""

import re
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from cachetools import LRUCache

from app.toolsets.schemas import EffectivePrompt, EffectiveTool, EffectiveToolset

_HINTS = (
    ("read_only_hint", "readOnlyHint"),
    ("destructive_hint", "destructiveHint"),
    ("idempotent_hint", "idempotentHint"),
    ("open_world_hint", "openWorldHint"),
)


def input_schema(tool: EffectiveTool) -> dict[str, Any]:
    """The tool's JSON Schema as MCP requires it: an object schema."""
    if "type" in tool.input_schema:
        return tool.input_schema
    return {"type": "object", **tool.input_schema}


def tool_json(tool: EffectiveTool, release_number: int | None) -> dict[str, Any]:
    """One entry of `tools/list`, in wire form (camelCase, absent fields left out)."""
    annotations: dict[str, Any] = {}
    if tool.title is not None:
        annotations["title"] = tool.title
    for field, wire in _HINTS:
        value = getattr(tool, field)
        if value is not None:
            annotations[wire] = value
    meta: dict[str, Any] = {"urn": tool.urn}
    if release_number is not None:
        meta["release_number"] = release_number
    entry: dict[str, Any] = {"name": tool.name}
    if tool.title is not None:
        entry["title"] = tool.title
    if tool.description is not None:
        entry["description"] = tool.description
    entry["inputSchema"] = input_schema(tool)
    if annotations:
        entry["annotations"] = annotations
    entry["_meta"] = meta
    return entry


def tools_json(state: EffectiveToolset) -> list[dict[str, Any]]:
    return [tool_json(tool, state.release_number) for tool in state.tools]


def prompts_json(state: EffectiveToolset) -> list[dict[str, Any]]:
    prompts = []
    for prompt in state.prompts:
        entry: dict[str, Any] = {"name": prompt.name}
        if prompt.description is not None:
            entry["description"] = prompt.description
        entry["arguments"] = [_argument_json(a) for a in prompt.arguments]
        prompts.append(entry)
    return prompts


def _argument_json(argument: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": argument["name"]}
    if argument.get("description") is not None:
        entry["description"] = argument["description"]
    entry["required"] = bool(argument.get("required", False))
    return entry


def resources_json(state: EffectiveToolset) -> list[dict[str, Any]]:
    resources = []
    for resource in state.resources:
        entry: dict[str, Any] = {"uri": resource.uri, "name": resource.name}
        if resource.description is not None:
            entry["description"] = resource.description
        if resource.mime_type is not None:
            entry["mimeType"] = resource.mime_type
        entry["_meta"] = {"urn": resource.urn}
        resources.append(entry)
    return resources


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_-]+)\s*\}\}")


class MissingPromptArguments(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(f"Missing required argument(s): {', '.join(names)}.")
        self.names = names


def render_prompt(prompt: EffectivePrompt, arguments: Mapping[str, str] | None) -> str:
    """`{{argument}}` placeholders replaced by the given values: plain substitution, no code.

    A declared argument that was not given renders empty (unless it is required: then
    `MissingPromptArguments`); a placeholder that names no declared argument stays as
    written, so a template's literal braces survive.
    """
    given = dict(arguments or {})
    declared = {a["name"]: bool(a.get("required", False)) for a in prompt.arguments}
    missing = [name for name, required in declared.items() if required and name not in given]
    if missing:
        raise MissingPromptArguments(missing)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in given:
            return str(given[name])
        return "" if name in declared else match.group(0)

    return _PLACEHOLDER.sub(substitute, prompt.prompt)


def prompt_result(prompt: EffectivePrompt, arguments: Mapping[str, str] | None) -> types.GetPromptResult:
    text = render_prompt(prompt, arguments)
    return types.GetPromptResult(
        description=prompt.description,
        messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
    )


# Pre-serialized list results, per process, bounded by bytes. The key starts with the
# served-state key, which names an immutable body, so entries never go stale; least
# recently used ones go first. A 200-tool `tools/list` is about 100 kB.
LIST_CACHE_BYTES = 64 * 1024 * 1024
ListKey = tuple[Any, ...]


class ListCache:
    def __init__(self, max_bytes: int = LIST_CACHE_BYTES) -> None:
        self._entries: LRUCache[ListKey, bytes] = LRUCache(maxsize=max_bytes, getsizeof=len)

    def get(self, key: ListKey) -> bytes | None:
        return self._entries.get(key)

    def put(self, key: ListKey, value: bytes) -> None:
        if len(value) <= self._entries.maxsize:
            self._entries[key] = value
