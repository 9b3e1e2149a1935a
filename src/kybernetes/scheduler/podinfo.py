"""PodInfo: a pod parsed once into what scheduling decisions read.

Every cycle, and every node aggregate a bound pod is part of, needs the same
derived facts about a pod: its requests as integers, its host ports, its
tolerations, its inter-pod (anti-)affinity terms with their selectors built.
:func:`PodInfo.from_pod` computes them once (upstream's ``framework.PodInfo``);
the raw wire dict stays available as :attr:`PodInfo.pod` for the rare reader
that needs more (NodeAffinity's terms, topology spread constraints).

An :class:`AffinityTerm` follows upstream's namespace rules: no ``namespaces``
and no ``namespaceSelector`` means the pod's own namespace; a missing selector
selects nothing and ``{}`` selects everything.  Invalid selectors (the API
server lets some through) select nothing.

No I/O; instances are treated as immutable once built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from kybernetes.api.selectors import NOTHING, LabelSelector, label_selector_from_dict
from kybernetes.scheduler.resources import (
    CPU,
    MEMORY,
    NON_MISSING_DEFAULTS,
    Resource,
    pod_requests,
    to_resource,
)

Obj = dict[str, Any]


class Toleration(NamedTuple):
    key: str
    operator: str
    value: str
    effect: str


class HostPort(NamedTuple):
    ip: str
    protocol: str
    port: int


def selector_or_nothing(selector: Mapping[str, Any] | None) -> LabelSelector:
    """``LabelSelectorAsSelector``, with an invalid selector selecting nothing."""
    try:
        return label_selector_from_dict(selector)
    except Exception:
        return NOTHING


class AffinityTerm:
    """One pod (anti-)affinity term, ready to match pods: upstream's ``framework.AffinityTerm``."""

    __slots__ = ("namespace_selector", "namespaces", "selector", "topology_key", "weight")

    def __init__(self, namespaces: frozenset[str], selector: LabelSelector, topology_key: str,
                 namespace_selector: LabelSelector = NOTHING, weight: int = 0):
        self.namespaces = namespaces
        self.selector = selector
        self.topology_key = topology_key
        self.namespace_selector = namespace_selector
        self.weight = weight

    @classmethod
    def from_api(cls, term: Mapping[str, Any], pod_namespace: str, weight: int = 0) -> AffinityTerm:
        namespaces = term.get("namespaces") or []
        ns_selector = term.get("namespaceSelector")
        if not namespaces and ns_selector is None:
            namespaces = [pod_namespace]
        return cls(frozenset(namespaces), selector_or_nothing(term.get("labelSelector")),
                   str(term.get("topologyKey") or ""), selector_or_nothing(ns_selector), weight)

    def matches(self, pod: PodInfo, namespace_labels: Mapping[str, str] | None) -> bool:
        if pod.namespace in self.namespaces or self.namespace_selector.matches(namespace_labels):
            return self.selector.matches(pod.labels)
        return False

    def with_namespaces(self, extra: set[str]) -> AffinityTerm:
        """The term with a namespace selector resolved into names (selector becomes nothing)."""
        return AffinityTerm(self.namespaces | extra, self.selector, self.topology_key, NOTHING, self.weight)

    def __repr__(self) -> str:
        return (f"AffinityTerm(ns={sorted(self.namespaces)}, selector={self.selector!s}, "
                f"key={self.topology_key!r}, weight={self.weight})")


def _terms(raw: list[Any] | None, ns: str) -> tuple[AffinityTerm, ...]:
    return tuple(AffinityTerm.from_api(t, ns) for t in raw or ())


def _weighted_terms(raw: list[Any] | None, ns: str) -> tuple[AffinityTerm, ...]:
    return tuple(AffinityTerm.from_api(t.get("podAffinityTerm") or {}, ns, int(t.get("weight") or 0))
                 for t in raw or ())


def host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    """Host ports of the containers and the restartable (sidecar) init containers."""
    out: list[HostPort] = []
    containers = list(spec.get("containers") or ())
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for c in containers:
        for p in c.get("ports") or ():
            port = int(p.get("hostPort") or 0)
            if port > 0:
                out.append(HostPort(p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", port))
    return tuple(out)


class PodInfo:
    """Derived, read-only facts about one pod (see the module docstring)."""

    __slots__ = ("has_affinity", "has_required_anti_affinity", "host_ports", "key", "labels", "name",
                 "namespace", "node_name", "non0_cpu", "non0_mem", "pod", "preemption_policy",
                 "preferred_affinity_terms", "preferred_anti_affinity_terms", "priority", "requests",
                 "required_affinity_terms", "required_anti_affinity_terms", "scheduler_name",
                 "scheduling_gates", "terminating", "tolerations", "uid")

    pod: Obj
    key: str
    uid: str
    name: str
    namespace: str
    labels: dict[str, str]
    node_name: str
    scheduler_name: str
    priority: int
    preemption_policy: str
    terminating: bool
    scheduling_gates: tuple[str, ...]
    requests: Resource
    non0_cpu: int
    non0_mem: int
    host_ports: tuple[HostPort, ...]
    tolerations: tuple[Toleration, ...]
    required_affinity_terms: tuple[AffinityTerm, ...]
    required_anti_affinity_terms: tuple[AffinityTerm, ...]
    preferred_affinity_terms: tuple[AffinityTerm, ...]
    preferred_anti_affinity_terms: tuple[AffinityTerm, ...]
    has_affinity: bool
    has_required_anti_affinity: bool

    @classmethod
    def from_pod(cls, pod: Obj) -> PodInfo:
        self = cls.__new__(cls)
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.name = str(meta.get("name") or "")
        self.namespace = str(meta.get("namespace") or "")
        self.key = f"{self.namespace}/{self.name}"
        self.uid = str(meta.get("uid") or self.key)
        self.labels = meta.get("labels") or {}
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.node_name = str(spec.get("nodeName") or "")
        self.scheduler_name = str(spec.get("schedulerName") or "default-scheduler")
        self.priority = int(spec.get("priority") or 0)
        self.preemption_policy = str(spec.get("preemptionPolicy") or "PreemptLowerPriority")
        self.scheduling_gates = tuple(str(g.get("name", "")) for g in spec.get("schedulingGates") or ())
        self.requests = to_resource(pod_requests(spec))
        non0 = pod_requests(spec, NON_MISSING_DEFAULTS)
        self.non0_cpu, self.non0_mem = non0.get(CPU, 0), non0.get(MEMORY, 0)
        self.host_ports = host_ports(spec)
        self.tolerations = tuple(Toleration(str(t.get("key") or ""), str(t.get("operator") or ""),
                                            str(t.get("value") or ""), str(t.get("effect") or ""))
                                 for t in spec.get("tolerations") or ())
        affinity = spec.get("affinity") or {}
        pa, paa = affinity.get("podAffinity") or {}, affinity.get("podAntiAffinity") or {}
        ns = self.namespace
        self.required_affinity_terms = _terms(pa.get("requiredDuringSchedulingIgnoredDuringExecution"), ns)
        self.required_anti_affinity_terms = _terms(paa.get("requiredDuringSchedulingIgnoredDuringExecution"), ns)
        self.preferred_affinity_terms = _weighted_terms(pa.get("preferredDuringSchedulingIgnoredDuringExecution"), ns)
        self.preferred_anti_affinity_terms = _weighted_terms(
            paa.get("preferredDuringSchedulingIgnoredDuringExecution"), ns)
        self.has_affinity = bool(affinity.get("podAffinity") is not None or affinity.get("podAntiAffinity") is not None)
        self.has_required_anti_affinity = bool(self.required_anti_affinity_terms)
        return self

    @property
    def spec(self) -> Obj:
        spec: Obj = self.pod.get("spec") or {}
        return spec

    def with_node(self, node_name: str) -> PodInfo:
        """A copy bound to ``node_name`` (what the scheduler assumes before the binding lands)."""
        clone = PodInfo.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            setattr(clone, slot, getattr(self, slot))
        clone.node_name = node_name
        return clone

    def __repr__(self) -> str:
        return f"PodInfo({self.key}, node={self.node_name!r})"
