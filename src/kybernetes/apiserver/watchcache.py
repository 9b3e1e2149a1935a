"""The watch cache: every stored object in memory, fed by one backend watch.

Upstream's cacher in miniature.  At start it reads everything under
``/registry/`` at one revision, then follows a single backend watch from that
revision.  It serves

* lists without touching the store (``snapshot``), after waiting until the cache
  has caught up with the store's current revision, so a list never misses a
  write the client already saw acknowledged (a consistent read from cache);
* watches (``subscribe``): each subscriber gets every event after its start
  revision, in order, exactly once, from a ring of recent events and then live.
  A start revision older than the ring is the caller's to serve from the backend.

Cached objects are decoded dicts with ``metadata.resourceVersion`` set; they are
shared with every reader and must never be mutated.  Events are applied by one
task, synchronously, so a snapshot plus a subscription taken in the same
synchronous step see a consistent cut.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sortedcontainers import SortedDict

from kybernetes.storage.backend import DELETE, Backend, CompactedError, KeyValue

log = logging.getLogger(__name__)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class CacheEvent:
    type: str
    key: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None
    revision: int


def storage_prefix_of(key: str) -> str:
    """``/registry/core/pods/ns/name`` -> ``/registry/core/pods/``."""
    parts = key.split("/", 4)
    return "/".join(parts[:4]) + "/"


def decode(kv: KeyValue, revision: int | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(kv.value)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta["resourceVersion"] = str(revision if revision is not None else kv.mod_revision)
    return obj


class Subscription:
    """A watcher's queue of events; ``closed_reason`` says why it ended early."""

    def __init__(self, cache: WatchCache, prefix: str, max_pending: int):
        self.prefix = prefix
        self.queue: asyncio.Queue[CacheEvent | None] = asyncio.Queue()
        self.max_pending = max_pending
        self.closed_reason: str | None = None
        self._cache = cache

    def offer(self, ev: CacheEvent) -> None:
        if self.closed_reason is not None:
            return
        if self.queue.qsize() >= self.max_pending:
            # A watcher that cannot keep up is ended, not allowed to grow without
            # bound; the client resumes from the last revision it saw.
            self.closed_reason = "watcher too slow"
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(ev)

    def close(self) -> None:
        self._cache.unsubscribe(self)


class WatchCache:
    def __init__(self, backend: Backend, prefix: str = "/registry/", capacity: int = 20000,
                 max_pending: int = 50000):
        self.backend = backend
        self.prefix = prefix
        self.revision = 0
        self.ring: collections.deque[CacheEvent] = collections.deque(maxlen=capacity)
        self._objects: dict[str, SortedDict] = collections.defaultdict(SortedDict)
        self._subs: dict[str, set[Subscription]] = collections.defaultdict(set)
        self._max_pending = max_pending
        self._advanced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        rev = await self.backend.current_revision()
        start_after: str | None = None
        while True:
            res = await self.backend.range(self.prefix, start_after=start_after, limit=5000, revision=rev)
            for kv in res.kvs:
                self._objects[storage_prefix_of(kv.key)][kv.key] = decode(kv)
            if not res.more or not res.kvs:
                break
            start_after = res.kvs[-1].key
        self.revision = rev
        self._task = asyncio.create_task(self._follow(rev), name="watchcache")
        self.ready.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subs in self._subs.values():
            for s in list(subs):
                s.closed_reason = "server shutting down"
                s.queue.put_nowait(None)

    async def _follow(self, rev: int) -> None:
        while True:
            try:
                async for ev in self.backend.watch(self.prefix, rev):
                    rev = ev.kv.mod_revision
                    self._apply(ev.type == DELETE, ev.kv, ev.prev)
                    # Let readers waiting for this revision go on.
                    if self._advanced._waiters:
                        async with self._advanced:
                            self._advanced.notify_all()
            except asyncio.CancelledError:
                raise
            except CompactedError as e:  # pragma: no cover - the feed fell behind compaction
                log.error("watch cache fell behind compaction: %s", e)
                self.failed = e
                return
            except Exception:  # pragma: no cover - keep the cache alive over backend hiccups
                log.exception("watch cache feed failed; resuming from %d", rev)
                await asyncio.sleep(0.1)

    def _apply(self, deleted: bool, kv: KeyValue, prev_kv: KeyValue | None) -> None:
        sp = storage_prefix_of(kv.key)
        objects = self._objects[sp]
        prev = objects.get(kv.key)
        if deleted:
            obj = decode(kv, kv.mod_revision)
            objects.pop(kv.key, None)
            ev = CacheEvent(DELETED, kv.key, obj, prev, kv.mod_revision)
        else:
            obj = decode(kv)
            objects[kv.key] = obj
            ev = CacheEvent(MODIFIED if prev is not None else ADDED, kv.key, obj, prev, kv.mod_revision)
        self.revision = kv.mod_revision
        self.ring.append(ev)
        for sub in self._subs.get(sp, ()):
            if kv.key.startswith(sub.prefix):
                sub.offer(ev)

    # -- reads ---------------------------------------------------------------

    async def wait_for(self, revision: int, timeout: float = 3.0) -> bool:
        """Wait until the cache reflects ``revision``; False on timeout."""
        if self.revision >= revision:
            return True
        try:
            async with asyncio.timeout(timeout), self._advanced:
                await self._advanced.wait_for(lambda: self.revision >= revision)
        except TimeoutError:
            return False
        return True

    async def sync(self) -> None:
        """Catch up with every write acknowledged before this call."""
        await self.wait_for(await self.backend.current_revision())

    def items(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Objects under ``prefix`` in key order (no await: a consistent cut)."""
        sp = _bucket(prefix)
        objects = self._objects.get(sp)
        if not objects:
            return iter(())
        if prefix == sp:
            return iter(objects.values())
        keys = objects.irange(minimum=prefix)
        return (objects[k] for k in _take_prefix(keys, prefix))

    def get(self, key: str) -> dict[str, Any] | None:
        objects = self._objects.get(storage_prefix_of(key))
        return objects.get(key) if objects else None

    def count(self, storage_prefix: str) -> int:
        return len(self._objects.get(storage_prefix) or ())

    # -- watches -------------------------------------------------------------

    def oldest_revision(self) -> int:
        """The smallest ``after_revision`` the ring can serve without a gap."""
        if len(self.ring) < (self.ring.maxlen or 0):
            return 0  # the ring holds everything since start; older needs the store
        return self.ring[0].revision - 1

    def can_serve(self, after_revision: int) -> bool:
        if after_revision >= self.revision:
            return True
        return bool(self.ring) and self.ring[0].revision - 1 <= after_revision

    def subscribe(self, prefix: str, after_revision: int) -> Subscription:
        """Events under ``prefix`` after ``after_revision`` (which ``can_serve``)."""
        sub = Subscription(self, prefix, self._max_pending)
        if after_revision < self.revision:
            for ev in self.ring:
                if ev.revision > after_revision and ev.key.startswith(prefix):
                    sub.queue.put_nowait(ev)
        sp = _bucket(prefix)
        self._subs[sp].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sp = _bucket(sub.prefix)
        self._subs[sp].discard(sub)

    @property
    def watcher_count(self) -> int:
        return sum(len(s) for s in self._subs.values())


def _bucket(prefix: str) -> str:
    """The storage prefix (one per resource) a key prefix falls in."""
    return prefix if prefix.count("/") <= 4 else storage_prefix_of(prefix)


def _take_prefix(keys: Iterator[str], prefix: str) -> Iterator[str]:
    for k in keys:
        if not k.startswith(prefix):
            return
        yield k
