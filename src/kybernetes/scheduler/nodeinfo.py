"""NodeInfo: one node and the running totals of the pods on it.

Filters and scores run for hundreds of nodes per pod, so nothing here is
computed per question: a node's allocatable, labels and taints are parsed when
the Node object changes, and the pods' requests, host ports and affinity
membership are added / subtracted as pods arrive and leave.  Every question a
plugin asks ("is there 200m CPU left?", "is host port 80 free?") is then a few
integer operations or one dict lookup.

Invariants: ``requested``/``non0_*``/``used_ports`` are exactly the sums over
``pods``; ``pods_with_affinity`` / ``pods_with_required_anti_affinity`` are the
subsets with those terms; ``generation`` changes on every mutation.  A
NodeInfo may exist without a Node object (pods seen before their node); such
placeholders are never offered to the algorithm.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

from kybernetes.scheduler.podinfo import HostPort, PodInfo
from kybernetes.scheduler.resources import Resource

Obj = dict[str, Any]
_generation = itertools.count(1)
ANY_IP = "0.0.0.0"


class Taint(NamedTuple):
    key: str
    value: str
    effect: str


class NodeInfo:
    """A node plus aggregates of its pods (see the module docstring)."""

    __slots__ = ("alloc_cpu", "alloc_eph", "alloc_mem", "alloc_pods", "alloc_scalars", "allocatable", "generation",
                 "labels", "name", "no_schedule_taints", "node", "non0_cpu", "non0_mem", "pods",
                 "pods_with_affinity", "pods_with_required_anti_affinity", "prefer_no_schedule_taints",
                 "req_cpu", "req_eph", "req_mem", "req_scalars", "taints", "unschedulable", "used_ports")

    def __init__(self, node: Obj | None = None, name: str = ""):
        self.node: Obj | None = None
        self.name = name
        self.labels: dict[str, str] = {}
        self.taints: tuple[Taint, ...] = ()
        self.no_schedule_taints: tuple[Taint, ...] = ()  # NoSchedule and NoExecute: what the filter checks
        self.prefer_no_schedule_taints: tuple[Taint, ...] = ()
        self.unschedulable = False
        self.allocatable = Resource()
        self.alloc_cpu = self.alloc_mem = self.alloc_eph = self.alloc_pods = 0
        self.alloc_scalars: dict[str, int] = {}
        self.req_cpu = self.req_mem = self.req_eph = 0
        self.req_scalars: dict[str, int] = {}
        self.non0_cpu = self.non0_mem = 0
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}  # (protocol, port) -> ip -> count
        self.generation = next(_generation)
        if node is not None:
            self.set_node(node)

    # -- the node --------------------------------------------------------------------

    def set_node(self, node: Obj) -> None:
        meta, spec = node.get("metadata") or {}, node.get("spec") or {}
        self.node = node
        self.name = str(meta.get("name") or self.name)
        self.labels = meta.get("labels") or {}
        self.taints = tuple(Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
                            for t in spec.get("taints") or ())
        self.no_schedule_taints = tuple(t for t in self.taints if t.effect in ("NoSchedule", "NoExecute"))
        self.prefer_no_schedule_taints = tuple(t for t in self.taints if t.effect == "PreferNoSchedule")
        self.unschedulable = bool(spec.get("unschedulable"))
        alloc = Resource.from_list((node.get("status") or {}).get("allocatable"))
        self.allocatable = alloc
        self.alloc_cpu, self.alloc_mem, self.alloc_eph = alloc.milli_cpu, alloc.memory, alloc.ephemeral_storage
        self.alloc_pods, self.alloc_scalars = alloc.allowed_pods, alloc.scalars
        self.generation = next(_generation)

    # -- pods ------------------------------------------------------------------------

    def add_pod(self, pi: PodInfo) -> None:
        if pi.uid in self.pods:
            self.remove_pod(pi.uid)
        self.pods[pi.uid] = pi
        if pi.has_affinity:
            self.pods_with_affinity[pi.uid] = pi
        if pi.has_required_anti_affinity:
            self.pods_with_required_anti_affinity[pi.uid] = pi
        self._account(pi, 1)

    def remove_pod(self, uid: str) -> PodInfo | None:
        pi = self.pods.pop(uid, None)
        if pi is None:
            return None
        self.pods_with_affinity.pop(uid, None)
        self.pods_with_required_anti_affinity.pop(uid, None)
        self._account(pi, -1)
        return pi

    def _account(self, pi: PodInfo, sign: int) -> None:
        r = pi.requests
        self.req_cpu += sign * r.milli_cpu
        self.req_mem += sign * r.memory
        self.req_eph += sign * r.ephemeral_storage
        for name, amount in r.scalars.items():
            left = self.req_scalars.get(name, 0) + sign * amount
            if left:
                self.req_scalars[name] = left
            else:
                self.req_scalars.pop(name, None)
        self.non0_cpu += sign * pi.non0_cpu
        self.non0_mem += sign * pi.non0_mem
        for hp in pi.host_ports:
            ips = self.used_ports.setdefault((hp.protocol, hp.port), {})
            n = ips.get(hp.ip, 0) + sign
            if n > 0:
                ips[hp.ip] = n
            else:
                ips.pop(hp.ip, None)
                if not ips:
                    del self.used_ports[(hp.protocol, hp.port)]
        self.generation = next(_generation)

    @property
    def requested(self) -> Resource:
        return Resource(self.req_cpu, self.req_mem, self.req_eph, len(self.pods), dict(self.req_scalars))

    def port_conflicts(self, wanted: HostPort) -> bool:
        """Whether ``wanted`` collides with a used port: same protocol and port, and same IP or 0.0.0.0."""
        ips = self.used_ports.get((wanted.protocol, wanted.port))
        if not ips:
            return False
        return wanted.ip == ANY_IP or ANY_IP in ips or wanted.ip in ips

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, cpu={self.req_cpu}/{self.alloc_cpu}m)"
