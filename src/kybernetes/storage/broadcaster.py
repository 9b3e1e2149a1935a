"""Watch fan-out: one ring of recent events, many cursors reading it.

The writer publishes every committed batch, in revision order, into a
:class:`Broadcaster` on the event loop.  Revisions are gapless (each revision is
exactly one event), so the ring is a fixed array indexed by ``revision %
capacity``: publishing is O(events) no matter how many watchers exist.

A :class:`WatchStream` is a cursor: the last revision it has handed out.  It
holds no per-watcher queue, so a slow consumer costs nothing and can never block
the writer or other watchers.  To produce its next event it:

1. scans the ring from its cursor when the ring still holds ``cursor + 1``;
2. otherwise reads the missed range from the durable log (``LogSource``) in
   chunks: a watcher that fell behind, or started from an old revision, catches
   up from the database.  If compaction already removed part of that range the
   iterator raises :class:`CompactedError`; events are never skipped silently;
3. once caught up, parks on a future registered under its prefix.  Publishing
   wakes each prefix group at most once per batch, with the first matching
   revision as a hint: nothing under that prefix happened between the cursor
   and the hint, so the stream jumps there instead of rescanning.

A stream is registered with the broadcaster only while it is parked inside
``__anext__``: breaking out of ``async for``, ``aclose()`` or cancelling the
consuming task leaves nothing behind.  ``close()`` of the broadcaster (backend
shutdown) ends every stream with ``StopAsyncIteration``.

Delivery is exactly once and in order because the cursor only moves forward
past revisions it has examined, and the ring and the log hold the same events.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from .backend import CompactedError, Event

_CLOSED = -1


class LogSource(Protocol):
    """Where a stream reads history the ring no longer holds."""

    def compacted_now(self) -> int: ...

    async def read_log(self, prefix: str, after: int, upto: int) -> tuple[list[Event], int]:
        """Events under ``prefix`` with ``after < revision <= upto``, oldest first, possibly a
        first chunk only; also returns the revision the read covers up to.  Raises
        CompactedError when ``after`` is older than the compacted revision."""
        ...


class Broadcaster:
    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("broadcaster capacity must be positive")
        self._capacity = capacity
        self._ring: list[Event | None] = [None] * capacity
        self._last = 0  # newest published revision
        self._oldest = 1  # oldest revision the ring holds (== _last + 1 when empty)
        self._groups: dict[str, set[asyncio.Future[int]]] = {}
        self.closed = False

    def reset(self, revision: int) -> None:
        """Start empty at ``revision`` (the store's revision when it was opened)."""
        self._last = revision
        self._oldest = revision + 1

    @property
    def last_revision(self) -> int:
        return self._last

    @property
    def waiting(self) -> int:
        """How many streams are parked, waiting for an event (for tests and metrics)."""
        return sum(len(waiters) for waiters in self._groups.values())

    def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        ring, capacity = self._ring, self._capacity
        for event in events:
            revision = event.kv.mod_revision
            if revision != self._last + 1:
                raise AssertionError(f"broadcast out of order: {revision} after {self._last}")
            ring[revision % capacity] = event
            self._last = revision
        self._oldest = max(self._oldest, self._last - capacity + 1)
        if not self._groups:
            return
        # Wake each prefix group once, with the first revision that concerns it.
        for prefix in list(self._groups):
            for event in events:
                if event.kv.key.startswith(prefix):
                    for waiter in self._groups.pop(prefix):
                        if not waiter.done():
                            waiter.set_result(event.kv.mod_revision)
                    break

    def events_after(self, prefix: str, after: int) -> list[Event] | None:
        """Ring events under ``prefix`` with revision > ``after``; None if the ring lost ``after + 1``."""
        if after + 1 < self._oldest:
            return None
        ring, capacity = self._ring, self._capacity
        found: list[Event] = []
        for revision in range(after + 1, self._last + 1):
            event = ring[revision % capacity]
            assert event is not None
            if event.kv.key.startswith(prefix):
                found.append(event)
        return found

    async def wait_after(self, prefix: str, after: int) -> int:
        """Park until an event under ``prefix`` newer than ``after`` is published.

        Returns a revision r such that no event under ``prefix`` lies in
        (``after``, r), or -1 when the broadcaster closed.  Returns at once when
        events past ``after`` were already published (the caller must scan).
        """
        if self.closed:
            return _CLOSED
        if self._last > after:
            return after + 1
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiters = self._groups.setdefault(prefix, set())
        waiters.add(waiter)
        try:
            return await waiter
        finally:
            # Cancelled or closed: leave no registration behind.  (After a wake
            # the group is already gone; discarding from a newer group is a no-op.)
            group = self._groups.get(prefix)
            if group is not None:
                group.discard(waiter)
                if not group:
                    del self._groups[prefix]

    def close(self) -> None:
        self.closed = True
        groups, self._groups = self._groups, {}
        for waiters in groups.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(_CLOSED)


class WatchStream:
    """Async iterator of the events under ``prefix`` after ``after_revision``; see module doc."""

    def __init__(self, broadcaster: Broadcaster, source: LogSource, prefix: str, after_revision: int) -> None:
        self._broadcaster = broadcaster
        self._source = source
        self._prefix = prefix
        self._cursor = after_revision
        self._pending: deque[Event] = deque()
        self._closed = False
        self.start_revision = after_revision

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> Event:
        broadcaster = self._broadcaster
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._closed or broadcaster.closed:
                raise StopAsyncIteration
            last = broadcaster.last_revision
            if self._cursor < last:
                found = broadcaster.events_after(self._prefix, self._cursor)
                if found is None:
                    found, covered = await self._source.read_log(self._prefix, self._cursor, last)
                else:
                    covered = last
                self._pending.extend(found)
                self._cursor = covered
                continue
            hint = await broadcaster.wait_after(self._prefix, self._cursor)
            if hint == _CLOSED:
                raise StopAsyncIteration
            self._cursor = max(self._cursor, hint - 1)

    async def aclose(self) -> None:
        self._closed = True
        self._pending.clear()


def check_watch_start(after_revision: int, compacted: int) -> None:
    """A watch may start at the compacted revision or later (it replays what follows)."""
    if after_revision < compacted:
        raise CompactedError(after_revision, compacted)
