"""Pod garbage collector: force-deletes pods nothing else will ever finish.

Behaviour is upstream's (``pkg/controller/podgc``): every ``period`` (20 s) one pass over the pod and
node informers' caches decides, with the pure :func:`gc_plan`, which pods go:

* **terminated** pods (Succeeded / Failed) beyond ``terminated_threshold`` (12,500): the oldest first,
  evicted ones before others (ties by name);
* **terminating pods on out-of-service nodes**: ``deletionTimestamp`` set, node not Ready and tainted
  ``node.kubernetes.io/out-of-service`` (non-graceful node shutdown);
* **orphaned** pods, bound to a node that does not exist: a missing node is quarantined first
  (``quarantine``, 40 s, since the node informer may just lag), then confirmed absent by a live GET; its
  pods get the ``DisruptionTarget`` condition (``DeletionByPodGC``, ``PodGC: node no longer exists``);
* **unscheduled terminating** pods: ``deletionTimestamp`` set and no node, so no kubelet to finish them.

Each is first moved to phase ``Failed`` (unless already terminal: an orphan would otherwise look Running
for ever) and then deleted with ``gracePeriodSeconds: 0`` and a uid precondition.  The quarantine clock
is the injected ``clock``; nothing else is remembered, so a restart only restarts quarantines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kybernetes.api.meta import format_time
from kybernetes.api.meta import now as utcnow
from kybernetes.client.informer import Informer
from kybernetes.client.rest import APIError, Client
from kybernetes.controllers.nodelifecycle import Clock, ready_status

log = logging.getLogger("kybernetes.controllers.podgc")

Obj = dict[str, Any]

TERMINATED_THRESHOLD = 12500
QUARANTINE = 40.0
GC_PERIOD = 20.0
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
TERMINAL = ("Succeeded", "Failed")
ORPHAN_CONDITION = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists"}


@dataclass
class GCPlan:
    terminated: list[Obj] = field(default_factory=list)
    out_of_service: list[Obj] = field(default_factory=list)
    orphaned: list[Obj] = field(default_factory=list)
    unscheduled_terminating: list[Obj] = field(default_factory=list)


# -- pure decisions (no side effects) ------------------------------------------------------

def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _node_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _deleting(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def terminated_to_delete(pods: Iterable[Obj], threshold: int) -> list[Obj]:
    """Terminated pods over ``threshold``: evicted first, then oldest, then by name."""
    if threshold <= 0:
        return []
    done = [p for p in pods if _phase(p) in TERMINAL]
    excess = len(done) - threshold
    if excess <= 0:
        return []

    def order(p: Obj) -> tuple[bool, str, str]:
        evicted = _phase(p) == "Failed" and (p.get("status") or {}).get("reason") == "Evicted"
        meta = p.get("metadata") or {}
        return (not evicted, meta.get("creationTimestamp") or "", meta.get("name") or "")
    return sorted(done, key=order)[:excess]


def missing_nodes(pods: Iterable[Obj], node_names: set[str]) -> set[str]:
    return {n for p in pods if (n := _node_name(p)) and n not in node_names}


def update_quarantine(since: dict[str, datetime], missing: set[str], now: datetime) -> dict[str, datetime]:
    """When each still-missing node was first found missing (nodes that came back are dropped)."""
    return {n: since.get(n, now) for n in missing}


def quarantine_over(since: dict[str, datetime], now: datetime, quarantine: float) -> set[str]:
    return {n for n, t in since.items() if now - t >= timedelta(seconds=quarantine)}


def gc_plan(pods: list[Obj], nodes: dict[str, Obj], gone: set[str], threshold: int) -> GCPlan:
    """Which pods to force-delete, given the nodes that exist and those confirmed gone."""
    plan = GCPlan(terminated=terminated_to_delete(pods, threshold))
    for pod in pods:
        node_name = _node_name(pod)
        if _deleting(pod) and not node_name:
            plan.unscheduled_terminating.append(pod)
        elif node_name in gone:
            plan.orphaned.append(pod)
        elif _deleting(pod) and (node := nodes.get(node_name)) is not None and ready_status(node) != "True" \
                and any(t.get("key") == OUT_OF_SERVICE for t in (node.get("spec") or {}).get("taints") or []):
            plan.out_of_service.append(pod)
    return plan


def _slim_pod(pod: Obj) -> Obj:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return {"metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                                              "deletionTimestamp") if k in meta},
            "spec": {"nodeName": _node_name(pod)},
            "status": {k: status[k] for k in ("phase", "reason") if k in status}}


def _slim_node(node: Obj) -> Obj:
    meta = node.get("metadata") or {}
    return {"metadata": {"name": meta.get("name", ""), "resourceVersion": meta.get("resourceVersion", "")},
            "spec": {"taints": (node.get("spec") or {}).get("taints") or []},
            "status": {"conditions": [c for c in (node.get("status") or {}).get("conditions") or []
                                      if c.get("type") == "Ready"]}}


# -- the controller --------------------------------------------------------------------------

class PodGC:
    def __init__(self, client: Client, *, terminated_threshold: int = TERMINATED_THRESHOLD,
                 quarantine: float = QUARANTINE, period: float = GC_PERIOD, clock: Clock = utcnow,
                 namespace: str | None = None):
        self.client = client
        self.terminated_threshold = terminated_threshold
        self.quarantine = quarantine
        self.period = period
        self.clock = clock
        self.pods = Informer(client, "", "v1", "pods", namespace=namespace, transform=_slim_pod)
        self.nodes = Informer(client, "", "v1", "nodes", transform=_slim_node)
        self.missing_since: dict[str, datetime] = {}
        self.deleted = 0  # pods force-deleted (tests and metrics)

    async def gc(self) -> None:
        """One pass: decide from the caches, confirm missing nodes with a GET, delete."""
        now = self.clock()
        pods = self.pods.objects()
        nodes = {n["metadata"]["name"]: n for n in self.nodes.objects()}
        self.missing_since = update_quarantine(self.missing_since, missing_nodes(pods, set(nodes)), now)
        gone = set()
        for name in sorted(quarantine_over(self.missing_since, now, self.quarantine)):
            try:
                await self.client.get(f"/api/v1/nodes/{name}")
                self.missing_since.pop(name, None)  # it exists after all: the cache lagged
            except APIError as e:
                if e.code == 404:
                    gone.add(name)
        plan = gc_plan(pods, nodes, gone, self.terminated_threshold)
        if plan.terminated:
            log.info("garbage collecting %d terminated pods", len(plan.terminated))
        await asyncio.gather(*(self._delete(p) for p in plan.terminated + plan.out_of_service
                               + plan.unscheduled_terminating))
        await asyncio.gather(*(self._delete(p, ORPHAN_CONDITION) for p in plan.orphaned))

    async def _delete(self, pod: Obj, condition: Obj | None = None) -> None:
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        try:
            if _phase(pod) not in TERMINAL:
                status: Obj = {"phase": "Failed"}
                if condition is not None:
                    status["conditions"] = [{**condition, "lastTransitionTime": format_time(self.clock())}]
                await self.client.patch(f"{path}/status", {"status": status},
                                        "application/strategic-merge-patch+json")
            await self.client.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": meta.get("uid", "")}})
            self.deleted += 1
            log.info("pod gc: force deleted %s/%s (node %r)", meta["namespace"], meta["name"], _node_name(pod))
        except APIError as e:
            if e.code not in (404, 409):
                log.warning("pod gc: %s/%s not deleted: %s", meta["namespace"], meta["name"], e)
        except (OSError, TimeoutError) as e:
            log.warning("pod gc: %s/%s not deleted: %s", meta["namespace"], meta["name"], e)

    async def run(self) -> None:
        tasks = [self.pods.start(), self.nodes.start()]
        try:
            await self.pods.wait_synced()
            await self.nodes.wait_synced()
            while True:
                try:
                    await self.gc()
                except (APIError, OSError, TimeoutError) as e:
                    log.warning("pod gc pass failed: %s", e)
                await asyncio.sleep(self.period)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def run_pod_gc(url: str, **options: Any) -> None:
    """The pod garbage collector against the API server at ``url``, until cancelled (``options``: :class:`PodGC`)."""
    client = Client(url)
    try:
        await PodGC(client, **options).run()
    finally:
        await client.close()
