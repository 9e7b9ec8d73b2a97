"""`ServedStates`: the one place that decides what an endpoint of a toolset serves now.

See the package docstring (`app.serving`) for the API. Reads run on their own
autocommit connection: each statement sees a consistent snapshot, and a release is
immutable, so a transaction would only add round trips.
"""

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from fastapi import Request
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.labels import queries as label_queries
from app.labels.service import LabelNotFound
from app.releases import queries as release_queries
from app.releases.service import ReleaseNotFound
from app.serving import state
from app.serving.caches import Body, ServedCache
from app.toolsets import queries as toolset_queries
from app.toolsets.schemas import EffectiveToolset
from app.toolsets.service import ToolsetNotFound, live_toolset, no_staging_copy

Source = Literal["iteration", "release", "staging"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An address of a toolset: the live toolset, a pinned release or the staging copy."""

    organization_id: str
    project: str
    toolset: str
    release_number: int | None = None
    staging: bool = False
    label: str | None = None  # the release a label points at (SPEC §8), followed as it moves


@dataclass(frozen=True, slots=True)
class ServedState:
    toolset_id: UUID
    source: Source
    # Equal keys mean an identical body (a cache may serve one for the other);
    # None for the staging copy, which is computed on every read.
    key: tuple[Any, ...] | None
    body: bytes

    def model(self) -> EffectiveToolset:
        return EffectiveToolset.model_validate_json(self.body)


class ServedStates:
    def __init__(self, engine: AsyncEngine, cache: ServedCache) -> None:
        self.engine = engine
        self.cache = cache

    def cached_body(self, endpoint: Endpoint) -> bytes | None:
        """The live toolset's served body from the caches alone (no I/O), or None."""
        if endpoint.release_number is not None or endpoint.staging or endpoint.label is not None:
            return None
        pointer = self.cache.get((endpoint.organization_id, endpoint.project, endpoint.toolset))
        hit = self._cached(pointer, endpoint.toolset) if pointer is not None else None
        return hit.body if hit is not None else None

    def _cached(self, pointer: dict[str, Any], slug: str) -> Body | None:
        if pointer["editing_mode"] == "staging" and pointer["current_release_id"]:
            return self.cache.release_body(pointer["current_release_id"], slug)
        if pointer["editing_mode"] == "iteration":
            return self.cache.iteration_body(pointer["id"])
        return None

    async def served(self, endpoint: Endpoint) -> ServedState:
        """What `endpoint` serves now (404 errors for anything that does not exist)."""
        key = (endpoint.organization_id, endpoint.project, endpoint.toolset)
        pointer = self.cache.get(key)
        if (
            pointer is not None
            and endpoint.release_number is None
            and not endpoint.staging
            and endpoint.label is None
        ):
            hit = self._cached(pointer, endpoint.toolset)
            if hit is not None:
                return ServedState(pointer["id"], _live_source(pointer), hit.key, hit.body)
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            if pointer is not None:
                try:
                    return await self._served(conn, endpoint, pointer)
                except NoResultFound:
                    # The toolset went away without a NOTIFY (TRUNCATE, a restore): forget it.
                    self.cache.invalidate(pointer["id"])
            generation = self.cache.generation()
            row = await toolset_queries.find_live_pointer(conn, *key)
            if row is None:
                await live_toolset(conn, *key)  # raises the precise 404
                raise ToolsetNotFound(f"Toolset '{endpoint.toolset}' does not exist.")
            pointer = dict(row)
            self.cache.put(key, pointer, generation)
            try:
                return await self._served(conn, endpoint, pointer)
            except NoResultFound as exc:
                # Deleted between the two reads (each its own snapshot): it does not exist now.
                self.cache.invalidate(pointer["id"])
                raise ToolsetNotFound(f"Toolset '{endpoint.toolset}' does not exist.") from exc

    async def _served(self, conn: AsyncConnection, endpoint: Endpoint, pointer: Any) -> ServedState:
        toolset_id: UUID = pointer["id"]
        if endpoint.staging:
            staging = await toolset_queries.find_staging_copy(conn, toolset_id)
            if staging is None:
                raise no_staging_copy(endpoint.project, {**pointer, "slug": endpoint.toolset})
            body = await state.current_state_json(conn, staging["id"])
            return ServedState(toolset_id, "staging", None, body)
        if endpoint.release_number is not None:
            release = await release_queries.find_release(conn, toolset_id, endpoint.release_number)
            if release is None:
                raise ReleaseNotFound(
                    f"Toolset '{endpoint.toolset}' has no release {endpoint.release_number}."
                )
            entry = await self._release_body(conn, release["id"], endpoint.toolset)
            return ServedState(toolset_id, "release", entry.key, entry.body)
        if endpoint.label is not None:
            label = await label_queries.find_label(conn, toolset_id, endpoint.label)
            if label is None:
                raise LabelNotFound(f"Toolset '{endpoint.toolset}' has no label '{endpoint.label}'.")
            entry = await self._release_body(conn, label["release_id"], endpoint.toolset)
            return ServedState(toolset_id, "release", entry.key, entry.body)
        if pointer["editing_mode"] == "staging" and pointer["current_release_id"] is not None:
            entry = await self._release_body(conn, pointer["current_release_id"], endpoint.toolset)
            return ServedState(toolset_id, "release", entry.key, entry.body)
        generation = self.cache.generation()
        body = await state.current_state_json(conn, toolset_id)
        entry = self.cache.put_iteration_body(toolset_id, pointer["project_id"], body, generation)
        return ServedState(toolset_id, "iteration", entry.key, entry.body)

    async def _release_body(self, conn: AsyncConnection, release_id: UUID, slug: str) -> Body:
        cached = self.cache.release_body(release_id, slug)
        if cached is not None:
            return cached
        body = await state.release_state_json(conn, release_id)
        return self.cache.put_release_body(release_id, slug, body)

    def forget_releases(self) -> None:
        self.cache.forget_releases()


def _live_source(pointer: dict[str, Any]) -> Source:
    return (
        "release" if pointer["editing_mode"] == "staging" and pointer["current_release_id"] else "iteration"
    )


async def served_states(request: Request) -> ServedStates:
    """The route dependency: the process's engine (made in the app's lifespan)."""
    serving: ServedStates = request.app.state.serving
    return serving
