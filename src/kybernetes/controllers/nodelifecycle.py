"""Node lifecycle controller: node health from Leases and status, the taints that follow, and
taint-based eviction.

Behaviour is upstream's (``pkg/controller/nodelifecycle``, ``pkg/controller/tainteviction``); the shape
is ours.  Everything time-dependent takes the injected ``clock``; the decisions are pure functions.

* **Health** (:func:`observe`).  Each monitor pass (every ``monitor_period``, and soon after any Node
  event) notes, per node, the *local* time it last saw the kubelet alive (``probe``): when the Ready
  condition's ``lastHeartbeatTime`` changed, or the node's Lease in ``kube-node-lease`` was renewed
  (``renewTime`` moved forward).  A node first seen counts as alive now (a node that never posted a Ready
  condition: since its creation, with ``startup_grace_period``).
* **Unknown** (:func:`unknown_conditions`).  When ``now > probe + grace_period`` (40 s), Ready,
  MemoryPressure, DiskPressure and PIDPressure become ``Unknown`` (reason ``NodeStatusUnknown``, message
  ``Kubelet stopped posting node status.``; ``NodeStatusNeverUpdated`` for a condition never posted) in one
  ``nodes/<name>/status`` update.  When that turns Ready from True, a ``NodeNotReady`` Event is recorded
  and the node's pods get Ready=False (``MarkPodsNotReady``, a ``NodeNotReady`` warning each), retried
  on later passes until done.
* **Taints** (:func:`desired_taints`, :func:`plan_taints`).  NoSchedule taints follow the conditions
  (``not-ready`` for Ready False, ``unreachable`` for Unknown, ``memory-``/``disk-``/``pid-pressure``,
  ``network-unavailable``) and ``spec.unschedulable`` (``unschedulable``).  The NoExecute taint is
  ``not-ready`` or ``unreachable`` from Ready, swapped at once when one replaces the other but *added* at
  the zone's rate (a token bucket, ``eviction_qps`` 0.1/s) as upstream: zones (region + zone labels) are
  Normal, PartialDisruption (more than 2 and at least 55 % not ready: ``secondary_eviction_qps`` when the
  zone is large, none when small) or FullDisruption; when every zone is fully disrupted the control plane,
  not the nodes, is suspect and all NoExecute taints are removed.  Healthy nodes lose them.  Taints the
  controller adds carry ``timeAdded``; other taints are left alone.
* **Eviction** (:func:`eviction_time`, its own work queue).  A pod on a node with NoExecute taints is
  deleted at once when some taint is not tolerated, else ``tolerationSeconds`` after the taint appeared
  (first seen here, or its ``timeAdded`` after a restart), never when every matching toleration is
  unbounded.  ``eviction_timeout`` (a kyb extension, default None) caps those seconds for the
  ``not-ready`` / ``unreachable`` taints.  An eviction records ``TaintManagerEviction`` (``Marking for
  deletion Pod ns/name``), adds the ``DisruptionTarget`` condition and deletes with a uid precondition.

Writes are compare-and-swap (PUT with the cached resourceVersion); a conflict waits for the next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kybernetes.api.meta import format_time, parse_time
from kybernetes.api.meta import now as utcnow
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.informer import Informer, object_key
from kybernetes.client.rest import APIError, Client
from kybernetes.client.workqueue import WorkQueue, run_workers

log = logging.getLogger("kybernetes.controllers.nodelifecycle")

Obj = dict[str, Any]
Clock = Callable[[], datetime]

NODE_LEASE_NAMESPACE = "kube-node-lease"
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"
HEALTH_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
CONDITION_TAINTS = {("Ready", "False"): NOT_READY, ("Ready", "Unknown"): UNREACHABLE,
                    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
                    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
                    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
                    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable"}
MANAGED = {(k, NO_SCHEDULE) for k in [*CONDITION_TAINTS.values(), UNSCHEDULABLE]} | \
    {(NOT_READY, NO_EXECUTE), (UNREACHABLE, NO_EXECUTE)}
NORMAL_ZONE, PARTIAL, FULL = "Normal", "PartialDisruption", "FullDisruption"
TIME_ADDED_PRECISION = timedelta(seconds=1)  # timeAdded has second precision


# -- health (pure) ---------------------------------------------------------------------

@dataclass
class NodeHealth:
    probe: datetime  # local time the kubelet was last seen alive
    has_ready: bool
    heartbeat: str | None  # the Ready condition's lastHeartbeatTime, as last seen
    renew: datetime | None  # the Lease's renewTime, as last seen
    mark_pods: bool = False  # MarkPodsNotReady still to do


def condition(node: Obj, type_: str) -> Obj | None:
    return next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == type_), None)


def ready_status(node: Obj) -> str | None:
    cond = condition(node, "Ready")
    return cond.get("status") if cond else None


def observe(prev: NodeHealth | None, node: Obj, lease: Obj | None, now: datetime) -> NodeHealth:
    """The node's health record after looking at it (and its Lease) at ``now``."""
    cond = condition(node, "Ready")
    heartbeat = cond.get("lastHeartbeatTime") if cond else None
    if prev is None:
        created = parse_time((node.get("metadata") or {}).get("creationTimestamp", "")) or now
        health = NodeHealth(created if cond is None else now, cond is not None, heartbeat, None)
    elif prev.has_ready != (cond is not None) or (cond is not None and prev.heartbeat != heartbeat):
        health = NodeHealth(now, cond is not None, heartbeat, prev.renew, prev.mark_pods)
    else:
        health = NodeHealth(prev.probe, prev.has_ready, prev.heartbeat, prev.renew, prev.mark_pods)
    renew = parse_time(((lease or {}).get("spec") or {}).get("renewTime") or "")
    if renew is not None and (health.renew is None or renew > health.renew):
        health.renew, health.probe = renew, now
    return health


def is_stale(health: NodeHealth, now: datetime, grace: float, startup_grace: float) -> bool:
    return now > health.probe + timedelta(seconds=grace if health.has_ready else startup_grace)


def unknown_conditions(node: Obj, now: datetime) -> list[Obj] | None:
    """The node's conditions with the kubelet's four set to Unknown; None when they already are."""
    conditions = copy.deepcopy((node.get("status") or {}).get("conditions") or [])
    ts, changed = format_time(now), False
    for type_ in HEALTH_CONDITIONS:
        cond = next((c for c in conditions if c.get("type") == type_), None)
        if cond is None:
            conditions.append({"type": type_, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.",
                               "lastHeartbeatTime": (node.get("metadata") or {}).get("creationTimestamp"),
                               "lastTransitionTime": ts})
            changed = True
        elif cond.get("status") != "Unknown":
            cond.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                        lastTransitionTime=ts)
            changed = True
    return conditions if changed else None


# -- zones and taints (pure) --------------------------------------------------------------

def zone_key(node: Obj) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def zone_state(ready: Iterable[str | None], unhealthy_threshold: float = 0.55) -> str:
    statuses = list(ready)
    not_ready = sum(1 for s in statuses if s != "True")
    if not_ready and not_ready == len(statuses):
        return FULL
    if not_ready > 2 and not_ready / len(statuses) >= unhealthy_threshold:
        return PARTIAL
    return NORMAL_ZONE


def zone_qps(state: str, size: int, qps: float, secondary_qps: float, large_cluster: int = 50) -> float:
    if state == PARTIAL:
        return secondary_qps if size > large_cluster else 0.0
    return qps


def no_execute_taints(node: Obj | None) -> list[Obj]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == NO_EXECUTE]


def no_execute_key(node: Obj) -> str | None:
    return {"False": NOT_READY, "Unknown": UNREACHABLE}.get(ready_status(node) or "")


def desired_taints(node: Obj, no_execute: str | None) -> set[tuple[str, str]]:
    """The controller's taints the node should carry, given the NoExecute key decided for it."""
    out = {(key, NO_SCHEDULE) for c in (node.get("status") or {}).get("conditions") or []
           if (key := CONDITION_TAINTS.get((c.get("type", ""), c.get("status", "")))) is not None}
    if (node.get("spec") or {}).get("unschedulable"):
        out.add((UNSCHEDULABLE, NO_SCHEDULE))
    if no_execute is not None:
        out.add((no_execute, NO_EXECUTE))
    return out


def plan_taints(node: Obj, desired: set[tuple[str, str]], now: datetime) -> list[Obj] | None:
    """The node's new ``spec.taints`` (foreign taints kept, ours added with timeAdded), or None if unchanged."""
    current = list((node.get("spec") or {}).get("taints") or [])
    kept = [t for t in current if (t.get("key"), t.get("effect")) not in MANAGED
            or (t.get("key"), t.get("effect")) in desired]
    have = {(t.get("key"), t.get("effect")) for t in kept}
    added = [{"key": k, "effect": e, "timeAdded": format_time(now)} for k, e in sorted(desired - have)]
    return None if not added and len(kept) == len(current) else kept + added


@dataclass
class TokenBucket:
    """A zone's tainting rate: ``qps`` tokens a second, ``burst`` at most (upstream's flowcontrol limiter)."""

    qps: float
    last: datetime
    burst: float = 1.0
    tokens: float = 1.0

    def try_take(self, now: datetime) -> bool:
        self.tokens = min(self.burst, self.tokens + max(0.0, (now - self.last).total_seconds()) * self.qps)
        self.last = now
        if self.qps <= 0 or self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class EvictionRates:
    """How fast NoExecute taints may be added per zone (upstream's flags of the same meaning)."""

    qps: float = 0.1
    secondary_qps: float = 0.01
    large_cluster_size: int = 50
    unhealthy_zone_threshold: float = 0.55


def taint_plans(nodes: list[Obj], buckets: dict[str, TokenBucket], rates: EvictionRates,
                now: datetime) -> tuple[dict[str, str], list[tuple[Obj, list[Obj]]]]:
    """Zone states, and the nodes whose taints must change with their new taints.

    Pure but for ``buckets``: each zone's token bucket is created, re-rated and drawn from.
    """
    zones: dict[str, list[Obj]] = {}
    for node in nodes:
        zones.setdefault(zone_key(node), []).append(node)
    states = {z: zone_state((ready_status(n) for n in ns), rates.unhealthy_zone_threshold) for z, ns in zones.items()}
    master_disruption = bool(zones) and all(s == FULL for s in states.values())
    plans: list[tuple[Obj, list[Obj]]] = []
    for zone, members in zones.items():
        bucket = buckets.setdefault(zone, TokenBucket(rates.qps, now))
        bucket.qps = zone_qps(states[zone], len(members), rates.qps, rates.secondary_qps, rates.large_cluster_size)
        for node in sorted(members, key=lambda n: n["metadata"]["name"]):
            want = None if master_disruption else no_execute_key(node)
            have = next((t["key"] for t in no_execute_taints(node) if t.get("key") in (NOT_READY, UNREACHABLE)), None)
            if want is not None and have is None and not bucket.try_take(now):
                want = None  # wait for the zone's rate limiter
            taints = plan_taints(node, desired_taints(node, want), now)
            if taints is not None:
                plans.append((node, taints))
    return states, plans


# -- eviction (pure) ---------------------------------------------------------------------------

def tolerates(tol: Obj, taint: Obj) -> bool:
    """Upstream's ``Toleration.ToleratesTaint``."""
    if tol.get("effect") and tol.get("effect") != taint.get("effect"):
        return False
    if tol.get("key") and tol.get("key") != taint.get("key"):
        return False
    if tol.get("operator") == "Exists":
        return True
    return (tol.get("operator") or "Equal") == "Equal" and (tol.get("value") or "") == (taint.get("value") or "")


def eviction_time(tolerations: list[Obj], taints: list[Obj], started: Callable[[Obj], datetime], now: datetime,
                  cap: float | None = None) -> datetime | None:
    """When a pod on a node with these NoExecute ``taints`` must go: None = never; ``now`` = at once."""
    deadline: datetime | None = None
    for taint in taints:
        tol = next((t for t in tolerations if tolerates(t, taint)), None)
        if tol is None:
            return now
        seconds = tol.get("tolerationSeconds")
        if seconds is None:
            continue
        limit = float(max(0, int(seconds)))
        if cap is not None and taint.get("key") in (NOT_READY, UNREACHABLE):
            limit = min(limit, cap)
        when = started(taint) + timedelta(seconds=limit)
        deadline = when if deadline is None else min(deadline, when)
    return deadline


def _slim_pod(pod: Obj) -> Obj:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "deletionTimestamp")
                         if k in meta},
            "spec": {"nodeName": spec.get("nodeName", ""), "tolerations": spec.get("tolerations") or []},
            "status": {"phase": status.get("phase"), "conditions": status.get("conditions") or []}}


# -- the controller ---------------------------------------------------------------------------

class NodeLifecycleController:
    def __init__(self, client: Client, *, grace_period: float = 40.0, startup_grace_period: float = 60.0,
                 monitor_period: float = 5.0, eviction_qps: float = 0.1, secondary_eviction_qps: float = 0.01,
                 large_cluster_size: int = 50, unhealthy_zone_threshold: float = 0.55,
                 eviction_timeout: float | None = None, clock: Clock = utcnow, node_selector: str | None = None,
                 workers: int = 4):
        self.client = client
        self.grace_period, self.startup_grace_period, self.monitor_period = grace_period, startup_grace_period, \
            monitor_period
        self.rates = EvictionRates(eviction_qps, secondary_eviction_qps, large_cluster_size, unhealthy_zone_threshold)
        self.eviction_timeout, self.clock, self.workers = eviction_timeout, clock, workers
        self.nodes = Informer(client, "", "v1", "nodes", label_selector=node_selector,  # kind: for Event refs
                              transform=lambda n: {**n, "apiVersion": "v1", "kind": "Node"})
        self.leases = Informer(client, "coordination.k8s.io", "v1", "leases", namespace=NODE_LEASE_NAMESPACE)
        self.pods = Informer(client, "", "v1", "pods", transform=_slim_pod)
        self.pods.add_index("node", lambda p: [n] if (n := p["spec"]["nodeName"]) else [])
        self.health: dict[str, NodeHealth] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.zone_states: dict[str, str] = {}
        self.taint_seen: dict[tuple[str, str], datetime] = {}  # (node, NoExecute key) -> first seen here
        self.queue: WorkQueue[str] = WorkQueue()
        self.recorder = EventRecorder(client, "node-controller")
        self.eviction_recorder = EventRecorder(client, "taint-eviction-controller")
        self._wake = asyncio.Event()
        self.passes = 0

    # -- handlers (no I/O) ---------------------------------------------------------------

    def _node_changed(self, old: Obj | None, node: Obj) -> None:
        self._wake.set()
        name, now = node["metadata"]["name"], self.clock()
        keys = {t.get("key", "") for t in no_execute_taints(node)}
        for key in keys:
            self.taint_seen.setdefault((name, key), now)
        for key in {t.get("key", "") for t in no_execute_taints(old)} - keys:
            self.taint_seen.pop((name, key), None)
        if old is None or no_execute_taints(old) != no_execute_taints(node):
            for key in self.pods.index_keys("node", name):
                self.queue.add(key)

    def _node_deleted(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        self.health.pop(name, None)
        for k in [k for k in self.taint_seen if k[0] == name]:
            del self.taint_seen[k]
        self.recorder.event(node, NORMAL, "RemovingNode", f"Node {name} event: Removing Node {name} from Controller")

    def _pod_changed(self, pod: Obj) -> None:
        if no_execute_taints(self.nodes.get(pod["spec"]["nodeName"])):
            self.queue.add(object_key(pod))

    # -- monitor pass ----------------------------------------------------------------------

    async def monitor(self) -> None:
        """One pass over every node: health, Unknown conditions, MarkPodsNotReady, taints."""
        now = self.clock()
        self.passes += 1
        current: dict[str, Obj] = {}
        for node in self.nodes.objects():
            name = node["metadata"]["name"]
            prev = self.health.get(name)
            if prev is None:
                self.recorder.event(node, NORMAL, "RegisteredNode",
                                    f"Node {name} event: Registered Node {name} in Controller")
            health = self.health[name] = observe(prev, node, self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}"), now)
            before = ready_status(node)
            if is_stale(health, now, self.grace_period, self.startup_grace_period):
                conditions = unknown_conditions(node, now)
                if conditions is not None:
                    node = await self._update_status(node, conditions)
            after = ready_status(node)
            if before == "True" and after != "True":
                self.recorder.event(node, NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
                health.mark_pods = True
            if health.mark_pods:
                health.mark_pods = after != "True" and not await self._mark_pods_not_ready(name, now)
            current[name] = node
        self.zone_states, plans = taint_plans(list(current.values()), self.buckets, self.rates, now)
        for node, taints in plans:
            await self._update_taints(node, taints)

    # -- writes ----------------------------------------------------------------------------

    async def _update_status(self, node: Obj, conditions: list[Obj]) -> Obj:
        body = copy.deepcopy(node)
        body.setdefault("status", {})["conditions"] = conditions
        name = node["metadata"]["name"]
        try:
            out: Obj = await self.client.update(f"/api/v1/nodes/{name}/status", body)
            log.info("node %s: kubelet stopped posting node status; conditions set to Unknown", name)
            return out
        except (APIError, OSError, TimeoutError) as e:
            log.info("node %s: status not updated (%s); next pass", name, e)
            return node

    async def _update_taints(self, node: Obj, taints: list[Obj]) -> None:
        body = copy.deepcopy(node)
        body["spec"] = {**(body.get("spec") or {}), "taints": taints} if taints else \
            {k: v for k, v in (body.get("spec") or {}).items() if k != "taints"}
        try:
            await self.client.update(f"/api/v1/nodes/{node['metadata']['name']}", body)
        except (APIError, OSError, TimeoutError) as e:
            log.info("node %s: taints not updated (%s); next pass", node["metadata"]["name"], e)

    async def _mark_pods_not_ready(self, node_name: str, now: datetime) -> bool:
        done = True
        for pod in self.pods.by_index("node", node_name):
            cond = next((c for c in pod["status"]["conditions"] if c.get("type") == "Ready"), None)
            if cond is None or cond.get("status") == "False":
                continue
            meta = pod["metadata"]
            try:
                await self.client.patch(
                    f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                    {"status": {"conditions": [{"type": "Ready", "status": "False",
                                                "lastTransitionTime": format_time(now)}]}},
                    "application/strategic-merge-patch+json")
            except APIError as e:
                if e.code != 404:
                    done = False
                continue
            except (OSError, TimeoutError):
                done = False
                continue
            self.recorder.event(pod, WARNING, "NodeNotReady", "Node is not ready")
        return done

    # -- eviction ----------------------------------------------------------------------------

    def taint_started(self, node_name: str) -> Callable[[Obj], datetime]:
        def started(taint: Obj) -> datetime:
            seen = self.taint_seen.get((node_name, taint.get("key", "")))
            added = parse_time(taint.get("timeAdded") or "")
            candidates = [t for t in (seen, added + TIME_ADDED_PRECISION if added else None) if t is not None]
            return min(candidates) if candidates else self.clock()
        return started

    async def sync_pod(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        node_name = pod["spec"]["nodeName"]
        taints = no_execute_taints(self.nodes.get(node_name))
        if not taints:
            return
        now = self.clock()
        when = eviction_time(pod["spec"]["tolerations"], taints, self.taint_started(node_name), now,
                             self.eviction_timeout)
        if when is None:
            return
        if when > now:
            self.queue.add_after(key, (when - now).total_seconds())
            return
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        self.eviction_recorder.event(pod, NORMAL, "TaintManagerEviction",
                                     f"Marking for deletion Pod {meta['namespace']}/{meta['name']}")
        try:
            await self.client.patch(f"{path}/status", {"status": {"conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": format_time(now)}]}},
                "application/strategic-merge-patch+json")
            await self.client.delete(path, {"preconditions": {"uid": meta.get("uid", "")}})
            log.info("pod %s evicted from node %s", key, node_name)
        except APIError as e:
            if e.code not in (404, 409):
                raise

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        self.nodes.add_event_handler(lambda n: self._node_changed(None, n), self._node_changed, self._node_deleted)
        self.pods.add_event_handler(self._pod_changed, lambda _o, n: self._pod_changed(n))
        tasks = [self.nodes.start(), self.leases.start(), self.pods.start()]
        try:
            for inf in (self.nodes, self.leases, self.pods):
                await inf.wait_synced()
            tasks.append(asyncio.create_task(run_workers(self.queue, self.sync_pod, self.workers)))
            for pod in self.pods.objects():  # listed before the nodes were known
                self._pod_changed(pod)
            loop = asyncio.get_running_loop()
            while True:
                started = loop.time()
                try:
                    await self.monitor()
                except (APIError, OSError, TimeoutError) as e:
                    log.warning("node lifecycle pass failed: %s", e)
                await asyncio.sleep(max(0.0, 0.1 - (loop.time() - started)))  # at most ten passes a second
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.monitor_period)
        finally:
            await self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.recorder.close()
            await self.eviction_recorder.close()


async def run_node_lifecycle_controller(url: str, *, grace_period: float = 40.0,
                                        eviction_timeout: float | None = None, **options: Any) -> None:
    """The node lifecycle controller against the API server at ``url``, until cancelled.

    ``options`` are :class:`NodeLifecycleController` keywords (``monitor_period``, ``startup_grace_period``,
    ``eviction_qps``, ``node_selector``, ``clock``, ...).
    """
    client = Client(url)
    try:
        await NodeLifecycleController(client, grace_period=grace_period, eviction_timeout=eviction_timeout,
                                      **options).run()
    finally:
        await client.close()
