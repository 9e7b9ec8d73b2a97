"""What a change means to clients: every change of a diff classified by impact, with a reason.

- *breaking*: a client that worked before may fail now (a tool, prompt or resource
  removed or renamed; an input schema that rejects input it accepted; a hint that moves
  toward danger; another HTTP method or path);
- *compatible*: everything that worked still works, and more may (a tool added, an
  optional property added, a constraint loosened, an enum value added);
- *cosmetic*: only what people read changes (descriptions, titles, summaries, tags).

Input schemas are compared structurally: the question for every keyword is whether the
set of inputs the schema accepts shrank (breaking) or grew (compatible). Local `$ref`s
(`#/$defs/...`, `#/definitions/...`) are resolved on both sides before comparing, so
moving a definition behind a `$ref` changes nothing. A keyword whose effect cannot be
judged (`not`, `if`, an unknown validation keyword) is breaking when it changes: a
guard that blocks breaking changes should err on the side of asking.

Everything here is pure: it reads the structural diff (`app.releases.diff`) and the two
states it was computed from, and never touches the database.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

Impact = Literal["breaking", "compatible", "cosmetic"]
IMPACTS: tuple[Impact, ...] = ("breaking", "compatible", "cosmetic")
Section = Literal["metadata", "tools", "resources", "prompts"]


@dataclass(frozen=True, slots=True)
class SemanticChange:
    section: Section
    item: str | None  # the tool or resource URN, the prompt name; None for metadata
    field: str | None
    path: str | None  # a JSON pointer inside the field's value (input_schema, arguments)
    change: Literal["added", "removed", "changed"]
    impact: Impact
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "item": self.item,
            "field": self.field,
            "path": self.path,
            "change": self.change,
            "impact": self.impact,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One difference between two JSON Schemas."""

    path: str  # JSON pointer into the schema ("" for the root)
    impact: Impact
    reason: str


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# --- JSON Schema comparison ---

# Keywords that only annotate: people read them, validation ignores them.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "$comment",
        "examples",
        "example",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        "$id",
        "$schema",
        "$anchor",
        "$dynamicAnchor",
        "discriminator",
        "externalDocs",
        "xml",
    }
)
# Reached through $ref, never compared as such.
_DEFINITIONS = frozenset({"$defs", "definitions"})
# Lower the bound, accept more (upper bounds); raise it, accept more (lower bounds).
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
# Restrictions whose any change may reject input that was accepted (regexes, formats cannot be ordered).
_OPAQUE_RESTRICTIONS = ("pattern", "format", "const", "not", "if", "then", "else", "contentSchema")
_HANDLED = frozenset(
    {
        *_ANNOTATIONS,
        *_DEFINITIONS,
        *_UPPER_BOUNDS,
        *_LOWER_BOUNDS,
        *_OPAQUE_RESTRICTIONS,
        "$ref",
        "type",
        "enum",
        "default",
        "multipleOf",
        "uniqueItems",
        "nullable",
        "required",
        "properties",
        "additionalProperties",
        "unevaluatedProperties",
        "patternProperties",
        "propertyNames",
        "items",
        "prefixItems",
        "additionalItems",
        "unevaluatedItems",
        "contains",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "anyOf",
        "oneOf",
        "allOf",
    }
)
_JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def _resolve_pointer(root: Any, ref: str) -> Any:
    """The node `ref` (a local reference, `#/...`) names in `root`, or None."""
    node = root
    for raw in ref[1:].split("/")[1:] if ref.startswith("#/") else []:
        segment = _unescape(raw)
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return None
    return node if ref.startswith("#") else None


def _types(schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a schema allows by its `type` (and OpenAPI 3.0 `nullable`); None = any."""
    declared = schema.get("type")
    if declared is None:
        return None
    types = {declared} if isinstance(declared, str) else {t for t in declared if isinstance(t, str)}
    if schema.get("nullable") is True:
        types.add("null")
    return types


def _covers(types: set[str], wanted: str) -> bool:
    return wanted in types or (wanted == "integer" and "number" in types)


class _SchemaComparer:
    """Compares two schemas keyword by keyword, resolving each side's local $refs in its root."""

    def __init__(self, before_root: Any, after_root: Any) -> None:
        self.roots = (before_root, after_root)
        self.same_roots = before_root == after_root
        self.same_definitions = all(
            _mapping(before_root).get(k) == _mapping(after_root).get(k) for k in _DEFINITIONS
        )
        self.changes: list[SchemaChange] = []
        self._in_progress: set[tuple[str | None, str | None]] = set()

    def add(self, path: str, impact: Impact, reason: str) -> None:
        self.changes.append(SchemaChange(path, impact, reason))

    def _resolve(self, schema: Any, side: int) -> tuple[dict[str, Any], str | None]:
        """The schema as a dict (true/absent = {}, false = rejects all), $ref followed.

        Keywords beside a $ref apply too (2019-09 and later), so they are merged over the target.
        """
        if schema is None or schema is True:
            return {}, None
        if schema is False:
            return {"not": {}}, None
        if not isinstance(schema, dict):
            return {"const": schema}, None
        ref = schema.get("$ref")
        seen: list[str] = []
        while isinstance(ref, str) and ref not in seen:
            target = _resolve_pointer(self.roots[side], ref)
            if not isinstance(target, dict):
                break  # a remote or dangling $ref: compared as written
            seen.append(ref)
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            ref = target.get("$ref")
            if ref is None:
                schema.pop("$ref", None)
        return schema, seen[0] if seen else None

    def compare(self, before: Any, after: Any, path: str) -> None:
        if (before is False) != (after is False):
            if after is False:
                self.add(path, "breaking", f"{_where(path)}: no value is accepted any more")
            else:
                self.add(path, "compatible", f"{_where(path)}: values are accepted again")
            return
        if before == after and (self.same_roots or (self.same_definitions and not _has_other_ref(before))):
            return  # identical, and any $ref in it resolves alike on both sides
        old, old_ref = self._resolve(before, 0)
        new, new_ref = self._resolve(after, 1)
        pair = (old_ref, new_ref)
        if old_ref is None and new_ref is None:
            self._compare_resolved(old, new, path)
            return
        if pair in self._in_progress:
            return  # a recursive definition: its pair is being compared further up
        self._in_progress.add(pair)
        try:
            self._compare_resolved(old, new, path)
        finally:
            self._in_progress.discard(pair)

    def _compare_resolved(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        where = _where(path)
        self._compare_types(old, new, path, where)
        self._compare_enum(old, new, path, where)
        for keyword in _UPPER_BOUNDS:
            self._compare_bound(old, new, keyword, path, where, upper=True)
        for keyword in _LOWER_BOUNDS:
            self._compare_bound(old, new, keyword, path, where, upper=False)
        self._compare_multiple_of(old, new, path, where)
        self._compare_flag(old, new, "uniqueItems", path, where, "items must be unique")
        for keyword in _OPAQUE_RESTRICTIONS:
            self._compare_opaque(old, new, keyword, path, where)
        self._compare_object(old, new, path, where)
        self._compare_array(old, new, path, where)
        self._compare_dependencies(old, new, path, where)
        for keyword in ("anyOf", "oneOf"):
            self._compare_alternatives(old, new, keyword, path, where)
        self._compare_all_of(old, new, path, where)
        self._compare_default(old, new, path, where)
        self._compare_annotations(old, new, path, where)
        self._compare_unknown(old, new, path, where)

    # -- keywords --

    def _compare_types(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        before, after = _types(old), _types(new)
        if before == after:
            return
        shown_before = "any" if before is None else ", ".join(sorted(before))
        shown_after = "any" if after is None else ", ".join(sorted(after))
        at = f"{path}/type"
        if after is None:
            self.add(at, "compatible", f"{where}: type widened from {shown_before} to any")
            return
        lost = _JSON_TYPES if before is None else before
        if any(not _covers(after, t) for t in lost):
            verb = "narrowed" if before is not None and after < before else "changed"
            self.add(at, "breaking", f"{where}: type {verb} from {shown_before} to {shown_after}")
        else:
            self.add(at, "compatible", f"{where}: type widened from {shown_before} to {shown_after}")

    def _compare_enum(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        before, after = old.get("enum"), new.get("enum")
        if before == after:
            return
        at = f"{path}/enum"
        if not isinstance(after, list):
            self.add(at, "compatible", f"{where}: no longer limited to an enum")
            return
        if not isinstance(before, list):
            self.add(at, "breaking", f"{where}: now limited to the values {_show(after)}")
            return
        old_values = {_canonical(v): v for v in before}
        new_values = {_canonical(v): v for v in after}
        removed = [old_values[k] for k in old_values.keys() - new_values.keys()]
        added = [new_values[k] for k in new_values.keys() - old_values.keys()]
        if removed:
            self.add(
                at, "breaking", f"{where}: enum values removed: {_show(sorted(removed, key=_canonical))}"
            )
        if added:
            self.add(at, "compatible", f"{where}: enum values added: {_show(sorted(added, key=_canonical))}")
        if not removed and not added:
            self.add(at, "cosmetic", f"{where}: enum values reordered")

    def _compare_bound(
        self, old: dict[str, Any], new: dict[str, Any], keyword: str, path: str, where: str, upper: bool
    ) -> None:
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            return
        at = f"{path}/{keyword}"
        if isinstance(before, bool) or isinstance(after, bool):
            # draft-4 exclusiveMaximum/exclusiveMinimum: a flag on maximum/minimum.
            if bool(after) and not bool(before):
                self.add(at, "breaking", f"{where}: {keyword} set; the bound itself is now excluded")
            else:
                self.add(at, "compatible", f"{where}: {keyword} cleared; the bound itself is allowed")
            return
        numeric = isinstance(before, int | float) and isinstance(after, int | float)
        if after is None:
            self.add(at, "compatible", f"{where}: {keyword} {_show(before)} removed")
        elif before is None:
            self.add(at, "breaking", f"{where}: {keyword} {_show(after)} added")
        elif not numeric:
            self.add(at, "breaking", f"{where}: {keyword} changed from {_show(before)} to {_show(after)}")
        elif (after < before) == upper:
            verb = "lowered" if upper else "raised"
            self.add(at, "breaking", f"{where}: {keyword} {verb} from {before} to {after}")
        else:
            verb = "raised" if upper else "lowered"
            self.add(at, "compatible", f"{where}: {keyword} {verb} from {before} to {after}")

    def _compare_multiple_of(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        before, after = old.get("multipleOf"), new.get("multipleOf")
        if before == after:
            return
        at = f"{path}/multipleOf"
        if after is None:
            self.add(at, "compatible", f"{where}: multipleOf {_show(before)} removed")
        elif before is None:
            self.add(at, "breaking", f"{where}: multipleOf {_show(after)} added")
        elif (
            isinstance(before, int | float)
            and isinstance(after, int | float)
            and after
            and (before / after).is_integer()
        ):
            self.add(at, "compatible", f"{where}: multipleOf loosened from {before} to {after}")
        else:
            self.add(at, "breaking", f"{where}: multipleOf changed from {_show(before)} to {_show(after)}")

    def _compare_flag(
        self, old: dict[str, Any], new: dict[str, Any], keyword: str, path: str, where: str, meaning: str
    ) -> None:
        before, after = old.get(keyword) is True, new.get(keyword) is True
        if before == after:
            return
        if after:
            self.add(f"{path}/{keyword}", "breaking", f"{where}: {meaning} now")
        else:
            self.add(f"{path}/{keyword}", "compatible", f"{where}: {meaning} no longer")

    def _compare_opaque(
        self, old: dict[str, Any], new: dict[str, Any], keyword: str, path: str, where: str
    ) -> None:
        if keyword not in old and keyword not in new:
            return
        before, after = old.get(keyword), new.get(keyword)
        if keyword in ("not", "if", "then", "else", "contentSchema"):
            if keyword in old and keyword in new and self._same(before, after):
                return
        elif _canonical(before) == _canonical(after):
            return
        at = f"{path}/{keyword}"
        if keyword not in new:
            self.add(at, "compatible", f"{where}: {keyword} {_show(before)} removed")
        elif keyword not in old:
            self.add(at, "breaking", f"{where}: {keyword} {_show(after)} added")
        else:
            self.add(at, "breaking", f"{where}: {keyword} changed from {_show(before)} to {_show(after)}")

    def _same(self, before: Any, after: Any) -> bool:
        probe = _SchemaComparer(*self.roots)
        probe.compare(before, after, "")
        return not any(c.impact != "cosmetic" for c in probe.changes)

    def _compare_object(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        old_props, new_props = _mapping(old.get("properties")), _mapping(new.get("properties"))
        old_required = {r for r in old.get("required") or [] if isinstance(r, str)}
        new_required = {r for r in new.get("required") or [] if isinstance(r, str)}
        for name in sorted(old_props.keys() - new_props.keys()):
            at = f"{path}/properties/{_escape(name)}"
            self.add(at, "breaking", f"{_where(at)}: property removed")
        for name in sorted(new_props.keys() - old_props.keys()):
            at = f"{path}/properties/{_escape(name)}"
            if name in new_required:
                self.add(at, "breaking", f"{_where(at)}: new required property")
            else:
                self.add(at, "compatible", f"{_where(at)}: optional property added")
        for name in sorted(old_props.keys() & new_props.keys()):
            self.compare(old_props[name], new_props[name], f"{path}/properties/{_escape(name)}")
        for name in sorted(new_required - old_required):
            if name in new_props and name not in old_props:
                continue  # reported above as a new required property
            at = f"{path}/properties/{_escape(name)}"
            self.add(f"{path}/required", "breaking", f"{_where(at)}: now required")
        for name in sorted(old_required - new_required):
            if name in old_props and name not in new_props:
                continue  # reported above as a property removed
            at = f"{path}/properties/{_escape(name)}"
            self.add(f"{path}/required", "compatible", f"{_where(at)}: no longer required")
        for keyword in ("additionalProperties", "unevaluatedProperties"):
            self._compare_extra_properties(old, new, keyword, path, where)
        old_patterns = old.get("patternProperties") or {}
        new_patterns = new.get("patternProperties") or {}
        if isinstance(old_patterns, dict) and isinstance(new_patterns, dict):
            for pattern in sorted(old_patterns.keys() - new_patterns.keys()):
                self.add(
                    f"{path}/patternProperties/{_escape(pattern)}",
                    "compatible",
                    f"{where}: properties matching {_show(pattern)} no longer constrained",
                )
            for pattern in sorted(new_patterns.keys() - old_patterns.keys()):
                self.add(
                    f"{path}/patternProperties/{_escape(pattern)}",
                    "breaking",
                    f"{where}: properties matching {_show(pattern)} now constrained",
                )
            for pattern in sorted(old_patterns.keys() & new_patterns.keys()):
                self.compare(
                    old_patterns[pattern],
                    new_patterns[pattern],
                    f"{path}/patternProperties/{_escape(pattern)}",
                )
        if "propertyNames" in old or "propertyNames" in new:
            self.compare(old.get("propertyNames"), new.get("propertyNames"), f"{path}/propertyNames")

    def _compare_extra_properties(
        self, old: dict[str, Any], new: dict[str, Any], keyword: str, path: str, where: str
    ) -> None:
        if keyword not in old and keyword not in new:
            return
        before, after = old.get(keyword, True), new.get(keyword, True)
        at = f"{path}/{keyword}"
        if before is False and after is not False:
            self.add(at, "compatible", f"{where}: properties not described are now allowed")
        elif after is False and before is not False:
            self.add(at, "breaking", f"{where}: properties not described are no longer allowed")
        elif before is not False:
            self.compare(before, after, at)

    def _compare_array(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        before_items, after_items = old.get("items"), new.get("items")
        if isinstance(before_items, list) or isinstance(after_items, list):
            self._compare_tuple(
                before_items if isinstance(before_items, list) else [],
                after_items if isinstance(after_items, list) else [],
                f"{path}/items",
            )
            # One side a tuple, the other one schema for every item: judged as a whole.
            if not (isinstance(before_items, list) and isinstance(after_items, list)):
                self.add(f"{path}/items", "breaking", f"{where}: items changed between a list and a schema")
        elif "items" in old or "items" in new:
            self.compare(before_items, after_items, f"{path}/items")
        if "prefixItems" in old or "prefixItems" in new:
            self._compare_tuple(
                old.get("prefixItems") or [], new.get("prefixItems") or [], f"{path}/prefixItems"
            )
        for keyword in ("additionalItems", "unevaluatedItems", "contains"):
            if keyword in old or keyword in new:
                if new.get(keyword) is False and old.get(keyword) is not False:
                    self.add(f"{path}/{keyword}", "breaking", f"{where}: extra items no longer allowed")
                elif old.get(keyword) is False and new.get(keyword) is not False:
                    self.add(f"{path}/{keyword}", "compatible", f"{where}: extra items now allowed")
                else:
                    self.compare(old.get(keyword), new.get(keyword), f"{path}/{keyword}")

    def _compare_tuple(self, before: list[Any], after: list[Any], path: str) -> None:
        for index in range(min(len(before), len(after))):
            self.compare(before[index], after[index], f"{path}/{index}")
        for index in range(len(after), len(before)):
            self.add(
                f"{path}/{index}", "compatible", f"{_where(path)}: position {index} no longer constrained"
            )
        for index in range(len(before), len(after)):
            self.add(f"{path}/{index}", "breaking", f"{_where(path)}: position {index} now constrained")

    def _compare_dependencies(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        for keyword in ("dependentRequired", "dependentSchemas", "dependencies"):
            before, after = _mapping(old.get(keyword)), _mapping(new.get(keyword))
            for name in sorted(before.keys() | after.keys()):
                at = f"{path}/{keyword}/{_escape(name)}"
                if name not in after:
                    self.add(at, "compatible", f"{where}: dependency on {_show(name)} removed")
                elif name not in before:
                    self.add(at, "breaking", f"{where}: dependency on {_show(name)} added")
                elif isinstance(before[name], list) or isinstance(after[name], list):
                    old_names = set(before[name]) if isinstance(before[name], list) else set()
                    new_names = set(after[name]) if isinstance(after[name], list) else set()
                    if new_names - old_names:
                        self.add(
                            at,
                            "breaking",
                            f"{where}: {_show(name)} now requires {_show(sorted(new_names - old_names))}",
                        )
                    if old_names - new_names:
                        self.add(
                            at,
                            "compatible",
                            f"{where}: {_show(name)} no longer requires "
                            f"{_show(sorted(old_names - new_names))}",
                        )
                else:
                    self.compare(before[name], after[name], at)

    def _compare_alternatives(
        self, old: dict[str, Any], new: dict[str, Any], keyword: str, path: str, where: str
    ) -> None:
        before, after = old.get(keyword), new.get(keyword)
        if before is None and after is None:
            return
        at = f"{path}/{keyword}"
        if not isinstance(after, list):
            self.add(at, "compatible", f"{where}: {keyword} removed; no longer limited to its alternatives")
            return
        if not isinstance(before, list):
            self.add(at, "breaking", f"{where}: {keyword} added; input must match one of its alternatives")
            return
        if len(before) == len(after):
            for index, (b, a) in enumerate(zip(before, after, strict=True)):
                self.compare(b, a, f"{at}/{index}")
            return
        old_set = {_canonical(b) for b in before}
        new_set = {_canonical(a) for a in after}
        removed = len(old_set - new_set)
        added = len(new_set - old_set)
        if removed:
            self.add(at, "breaking", f"{where}: {removed} of the {keyword} alternatives removed or changed")
        if added:
            self.add(at, "compatible", f"{where}: {added} {keyword} alternatives added")

    def _compare_all_of(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        before, after = old.get("allOf"), new.get("allOf")
        if before is None and after is None:
            return
        before = before if isinstance(before, list) else []
        after = after if isinstance(after, list) else []
        at = f"{path}/allOf"
        if len(before) == len(after):
            for index, (b, a) in enumerate(zip(before, after, strict=True)):
                self.compare(b, a, f"{at}/{index}")
            return
        old_set = {_canonical(b) for b in before}
        new_set = {_canonical(a) for a in after}
        if new_set - old_set:
            self.add(at, "breaking", f"{where}: {len(new_set - old_set)} allOf schemas added or changed")
        if old_set - new_set:
            self.add(at, "compatible", f"{where}: {len(old_set - new_set)} allOf schemas removed")

    def _compare_default(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        if "default" not in old and "default" not in new:
            return
        if _canonical(old.get("default")) == _canonical(new.get("default")) and ("default" in old) == (
            "default" in new
        ):
            return
        # An omitted argument now means something else; every input is still accepted.
        before = _show(old["default"]) if "default" in old else "none"
        after = _show(new["default"]) if "default" in new else "none"
        self.add(f"{path}/default", "compatible", f"{where}: default changed from {before} to {after}")

    def _compare_annotations(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        for keyword in sorted(
            k for k in (old.keys() | new.keys()) if k in _ANNOTATIONS or k.startswith("x-")
        ):
            if _canonical(old.get(keyword)) != _canonical(new.get(keyword)):
                self.add(f"{path}/{_escape(keyword)}", "cosmetic", f"{where}: {keyword} changed")

    def _compare_unknown(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str) -> None:
        for keyword in sorted(
            k for k in (old.keys() | new.keys()) if k not in _HANDLED and not k.startswith("x-")
        ):
            if _canonical(old.get(keyword)) != _canonical(new.get(keyword)):
                self.add(
                    f"{path}/{_escape(keyword)}",
                    "breaking",
                    f"{where}: {keyword} changed; it may reject input that was accepted",
                )


def _has_other_ref(schema: Any) -> bool:
    """Whether a $ref in `schema` points anywhere but `#/$defs/…` or `#/definitions/…`."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref is not None and not (isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/"))):
            return True
        return any(_has_other_ref(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_other_ref(v) for v in schema)
    return False


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _where(path: str) -> str:
    """`/properties/pet/properties/tags/items` → "`pet.tags[]`"; the root → "input"."""
    parts: list[str] = []
    segments = [_unescape(s) for s in path.split("/")[1:]]
    index = 0
    while index < len(segments):
        segment = segments[index]
        if segment in ("properties", "patternProperties") and index + 1 < len(segments):
            parts.append(("." if parts else "") + segments[index + 1])
            index += 2
            continue
        if segment in ("items", "additionalItems", "unevaluatedItems", "contains"):
            parts.append("[]")
        elif segment in ("prefixItems",) and index + 1 < len(segments):
            parts.append(f"[{segments[index + 1]}]")
            index += 1
        index += 1
    label = "".join(parts)
    return f"input `{label}`" if label else "input"


def compare_schemas(before: Any, after: Any) -> list[SchemaChange]:
    """Every difference between two input schemas, classified (empty when they are equivalent)."""
    comparer = _SchemaComparer(before, after)
    comparer.compare(before, after, "")
    return comparer.changes


# --- the effective state's fields ---

# What each hint's absence means to an MCP client (the MCP specification's defaults),
# its dangerous value, and what moving to that value means.
_HINTS: dict[str, tuple[bool, bool, str]] = {
    "read_only_hint": (False, False, "may now modify its environment (no longer read-only)"),
    "destructive_hint": (True, True, "may now make destructive updates"),
    "idempotent_hint": (False, False, "repeating a call is no longer known to be safe"),
    "open_world_hint": (True, True, "may now reach an open world of external entities"),
}


def _tool_field_changes(
    field: str, before: Any, after: Any, label: str
) -> Iterator[tuple[str | None, Impact, str]]:
    """(path, impact, reason) of one changed field of a served tool."""
    if field == "input_schema":
        for change in compare_schemas(before, after):
            yield change.path or "", change.impact, f"{label}: {change.reason}"
        return
    if field == "name":
        yield (
            None,
            "breaking",
            f"{label}: renamed from {_show(before)} to {_show(after)}; calls by the old name fail",
        )
    elif field in ("http_method", "path"):
        yield (
            None,
            "breaking",
            f"{label}: HTTP {field.replace('http_', '')} changed from {_show(before)} to {_show(after)}",
        )
    elif field in _HINTS:
        default, dangerous, danger = _HINTS[field]
        old = default if before is None else bool(before)
        new = default if after is None else bool(after)
        moved = f"{field} {_show(before)} → {_show(after)}"
        if old == new:
            yield None, "cosmetic", f"{label}: {moved}, the same meaning (unset means {_show(default)})"
        elif new == dangerous:
            yield None, "breaking", f"{label}: {moved}: {danger}"
        else:
            yield None, "compatible", f"{label}: {moved}, toward safety"
    elif field == "confirm":
        if after is None:
            yield None, "breaking", f"{label}: confirmation {_show(before)} removed"
        elif before is None:
            yield None, "compatible", f"{label}: confirmation {_show(after)} added"
        else:
            yield None, "compatible", f"{label}: confirmation changed from {_show(before)} to {_show(after)}"
    elif field == "summarizer":
        yield None, "compatible", f"{label}: summarizer changed; results read differently"
    elif field in ("summary", "description", "title", "tags", "confirm_prompt"):
        yield None, "cosmetic", f"{label}: {field} changed"
    else:
        yield None, "compatible", f"{label}: {field} changed"


def _argument_changes(before: Any, after: Any, label: str) -> Iterator[tuple[str | None, Impact, str]]:
    old = {a["name"]: a for a in before or [] if isinstance(a, dict) and "name" in a}
    new = {a["name"]: a for a in after or [] if isinstance(a, dict) and "name" in a}
    for name in sorted(old.keys() - new.keys()):
        yield f"/{_escape(name)}", "breaking", f"{label}: argument `{name}` removed"
    for name in sorted(new.keys() - old.keys()):
        if new[name].get("required"):
            yield f"/{_escape(name)}", "breaking", f"{label}: new required argument `{name}`"
        else:
            yield f"/{_escape(name)}", "compatible", f"{label}: optional argument `{name}` added"
    for name in sorted(old.keys() & new.keys()):
        was, now = bool(old[name].get("required")), bool(new[name].get("required"))
        if now and not was:
            yield f"/{_escape(name)}", "breaking", f"{label}: argument `{name}` now required"
        elif was and not now:
            yield f"/{_escape(name)}", "compatible", f"{label}: argument `{name}` no longer required"
        if {k: v for k, v in old[name].items() if k != "required"} != {
            k: v for k, v in new[name].items() if k != "required"
        }:
            yield f"/{_escape(name)}", "cosmetic", f"{label}: argument `{name}` description changed"


def _prompt_field_changes(
    field: str, before: Any, after: Any, label: str
) -> Iterator[tuple[str | None, Impact, str]]:
    if field == "arguments":
        yield from _argument_changes(before, after, label)
    elif field == "prompt":
        yield None, "compatible", f"{label}: prompt text changed"
    elif field == "description":
        yield None, "cosmetic", f"{label}: description changed"
    else:
        yield None, "compatible", f"{label}: {field} changed"


def _resource_field_changes(
    field: str, before: Any, after: Any, label: str
) -> Iterator[tuple[str | None, Impact, str]]:
    if field in ("uri", "mime_type"):
        yield None, "breaking", f"{label}: {field} changed from {_show(before)} to {_show(after)}"
    elif field in ("name", "description"):
        yield None, "cosmetic", f"{label}: {field} changed"
    else:
        yield None, "compatible", f"{label}: {field} changed"


_FieldRules = Callable[[str, Any, Any, str], Iterator[tuple[str | None, Impact, str]]]
_SECTIONS: dict[str, tuple[str, str, _FieldRules]] = {
    # section: (key of an item, what an item is called, rules for a changed field)
    "tools": ("urn", "tool", _tool_field_changes),
    "resources": ("urn", "resource", _resource_field_changes),
    "prompts": ("name", "prompt", _prompt_field_changes),
}


def _names(state: dict[str, Any] | None, section: str, key: str) -> dict[str, str]:
    if state is None:
        return {}
    return {item[key]: str(item.get("name") or item[key]) for item in state.get(section, [])}


def classify(
    diff: dict[str, Any], before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
) -> list[SemanticChange]:
    """Every change of a structural diff (`app.releases.diff.diff_states`), classified.

    The states, when given, only name tools and resources in the reasons.
    """
    changes: list[SemanticChange] = []
    for field, values in diff.get("metadata", {}).items():
        impact: Impact = "breaking" if field == "slug" else "cosmetic"
        reason = (
            f"the toolset's address moved from {_show(values['from'])} to {_show(values['to'])}"
            if field == "slug"
            else f"toolset {field} changed"
        )
        changes.append(SemanticChange("metadata", None, field, None, "changed", impact, reason))
    for section, (key, noun, rules) in _SECTIONS.items():
        part = diff.get(section) or {}
        old_names, new_names = _names(before, section, key), _names(after, section, key)
        for item in part.get("removed", []):
            label = _label(noun, item, old_names)
            changes.append(
                SemanticChange(section, item, None, None, "removed", "breaking", f"{label} removed")  # type: ignore[arg-type]
            )
        for item in part.get("added", []):
            label = _label(noun, item, new_names)
            changes.append(
                SemanticChange(section, item, None, None, "added", "compatible", f"{label} added")  # type: ignore[arg-type]
            )
        for changed in part.get("changed", []):
            item = changed[key]
            label = _label(noun, item, old_names)
            for field, values in changed["fields"].items():
                for path, impact, reason in rules(field, values["from"], values["to"], label):
                    changes.append(SemanticChange(section, item, field, path, "changed", impact, reason))  # type: ignore[arg-type]
    return changes


def _label(noun: str, item: str, names: dict[str, str]) -> str:
    name = names.get(item)
    return f"{noun} `{name}` ({item})" if name and name != item else f"{noun} `{item}`"


def counts(changes: list[SemanticChange]) -> dict[str, int]:
    return {impact: sum(1 for c in changes if c.impact == impact) for impact in IMPACTS}


def overall(changes: list[SemanticChange]) -> Impact | None:
    """The most serious impact of all changes; None when nothing changed."""
    return next((impact for impact in IMPACTS if any(c.impact == impact for c in changes)), None)


def annotate(
    diff: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any]:
    """The diff with `changes` (each classified), `counts` per impact and the overall `impact`."""
    changes = sorted(classify(diff, before, after), key=lambda c: IMPACTS.index(c.impact))
    return {
        **diff,
        "changes": [c.as_dict() for c in changes],
        "counts": counts(changes),
        "impact": overall(changes),
    }
