"""Node registration, node status and the node Lease heartbeat: the part of a kubelet every agent shares.

Behaviour is upstream's kubelet (``pkg/kubelet/kubelet_node_status.go``, ``pkg/kubelet/nodestatus``,
``pkg/kubelet/nodelease``); the shape is ours:

* **Pure builders** (no side effects).  :func:`node_object` is the Node a kubelet registers: labels
  (``kubernetes.io/hostname``, ``/os``, ``/arch`` and their ``beta.`` twins), addresses, capacity and
  allocatable, ``nodeInfo``, ``daemonEndpoints``, ``podCIDRs``, registration taints and the four kubelet
  conditions.  :func:`node_conditions` derives MemoryPressure, DiskPressure, PIDPressure and Ready from a
  :class:`NodeReport` with upstream's reasons and messages, keeping ``lastTransitionTime`` while a status
  holds.  :func:`status_differs` tells whether the posted status changed, heartbeat times aside.
  :func:`lease_object` / :func:`renewed_lease` are the node's Lease in ``kube-node-lease``: holder the node,
  40 s duration, owned by the Node (deleting the Node deletes it).
* **One heartbeat for many nodes.**  :class:`NodeHeartbeat` keeps any number of nodes alive over one
  :class:`~kybernetes.client.rest.Client` with one timer heap, not a task per node.  Each node renews its
  Lease every ``renew_interval`` (a quarter of the lease duration: 10 s) and checks its status every
  ``status_update_frequency`` (10 s), *posting* it (a strategic merge patch of ``nodes/<name>/status`` with a
  fresh ``lastHeartbeatTime``) only when it changed or ``status_report_frequency`` (5 min) has passed, as the
  kubelet does since node leases.  First deadlines are spread uniformly over the interval and later ones
  jittered by 4 % (``wait.JitterUntil``), so 1,000 nodes make a steady trickle instead of bursts; at most
  ``concurrency`` requests are in flight.
* **Failures stay local.**  A failed renewal is retried with capped backoff (0.2 s doubling to 7 s); a
  conflicting or missing Lease is read again or created.  Nothing raises out of the heartbeat loop.
* **Stopping.**  :meth:`NodeHeartbeat.stop` silences a node (Lease and status: a dead kubelet, so node
  lifecycle can be exercised); :meth:`NodeHeartbeat.resume` renews and reports at once;
  :meth:`NodeHeartbeat.remove` forgets a deleted node.

Invariant: the heartbeat only ever writes a node's Lease and ``status``; the agent that owns it feeds the
latest Node it sees (its informer) to :meth:`NodeHeartbeat.observe`, so status checks need no GET.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import heapq
import itertools
import logging
import platform
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kybernetes import KUBERNETES_VERSION
from kybernetes.api.meta import format_micro_time, format_time
from kybernetes.api.meta import now as utcnow
from kybernetes.client.rest import APIError, Client

log = logging.getLogger("kybernetes.kubelet.node")

Obj = dict[str, Any]
Clock = Callable[[], datetime]

KUBELET_VERSION = f"v{KUBERNETES_VERSION}"
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
STATUS_UPDATE_FREQUENCY = 10.0
STATUS_REPORT_FREQUENCY = 300.0
KUBELET_PORT = 10250
JITTER = 0.04
MAX_RETRY_BACKOFF = 7.0
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
DEFAULT_CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NODE_LEASE_NAMESPACE}/leases"
_BOOT_ID = str(uuid.uuid4())  # one per process: a restarted agent is a rebooted kubelet

# condition type, NodeReport attribute, (reason, message) when fine, (reason, message) under pressure
_PRESSURES = (
    ("MemoryPressure", "memory_pressure", ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
     ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")),
    ("DiskPressure", "disk_pressure", ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
     ("KubeletHasDiskPressure", "kubelet has disk pressure")),
    ("PIDPressure", "pid_pressure", ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
     ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
)
_OWNED_STATUS = ("addresses", "capacity", "allocatable", "daemonEndpoints", "nodeInfo")


@dataclass(frozen=True)
class NodeReport:
    """What the agent knows about its node's health; the conditions are derived from it."""

    ready: bool = True
    not_ready_reason: str = "KubeletNotReady"
    not_ready_message: str = "container runtime is down"
    memory_pressure: bool = False
    disk_pressure: bool = False
    pid_pressure: bool = False


@dataclass
class NodeConfig:
    """One node as its agent registers it."""

    name: str
    internal_ip: str = ""
    capacity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    allocatable: dict[str, str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    pod_cidrs: list[str] = field(default_factory=list)
    node_info: dict[str, str] = field(default_factory=dict)
    os: str = "linux"
    arch: str = "amd64"
    kubelet_port: int = KUBELET_PORT
    unschedulable: bool = False

    def all_labels(self) -> dict[str, str]:
        return {"beta.kubernetes.io/arch": self.arch, "beta.kubernetes.io/os": self.os,
                "kubernetes.io/arch": self.arch, "kubernetes.io/hostname": self.name,
                "kubernetes.io/os": self.os, **self.labels}

    def system_info(self) -> dict[str, str]:
        stable = uuid.uuid5(uuid.NAMESPACE_DNS, self.name)
        return {"machineID": stable.hex, "systemUUID": str(stable), "bootID": _BOOT_ID,
                "kernelVersion": platform.release(), "osImage": platform.system(),
                "containerRuntimeVersion": "", "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "",
                "operatingSystem": self.os, "architecture": self.arch, **self.node_info}


# -- pure builders (no side effects) ---------------------------------------------------

def node_conditions(previous: list[Obj] | None, report: NodeReport, now: datetime) -> list[Obj]:
    """The kubelet's four conditions at ``now``; a condition whose status holds keeps its transition time."""
    prev = {c.get("type"): c for c in previous or []}
    ts = format_time(now)
    out: list[Obj] = []

    def add(type_: str, status: str, reason: str, message: str) -> None:
        old = prev.get(type_) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        out.append({"type": type_, "status": status, "lastHeartbeatTime": ts, "lastTransitionTime": since or ts,
                    "reason": reason, "message": message})

    for type_, attr, fine, bad in _PRESSURES:
        pressure = bool(getattr(report, attr))
        add(type_, "True" if pressure else "False", *(bad if pressure else fine))
    if report.ready:
        add("Ready", "True", "KubeletReady", "kubelet is posting ready status")
    else:
        add("Ready", "False", report.not_ready_reason, report.not_ready_message)
    return out


def node_status(cfg: NodeConfig, previous_conditions: list[Obj] | None, report: NodeReport,
                now: datetime) -> Obj:
    addresses = [{"type": "InternalIP", "address": cfg.internal_ip}] if cfg.internal_ip else []
    addresses.append({"type": "Hostname", "address": cfg.name})
    return {"conditions": node_conditions(previous_conditions, report, now), "addresses": addresses,
            "capacity": dict(cfg.capacity), "allocatable": dict(cfg.allocatable or cfg.capacity),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.kubelet_port}}, "nodeInfo": cfg.system_info()}


def node_object(cfg: NodeConfig, now: datetime, report: NodeReport | None = None) -> Obj:
    """The Node to register (a Node may carry its status on create)."""
    spec: Obj = {}
    if cfg.pod_cidrs:
        spec["podCIDR"], spec["podCIDRs"] = cfg.pod_cidrs[0], list(cfg.pod_cidrs)
    if cfg.taints:
        spec["taints"] = copy.deepcopy(cfg.taints)
    if cfg.unschedulable:
        spec["unschedulable"] = True
    annotations = {"volumes.kubernetes.io/controller-managed-attach-detach": "true", **cfg.annotations}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": cfg.name, "labels": cfg.all_labels(), "annotations": annotations},
            "spec": spec, "status": node_status(cfg, None, report or NodeReport(), now)}


def reconcile_patch(existing: Obj, cfg: NodeConfig) -> Obj | None:
    """A merge patch bringing an already registered Node's labels and pod CIDRs in line, or None."""
    labels = (existing.get("metadata") or {}).get("labels") or {}
    want = {k: v for k, v in cfg.all_labels().items() if labels.get(k) != v}
    patch: Obj = {}
    if want:
        patch["metadata"] = {"labels": want}
    if cfg.pod_cidrs and not (existing.get("spec") or {}).get("podCIDR"):
        patch["spec"] = {"podCIDR": cfg.pod_cidrs[0], "podCIDRs": list(cfg.pod_cidrs)}
    return patch or None


def _without_heartbeat(conditions: list[Obj] | None) -> dict[str, Obj]:
    return {c.get("type", ""): {k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in conditions or []}


def status_differs(current: Obj, desired: Obj) -> bool:
    """Would posting ``desired`` change ``current``?  Heartbeat times do not count; foreign conditions stay."""
    have = _without_heartbeat(current.get("conditions"))
    for type_, cond in _without_heartbeat(desired.get("conditions")).items():
        if have.get(type_) != cond:
            return True
    return any(current.get(k) != desired.get(k) for k in _OWNED_STATUS)


def lease_object(name: str, node_uid: str, now: datetime, duration: int = LEASE_DURATION_SECONDS) -> Obj:
    meta: Obj = {"name": name, "namespace": NODE_LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": name, "leaseDurationSeconds": duration,
                     "renewTime": format_micro_time(now)}}


def renewed_lease(lease: Obj, name: str, node_uid: str, now: datetime,
                  duration: int = LEASE_DURATION_SECONDS) -> Obj:
    """``lease`` renewed at ``now`` (holder, duration and the Node owner put right on the way)."""
    out = copy.deepcopy(lease)
    out.setdefault("spec", {}).update(holderIdentity=name, leaseDurationSeconds=duration,
                                      renewTime=format_micro_time(now))
    if node_uid and not (out.get("metadata") or {}).get("ownerReferences"):
        out["metadata"]["ownerReferences"] = lease_object(name, node_uid, now)["metadata"]["ownerReferences"]
    return out


def _rv(obj: Obj | None) -> int:
    raw = str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")
    return int(raw) if raw.isdigit() else -1


# -- the heartbeat -------------------------------------------------------------------

LEASE, STATUS = "lease", "status"


@dataclass
class _Node:
    config: NodeConfig
    node: Obj | None = None  # the latest Node seen: our own writes, or the agent's informer
    lease: Obj | None = None
    report: NodeReport = field(default_factory=NodeReport)
    alive: bool = True
    generation: int = 0  # bumped by stop/resume: older timer entries are dropped
    last_report: float = float("-inf")  # loop time of the last status post
    failures: int = 0


class NodeHeartbeat:
    """Registers nodes and keeps them alive: Lease renewals and status reports on one timer heap."""

    def __init__(self, client: Client, *, lease_duration: int = LEASE_DURATION_SECONDS,
                 renew_interval: float | None = None, status_update_frequency: float = STATUS_UPDATE_FREQUENCY,
                 status_report_frequency: float = STATUS_REPORT_FREQUENCY, concurrency: int = 32,
                 clock: Clock = utcnow, rand: Callable[[], float] = random.random):
        self.client = client
        self.lease_duration = lease_duration
        self.renew_interval = renew_interval if renew_interval is not None else lease_duration / 4
        self.status_update_frequency = status_update_frequency
        self.status_report_frequency = status_report_frequency
        self.clock = clock
        self.rand = rand
        self._nodes: dict[str, _Node] = {}
        self._heap: list[tuple[float, int, str, str, int]] = []  # due, seq, node, kind, generation
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self.renewals = 0  # successful Lease writes (tests and benchmarks read these)
        self.status_posts = 0

    # -- membership --------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._nodes)

    def is_alive(self, name: str) -> bool:
        st = self._nodes.get(name)
        return st is not None and st.alive

    async def register(self, cfg: NodeConfig) -> Obj:
        """Create the Node (or bring an existing one in line), make sure of its Lease, start beating."""
        try:
            node: Obj = await self.client.create("/api/v1/nodes", node_object(cfg, self.clock()))
            created = True
        except APIError as e:
            if e.code != 409:
                raise
            node = await self.client.get(f"/api/v1/nodes/{cfg.name}")
            patch = reconcile_patch(node, cfg)
            if patch is not None:
                node = await self.client.patch(f"/api/v1/nodes/{cfg.name}", patch)
            created = False
        st = _Node(cfg, node)
        loop = asyncio.get_running_loop()
        if created:
            st.last_report = loop.time()
        self._nodes[cfg.name] = st
        renewed = await self._renew(st)
        self._push(st, LEASE, self.renew_interval * self.rand() if renewed else 0.2)
        self._push(st, STATUS, self.status_update_frequency * self.rand() if created else 0.0)
        return node

    def observe(self, node: Obj) -> None:
        """The agent saw this Node (informer); newer than what we hold replaces it."""
        st = self._nodes.get((node.get("metadata") or {}).get("name", ""))
        if st is not None and _rv(node) >= _rv(st.node):
            st.node = node

    def set_report(self, name: str, report: NodeReport) -> None:
        st = self._nodes.get(name)
        if st is not None and st.report != report:
            st.report = report
            if st.alive:
                self._push(st, STATUS, 0.0)

    def stop(self, name: str) -> None:
        """Stop renewing the node's Lease and posting its status (the kubelet died)."""
        st = self._nodes.get(name)
        if st is not None and st.alive:
            st.alive = False
            st.generation += 1

    def resume(self, name: str) -> None:
        st = self._nodes.get(name)
        if st is not None and not st.alive:
            st.alive = True
            st.generation += 1
            st.last_report = float("-inf")
            self._push(st, LEASE, 0.0)
            self._push(st, STATUS, 0.0)

    def remove(self, name: str) -> None:
        st = self._nodes.pop(name, None)
        if st is not None:
            st.generation += 1

    # -- the loop ----------------------------------------------------------------

    def _push(self, st: _Node, kind: str, delay: float) -> None:
        due = asyncio.get_running_loop().time() + delay
        heapq.heappush(self._heap, (due, next(self._seq), st.config.name, kind, st.generation))
        self._wake.set()

    async def run(self) -> None:
        """Fire due renewals and status checks until cancelled."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._heap:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                delay = self._heap[0][0] - loop.time()
                if delay > 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)
                    continue
                _, _, name, kind, gen = heapq.heappop(self._heap)
                st = self._nodes.get(name)
                if st is None or not st.alive or st.generation != gen:
                    continue
                await self._sem.acquire()
                task = asyncio.create_task(self._tick(st, kind, gen), name=f"heartbeat {kind} {name}")
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        finally:
            await self.close()

    async def close(self) -> None:
        for t in list(self._inflight):
            t.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _tick(self, st: _Node, kind: str, gen: int) -> None:
        try:
            ok = await (self._renew(st) if kind == LEASE else self._report(st))
        finally:
            self._sem.release()
        if self._nodes.get(st.config.name) is not st or st.generation != gen or not st.alive:
            return
        if not ok:
            st.failures += 1
            self._push(st, kind, min(0.2 * 2 ** (st.failures - 1), MAX_RETRY_BACKOFF))
            return
        st.failures = 0
        period = self.renew_interval if kind == LEASE else self.status_update_frequency
        self._push(st, kind, period * (1 + JITTER * (2 * self.rand() - 1)))

    def _node_uid(self, st: _Node) -> str:
        return str(((st.node or {}).get("metadata") or {}).get("uid") or "")

    async def _renew(self, st: _Node) -> bool:
        name = st.config.name
        try:
            if st.lease is None:
                try:
                    st.lease = await self.client.get(f"{LEASES}/{name}")
                except APIError as e:
                    if e.code != 404:
                        raise
            now = self.clock()
            if st.lease is None:
                st.lease = await self.client.create(LEASES, lease_object(name, self._node_uid(st), now,
                                                                         self.lease_duration))
            else:
                st.lease = await self.client.update(f"{LEASES}/{name}", renewed_lease(
                    st.lease, name, self._node_uid(st), now, self.lease_duration))
        except APIError as e:
            log.debug("node %s: lease renewal failed: %s", name, e)
            if e.code in (404, 409):
                st.lease = None  # read it again next time
            return False
        except (OSError, TimeoutError) as e:
            log.debug("node %s: lease renewal failed: %s", name, e)
            return False
        self.renewals += 1
        return True

    async def _report(self, st: _Node) -> bool:
        node = st.node
        if node is None:
            return True
        loop = asyncio.get_running_loop()
        desired = node_status(st.config, (node.get("status") or {}).get("conditions"), st.report, self.clock())
        due = loop.time() - st.last_report >= self.status_report_frequency
        if not due and not status_differs(node.get("status") or {}, desired):
            return True
        try:
            out = await self.client.patch(f"/api/v1/nodes/{st.config.name}/status", {"status": desired},
                                          STRATEGIC_MERGE_PATCH)
        except APIError as e:
            log.debug("node %s: status update failed: %s", st.config.name, e)
            return e.code == 404  # deleted: the agent's informer will tell, nothing to retry
        except (OSError, TimeoutError) as e:
            log.debug("node %s: status update failed: %s", st.config.name, e)
            return False
        self.observe(out)
        st.last_report = loop.time()
        self.status_posts += 1
        return True
