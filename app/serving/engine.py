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

from app.releases import queries as release_queries
from app.releases.service import ReleaseNotFound
from app.serving import state
from app.serving.pointers import PointerCache
from app.toolsets import queries as toolset_queries
from app.toolsets.schemas import EffectiveToolset
from app.toolsets.service import StagingNotFound, ToolsetNotFound, live_toolset

Source = Literal["iteration", "release", "staging"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An address of a toolset: the live toolset, a pinned release or the staging copy."""

    organization_id: str
    project: str
    toolset: str
    release_number: int | None = None
    staging: bool = False


@dataclass(frozen=True, slots=True)
class ServedState:
    toolset_id: UUID
    source: Source
    # Equal keys mean an identical body (a cache may serve one for the other);
    # None: computed from current data, not cacheable by key.
    key: tuple[Any, ...] | None
    body: bytes

    def model(self) -> EffectiveToolset:
        return EffectiveToolset.model_validate_json(self.body)


class ServedStates:
    def __init__(self, engine: AsyncEngine, pointers: PointerCache) -> None:
        self.engine = engine
        self.pointers = pointers

    def cached_body(self, endpoint: Endpoint) -> bytes | None:
        """The live toolset's served body from the caches alone (no I/O), or None."""
        if endpoint.release_number is not None or endpoint.staging:
            return None
        pointer = self.pointers.get((endpoint.organization_id, endpoint.project, endpoint.toolset))
        if pointer is None or pointer["editing_mode"] != "staging" or not pointer["current_release_id"]:
            return None
        return state.cached_release_json(pointer["current_release_id"])

    async def served(self, endpoint: Endpoint) -> ServedState:
        """What `endpoint` serves now (404 errors for anything that does not exist)."""
        key = (endpoint.organization_id, endpoint.project, endpoint.toolset)
        pointer = self.pointers.get(key)
        if (
            pointer is not None
            and endpoint.release_number is None
            and not endpoint.staging
            and pointer["editing_mode"] == "staging"
            and pointer["current_release_id"]
        ):
            cached = state.cached_release_json(pointer["current_release_id"])
            if cached is not None:
                return _release(pointer["id"], pointer["current_release_id"], cached)
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            if pointer is not None:
                try:
                    return await self._served(conn, endpoint, pointer)
                except NoResultFound:
                    # The toolset went away without a NOTIFY (TRUNCATE, a restore): forget it.
                    self.pointers.invalidate(pointer["id"])
            generation = self.pointers.generation()
            row = await toolset_queries.find_live_pointer(conn, *key)
            if row is None:
                await live_toolset(conn, *key)  # raises the precise 404
                raise ToolsetNotFound(f"Toolset '{endpoint.toolset}' does not exist.")
            pointer = dict(row)
            self.pointers.put(key, pointer, generation)
            return await self._served(conn, endpoint, pointer)

    async def _served(self, conn: AsyncConnection, endpoint: Endpoint, pointer: Any) -> ServedState:
        toolset_id: UUID = pointer["id"]
        if endpoint.staging:
            staging = await toolset_queries.find_staging_copy(conn, toolset_id)
            if staging is None:
                raise StagingNotFound(f"Toolset '{endpoint.toolset}' has no staging copy.")
            body = _json(await state.current_state(conn, staging["id"]))
            return ServedState(toolset_id, "staging", None, body)
        if endpoint.release_number is not None:
            release = await release_queries.find_release(conn, toolset_id, endpoint.release_number)
            if release is None:
                raise ReleaseNotFound(
                    f"Toolset '{endpoint.toolset}' has no release {endpoint.release_number}."
                )
            return _release(toolset_id, release["id"], await state.release_state_json(conn, release["id"]))
        if pointer["editing_mode"] == "staging" and pointer["current_release_id"] is not None:
            release_id = pointer["current_release_id"]
            return _release(toolset_id, release_id, await state.release_state_json(conn, release_id))
        body = _json(await state.current_state(conn, toolset_id))
        return ServedState(toolset_id, "iteration", None, body)


def _release(toolset_id: UUID, release_id: UUID, body: bytes) -> ServedState:
    return ServedState(toolset_id, "release", ("release", release_id), body)


def _json(computed: dict[str, Any]) -> bytes:
    return EffectiveToolset.model_validate(computed).model_dump_json().encode()


async def served_states(request: Request) -> ServedStates:
    """The route dependency: the process's engine (made in the app's lifespan)."""
    serving: ServedStates = request.app.state.serving
    return serving
