"""What each live toolset serves, cached per process and invalidated by PostgreSQL.

Three kinds of entries, in one object:

- *pointers*: a live toolset's id, project, editing mode and current release, keyed by
  its address (organization, project slug, toolset slug);
- *release bodies*: a release's served state, serialised, keyed by release id. A
  release never changes, so these never need invalidating;
- *iteration bodies*: the served state of a toolset in iteration mode, serialised,
  keyed by toolset id; dropped when anything it depends on changes.

Triggers (revisions 0005 and 0006) NOTIFY every change a served state depends on: a
toolset's pointer (its id), and anything a project's current data is made of (the
project's id: toolset rows, whose version every edit of their selection, attachments and
own variations bumps, variations, prompt templates, deployments). NOTIFY is delivered at commit to every
process listening; each process keeps one listening connection (`listener.py`).

Safety rules, so that the cache is never the reason a client sees stale data:
- while the listening connection is down (and before it first connects), pointers
  and iteration bodies are neither served nor stored: reads compute;
- an entry read from the database is stored only if no invalidation arrived while it
  was being read (a generation counter), so a stale read never outlives its NOTIFY;
- the process that made a change drops the entry itself right after its commit, so it
  reads its own writes without waiting for the NOTIFY;
- pointers also expire after a short TTL, as a last resort.

Bodies share one LRU bounded by bytes (`TOOLSETS_STATE_CACHE_BYTES`); a body larger
than the whole bound is served but not kept. Pointers are bounded by bytes too
(`TOOLSETS_POINTER_CACHE_BYTES`, each counted with its key), the least recently stored
dropped first.
"""

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from cachetools import LRUCache, TTLCache

PointerKey = tuple[str, str, str]  # organization, project slug, toolset slug

POINTER_TTL_SECONDS = 30
ENTRY_OVERHEAD_BYTES = 200  # the key, the entry object and the LRU's bookkeeping, roughly


@dataclass(frozen=True, slots=True)
class Body:
    """A served state, serialised; `key` is equal for equal bodies."""

    body: bytes
    key: tuple[Any, ...]
    project_id: UUID | None = None  # iteration bodies: whose project-wide changes drop it


def content_key(body: bytes) -> tuple[str, str]:
    return ("state", hashlib.blake2b(body, digest_size=16).hexdigest())


def _size(entry: Body) -> int:
    return len(entry.body) + ENTRY_OVERHEAD_BYTES


@dataclass(frozen=True, slots=True)
class _Pointer:
    pointer: dict[str, Any]
    size: int  # bytes held for it: its key, the dict and its values, and the cache's bookkeeping


def _pointer_size(key: PointerKey, pointer: dict[str, Any]) -> int:
    held = sys.getsizeof(key) + sum(sys.getsizeof(part) for part in key)
    held += sys.getsizeof(pointer) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in pointer.items())
    return held + ENTRY_OVERHEAD_BYTES


class ServedCache:
    def __init__(
        self, max_body_bytes: int = 128 * 1024 * 1024, max_pointer_bytes: int = 32 * 1024 * 1024
    ) -> None:
        self._pointers: TTLCache[PointerKey, _Pointer] = TTLCache(
            maxsize=max_pointer_bytes, ttl=POINTER_TTL_SECONDS, getsizeof=lambda entry: entry.size
        )
        self._bodies: LRUCache[tuple[Any, ...], Body] = LRUCache(maxsize=max_body_bytes, getsizeof=_size)
        self._generation = 0
        self.listening = False
        self._watchers: list[Callable[[str | None], None]] = []

    def on_invalidate(self, watcher: Callable[[str | None], None]) -> None:
        """Call `watcher(toolset id, or None for all)` after each invalidation of what a
        toolset serves (the MCP change hub); local cache drops are not reported."""
        self._watchers.append(watcher)

    # --- reads and writes ---

    def generation(self) -> int:
        return self._generation

    def get(self, key: PointerKey) -> dict[str, Any] | None:
        entry = self._pointers.get(key) if self.listening else None
        return entry.pointer if entry is not None else None

    def put(self, key: PointerKey, pointer: dict[str, Any], read_at_generation: int) -> None:
        if self.listening and read_at_generation == self._generation:
            entry = _Pointer(pointer, _pointer_size(key, pointer))
            if entry.size <= self._pointers.maxsize:  # else cachetools refuses it
                self._pointers[key] = entry

    def pointer_bytes(self) -> int:
        return int(self._pointers.currsize)

    # A release body is keyed by the release and the slug it was served under: the slug is
    # the live toolset's address, not part of the release, so a rename changes the body.
    def release_body(self, release_id: UUID, slug: str) -> Body | None:
        return self._bodies.get(("release", release_id, slug))

    def put_release_body(self, release_id: UUID, slug: str, body: bytes) -> Body:
        entry = Body(body, ("release", release_id, slug))
        self._store(("release", release_id, slug), entry)
        return entry

    def iteration_body(self, toolset_id: UUID) -> Body | None:
        return self._bodies.get(("iteration", toolset_id)) if self.listening else None

    def put_iteration_body(
        self, toolset_id: UUID, project_id: UUID, body: bytes, read_at_generation: int
    ) -> Body:
        entry = Body(body, content_key(body), project_id)
        if self.listening and read_at_generation == self._generation:
            self._store(("iteration", toolset_id), entry)
        return entry

    def _store(self, key: tuple[Any, ...], entry: Body) -> None:
        if _size(entry) <= self._bodies.maxsize:  # else cachetools refuses it: serve, do not keep
            self._bodies[key] = entry

    def body_bytes(self) -> int:
        return int(self._bodies.currsize)

    def forget_releases(self) -> None:
        """Drop every release body (benchmarks measure cold reads with it)."""
        for key in [k for k in list(self._bodies.keys()) if k[0] == "release"]:
            self._bodies.pop(key, None)

    # --- invalidation ---

    def invalidate(self, toolset_id: UUID | str | None = None) -> None:
        """Drop what one toolset (or every toolset) serves; reads in flight will not be stored."""
        self.drop(toolset_id)
        wanted = None if toolset_id is None else str(toolset_id)
        for watcher in self._watchers:
            watcher(wanted)

    def drop(self, toolset_id: UUID | str | None = None) -> None:
        """The same, without telling the watchers (this process's own writes: the NOTIFY
        that reports them to everyone follows)."""
        self._generation += 1
        if toolset_id is None:
            self._pointers.clear()
            for key in [k for k in list(self._bodies.keys()) if k[0] == "iteration"]:
                self._bodies.pop(key, None)
            return
        wanted = str(toolset_id)
        for address, entry in list(self._pointers.items()):
            if str(entry.pointer["id"]) == wanted:
                self._pointers.pop(address, None)
        for key in [k for k in list(self._bodies.keys()) if k[0] == "iteration" and str(k[1]) == wanted]:
            self._bodies.pop(key, None)

    def invalidate_project(self, project_id: UUID | str) -> None:
        """Drop the iteration bodies of one project (its deployments, templates or global
        variations changed); pointers and releases are unaffected."""
        self._generation += 1
        wanted = str(project_id)
        for key, entry in list(self._bodies.items()):
            if key[0] == "iteration" and str(entry.project_id) == wanted:
                self._bodies.pop(key, None)

    def set_listening(self, listening: bool) -> None:
        self.invalidate()
        self.listening = listening
