"""Live list-changed notifications, across server processes, backed by PostgreSQL.

Who is told:
- a client on the 2026-07-28 revision that holds a `subscriptions/listen` stream
  (the SDK's `ListenHandler`, fed by this process's `EndpointBus`, the SDK's seam for
  fanning events out across replicas);
- a client on an older revision that holds its session's GET stream
  (`notifications/tools/list_changed` and friends on the session's standalone channel).

When: PostgreSQL says what a toolset serves may have changed, on any process. The
`NOTIFY toolset_pointers` trigger (publish, rollback, mode switch, rename, delete)
reaches every process's pointer cache, and the cache tells this hub, after it has
dropped its entry; a process that commits a change drops the entry itself at once.
The hub then reads each watched endpoint of that toolset again and compares what it
serves with what it served before: only a list that really changed is announced, so a
signal that changed nothing clients see (a release of unchanged content, a rename)
stays silent. Current data (iteration mode, staging copies) is watched the same way,
through revision 0006's `NOTIFY served_state, '<project id>'`.

`EndpointBus.publish` goes through PostgreSQL too (`NOTIFY mcp_events`), so an event
published on one process reaches the endpoint's listeners on all of them.

A pinned release never changes: its endpoints are never watched and never notify.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from cachetools import LRUCache
from mcp.shared.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from app.kit.errors import NotFound
from app.mcp import queries
from app.mcp.context import EndpointKey, ServedRequest
from app.mcp.results import resources_json, tools_json
from app.projects import queries as project_queries
from app.serving.engine import Endpoint, ServedState, ServedStates

logger = logging.getLogger("app.mcp.changes")

# Sessions whose channel this process knows (bounded like the SDK's session limit).
REMEMBERED_SESSIONS = 10_000
RETRY_SECONDS = 1.0
# Session ids ended by a DELETE, remembered so that no process adopts them again.
ENDED_SESSIONS = 100_000
_ENDED = "ended:"

Listener = Callable[[ServerEvent], None]


class SessionChannel(Protocol):
    """A legacy session's standalone channel (the SDK's `ServerSession` or `Connection`)."""

    async def send_tool_list_changed(self) -> None: ...
    async def send_prompt_list_changed(self) -> None: ...
    async def send_resource_list_changed(self) -> None: ...


Fingerprint = tuple[bytes, bytes, bytes] | None  # tools, prompts, resources; None: gone


def _digest(value: Any) -> bytes:
    return hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=16).digest()


def fingerprint(served: ServedState) -> Fingerprint:
    """What clients see of a served state, per list: a change in one is announced.

    Prompts count with their text: `prompts/get` answers something else after an edit.
    """
    state = served.model()
    prompts = [p.model_dump(mode="json") for p in state.prompts]
    return (_digest(tools_json(state)), _digest(prompts), _digest(resources_json(state)))


def changed_events(before: Fingerprint, after: Fingerprint) -> list[ServerEvent]:
    kinds: list[ServerEvent] = [ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()]
    if before is None or after is None:
        return kinds if before != after else []
    return [event for event, old, new in zip(kinds, before, after, strict=True) if old != new]


@dataclass(slots=True)
class _Watch:
    endpoint: Endpoint
    toolset_id: str
    fingerprint: Fingerprint
    listeners: dict[object, Listener] = field(default_factory=dict)
    sessions: dict[object, str] = field(default_factory=dict)

    def idle(self) -> bool:
        return not self.listeners and not self.sessions


class ChangeHub:
    def __init__(self, serving: ServedStates) -> None:
        self.serving = serving
        self._watches: dict[EndpointKey, _Watch] = {}
        self._by_toolset: dict[str, set[EndpointKey]] = {}
        self._sessions: LRUCache[str, SessionChannel] = LRUCache(maxsize=REMEMBERED_SESSIONS)
        self._dirty: set[EndpointKey] = set()
        self._projects: set[str] = set()
        self._wake = asyncio.Event()
        self._ended: LRUCache[str, bool] = LRUCache(maxsize=ENDED_SESSIONS)
        self._session_watchers: list[Callable[[str], None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self.listen_streams = 0  # open `subscriptions/listen` streams (server.py bounds them)

    # -- registration ---------------------------------------------------------------

    def bus(self, served: ServedRequest) -> "EndpointBus":
        return EndpointBus(self, served)

    def remember_session(self, session_id: str, channel: SessionChannel) -> None:
        self._sessions[session_id] = channel

    def _watch(self, served: ServedRequest) -> _Watch | None:
        if served.kind == "release":
            return None  # a pinned release never changes
        key = served.key
        watch = self._watches.get(key)
        if watch is None:
            toolset_id = str(served.served.toolset_id)
            watch = _Watch(served.endpoint, toolset_id, fingerprint(served.served))
            self._watches[key] = watch
            self._by_toolset.setdefault(toolset_id, set()).add(key)
        return watch

    def _unwatch_if_idle(self, key: EndpointKey) -> None:
        watch = self._watches.get(key)
        if watch is not None and watch.idle():
            del self._watches[key]
            keys = self._by_toolset.get(watch.toolset_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_toolset[watch.toolset_id]

    def add_listener(self, served: ServedRequest, listener: Listener) -> Callable[[], None]:
        watch = self._watch(served)
        if watch is None:
            return lambda: None
        token = object()
        watch.listeners[token] = listener
        key = served.key

        def unsubscribe() -> None:
            current = self._watches.get(key)
            if current is not None:
                current.listeners.pop(token, None)
                self._unwatch_if_idle(key)

        return unsubscribe

    @contextlib.contextmanager
    def session_stream(self, served: ServedRequest, session_id: str) -> Iterator[None]:
        """While a legacy session's GET stream is open on this process, it hears changes."""
        watch = self._watch(served)
        if watch is None:
            yield
            return
        token = object()
        watch.sessions[token] = session_id
        try:
            yield
        finally:
            current = self._watches.get(served.key)
            if current is not None:
                current.sessions.pop(token, None)
                self._unwatch_if_idle(served.key)

    # -- signals --------------------------------------------------------------------

    def project_changed(self, project_id: str) -> None:
        """Current data of a project changed (the `served_state` channel): check its endpoints."""
        self._projects.add(project_id)
        self._wake.set()

    def event_published(self, payload: str) -> None:
        """An `EndpointBus.publish` or a session's end on any process (the `mcp_events` channel)."""
        if payload.startswith(_ENDED):
            session_id = payload.removeprefix(_ENDED)
            self._ended[session_id] = True
            for watcher in self._session_watchers:
                watcher(session_id)
            return
        published = event_from_payload(payload)
        if published is not None:
            self.deliver(published[0], [published[1]])

    # -- sessions ended by a DELETE, on any process ---------------------------------

    async def end_session(self, session_id: str) -> None:
        """Tell every process that session `session_id` was ended by its client."""
        self._ended[session_id] = True  # this process at once, the others at the NOTIFY
        async with self.serving.engine.connect() as conn:
            await queries.notify_event(conn, _ENDED + session_id)
            await conn.commit()

    def session_ended(self, session_id: str) -> bool:
        return session_id in self._ended

    def on_session_ended(self, watcher: Callable[[str], None]) -> None:
        self._session_watchers.append(watcher)

    def toolset_changed(self, toolset_id: object | None) -> None:
        """What `toolset_id` (None: any toolset) serves may have changed: check its endpoints."""
        if toolset_id is None:
            self._dirty.update(self._watches)
        else:
            self._dirty.update(self._by_toolset.get(str(toolset_id), ()))
        if self._dirty:
            self._wake.set()

    def deliver(self, key: EndpointKey, events: list[ServerEvent]) -> None:
        """Hand events to this process's listeners and session streams of `key`."""
        watch = self._watches.get(key)
        if watch is None or not events:
            return
        for listener in list(watch.listeners.values()):
            for event in events:
                try:
                    listener(event)
                except Exception:  # one broken stream must not starve the others
                    logger.exception("listen stream listener raised")
        for session_id in set(watch.sessions.values()):
            channel = self._sessions.get(session_id)
            if channel is not None:
                task = asyncio.get_running_loop().create_task(_notify_session(channel, events))
                self._sending.add(task)  # held until done: the loop keeps only weak references
                task.add_done_callback(self._sending.discard)

    # -- the worker -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, engine: AsyncEngine) -> AsyncIterator[None]:
        worker = asyncio.create_task(self.run(), name="mcp-change-hub")
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def run(self) -> None:
        """Check dirty endpoints, one pass at a time, for the life of the process."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._projects:
                await self._mark_projects()
            dirty, self._dirty = self._dirty, set()
            for key in dirty:
                try:
                    await self._check(key)
                except Exception:
                    logger.exception("checking what an MCP endpoint serves failed; retrying")
                    self._dirty.add(key)
            if self._dirty:
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

    async def _mark_projects(self) -> None:
        """Mark the watched endpoints of the projects that changed (by id) dirty."""
        project_ids, self._projects = list(self._projects), set()
        if not self._watches:
            return
        try:
            async with self.serving.engine.connect() as conn:
                addresses = set(await project_queries.addresses_of(conn, project_ids))
        except Exception:
            logger.exception("resolving changed projects failed; checking every watched endpoint")
            self._dirty.update(self._watches)
            return
        self._dirty.update(key for key in self._watches if (key[0], key[1]) in addresses)

    async def _check(self, key: EndpointKey) -> None:
        watch = self._watches.get(key)
        if watch is None:
            return
        try:
            served = await self.serving.served(watch.endpoint)
        except NotFound:
            after: Fingerprint = None
        else:
            after = fingerprint(served)
        watch = self._watches.get(key)  # it may have gone idle meanwhile
        if watch is None:
            return
        before, watch.fingerprint = watch.fingerprint, after
        self.deliver(key, changed_events(before, after))


async def _notify_session(channel: SessionChannel, events: list[ServerEvent]) -> None:
    senders = {
        ToolsListChanged: channel.send_tool_list_changed,
        PromptsListChanged: channel.send_prompt_list_changed,
        ResourcesListChanged: channel.send_resource_list_changed,
    }
    for event in events:
        sender = senders.get(type(event))
        if sender is None:
            continue
        try:
            await sender()
        except Exception:  # the stream went away; the session's next request finds out
            logger.debug("session stream closed before a list change reached it", exc_info=True)


_EVENT_NAMES: dict[type, str] = {
    ToolsListChanged: "tools",
    PromptsListChanged: "prompts",
    ResourcesListChanged: "resources",
}
_EVENTS: dict[str, ServerEvent] = {
    "tools": ToolsListChanged(),
    "prompts": PromptsListChanged(),
    "resources": ResourcesListChanged(),
}


def event_payload(key: EndpointKey, event: ServerEvent) -> str:
    if isinstance(event, ResourceUpdated):
        return json.dumps({"endpoint": key, "resource": event.uri})
    return json.dumps({"endpoint": key, "event": _EVENT_NAMES[type(event)]})


def event_from_payload(payload: str) -> tuple[EndpointKey, ServerEvent] | None:
    try:
        message = json.loads(payload)
        org, project, toolset, selector = message["endpoint"]
        key: EndpointKey = (str(org), str(project), str(toolset), str(selector))
        if "resource" in message:
            return key, ResourceUpdated(uri=str(message["resource"]))
        return key, _EVENTS[message["event"]]
    except (ValueError, KeyError, TypeError):
        logger.warning("ignored a malformed mcp_events message")
        return None


class EndpointBus:
    """The SDK's `SubscriptionBus` for one endpoint's listen streams, backed by PostgreSQL.

    `subscribe` registers a listen stream of this process; `publish` sends the event
    through `NOTIFY mcp_events`, and every process (this one included) hands it to its
    own listeners of the endpoint (`ChangeHub.event_published`).
    """

    def __init__(self, hub: ChangeHub, served: ServedRequest) -> None:
        self.hub = hub
        self.served = served

    async def publish(self, event: ServerEvent) -> None:
        async with self.hub.serving.engine.connect() as conn:
            await queries.notify_event(conn, event_payload(self.served.key, event))
            await conn.commit()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.hub.add_listener(self.served, listener)
