"""A work queue of keys for level-triggered controllers (client-go's workqueue, in asyncio).

Handlers ``add(key)``; workers ``await get()`` a key, sync it, then ``done(key)``.
Guarantees:

* a key is in the queue at most once (adds while queued are merged);
* a key is processed by at most one worker at a time: an ``add`` while it is
  being processed marks it dirty, and ``done`` puts it back once;
* ``add_rate_limited(key)`` re-adds after a per-key exponential backoff
  (``base * 2**failures``, capped), and ``forget(key)`` resets it after a success;
* ``add_after(key, seconds)`` schedules a re-sync (e.g. minReadySeconds).

The clock and the sleeping are the event loop's, so tests can drive time with a
loop of their own; nothing here talks to the API.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0):
        self._queue: collections.deque[K] = collections.deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._ready = asyncio.Condition()
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.shutting_down = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: K) -> None:
        if self.shutting_down:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        self._wake()

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._ready:
                self._ready.notify()
        if self._ready._waiters:  # only pay for a task when a worker waits
            asyncio.get_running_loop().create_task(notify())

    async def get(self) -> K:
        """The next key to process; blocks until there is one.  Raises CancelledError on shutdown."""
        async with self._ready:
            await self._ready.wait_for(lambda: bool(self._queue) or self.shutting_down)
            if self.shutting_down and not self._queue:
                raise asyncio.CancelledError
            key = self._queue.popleft()
            self._queued.discard(key)
            self._processing.add(key)
            return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self.add(key)
        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def add_rate_limited(self, key: K) -> None:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self.base_delay * (2 ** n), self.max_delay))

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def idle(self) -> bool:
        return not self._queue and not self._processing and not self._timers

    async def shutdown(self) -> None:
        self.shutting_down = True
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        async with self._ready:
            self._ready.notify_all()


async def run_workers(queue: WorkQueue[K], sync: Callable[[K], Awaitable[None]], workers: int,
                      on_error: Callable[[K, BaseException], None] | None = None) -> None:
    """Run ``workers`` tasks that sync keys until the queue shuts down.

    A sync that raises is retried with the queue's backoff; one that returns is forgotten.
    """
    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except asyncio.CancelledError:
                return
            try:
                await sync(key)
            except asyncio.CancelledError:
                queue.done(key)
                raise
            except Exception as e:
                if on_error is not None:
                    on_error(key, e)
                queue.done(key)
                queue.add_rate_limited(key)
            else:
                queue.done(key)
                queue.forget(key)

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
