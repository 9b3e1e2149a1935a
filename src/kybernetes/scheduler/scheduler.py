"""The scheduler component: informers in, decisions out through ``pods/binding``.

Wiring (everything through the API, as any other client):

* a pod informer (non-terminal pods, all namespaces): assigned pods feed the
  :class:`~kybernetes.scheduler.cache.Cache`; pending pods whose
  ``spec.schedulerName`` is ours feed the
  :class:`~kybernetes.scheduler.queue.SchedulingQueue` (others are ignored);
  a node informer feeds the cache; a namespace informer (metadata only) gives
  inter-pod affinity its namespace labels.  Each change that can help waiting
  pods is also a cluster event for the queue.
* :meth:`Scheduler.schedule_one` - the *scheduling cycle* - runs without
  awaiting: skip pods already bound, being deleted or assumed; run the
  algorithm; on success assume the pod in the cache and start the *binding
  cycle* as a task (so the next pod is decided while this one is written);
  at most ``bind_concurrency`` bindings are in flight.
* Binding success: a ``Scheduled`` Normal Event "Successfully assigned ns/pod
  to node" (Events wait while pods wait for decisions: bindings first).  Failure of either cycle (:meth:`handle_failure`): requeue
  (unschedulable pods wait for cluster events, errors back off), a
  ``FailedScheduling`` Warning Event with the FitError message and the
  ``PodScheduled=False`` condition (reason ``Unschedulable`` or
  ``SchedulerError``) written through the status subresource when it changed.

:func:`run_scheduler` is the entry point ``kyb scheduler`` and ``kyb server``
use.  The clock and the random source are injectable (tests, the bench).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from kybernetes.client.informer import Informer
from kybernetes.client.rest import APIError, Client
from kybernetes.scheduler.algorithm import Algorithm
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.events import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    NODE_DELETE,
    node_update_event,
    pod_update_event,
)
from kybernetes.scheduler.eventsink import EventSink
from kybernetes.scheduler.framework import CycleState, Handle
from kybernetes.scheduler.plugins import REGISTRY, Factory, Profile, build_framework
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.queue import QueuedPodInfo, SchedulingQueue
from kybernetes.scheduler.status import FitError, Status, as_status, truncate_message

log = logging.getLogger("kybernetes.scheduler")
Obj = dict[str, Any]
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass
class SchedulerConfig:
    name: str = "default-scheduler"
    profile: Profile = field(default_factory=Profile)
    seed: int | None = None
    bind_concurrency: int = 64
    initial_backoff: float = 1.0
    max_backoff: float = 10.0
    max_unschedulable: float = 300.0
    assumed_ttl: float = 30.0
    event_workers: int = 4
    registry: Mapping[str, Factory] = field(default_factory=lambda: dict(REGISTRY))  # out-of-tree plugins go here


def _slim(pod: Obj) -> Obj:
    """Drop managedFields before caching (the informer keeps every pod in memory)."""
    meta = pod.get("metadata")
    if meta and "managedFields" in meta:
        pod = dict(pod, metadata={k: v for k, v in meta.items() if k != "managedFields"})
    return pod


def _ref(pod: PodInfo) -> Obj:
    meta = pod.pod.get("metadata") or {}
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {
        "name": pod.name, "namespace": pod.namespace, "uid": meta.get("uid", ""),
        "resourceVersion": meta.get("resourceVersion", "")}}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Scheduler:
    def __init__(self, client: Client, config: SchedulerConfig | None = None,
                 clock: Callable[[], float] = time.monotonic, events_client: Client | None = None):
        self.client = client
        self.config = config = config or SchedulerConfig()
        self.name = config.name
        self.cache = Cache(config.assumed_ttl, clock)
        self.namespaces: dict[str, dict[str, str]] = {}
        self.handle = Handle(self.cache, lambda: self.namespaces, client)
        self.framework = build_framework(self.handle, config.profile, config.registry)
        self.queue = SchedulingQueue(self.framework.events, self.framework.run_pre_enqueue, clock,
                                     config.initial_backoff, config.max_backoff, config.max_unschedulable)
        self.algorithm = Algorithm(self.framework, config.profile.percentage_of_nodes_to_score,
                                   random.Random(config.seed))
        self.recorder = EventSink(events_client or client, config.name, workers=config.event_workers,
                                  hold=self.queue.has_active)
        self.pods = Informer(client, "", "v1", "pods", transform=_slim,
                             field_selector="status.phase!=Succeeded,status.phase!=Failed")
        self.nodes = Informer(client, "", "v1", "nodes")
        self.namespace_informer = Informer(client, "", "v1", "namespaces", metadata_only=True)
        self.pods.add_event_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.nodes.add_event_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        self.namespace_informer.add_event_handler(self._on_namespace, lambda o, n: self._on_namespace(n),
                                                  self._on_namespace_delete)
        self._bind_slots = asyncio.Semaphore(config.bind_concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.synced = asyncio.Event()
        self.scheduled = 0  # pods bound (metrics, bench)
        self.attempts = 0
        self.failures = 0

    # -- informer handlers: quick, no I/O ---------------------------------------------

    def _responsible(self, pod: PodInfo) -> bool:
        return pod.scheduler_name == self.name and not pod.terminating

    def _on_pod_add(self, obj: Obj) -> None:
        pod = PodInfo.from_pod(obj)
        if pod.node_name:
            self.cache.add_pod(pod)
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_ADD, None, pod)
        elif self._responsible(pod):
            self.queue.add(pod)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        pod = PodInfo.from_pod(new)
        if (new.get("status") or {}).get("phase") in TERMINAL_PHASES:
            self._on_pod_delete(new)
            return
        if pod.node_name:
            before = self.cache.get_pod(pod.uid)
            just_bound = not (old.get("spec") or {}).get("nodeName")
            if just_bound:
                self.queue.delete(pod.key)  # bound (by us, or by someone else): no longer pending
            self.cache.add_pod(pod)  # confirms our assumption, if it was one
            event = ASSIGNED_POD_ADD if before is None or just_bound else pod_update_event(before, pod)
            if event is not None:
                self.queue.move_all_to_active_or_backoff(event, before, pod)
        elif self._responsible(pod):
            self.queue.update(old, pod)
        else:
            self.queue.delete(pod.key)

    def _on_pod_delete(self, obj: Obj) -> None:
        pod = PodInfo.from_pod(obj)
        self.queue.delete(pod.key)
        removed = self.cache.remove_pod(pod.uid)
        if removed is not None:
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, removed, None)

    def _on_node_add(self, obj: Obj) -> None:
        self.cache.add_node(obj)
        self.queue.move_all_to_active_or_backoff(NODE_ADD, None, obj)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(new)
        event = node_update_event(old, new)
        if event is not None:
            self.queue.move_all_to_active_or_backoff(event, old, new)

    def _on_node_delete(self, obj: Obj) -> None:
        self.cache.remove_node(str((obj.get("metadata") or {}).get("name") or ""))
        self.queue.move_all_to_active_or_backoff(NODE_DELETE, obj, None)

    def _on_namespace(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        self.namespaces[str(meta.get("name") or "")] = dict(meta.get("labels") or {})

    def _on_namespace_delete(self, obj: Obj) -> None:
        self.namespaces.pop(str((obj.get("metadata") or {}).get("name") or ""), None)

    # -- the scheduling cycle -----------------------------------------------------------

    def _skip(self, qpi: QueuedPodInfo) -> bool:
        """Skip pods deleted, bound, being deleted or already assumed since they were queued."""
        current = self._still_pending(qpi)
        if current is None:
            return True
        return bool((current.get("metadata") or {}).get("deletionTimestamp")) or self.cache.is_assumed(qpi.pod.uid)

    def schedule_one(self, qpi: QueuedPodInfo) -> asyncio.Task[None] | None:
        """Decide for one pod; returns the binding task when a node was chosen."""
        pod = qpi.pod
        if self._skip(qpi):
            self.queue.done(qpi.key)
            return None
        self.attempts += 1
        state = CycleState()
        result = self.algorithm.schedule_pod(state, pod, self.cache.node_infos())
        if not result.node:
            self.handle_failure(qpi, result.status, result.fit_error)
            return None
        assumed = pod.with_node(result.node)
        self.cache.assume_pod(assumed)
        return self._spawn(self._bind(state, qpi, assumed))

    async def _bind(self, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo) -> None:
        try:
            status = await self.framework.run_bind(state, assumed, assumed.node_name)
        except Exception as e:  # a bind plugin's bug: the assumption must still be undone
            log.exception("binding %s failed", assumed.key)
            status = as_status(e)
        finally:
            self._bind_slots.release()
        if status.is_success():
            self.cache.finish_binding(assumed.uid)
            self.queue.done(qpi.key)
            self.scheduled += 1
            self.recorder.event(_ref(assumed), "Normal", "Scheduled",
                                f"Successfully assigned {assumed.namespace}/{assumed.name} to {assumed.node_name}")
            return
        self.cache.forget_pod(assumed.uid)
        self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, assumed, None)
        error = status.error
        if isinstance(error, APIError) and error.code in (404, 409):
            # Gone, being deleted, or bound by someone else: nothing to report; back off, and the
            # informer's update (bound / deleted) takes the pod out of the queue.
            log.info("binding %s to %s: %s", assumed.key, assumed.node_name, status.message())
            qpi.unschedulable_plugins = set()
            if self._still_pending(qpi) is None:
                self.queue.done(qpi.key)
            else:
                self.queue.add_unschedulable_if_not_present(qpi)
            return
        self.handle_failure(qpi, status, None)

    def _still_pending(self, qpi: QueuedPodInfo) -> Obj | None:
        """The informer's current copy of the pod, unless it was deleted, replaced or bound meanwhile."""
        current = self.pods.get(qpi.key)
        if current is None or (current.get("metadata") or {}).get("uid") != qpi.pod.uid:
            return None
        return None if (current.get("spec") or {}).get("nodeName") else current

    def handle_failure(self, qpi: QueuedPodInfo, status: Status, fit_error: FitError | None) -> None:
        """Requeue the pod and tell the user why (Event + PodScheduled condition)."""
        self.failures += 1
        reason = "Unschedulable" if status.is_rejected() else "SchedulerError"
        qpi.unschedulable_plugins = set(fit_error.diagnosis.unschedulable_plugins) if fit_error else set()
        current = self._still_pending(qpi)
        if current is None:
            self.queue.done(qpi.key)  # deleted or bound meanwhile: nothing to retry or report
            return
        if current is not qpi.pod.pod:
            qpi.pod = PodInfo.from_pod(current)
        self.queue.add_unschedulable_if_not_present(qpi)
        message = status.message()
        if reason == "Unschedulable":
            log.debug("pod %s unschedulable: %s", qpi.key, message)
        else:
            log.warning("error scheduling pod %s: %s", qpi.key, message)
        self.recorder.event(_ref(qpi.pod), "Warning", "FailedScheduling", truncate_message(message))
        self._spawn(self._update_condition(current, reason, message))

    async def _update_condition(self, pod: Obj, reason: str, message: str) -> None:
        conditions = (pod.get("status") or {}).get("conditions") or []
        old = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        if old is not None and old.get("status") == "False" and old.get("reason") == reason \
                and old.get("message") == message:
            return  # unchanged: no write, as upstream
        changed = old is None or old.get("status") != "False"
        condition = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                     "lastProbeTime": None,
                     "lastTransitionTime": _now() if changed else old.get("lastTransitionTime") if old else _now()}
        meta = pod.get("metadata") or {}
        path = f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta.get('name')}/status"
        patch = {"metadata": {"uid": meta.get("uid")}, "status": {"conditions": [condition]}}
        try:
            await self.client.patch(path, patch, STRATEGIC_MERGE_PATCH)
        except (APIError, OSError, TimeoutError) as e:
            log.debug("updating PodScheduled of %s/%s: %s", meta.get("namespace"), meta.get("name"), e)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Sync the informers, then schedule until cancelled."""
        informers = (self.namespace_informer, self.nodes, self.pods)
        for informer in informers:
            informer.start()
        try:
            for informer in informers:
                await informer.wait_synced()
            self.synced.set()
            log.info("scheduler %r synced: %d nodes, %d pods in the cache, %d pending",
                     self.name, self.cache.node_count(), self.cache.pod_count(), len(self.queue))
            self._spawn(self.queue.run())
            self._spawn(self._cleanup_loop())
            while True:
                qpi = await self.queue.pop()
                await self._bind_slots.acquire()
                try:
                    task = self.schedule_one(qpi)
                except Exception as e:  # a bug in a plugin must not stop the scheduler
                    log.exception("scheduling %s failed", qpi.key)
                    task = None
                    self.handle_failure(qpi, as_status(e), None)
                if task is None:
                    self._bind_slots.release()
                await asyncio.sleep(0)  # let bindings and watch events through between decisions
        finally:
            await self.stop()

    async def _cleanup_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for pod in self.cache.cleanup_expired():
                self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, pod, None)

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for informer in (self.pods, self.nodes, self.namespace_informer):
            await informer.stop()
        await self.recorder.close()


async def run_scheduler(url: str, *, name: str = "default-scheduler", config: SchedulerConfig | None = None,
                        ready: asyncio.Event | None = None) -> None:
    """Run a scheduler against the API server at ``url`` until cancelled (``kyb scheduler``, ``kyb server``).

    ``name`` is the ``spec.schedulerName`` served (it overrides ``config.name``); ``ready`` is set once the
    caches are synced and decisions start.
    """
    config = replace(config, name=name) if config is not None else SchedulerConfig(name=name)
    client, events_client = Client(url), Client(url)
    scheduler = Scheduler(client, config, events_client=events_client)
    waiter = asyncio.create_task(_signal_ready(scheduler, ready)) if ready is not None else None
    try:
        await scheduler.run()
    finally:
        if waiter is not None:
            waiter.cancel()
        await client.close()
        await events_client.close()


async def _signal_ready(scheduler: Scheduler, ready: asyncio.Event) -> None:
    await scheduler.synced.wait()
    ready.set()
