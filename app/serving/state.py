"""The effective toolset: what an MCP client of a toolset sees, in one statement.

Both reads share one body and differ only in where the references come from:

- *current* state (a toolset in iteration mode, a staging copy, or what createRelease
  would capture now): the project's active deployment, the current variations of the
  global and the toolset's own group, the current revision of each attached prompt
  template, each by the one definition its own domain owns;
- *release* state: exactly what the release points at (its source state, toolset
  version and group versions), so it never changes after publication.

Tools are the deployment's definitions filtered by the selected URNs, with global
then toolset variations applied field by field (NULL inherits).

Linear cost, whatever the plan: tools and both layers of variations are stacked and
grouped by URN (no join between tools and variations, which a misestimated plan could
run as a rescan of the variations per tool). Current variations are read only for the
selected URNs (an index probe each), so variations of tools in no deployment cost
nothing. The state comes back as one JSON text, served as is.
"""

import asyncio
import gc
import json
from collections.abc import Awaitable
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import (
    CTE,
    ColumnElement,
    ScalarSelect,
    Select,
    Subquery,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import KeyedColumnElement

from app.db.engine import side_engine
from app.db.tables import (
    TEXT_ARRAY,
    UUID_ARRAY,
    http_tool_definitions,
    project_tool_variations,
    prompt_templates,
    resource_definitions,
    source_states,
    system_source_states,
    tool_variations,
    tool_variations_group_versions,
    toolset_prompts,
    toolset_releases,
    toolset_versions,
    toolsets,
)
from app.deployments.queries import active_deployment_id
from app.prompt_templates.queries import is_current_live
from app.serving.caches import ServedCache
from app.toolsets.queries import latest_selection
from app.variations.queries import current_variations_of

_EMPTY_UUIDS: ColumnElement[Any] = literal_column("'{}'::uuid[]")
_EMPTY_TEXTS: ColumnElement[Any] = literal_column("'{}'::text[]")
_EMPTY_LIST: ColumnElement[Any] = literal_column("'[]'::json")

# The fields of a served tool, and where each comes from: the tool's own column, or
# None for a field only variations set (the tool itself has no such field).
_TOOL_FIELDS: dict[str, str | None] = {
    "name": "name",
    "summary": "summary",
    "description": "description",
    "input_schema": "input_schema",
    "http_method": "http_method",
    "path": "path",
    "tags": "tags",
    "title": None,
    "confirm": None,
    "confirm_prompt": None,
    "summarizer": None,
    "read_only_hint": "read_only_hint",
    "destructive_hint": "destructive_hint",
    "idempotent_hint": "idempotent_hint",
    "open_world_hint": "open_world_hint",
}
_VARIATION_FIELDS = (
    "name",
    "summary",
    "description",
    "tags",
    "title",
    "confirm",
    "confirm_prompt",
    "summarizer",
    "read_only_hint",
    "destructive_hint",
    "idempotent_hint",
    "open_world_hint",
)


def _object(pairs: dict[str, Any]) -> ColumnElement[Any]:
    """json_build_object('key', value, ...): json, not jsonb, as the state is only ever
    sent as text (building json is appending text; jsonb would build a tree first)."""
    arguments: list[Any] = []
    for key, value in pairs.items():
        arguments += [literal_column(f"'{key}'"), value]
    return func.json_build_object(*arguments)


def _stacked(
    refs: CTE, global_rows: CTE, toolset_rows: CTE, fields: dict[str, str | None] = _TOOL_FIELDS
) -> Subquery:
    """The selected tools (layer 0), then global (1) and toolset (2) variations, as rows of
    (urn, layer, each of `fields`: NULL where the layer does not set it)."""
    t = http_tool_definitions
    deployment_id = select(refs.c.deployment_id).scalar_subquery()
    tool_urns = cast(select(refs.c.tool_urns).scalar_subquery(), TEXT_ARRAY)
    base = select(
        t.c.tool_urn.label("urn"),
        literal(0).label("layer"),
        *((t.c[c] if c else null()).label(f) for f, c in fields.items()),
    ).where(t.c.deployment_id == deployment_id, t.c.tool_urn == func.any(tool_urns))

    def layer(rows: CTE, number: int) -> Select[Any]:
        return select(
            rows.c.src_tool_urn,
            literal(number),
            *((rows.c[f] if f in _VARIATION_FIELDS else null()) for f in fields),
        )

    return union_all(base, layer(global_rows, 1), layer(toolset_rows, 2)).subquery("stacked")


def _served_value(
    toolset_value: ColumnElement[Any], global_value: ColumnElement[Any], tool_value: ColumnElement[Any]
) -> ColumnElement[Any]:
    """The one rule of a served field: the toolset variation's value, else the global
    variation's, else the tool's own (NULL inherits)."""
    return func.coalesce(toolset_value, global_value, tool_value)


def _merged(stacked: Subquery, fields: dict[str, str | None]) -> dict[str, ColumnElement[Any]]:
    """Each served field of a tool from its stacked rows grouped by URN (`_served_value`)."""

    def pick(field: str, layer: int) -> ColumnElement[Any]:
        column, where = stacked.c[field], stacked.c.layer == layer
        if field == "input_schema":  # jsonb has no max(); one row per layer, so take the first
            return type_coerce(func.array_agg(column).filter(where), ARRAY(JSONB))[1]
        if field.endswith("_hint"):
            return func.bool_or(column).filter(where)
        return func.max(column).filter(where)

    return {
        f: _served_value(pick(f, 2), pick(f, 1), pick(f, 0)) if f in _VARIATION_FIELDS else pick(f, 0)
        for f in fields
    }


def _tools(refs: CTE, global_rows: CTE, toolset_rows: CTE) -> ScalarSelect[Any]:
    """The served tools, ordered by URN.

    Tools and both layers of variations are stacked and grouped by URN; each field is
    the toolset variation's, else the global one's, else the tool's own. Grouping costs
    linear time whatever the planner estimates, where a join between tools and
    variations could turn into a rescan per tool.
    """
    stacked = _stacked(refs, global_rows, toolset_rows)
    served = {"urn": stacked.c.urn} | _merged(stacked, _TOOL_FIELDS)
    merged = (
        select(stacked.c.urn, _object(served).label("tool"))
        .group_by(stacked.c.urn)
        .having(func.bool_or(stacked.c.layer == 0))  # variations of tools that are not served: none
        .subquery("merged")
    )
    return select(
        func.coalesce(func.json_agg(aggregate_order_by(merged.c.tool, merged.c.urn)), _EMPTY_LIST)
    ).scalar_subquery()


def _state(refs: CTE, global_rows: CTE, toolset_rows: CTE) -> Select[Any]:
    """The effective state from its references: one row of name, slug, description,
    release_number, tools, resources and prompts (json)."""
    r, p = resource_definitions, prompt_templates
    tools = _tools(refs, global_rows, toolset_rows)
    resource = _object(
        {
            "urn": r.c.resource_urn,
            "name": r.c.name,
            "uri": r.c.uri,
            "description": r.c.description,
            "mime_type": r.c.mime_type,
        }
    )
    resources = (
        select(func.coalesce(func.json_agg(aggregate_order_by(resource, r.c.resource_urn)), _EMPTY_LIST))
        .where(r.c.deployment_id == refs.c.deployment_id, r.c.resource_urn == func.any(refs.c.resource_urns))
        .scalar_subquery()
    )
    prompt = _object(
        {"name": p.c.name, "description": p.c.description, "prompt": p.c.prompt, "arguments": p.c.arguments}
    )
    prompts = (
        select(func.coalesce(func.json_agg(aggregate_order_by(prompt, p.c.name)), _EMPTY_LIST))
        .where(p.c.id == func.any(refs.c.template_ids))
        .scalar_subquery()
    )
    # The whole state as JSON text: served as is (no decoding and re-encoding per read).
    state = _object(
        {
            "name": refs.c.name,
            "slug": refs.c.slug,
            "description": refs.c.description,
            "release_number": refs.c.release_number,
            "tools": tools,
            "resources": resources,
            "prompts": prompts,
        }
    )
    return select(cast(state, Text).label("state"))


def _current_refs(toolset_id: ColumnElement[UUID]) -> tuple[CTE, CTE, CTE]:
    """The references of a current state (its metadata, deployment, selection, groups and
    templates), and the current variations of both groups for the selected tools."""
    ts = toolsets
    selection = latest_selection(ts.c.id).lateral("selection")
    global_group = (
        select(project_tool_variations.c.group_id)
        .where(project_tool_variations.c.project_id == ts.c.project_id)
        .scalar_subquery()
    )
    attached = prompt_templates.alias("attached")
    template_ids = (
        select(func.coalesce(func.array_agg(attached.c.id), _EMPTY_UUIDS))
        .select_from(
            attached.join(
                toolset_prompts,
                and_(
                    toolset_prompts.c.toolset_id == ts.c.id,
                    toolset_prompts.c.prompt_history_id == attached.c.history_id,
                ),
            )
        )
        .where(is_current_live(attached))
        .scalar_subquery()
    )
    refs = (
        select(
            ts.c.name,
            ts.c.slug,
            ts.c.description,
            null().label("release_number"),
            active_deployment_id(ts.c.project_id).label("deployment_id"),
            func.coalesce(selection.c.tool_urns, _EMPTY_TEXTS).label("tool_urns"),
            func.coalesce(selection.c.resource_urns, _EMPTY_TEXTS).label("resource_urns"),
            global_group.label("global_group_id"),
            ts.c.tool_variations_group_id.label("toolset_group_id"),
            template_ids.label("template_ids"),
        )
        .select_from(ts.outerjoin(selection, true()))
        .where(ts.c.id == toolset_id)
        .cte("refs")
    )
    # Scalar subqueries (cast, so that ANY reads them as arrays) rather than joins to refs.
    urns = cast(select(refs.c.tool_urns).scalar_subquery(), TEXT_ARRAY)

    def rows(group_id: KeyedColumnElement[Any], name: str) -> CTE:
        group = select(group_id).scalar_subquery()
        return select(current_variations_of(group, urns, name)).cte(f"{name}_rows")

    global_rows = rows(refs.c.global_group_id, "global")
    toolset_rows = rows(refs.c.toolset_group_id, "toolset")
    return refs, global_rows, toolset_rows


def _current_state() -> Select[Any]:
    return _state(*_current_refs(bindparam("id")))


def duplicate_names(
    toolset_id: ColumnElement[UUID],
    global_rows: CTE | None = None,
    toolset_rows: CTE | None = None,
    deployment_id: ColumnElement[UUID] | None = None,
) -> Select[Any]:
    """Rows of (name, urns) for each name that two tools of the toolset row's current state
    would share: its selected tools of the active deployment, each named by `_served_value`.

    Names only, and no join and no sort of the stacked layers: each layer's names become one
    JSON object by URN, looked up per tool (a join's cost would hang on the planner's row
    estimates, which lag behind a burst of writes). `global_rows` and `toolset_rows`
    (current variations of the two groups, with `src_tool_urn` and `name`; of more tools
    than the selected ones is fine) replace the state's own reads of them, for a statement
    that has read them already, and `deployment_id` the active deployment, for a statement
    that must check the very deployment another one captures."""
    refs, own_global_rows, own_toolset_rows = _current_refs(toolset_id)
    t = http_tool_definitions

    def names(rows: CTE) -> ColumnElement[Any]:
        by_urn = (
            select(func.jsonb_object_agg(rows.c.src_tool_urn, rows.c.name))
            .where(rows.c.name.is_not(None))
            .scalar_subquery()
        )
        return by_urn.op("->>")(t.c.tool_urn)

    name = _served_value(
        names(own_toolset_rows if toolset_rows is None else toolset_rows),
        names(own_global_rows if global_rows is None else global_rows),
        t.c.name,
    )
    deployment = select(refs.c.deployment_id).scalar_subquery() if deployment_id is None else deployment_id
    tool_urns = cast(select(refs.c.tool_urns).scalar_subquery(), TEXT_ARRAY)
    served = (
        select(t.c.tool_urn.label("urn"), name.label("name"))
        .where(
            t.c.deployment_id == deployment,
            t.c.tool_urn == func.any(tool_urns),
        )
        .subquery("served_names")
    )
    return (
        select(served.c.name, func.array_agg(aggregate_order_by(served.c.urn, served.c.urn)).label("urns"))
        .group_by(served.c.name)
        .having(func.count() > 1)
        .order_by(served.c.name)
    )


def _release_state() -> Select[Any]:
    r, tv, ss, sss = toolset_releases, toolset_versions, source_states, system_source_states
    gv = tool_variations_group_versions.alias("gv")
    sv = tool_variations_group_versions.alias("sv")
    captured = prompt_templates.alias("captured")
    template_ids = (
        select(func.coalesce(func.array_agg(captured.c.id), _EMPTY_UUIDS))
        .where(
            captured.c.id == func.any(sss.c.prompt_template_ids),
            captured.c.history_id == func.any(tv.c.prompt_history_ids),
        )
        .scalar_subquery()
    )
    live = toolsets.alias("live")
    refs = (
        select(
            tv.c.name,
            live.c.slug,  # the address is the live toolset's, never captured (SPEC section 2)
            tv.c.description,
            r.c.release_number,
            ss.c.deployment_id,
            tv.c.tool_urns,
            tv.c.resource_urns,
            func.coalesce(gv.c.variation_ids, _EMPTY_UUIDS).label("global_ids"),
            func.coalesce(sv.c.variation_ids, _EMPTY_UUIDS).label("toolset_ids"),
            template_ids.label("template_ids"),
        )
        .select_from(
            r.join(live, live.c.id == r.c.toolset_id)
            .join(tv, tv.c.id == r.c.toolset_version_id)
            .join(ss, ss.c.id == r.c.source_state_id)
            .join(sss, sss.c.id == ss.c.system_source_state_id)
            .outerjoin(gv, gv.c.id == r.c.global_variations_version_id)
            .outerjoin(sv, sv.c.id == r.c.toolset_variations_version_id)
        )
        .where(r.c.id == bindparam("id"))
        .cte("refs")
    )

    def rows(ids: KeyedColumnElement[Any], name: str) -> CTE:
        v = tool_variations
        return select(v).where(v.c.id == func.any(cast(select(ids).scalar_subquery(), UUID_ARRAY))).cte(name)

    return _state(refs, rows(refs.c.global_ids, "global_rows"), rows(refs.c.toolset_ids, "toolset_rows"))


_CURRENT_STATE = _current_state()
_RELEASE_STATE = _release_state()
_DUPLICATE_NAMES = duplicate_names(bindparam("id"))


def explainable(kind: str, id_: UUID) -> str:
    """The current ("current") or release ("release") state statement, or the duplicate
    names of a current state ("names"), as plain SQL for `id_` (for EXPLAIN ANALYZE in
    bench/large.py, and the duplicate-name check of several toolsets in `names`)."""
    from sqlalchemy.dialects import postgresql

    statements = {"current": _CURRENT_STATE, "release": _RELEASE_STATE, "names": _DUPLICATE_NAMES}
    stmt = statements[kind].params(id=id_)
    compiled = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})  # type: ignore[no-untyped-call]
    return str(compiled)


async def current_state_json(conn: AsyncConnection, toolset_id: UUID) -> bytes:
    """The effective state computed from current data, as JSON (iteration mode, staging
    copies, and what createRelease would capture now from a live toolset)."""
    text_: str = (await conn.execute(_CURRENT_STATE, {"id": toolset_id})).scalar_one()
    return text_.encode()


async def release_state_json(conn: AsyncConnection, release_id: UUID) -> bytes:
    """The effective state exactly as a release published it, as JSON."""
    text_: str = (await conn.execute(_RELEASE_STATE, {"id": release_id})).scalar_one()
    return text_.encode()


def parsed(body: bytes) -> dict[str, Any]:
    """A state as a dict (for diffs and comparisons): orjson, several times faster than the
    standard library on a 10,000-tool state; the standard library for what orjson refuses
    (integers beyond 64 bits). The cyclic garbage collector is paused meanwhile: a large
    state is a few hundred thousand new objects, none in a cycle, and collections triggered
    while they are made would traverse them again and again (about as long as the parse)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            state: dict[str, Any] = orjson.loads(body)
        except orjson.JSONDecodeError:
            state = json.loads(body)
    finally:
        if collecting:
            gc.enable()
    return state


async def current_state(conn: AsyncConnection, toolset_id: UUID) -> dict[str, Any]:
    return parsed(await current_state_json(conn, toolset_id))


async def release_body(
    conn: AsyncConnection,
    release_id: UUID,
    cache: ServedCache | None = None,
    slug: str | None = None,
    *,
    apart: bool = False,
) -> bytes:
    """A release's state as JSON; through `cache` when given with the live toolset's `slug` (a
    release never changes but for the slug, its address, so its cached body under that
    slug is right inside any transaction). `apart`: computed, when it must be, on a
    connection of the side pool (`app.db.engine.side_engine`; a committed release reads the
    same in any snapshot), so that the caller's connection computes another state meanwhile
    (`both`)."""
    cached = cache.release_body(release_id, slug) if cache is not None and slug is not None else None
    if cached is not None:
        return cached.body
    if apart:
        async with side_engine(conn.engine).connect() as own:
            await own.execution_options(isolation_level="AUTOCOMMIT")
            body = await release_state_json(own, release_id)
    else:
        body = await release_state_json(conn, release_id)
    if cache is not None and slug is not None:
        cache.put_release_body(release_id, slug, body)
    return body


async def release_state(
    conn: AsyncConnection, release_id: UUID, cache: ServedCache | None = None, slug: str | None = None
) -> dict[str, Any]:
    """A release's state (see `release_body`)."""
    return parsed(await release_body(conn, release_id, cache, slug))


async def served_body(
    conn: AsyncConnection, live: Any, cache: ServedCache | None = None, *, apart: bool = False
) -> bytes:
    """What the live toolset's clients see, as JSON: its current release in staging mode, else
    current data (`apart`: a release is computed on a connection of its own)."""
    if live["editing_mode"] == "staging" and live["current_release_id"] is not None:
        return await release_body(conn, live["current_release_id"], cache, live["slug"], apart=apart)
    return await current_state_json(conn, live["id"])


async def both(first: Awaitable[bytes], second: Awaitable[bytes]) -> tuple[bytes, bytes]:
    """Two states at once: at most one of them on the caller's connection, the other a
    release computed `apart` (two large states take the time of one on two cores)."""
    one, two = await asyncio.gather(first, second)
    return one, two


async def served_state(conn: AsyncConnection, live: Any, cache: ServedCache | None = None) -> dict[str, Any]:
    """What the live toolset's clients see (see `served_body`)."""
    return parsed(await served_body(conn, live, cache))
