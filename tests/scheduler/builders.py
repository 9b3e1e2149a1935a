"""Builders for scheduler tests: wire-form Nodes and Pods in one line, and plugin runners.

``node("n1", cpu="2", labels={...}, taints=[("k", "v", "NoSchedule")])`` and
``pod("p", cpu="500m", node_selector={...})`` return the JSON dicts the API
server would hold; :func:`info` turns a node plus the pods on it into a
``NodeInfo``.  :func:`filter_status` runs one plugin's PreFilter and Filter the
way the framework does (a SKIP means the Filter is not run: success), and
:func:`scores` runs PreScore, Score and NormalizeScore for a set of nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kybernetes.scheduler.framework import CycleState, Plugin, PreFilterPlugin, PreScorePlugin, ScorePlugin
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SUCCESS, Status

Obj = dict[str, Any]


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110", *, labels: dict[str, str] | None = None,
         taints: Sequence[tuple[str, str, str]] = (), unschedulable: bool = False,
         extra: dict[str, str] | None = None) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": [{"key": k, "value": v, "effect": e} for k, v, e in taints],
                     **({"unschedulable": True} if unschedulable else {})},
            "status": {"capacity": dict(allocatable), "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def container(name: str = "c", cpu: str | None = None, memory: str | None = None, *,
              requests: dict[str, str] | None = None, ports: Sequence[int | tuple[int, str, str]] = (),
              restart_policy: str | None = None) -> Obj:
    reqs = dict(requests or {})
    if cpu is not None:
        reqs["cpu"] = cpu
    if memory is not None:
        reqs["memory"] = memory
    c: Obj = {"name": name, "image": "registry.example/app:1", "resources": {"requests": reqs} if reqs else {}}
    if ports:
        c["ports"] = [{"containerPort": p, "hostPort": p} if isinstance(p, int) else
                      {"containerPort": p[0], "hostPort": p[0], "protocol": p[1], "hostIP": p[2]} for p in ports]
    if restart_policy:
        c["restartPolicy"] = restart_policy
    return c


def pod(name: str = "p", cpu: str | None = None, memory: str | None = None, *, namespace: str = "default",
        labels: dict[str, str] | None = None, node_name: str = "", containers: Sequence[Obj] | None = None,
        init_containers: Sequence[Obj] = (), overhead: dict[str, str] | None = None,
        node_selector: dict[str, str] | None = None, affinity: Obj | None = None,
        tolerations: Sequence[Obj] = (), spread: Sequence[Obj] = (), priority: int = 0,
        ports: Sequence[int | tuple[int, str, str]] = (), scheduler_name: str = "default-scheduler",
        gates: Sequence[str] = (), uid: str | None = None, terminating: bool = False, **spec: Any) -> Obj:
    body: Obj = {"containers": list(containers) if containers is not None else [container("c", cpu, memory, ports=ports)],
                 "schedulerName": scheduler_name, "priority": priority, **spec}
    if init_containers:
        body["initContainers"] = list(init_containers)
    if overhead:
        body["overhead"] = overhead
    if node_selector:
        body["nodeSelector"] = node_selector
    if affinity:
        body["affinity"] = affinity
    if tolerations:
        body["tolerations"] = list(tolerations)
    if spread:
        body["topologySpreadConstraints"] = list(spread)
    if node_name:
        body["nodeName"] = node_name
    if gates:
        body["schedulingGates"] = [{"name": g} for g in gates]
    meta: Obj = {"name": name, "namespace": namespace, "uid": uid or f"uid-{namespace}-{name}",
                 "labels": dict(labels or {}), "resourceVersion": "1"}
    if terminating:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body, "status": {"phase": "Pending"}}


def pinfo(*args: Any, **kwargs: Any) -> PodInfo:
    return PodInfo.from_pod(pod(*args, **kwargs))


def info(n: Obj, *pods: Obj) -> NodeInfo:
    ni = NodeInfo(n)
    for p in pods:
        pi = PodInfo.from_pod(p)
        ni.add_pod(pi.with_node(ni.name))
    return ni


def filter_status(plugin: Plugin, p: Obj | PodInfo, ni: NodeInfo, nodes: Sequence[NodeInfo] | None = None) -> Status:
    """PreFilter (when the plugin has one) then Filter, on one node, as the framework runs them."""
    pi = p if isinstance(p, PodInfo) else PodInfo.from_pod(p)
    state = CycleState()
    if isinstance(plugin, PreFilterPlugin):
        result, status = plugin.pre_filter(state, pi, list(nodes) if nodes is not None else [ni])
        if status.is_skip():
            return SUCCESS
        if not status.is_success():
            return status
        if result is not None and result.node_names is not None and ni.name not in result.node_names:
            return Status(status.code, "not in PreFilterResult")
    return plugin.filter(state, pi, ni)  # type: ignore[attr-defined, no-any-return]


def scores(plugin: ScorePlugin, p: Obj | PodInfo, nodes: Sequence[NodeInfo]) -> list[int] | None:
    """Normalised scores per node, or None when PreScore skipped the plugin."""
    pi = p if isinstance(p, PodInfo) else PodInfo.from_pod(p)
    state = CycleState()
    if isinstance(plugin, PreScorePlugin):
        status = plugin.pre_score(state, pi, nodes)
        if status.is_skip():
            return None
        assert status.is_success(), status
    values, status = plugin.score_nodes(state, pi, nodes)
    assert status.is_success(), status
    status = plugin.normalize_score(state, pi, values)
    assert status.is_success(), status
    return values


def reasons(status: Status) -> tuple[str, tuple[str, ...]]:
    """(code name, reasons) - a readable value to compare in tables."""
    return status.code.name, status.reasons
