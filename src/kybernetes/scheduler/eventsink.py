"""Events with bounded concurrency: the scheduler's EventRecorder.

The client's :class:`~kybernetes.client.events.EventRecorder` posts each Event
on its own task.  A scheduler placing hundreds of pods a second would open
hundreds of concurrent requests for ``Scheduled`` events and starve its
binding requests, so this recorder queues them and posts with a few workers
(same aggregation rules, same wire form).  Like upstream's broadcaster, it
drops Events - counted in :attr:`EventSink.dropped` and logged - when its
backlog is full: Events are best effort and must never slow scheduling down.
For the same reason posting waits while ``hold()`` says the component is busy
(the scheduler: pods are waiting for a decision), until half the backlog has
piled up: in a burst the API server's time goes to bindings first and the
Events follow.
Aggregation entries older than the aggregation window are forgotten, so a
scheduler that places millions of pods does not keep one entry per pod.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from kybernetes.client.events import AGGREGATION_WINDOW, EventRecorder
from kybernetes.client.rest import Client

log = logging.getLogger(__name__)
HOLD_POLL = 0.05  # seconds between looks at hold() while busy


class EventSink(EventRecorder):
    def __init__(self, client: Client, component: str, workers: int = 4, backlog: int = 20000,
                 hold: Callable[[], bool] | None = None):
        super().__init__(client, component)
        self.hold = hold
        self.workers = workers
        self.backlog = backlog
        self.dropped = 0
        self._pending: collections.deque[tuple[dict[str, Any], str, str, str]] = collections.deque()
        self._wake = asyncio.Event()
        self._busy = 0
        self._posted = 0
        self._worker_tasks: list[asyncio.Task[None]] = []

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        if len(self._pending) >= self.backlog:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("event backlog full (%d); %d events dropped so far", self.backlog, self.dropped)
            return
        self._pending.append((obj, type_, reason, message))
        if not self._worker_tasks:
            self._worker_tasks = [asyncio.get_running_loop().create_task(self._work(), name="scheduler events")
                                  for _ in range(self.workers)]
        self._wake.set()

    async def _work(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.hold is not None and self.hold() and len(self._pending) < self.backlog // 2:
                await asyncio.sleep(HOLD_POLL)
                continue
            obj, type_, reason, message = self._pending.popleft()
            self._busy += 1
            try:
                await self._post(obj, type_, reason, message)
            except Exception:  # _post logs API errors; anything else must not kill the worker
                log.exception("posting event %s failed", reason)
            finally:
                self._busy -= 1
            self._posted += 1
            if self._posted % 1000 == 0:
                self._forget_old()

    def _forget_old(self) -> None:
        """Drop aggregation entries older than the window (every pod adds one; keep memory flat)."""
        now = asyncio.get_running_loop().time()
        for key in [k for k, (_, _, first) in self._seen.items() if now - first >= AGGREGATION_WINDOW]:
            del self._seen[key]

    async def flush(self) -> None:
        while self._pending or self._busy:
            await asyncio.sleep(0.01)
        await super().flush()

    async def close(self) -> None:
        for t in self._worker_tasks:
            t.cancel()
        for t in self._worker_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._worker_tasks = []
        await super().close()
