"""The scheduling queue: activeQ, backoffQ and the unschedulable pods (upstream's PriorityQueue).

A pending pod is in exactly one place:

* **activeQ** - ready to be tried, ordered by priority (higher first), then by
  the time it entered the queue (PrioritySort);
* **backoffQ** - it failed recently and waits out a per-pod exponential backoff
  (``initial_backoff * 2**(attempts-1)``, capped at ``max_backoff``: 1 s, 2 s,
  4 s, 8 s, 10 s ...), ordered by when the backoff ends; moved to activeQ by
  :meth:`SchedulingQueue.flush_backoff_completed` (every second);
* **unschedulable** - rejected by some plugins; it stays until a cluster event
  one of those plugins registered happens (:meth:`move_all_to_active_or_backoff`:
  a node added, a pod deleted, ...), or for at most ``max_unschedulable`` (5 min,
  :meth:`flush_unschedulable_leftover`, every 30 s).  Gated pods (a PreEnqueue
  plugin said no) wait here too, until an update of their own lets them in;
* **in flight** - popped and being scheduled or bound; an update is recorded on
  it (so a requeue uses the latest pod) but does not queue it a second time.

A failed pod comes back through :meth:`add_unschedulable_if_not_present`:
with rejecting plugins it goes to the unschedulable pods, otherwise (an error,
no nodes) to backoffQ.  The scheduling cycle never awaits, so no event can
arrive while a pod is being decided and upstream's in-flight event replay is
not needed.  All time comes from the injected ``clock``; :meth:`run` only
calls the flushes on their periods.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kybernetes.scheduler.events import UNSCHEDULABLE_TIMEOUT, ClusterEvent, ClusterEventWithHint
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SUCCESS, Status

PreEnqueue = Callable[[PodInfo], tuple[Status, str]]
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0


@dataclass(eq=False)
class QueuedPodInfo:
    pod: PodInfo
    timestamp: float  # when it (re-)entered the queue: ordering and backoff start
    attempts: int = 0
    initial_attempt_timestamp: float | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    gating_plugin: str = ""
    seq: int = 0  # identifies its live heap entry

    @property
    def key(self) -> str:
        return self.pod.key


def _spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether an update could change the scheduling outcome (status-only updates cannot)."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or om.get("labels") != nm.get("labels")
            or om.get("annotations") != nm.get("annotations"))


class SchedulingQueue:
    def __init__(self, events: Mapping[str, list[ClusterEventWithHint]] | None = None,
                 pre_enqueue: PreEnqueue | None = None, clock: Callable[[], float] = time.monotonic,
                 initial_backoff: float = 1.0, max_backoff: float = 10.0, max_unschedulable: float = 300.0):
        self.events = dict(events or {})
        self.pre_enqueue = pre_enqueue or (lambda pod: (SUCCESS, ""))
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self._active: dict[str, QueuedPodInfo] = {}
        self._active_heap: list[tuple[int, float, int, str]] = []
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self.moves = 0  # pods moved by cluster events (metrics, tests)

    # -- placement helpers -----------------------------------------------------------

    def _to_active(self, qpi: QueuedPodInfo) -> None:
        qpi.seq = next(self._seq)
        self._active[qpi.key] = qpi
        heapq.heappush(self._active_heap, (-qpi.pod.priority, qpi.timestamp, qpi.seq, qpi.key))
        self._ready.set()

    def _to_backoff(self, qpi: QueuedPodInfo) -> None:
        qpi.seq = next(self._seq)
        self._backoff[qpi.key] = qpi
        heapq.heappush(self._backoff_heap, (self.backoff_expiry(qpi), qpi.seq, qpi.key))

    def _to_active_or_backoff(self, qpi: QueuedPodInfo, now: float) -> None:
        if self.backoff_expiry(qpi) > now:
            self._to_backoff(qpi)
        else:
            self._to_active(qpi)

    def backoff_duration(self, attempts: int) -> float:
        if attempts <= 0:
            return 0.0  # never tried: nothing to back off from
        duration = self.initial_backoff
        for _ in range(1, attempts):
            if duration > self.max_backoff - duration:
                return self.max_backoff
            duration += duration
        return duration

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi.attempts)

    def _gate(self, qpi: QueuedPodInfo) -> bool:
        """Run PreEnqueue; a gated pod is parked among the unschedulable pods."""
        status, plugin = self.pre_enqueue(qpi.pod)
        qpi.gating_plugin = "" if status.is_success() else plugin
        if qpi.gating_plugin:
            self._unschedulable[qpi.key] = qpi
            return True
        return False

    # -- informer-driven changes -----------------------------------------------------

    def add(self, pod: PodInfo) -> None:
        """A new pending pod."""
        if pod.key in self._in_flight:
            self._in_flight[pod.key].pod = pod
            return
        self._remove(pod.key)
        qpi = QueuedPodInfo(pod, self.clock())
        if not self._gate(qpi):
            self._to_active(qpi)

    def update(self, old: dict[str, Any] | None, new: PodInfo) -> None:
        """The pending pod changed (``old`` is the previous wire object, when known)."""
        key = new.key
        if key in self._in_flight:
            self._in_flight[key].pod = new
            return
        for where in (self._active, self._backoff):
            qpi = where.get(key)
            if qpi is not None:
                priority_changed = qpi.pod.priority != new.priority
                qpi.pod = new
                if where is self._active and priority_changed:
                    self._to_active(qpi)  # a fresh heap entry; the old one is stale
                return
        qpi = self._unschedulable.get(key)
        if qpi is not None:
            qpi.pod = new
            if old is not None and not _spec_changed(old, new.pod) and not qpi.gating_plugin:
                return
            del self._unschedulable[key]
            if not self._gate(qpi):
                self._to_active_or_backoff(qpi, self.clock())
            return
        self.add(new)

    def delete(self, key: str) -> None:
        self._remove(key)

    def _remove(self, key: str) -> None:
        self._active.pop(key, None)
        self._backoff.pop(key, None)
        self._unschedulable.pop(key, None)

    # -- the scheduler's side ---------------------------------------------------------

    def pop_nowait(self) -> QueuedPodInfo | None:
        while self._active_heap:
            _, _, seq, key = heapq.heappop(self._active_heap)
            qpi = self._active.get(key)
            if qpi is None or qpi.seq != seq:
                continue  # stale entry
            del self._active[key]
            qpi.attempts += 1
            if qpi.initial_attempt_timestamp is None:
                qpi.initial_attempt_timestamp = self.clock()
            self._in_flight[key] = qpi
            return qpi
        self._ready.clear()
        return None

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule; waits while activeQ is empty."""
        while True:
            qpi = self.pop_nowait()
            if qpi is not None:
                return qpi
            await self._ready.wait()

    def done(self, key: str) -> None:
        """The pod's cycle (and binding) is over."""
        self._in_flight.pop(key, None)

    def in_flight(self, key: str) -> QueuedPodInfo | None:
        return self._in_flight.get(key)

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo) -> None:
        """Requeue a pod whose attempt failed: unschedulable if plugins rejected it, else backoffQ."""
        self._in_flight.pop(qpi.key, None)
        if qpi.key in self._active or qpi.key in self._backoff or qpi.key in self._unschedulable:
            return
        qpi.timestamp = self.clock()
        if qpi.unschedulable_plugins:
            self._unschedulable[qpi.key] = qpi
        else:
            self._to_backoff(qpi)

    # -- moves ------------------------------------------------------------------------

    def _worth_requeuing(self, qpi: QueuedPodInfo, event: ClusterEvent, old: Any, new: Any) -> bool:
        if event is UNSCHEDULABLE_TIMEOUT or not qpi.unschedulable_plugins:
            return True
        for plugin in qpi.unschedulable_plugins:
            for registered in self.events.get(plugin, ()):
                if registered.event.matches(event) and (registered.hint is None or
                                                        registered.hint(qpi.pod, old, new)):
                    return True
        return False

    def move_all_to_active_or_backoff(self, event: ClusterEvent, old: Any = None, new: Any = None) -> int:
        """Requeue the unschedulable pods this event may help; returns how many moved."""
        if not self._unschedulable:
            return 0
        now = self.clock()
        moved = 0
        for key, qpi in list(self._unschedulable.items()):
            if qpi.gating_plugin or not self._worth_requeuing(qpi, event, old, new):
                continue
            del self._unschedulable[key]
            self._to_active_or_backoff(qpi, now)
            moved += 1
        self.moves += moved
        return moved

    def flush_backoff_completed(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        moved = 0
        while self._backoff_heap and self._backoff_heap[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff_heap)
            qpi = self._backoff.get(key)
            if qpi is None or qpi.seq != seq:
                continue
            del self._backoff[key]
            self._to_active(qpi)
            moved += 1
        return moved

    def flush_unschedulable_leftover(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        moved = 0
        for key, qpi in list(self._unschedulable.items()):
            if not qpi.gating_plugin and now - qpi.timestamp > self.max_unschedulable:
                del self._unschedulable[key]
                self._to_active_or_backoff(qpi, now)
                moved += 1
        return moved

    async def run(self) -> None:
        """Flush backoffQ every second and old unschedulable pods every 30 s, for ever."""
        ticks = 0
        per_leftover = int(UNSCHEDULABLE_FLUSH_PERIOD / BACKOFF_FLUSH_PERIOD)
        while True:
            await asyncio.sleep(BACKOFF_FLUSH_PERIOD)
            ticks += 1
            self.flush_backoff_completed()
            if ticks % per_leftover == 0:
                self.flush_unschedulable_leftover()

    # -- introspection -----------------------------------------------------------------

    def where(self, key: str) -> str:
        """``active``, ``backoff``, ``unschedulable``, ``in-flight`` or ``""`` (tests, debugging)."""
        for name, where in (("active", self._active), ("backoff", self._backoff),
                            ("unschedulable", self._unschedulable), ("in-flight", self._in_flight)):
            if key in where:
                return name
        return ""

    def has_active(self) -> bool:
        return bool(self._active)

    def counts(self) -> dict[str, int]:
        return {"active": len(self._active), "backoff": len(self._backoff),
                "unschedulable": len(self._unschedulable), "in_flight": len(self._in_flight)}

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self._unschedulable)
