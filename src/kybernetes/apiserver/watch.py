"""WATCH: a chunked stream of newline-delimited ``{"type", "object"}`` events.

Where events come from:

* ``resourceVersion`` unset or ``"0"``: synthetic ADDED events for the current
  state (from the watch cache), then every change after that cut;
* ``N`` within the cache's ring: the ring, then live events;
* ``N`` older than the ring: the backend replays its log (so a watcher resuming
  after a server restart misses nothing), or an ERROR event with ``410 Expired``
  when that history is compacted;
* ``sendInitialEvents=true``: the initial state followed by a BOOKMARK annotated
  ``k8s.io/initial-events-end`` (the streaming-list protocol).

Selectors apply to both the old and new object, as upstream's cacher does: an
object that stops matching is reported DELETED, one that starts matching ADDED.
The stream ends after ``timeoutSeconds`` or when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api import conversion, errors
from kybernetes.api.registry import ResourceType
from kybernetes.apiserver.http import Accept
from kybernetes.apiserver.listing import parse_rv, too_old
from kybernetes.apiserver.watchcache import ADDED, DELETED, MODIFIED, CacheEvent, WatchCache, decode
from kybernetes.storage.backend import DELETE, Backend, CompactedError

BOOKMARK_INTERVAL = 60.0  # upstream sends one about every minute ...
BOOKMARK_BEFORE_DEADLINE = 2.0  # ... and one shortly before the watch times out
DEFAULT_TIMEOUT = 1800


@dataclass
class WatchRequest:
    rt: ResourceType
    namespace: str | None
    keep: Callable[[dict[str, Any]], bool]
    resource_version: str
    timeout: float
    bookmarks: bool
    send_initial_events: bool
    accept: Accept
    # renders one object for the wire (e.g. a Table row); first=True for the first event
    render: Callable[[dict[str, Any], bool], Any]


def watch_timeout(request: web.Request) -> float:
    raw = request.query.get("timeoutSeconds")
    if raw:
        try:
            return max(0.0, float(int(raw)))
        except ValueError:
            raise errors.bad_request(f'invalid value for timeoutSeconds: "{raw}"') from None
    # Upstream spreads watch lifetimes between the minimum request timeout and twice that.
    return DEFAULT_TIMEOUT * (1 + random.random())


async def _backend_events(backend: Backend, prefix: str, after: int) -> AsyncIterator[CacheEvent]:
    prev: dict[str, dict[str, Any]] = {}
    async for ev in backend.watch(prefix, after):
        if ev.type == DELETE:
            obj = decode(ev.kv, ev.kv.mod_revision)
            yield CacheEvent(DELETED, ev.kv.key, obj, prev.pop(ev.kv.key, None), ev.kv.mod_revision)
        else:
            obj = decode(ev.kv)
            old = decode(ev.prev) if ev.prev is not None else None
            prev[ev.kv.key] = obj
            yield CacheEvent(MODIFIED if ev.prev is not None else ADDED, ev.kv.key, obj, old,
                             ev.kv.mod_revision)


class Watcher:
    def __init__(self, request: web.Request, wr: WatchRequest, cache: WatchCache, backend: Backend):
        self.request = request
        self.wr = wr
        self.cache = cache
        self.backend = backend
        self.resp = web.StreamResponse()
        self.first = True
        self.last_rv = 0
        self.deadline = 0.0
        self.deadline_bookmark_sent = False

    async def _send(self, type_: str, obj: dict[str, Any]) -> None:
        body = {"type": type_, "object": self.wr.render(obj, self.first)}
        self.first = False
        await self.resp.write(orjson.dumps(body) + b"\n")

    async def _bookmark(self, rev: int, initial_end: bool = False) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(rev)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        await self.resp.write(orjson.dumps({"type": "BOOKMARK", "object": {
            "kind": self.wr.rt.kind, "apiVersion": self.wr.rt.api_version, "metadata": meta}}) + b"\n")

    def _served(self, obj: dict[str, Any]) -> dict[str, Any]:
        return conversion.from_storage(self.wr.rt.group, obj)

    async def _emit(self, ev: CacheEvent) -> None:
        new = self._served(ev.obj)
        self.last_rv = ev.revision
        if ev.type == DELETED:
            if self.wr.keep(new):
                await self._send(DELETED, new)
            return
        old_match = ev.prev is not None and self.wr.keep(self._served(ev.prev))
        new_match = self.wr.keep(new)
        if new_match:
            await self._send(MODIFIED if old_match else ADDED, new)
        elif old_match:
            await self._send(DELETED, new)

    async def run(self) -> web.StreamResponse:
        wr = self.wr
        self.resp.content_type = "application/json"
        self.resp.headers["Cache-Control"] = "no-cache, private"
        self.resp.enable_chunked_encoding()
        await self.resp.prepare(self.request)
        self.deadline = asyncio.get_running_loop().time() + wr.timeout
        try:
            async with asyncio.timeout(wr.timeout):
                await self._stream()
        except TimeoutError:
            pass
        except (ConnectionResetError, asyncio.CancelledError):
            return self.resp
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await self.resp.write_eof()
        return self.resp

    async def _stream(self) -> None:
        wr = self.wr
        prefix = wr.rt.prefix(wr.namespace)
        rv = wr.resource_version
        initial = rv in ("", "0") or wr.send_initial_events
        if initial:
            if rv == "" or wr.send_initial_events:
                await self.cache.sync()
            start = self.cache.revision
            snapshot = [self._served(o) for o in self.cache.items(prefix)]
            sub = self.cache.subscribe(prefix, start)  # same synchronous step: a consistent cut
            try:
                for obj in snapshot:
                    if wr.keep(obj):
                        await self._send(ADDED, obj)
                self.last_rv = start
                if wr.send_initial_events and wr.bookmarks:
                    await self._bookmark(start, initial_end=True)
                await self._follow_cache(sub)
            finally:
                sub.close()
            return
        after = parse_rv(rv)
        if after > self.cache.revision and not await self.cache.wait_for(after):
            await self._send_error(errors.StatusError(
                504, errors.TIMEOUT, f"Timeout: Too large resource version: {after}, current: {self.cache.revision}"))
            return
        self.last_rv = after
        if self.cache.can_serve(after):
            sub = self.cache.subscribe(prefix, after)
            try:
                await self._follow_cache(sub)
            finally:
                sub.close()
            return
        # Older than the ring: replay from the store's log.
        try:
            events = _backend_events(self.backend, prefix, after)
            await self._follow_iter(events)
        except CompactedError as e:
            await self._send_error(too_old(e.requested, e.compacted))

    async def _send_error(self, err: errors.StatusError) -> None:
        await self.resp.write(orjson.dumps({"type": "ERROR", "object": err.status()}) + b"\n")

    def _bookmark_wait(self) -> float:
        """Seconds until the next bookmark is due."""
        now = asyncio.get_running_loop().time()
        wait = BOOKMARK_INTERVAL
        if not self.deadline_bookmark_sent:
            wait = min(wait, max(0.0, self.deadline - BOOKMARK_BEFORE_DEADLINE - now))
        return wait

    async def _follow_cache(self, sub: Any) -> None:
        while True:
            try:
                ev = await asyncio.wait_for(sub.queue.get(), self._bookmark_wait()) if self.wr.bookmarks \
                    else await sub.queue.get()
            except TimeoutError:
                if asyncio.get_running_loop().time() >= self.deadline - BOOKMARK_BEFORE_DEADLINE:
                    self.deadline_bookmark_sent = True
                # An empty queue means this watcher has seen everything up to the cache's revision.
                await self._bookmark(max(self.last_rv, self.cache.revision) if sub.queue.empty() else self.last_rv)
                continue
            if ev is None:
                return  # the cache ended this watcher (too slow, or shutting down)
            await self._emit(ev)

    async def _follow_iter(self, events: AsyncIterator[CacheEvent]) -> None:
        try:
            async for ev in events:
                await self._emit(ev)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
