"""An OpenAPI 3.0 or 3.1 document turned into tool definitions, one per operation.

Parsing is PyYAML's and the standard library's, validation is `openapi-spec-validator`'s;
what is written here is only the mapping from operations to tools: names, descriptions,
input schemas (local `$ref`s inlined, recursion through `$defs`, 3.0 `nullable` turned into
JSON Schema), hints from the method, and the *argument mapping*: where each argument of
the tool goes in the HTTP request (stored with the tool, read by `app.upstreams.client`).

Everything here is synchronous and CPU-bound: callers run it in a worker thread.
Bounded work: the document's size, its operation count, the nesting of `$ref`s inlined
into one schema and the size of each input schema are capped (the `MAX_…` constants);
a document past a cap is refused with 422, like an invalid one.
"""

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

from app.kit.errors import AppError, Unprocessable
from app.kit.json_body import parse_json

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
MAX_OPERATIONS = 2_000
MAX_REF_DEPTH = 32  # `$ref`s inlined inside one another in one schema
MAX_SCHEMA_NODES = 50_000  # JSON values in one tool's input schema, after inlining
MAX_DOCUMENT_NODES = 2_000_000  # JSON values in the parsed document (YAML aliases are counted each time)
MAX_TOOL_NAME = 64

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_MEDIA_TYPES = ("application/json",)
YAML_MEDIA_TYPES = (
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "application/vnd.oai.openapi",
)
# What PostgreSQL text and jsonb cannot hold.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Header parameters the OpenAPI specification says to ignore: the client sets them itself.
IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})


class InvalidOpenApiDocument(Unprocessable):
    """The document is not a valid OpenAPI 3.0/3.1 document, or passes a documented limit."""

    code = "invalid_openapi_document"
    title = "Invalid OpenAPI document"

    def __init__(self, pointer: str, message: str) -> None:
        where = pointer or "(the document's root)"
        super().__init__(
            f"{message} (at {where})",
            pointer=pointer,
            errors=[{"field": pointer, "message": message, "type": "openapi"}],
        )


class MalformedDocument(AppError):
    status = 400
    code = "malformed_document"
    title = "Malformed document"


class UnsupportedDocumentType(AppError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


def pointer_of(parts: Iterator[Any] | list[Any] | tuple[Any, ...]) -> str:
    """RFC 6901: `["paths", "/pets", "get"]` -> `/paths/~1pets/get`."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


# --- parsing ------------------------------------------------------------------------------------


class _StrictYamlLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a silent last-one-wins hides mistakes)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise MalformedDocument(
                f"Duplicate key {key!r} at line {mark.line + 1}, column {mark.column + 1}."
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictYamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def media_kind(content_type: str | None) -> str:
    """`json` or `yaml` from a Content-Type (parameters ignored); anything else is a 415."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in JSON_MEDIA_TYPES or (media.startswith("application/") and media.endswith("+json")):
        return "json"
    if media in YAML_MEDIA_TYPES or media.endswith("+yaml"):
        return "yaml"
    raise UnsupportedDocumentType(
        f"Send the document as application/json or application/yaml (got {media or 'no Content-Type'})."
    )


def parse_document(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The document as plain JSON values (string keys, no dates, no NaN), or a 4xx."""
    kind = media_kind(content_type)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidOpenApiDocument("", f"The document is larger than {MAX_DOCUMENT_BYTES} bytes.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedDocument(f"The document is not UTF-8 (byte {exc.start}).") from exc
    try:
        # JSON follows the API's own rules (app/kit/json_body.py): 400 `malformed_json` for NaN,
        # numbers a double cannot hold, lone surrogates, nesting deeper than 100.
        loaded = parse_json(raw) if kind == "json" else yaml.load(text, Loader=_StrictYamlLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise MalformedDocument(f"The document is not YAML: {problem}{where}.") from exc
    except RecursionError as exc:
        raise InvalidOpenApiDocument("", "The document is nested too deeply.") from exc
    budget = [MAX_DOCUMENT_NODES]
    document = _plain(loaded, [], budget)
    if not isinstance(document, dict):
        raise InvalidOpenApiDocument("", "The document must be an object.")
    return document


def _plain(value: Any, path: list[Any], budget: list[int]) -> Any:
    """A copy made of JSON values only: YAML's integer keys become strings, dates ISO strings.

    Counts every value it visits, so a YAML alias bomb stops at the budget instead of
    expanding into gigabytes.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise InvalidOpenApiDocument("", f"The document holds more than {MAX_DOCUMENT_NODES} values.")
    if len(path) > 200:
        raise InvalidOpenApiDocument(pointer_of(path), "The document is nested more than 200 levels deep.")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else _scalar_text(key, path)
            if _UNSTORABLE.search(name):
                raise InvalidOpenApiDocument(pointer_of(path), "A key holds NUL or a lone UTF-16 surrogate.")
            out[name] = _plain(item, [*path, name], budget)
        return out
    if isinstance(value, list):
        return [_plain(item, [*path, i], budget) for i, item in enumerate(value)]
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise InvalidOpenApiDocument(pointer_of(path), "A string holds NUL or a lone UTF-16 surrogate.")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidOpenApiDocument(pointer_of(path), "NaN and infinities are not JSON values.")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise InvalidOpenApiDocument(pointer_of(path), f"A {type(value).__name__} value is not JSON.")


def _scalar_text(key: Any, path: list[Any]) -> str:
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, int | float | date):
        return key.isoformat() if isinstance(key, date) else str(key)
    raise InvalidOpenApiDocument(pointer_of(path), "An object key must be a string.")


# --- validation ---------------------------------------------------------------------------------


def validate_document(document: dict[str, Any]) -> None:
    """422 with a JSON pointer for the first problem; nothing is returned when it is valid."""
    version = document.get("openapi")
    if not isinstance(version, str) or not re.fullmatch(r"3\.[01]\.\d+(-.+)?", version):
        found = "no `openapi` field" if version is None else f"`openapi: {str(version)[:40]}`"
        hint = " (Swagger 2.0 documents must be converted first)" if "swagger" in document else ""
        raise InvalidOpenApiDocument(
            "/openapi", f"Only OpenAPI 3.0 and 3.1 are accepted, found {found}{hint}."
        )
    _check_references(document)
    validator_class = OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator
    try:
        error = next(iter(validator_class(document).iter_errors()), None)
    except RecursionError as exc:
        raise InvalidOpenApiDocument("", "The document's references nest too deeply.") from exc
    except Exception as exc:  # the validator on hostile input: any failure is the document's
        raise InvalidOpenApiDocument("", f"The document could not be validated: {exc}"[:500]) from exc
    if error is not None:
        message = error.message if len(error.message) <= 300 else error.message[:300] + "…"
        raise InvalidOpenApiDocument(pointer_of(list(error.absolute_path)), message)


def _walk_refs(node: Any, path: list[Any]) -> Iterator[tuple[list[Any], Any]]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield path, node["$ref"]
        for key, item in node.items():
            if key != "$ref":
                yield from _walk_refs(item, [*path, key])
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk_refs(item, [*path, index])


def _check_references(document: dict[str, Any]) -> None:
    """Every `$ref` is local (nothing is fetched) and points at something that exists."""
    for path, ref in _walk_refs(document, []):
        where = pointer_of([*path, "$ref"])
        if not isinstance(ref, str):
            raise InvalidOpenApiDocument(where, "A `$ref` must be a string.")
        if not ref.startswith("#"):
            raise InvalidOpenApiDocument(
                where, f"`{ref[:200]}` is not a local reference: only `#/…` references are followed."
            )
        if _lookup(document, ref) is _MISSING:
            raise InvalidOpenApiDocument(where, f"`{ref[:200]}` points at nothing in the document.")


_MISSING = object()


def _lookup(document: dict[str, Any], ref: str) -> Any:
    fragment = ref[1:]
    if fragment == "":
        return document
    if not fragment.startswith("/"):
        return _MISSING
    node: Any = document
    for token in fragment[1:].split("/"):
        token = _unescape(token.replace("%25", "%").replace("%20", " "))
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


# --- mapping to tools ---------------------------------------------------------------------------


@dataclass
class ImportedDocument:
    tools: list[dict[str, Any]]
    base_url: str | None
    warnings: list[str] = field(default_factory=list)


_ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "deprecated", "readOnly", "writeOnly"}
)
_DROPPED = frozenset({"discriminator", "xml", "externalDocs", "nullable", "example"})
_SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = (
    "additionalProperties",
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
)


class _SchemaConverter:
    """Copies one tool's schemas with local `$ref`s inlined.

    A `$ref` met again while it is being inlined (a recursive schema) becomes
    `{"$ref": "#/$defs/<name>"}`, and `$defs` of the tool's input schema holds that
    schema once, so recursion costs one copy instead of an infinite one.
    """

    def __init__(self, document: dict[str, Any], openapi_30: bool) -> None:
        self.document = document
        self.openapi_30 = openapi_30
        self.budget = MAX_SCHEMA_NODES
        self.def_names: dict[str, str] = {}
        self.defs: dict[str, Any] = {}

    def convert(self, schema: Any, path: list[Any], stack: tuple[str, ...] = ()) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise InvalidOpenApiDocument(
                pointer_of(path),
                f"An input schema would hold more than {MAX_SCHEMA_NODES} values once inlined.",
            )
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            return schema  # the validator has accepted it; copy as is
        if "$ref" in schema:
            return self._reference(schema, path, stack)
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _DROPPED or key.startswith("x-"):
                continue
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {n: self.convert(s, [*path, key, n], stack) for n, s in value.items()}
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                out[key] = [self.convert(s, [*path, key, i], stack) for i, s in enumerate(value)]
            elif key in _SCHEMA_VALUES and isinstance(value, dict | bool):
                out[key] = self.convert(value, [*path, key], stack)
            elif key == "items" and isinstance(value, list):  # draft-4 style tuple items
                out["prefixItems"] = [self.convert(s, [*path, key, i], stack) for i, s in enumerate(value)]
            else:
                out[key] = value
        if "example" in schema and "examples" not in out:
            out["examples"] = [schema["example"]]
        if self.openapi_30:
            out = _json_schema_of_30(schema, out)
        return out

    def _reference(self, schema: dict[str, Any], path: list[Any], stack: tuple[str, ...]) -> Any:
        ref = schema["$ref"]
        if ref in stack:
            return {"$ref": f"#/$defs/{self._def_name(ref)}"}
        if len(stack) >= MAX_REF_DEPTH:
            raise InvalidOpenApiDocument(
                pointer_of([*path, "$ref"]), f"References nest more than {MAX_REF_DEPTH} levels deep."
            )
        target = _lookup(self.document, ref)
        resolved = self.convert(target, _ref_path(ref), (*stack, ref))
        if ref in self.def_names and ref not in self.defs:
            self.defs[self.def_names[ref]] = resolved
        # 3.1 reads a `$ref`'s siblings as more keywords; 3.0 ignores them.
        siblings = {k: v for k, v in schema.items() if k != "$ref" and not k.startswith("x-")}
        if self.openapi_30 or not siblings:
            return resolved
        if set(siblings) <= _ANNOTATIONS and isinstance(resolved, dict):
            return {**resolved, **siblings}
        extra = self.convert({k: v for k, v in siblings.items() if k not in _ANNOTATIONS}, path, stack)
        return {"allOf": [resolved, extra], **{k: v for k, v in siblings.items() if k in _ANNOTATIONS}}

    def _def_name(self, ref: str) -> str:
        if ref not in self.def_names:
            base = re.sub(r"[^A-Za-z0-9_.-]", "_", _unescape(ref.rsplit("/", 1)[-1])) or "schema"
            name, n = base, 2
            while name in self.def_names.values():
                name, n = f"{base}_{n}", n + 1
            self.def_names[ref] = name
        return self.def_names[ref]

    def resolve_object(self, node: Any, path: list[Any]) -> tuple[Any, list[Any]]:
        """A parameter, request body or path item behind a chain of `$ref`s."""
        depth = 0
        while isinstance(node, dict) and "$ref" in node:
            depth += 1
            if depth > MAX_REF_DEPTH:
                raise InvalidOpenApiDocument(
                    pointer_of(path), f"A `$ref` chain is longer than {MAX_REF_DEPTH}."
                )
            path = _ref_path(node["$ref"])
            node = _lookup(self.document, node["$ref"])
        return node, path


def _ref_path(ref: str) -> list[Any]:
    return [_unescape(t) for t in ref[2:].split("/")] if ref.startswith("#/") else []


def _json_schema_of_30(original: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0's dialect to JSON Schema 2020-12: `nullable`, boolean exclusive bounds."""
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        flag = out.get(exclusive)
        if isinstance(flag, bool):
            del out[exclusive]
            if flag and bound in out:
                out[exclusive] = out.pop(bound)
    if original.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        elif kind is None:
            return {"anyOf": [out, {"type": "null"}]}
    return out


def snake_case(text: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _unique_name(base: str, taken: set[str]) -> str:
    base = (base or "operation")[:MAX_TOOL_NAME].rstrip("_") or "operation"
    if base[0].isdigit():
        base = ("op_" + base)[:MAX_TOOL_NAME]
    name, n = base, 2
    while name in taken:
        suffix = f"_{n}"
        name, n = base[: MAX_TOOL_NAME - len(suffix)].rstrip("_") + suffix, n + 1
    taken.add(name)
    return name


def default_base_url(document: dict[str, Any]) -> str | None:
    """`servers[0].url` with its variables' defaults, when that is an absolute http(s) URL."""
    servers = document.get("servers") or []
    if not servers or not isinstance(servers[0], dict):
        return None
    url = str(servers[0].get("url", ""))
    for name, variable in (servers[0].get("variables") or {}).items():
        url = url.replace("{" + name + "}", str(variable.get("default", "")))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url.rstrip("/")


def _body_media(content: dict[str, Any]) -> tuple[str, Any]:
    """The request body's media type to send: JSON first, then forms, then anything."""
    types = list(content)
    for preferred in (
        lambda t: t.split(";")[0].strip() == "application/json",
        lambda t: t.split(";")[0].strip().endswith("+json"),
        lambda t: t.startswith("application/x-www-form-urlencoded"),
        lambda t: t.startswith("multipart/form-data"),
        lambda t: True,
    ):
        for media in types:
            if preferred(media):
                return media, content[media]
    raise AssertionError("content is never empty here")  # pragma: no cover


def _description(operation: dict[str, Any]) -> str:
    parts = [str(operation[k]).strip() for k in ("summary", "description") if operation.get(k)]
    if len(parts) == 2 and parts[1].startswith(parts[0]):
        parts = parts[1:]
    return "\n\n".join(parts)


def hints_for(method: str) -> dict[str, bool]:
    """GET/HEAD read-only; DELETE destructive; GET/HEAD/PUT/DELETE idempotent."""
    method = method.upper()
    return {
        "read_only_hint": method in ("GET", "HEAD"),
        "destructive_hint": method == "DELETE",
        "idempotent_hint": method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"),
    }


def tools_from_document(
    document: dict[str, Any], source: str, taken_names: set[str] | None = None
) -> ImportedDocument:
    """One tool per operation of a *validated* document. `taken_names` (other sources' tool
    names in the deployment) are avoided, so names stay unique in whatever serves them."""
    try:
        return _tools_from_document(document, source, taken_names)
    except RecursionError as exc:
        raise InvalidOpenApiDocument("", "The document's schemas nest too deeply.") from exc


def _tools_from_document(
    document: dict[str, Any], source: str, taken_names: set[str] | None
) -> ImportedDocument:
    openapi_30 = str(document["openapi"]).startswith("3.0")
    taken = set(taken_names or ())
    base_url = default_base_url(document)
    operations = list(_operations(document, openapi_30))
    if len(operations) > MAX_OPERATIONS:
        raise InvalidOpenApiDocument("/paths", f"The document has more than {MAX_OPERATIONS} operations.")
    tools = []
    for path, method, operation, item, where in operations:
        converter = _SchemaConverter(document, openapi_30)
        arguments, properties, required = _arguments(converter, operation, item, where)
        input_schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            input_schema["required"] = required
        input_schema["additionalProperties"] = False
        if converter.defs:
            input_schema["$defs"] = converter.defs
        operation_id = operation.get("operationId")
        base = snake_case(operation_id) if isinstance(operation_id, str) else ""
        name = _unique_name(base or snake_case(f"{method} {path}"), taken)
        summary = operation.get("summary")
        tools.append(
            {
                "urn": f"tools:http:{source}:{name}",
                "name": name,
                "summary": str(summary).strip() if summary else None,
                "description": _description(operation),
                "http_method": method.upper(),
                "path": path,
                "input_schema": input_schema,
                "tags": [str(t) for t in operation.get("tags") or []][:50],
                **hints_for(method),
                "open_world_hint": None,
                "argument_mapping": {"server_url": base_url, "arguments": arguments},
            }
        )
    warnings = []
    if not tools:
        what = "webhooks only" if document.get("webhooks") else "no paths"
        warnings.append(
            f"The document describes no operation ({what}): no tool was imported, and the "
            f"deployment holds no tool of source '{source}'."
        )
    return ImportedDocument(tools=tools, base_url=base_url, warnings=warnings)


def _operations(
    document: dict[str, Any], openapi_30: bool
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any], list[Any]]]:
    converter = _SchemaConverter(document, openapi_30)
    for path, raw_item in (document.get("paths") or {}).items():
        item, _ = converter.resolve_object(raw_item, ["paths", path])
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                yield path, method, operation, item, ["paths", path, method]


def _arguments(
    converter: _SchemaConverter, operation: dict[str, Any], item: dict[str, Any], where: list[Any]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Properties of the input schema and where each goes: path, query, header, cookie or body."""
    parameters: dict[tuple[str, str], tuple[dict[str, Any], list[Any]]] = {}
    for level, owner in ((where[:-1], item), (where, operation)):  # the operation's win
        for index, raw in enumerate(owner.get("parameters") or []):
            parameter, path = converter.resolve_object(raw, [*level, "parameters", index])
            if isinstance(parameter, dict) and "name" in parameter and "in" in parameter:
                parameters[(str(parameter["in"]), str(parameter["name"]))] = (parameter, path)
    arguments: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    order = {"path": 0, "query": 1, "header": 2, "cookie": 3}
    for (location, name), (parameter, path) in sorted(
        parameters.items(), key=lambda p: order.get(p[0][0], 9)
    ):
        if location == "header" and name.lower() in IGNORED_HEADERS:
            continue
        argument = name if name not in arguments and name != "body" else f"{location}_{name}"
        schema = _parameter_schema(converter, parameter, path)
        properties[argument] = schema
        mapping: dict[str, Any] = {"in": location, "name": name}
        for key in ("style", "explode"):
            if key in parameter:
                mapping[key] = parameter[key]
        arguments[argument] = mapping
        if location == "path" or parameter.get("required") is True:
            required.append(argument)
    raw_body = operation.get("requestBody")
    if raw_body is not None:
        body, path = converter.resolve_object(raw_body, [*where, "requestBody"])
        content = body.get("content") or {} if isinstance(body, dict) else {}
        if content:
            media, media_object = _body_media(content)
            argument = "body" if "body" not in arguments else "request_body"
            schema = converter.convert(
                (media_object or {}).get("schema", {}), [*path, "content", media, "schema"]
            )
            if isinstance(schema, dict) and body.get("description") and "description" not in schema:
                schema = {**schema, "description": body["description"]}
            properties[argument] = schema
            arguments[argument] = {"in": "body", "content_type": media.split(";")[0].strip()}
            if body.get("required") is True:
                required.append(argument)
    return arguments, properties, required


def _parameter_schema(converter: _SchemaConverter, parameter: dict[str, Any], path: list[Any]) -> Any:
    if "schema" in parameter:
        schema = converter.convert(parameter["schema"], [*path, "schema"])
    elif isinstance(parameter.get("content"), dict) and parameter["content"]:
        media = next(iter(parameter["content"]))
        media_object = parameter["content"][media] or {}
        schema = converter.convert(media_object.get("schema", {}), [*path, "content", media, "schema"])
    else:
        schema = {}
    if isinstance(schema, dict):
        schema = dict(schema)
        if parameter.get("description") and "description" not in schema:
            schema["description"] = str(parameter["description"])
        if "example" in parameter and "examples" not in schema:
            schema["examples"] = [parameter["example"]]
        if parameter.get("deprecated") is True:
            schema["deprecated"] = True
    return schema


def load_document(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """Parse and validate: the slow part of an import, for a worker thread."""
    document = parse_document(raw, content_type)
    validate_document(document)
    return document
