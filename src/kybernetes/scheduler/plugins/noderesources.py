"""NodeResourcesFit: the pod's requests must fit in what the node has left; score by LeastAllocated.

Filter (upstream's ``fitsRequest``): with ``pods`` already on the node, one
more must stay within ``allocatable.pods`` ("Too many pods"); each of cpu,
memory, ephemeral-storage and extended resources the pod requests must fit in
``allocatable - requested`` ("Insufficient cpu", ...).  All shortfalls are
reported; the status is ``UnschedulableAndUnresolvable`` when a request exceeds
the node's whole allocatable (evicting pods cannot help), else
``Unschedulable``.  Requests follow :mod:`kybernetes.scheduler.resources`
(init containers' max rule, sidecars, overhead).

Score (``scoringStrategy``, default ``LeastAllocated`` over cpu and memory,
weight 1 each): per resource ``(allocatable - requested) * 100 / allocatable``
with the pod's request added (``MostAllocated``: ``requested * 100 /
allocatable``), the weighted mean over resources the node has.  CPU and memory
use the *non-zero* requests (100m / 200Mi for containers that state none), so
best-effort pods still spread.

Requeued when an assigned pod is deleted, or a node is added / its
allocatable changes and the pod would fit an empty copy of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from kybernetes.scheduler.events import NODE, POD, ActionType, ClusterEvent, ClusterEventWithHint
from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ScorePlugin,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.resources import CPU, EPHEMERAL_STORAGE, MEMORY, Resource, is_scalar_resource_name
from kybernetes.scheduler.status import SUCCESS, Code, Status

LEAST_ALLOCATED, MOST_ALLOCATED = "LeastAllocated", "MostAllocated"
DEFAULT_RESOURCES: tuple[tuple[str, int], ...] = ((CPU, 1), (MEMORY, 1))
PRE_SCORE_KEY = "PreScoreNodeResourcesFit"


class InsufficientResource(NamedTuple):
    resource: str
    reason: str
    requested: int
    used: int
    capacity: int
    unresolvable: bool


def fits_request(req: Resource, node: NodeInfo) -> list[InsufficientResource]:
    """Every resource the node is short of for a pod requesting ``req``."""
    out: list[InsufficientResource] = []
    if len(node.pods) + 1 > node.alloc_pods:
        out.append(InsufficientResource("pods", "Too many pods", 1, len(node.pods), node.alloc_pods, False))
    if req.is_zero():
        return out
    for name, want, alloc, used in ((CPU, req.milli_cpu, node.alloc_cpu, node.req_cpu),
                                    (MEMORY, req.memory, node.alloc_mem, node.req_mem),
                                    (EPHEMERAL_STORAGE, req.ephemeral_storage, node.alloc_eph, node.req_eph)):
        if want > 0 and want > alloc - used:
            out.append(InsufficientResource(name, f"Insufficient {name}", want, used, alloc, want > alloc))
    for name in sorted(req.scalars):
        want = req.scalars[name]
        alloc, used = node.alloc_scalars.get(name, 0), node.req_scalars.get(name, 0)
        if want > 0 and want > alloc - used:
            out.append(InsufficientResource(name, f"Insufficient {name}", want, used, alloc, want > alloc))
    return out


def allocatable_and_requested(node: NodeInfo, name: str, pod_request: int, use_requested: bool) -> tuple[int, int]:
    """(allocatable, requested including the pod) of one resource; (0, 0) means "not scored"."""
    if pod_request == 0 and is_scalar_resource_name(name):
        return 0, 0
    if name == CPU:
        return node.alloc_cpu, (node.req_cpu if use_requested else node.non0_cpu) + pod_request
    if name == MEMORY:
        return node.alloc_mem, (node.req_mem if use_requested else node.non0_mem) + pod_request
    if name == EPHEMERAL_STORAGE:
        return node.alloc_eph, node.req_eph + pod_request
    if name in node.alloc_scalars:
        return node.alloc_scalars[name], node.req_scalars.get(name, 0) + pod_request
    return 0, 0


def pod_score_requests(pod: PodInfo, resources: Sequence[tuple[str, int]], use_requested: bool) -> list[int]:
    out = []
    for name, _ in resources:
        if name == CPU:
            out.append(pod.requests.milli_cpu if use_requested else pod.non0_cpu)
        elif name == MEMORY:
            out.append(pod.requests.memory if use_requested else pod.non0_mem)
        else:
            out.append(pod.requests.get(name))
    return out


def least_allocated(requested: int, allocatable: int) -> int:
    if allocatable == 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def most_allocated(requested: int, allocatable: int) -> int:
    if allocatable == 0:
        return 0
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


class NodeResourcesFit(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "NodeResourcesFit"

    def __init__(self, strategy: str = LEAST_ALLOCATED, resources: Sequence[tuple[str, int]] = DEFAULT_RESOURCES):
        if strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"scoring strategy {strategy} is not supported")
        self.strategy = strategy
        self.resources = tuple(resources)
        self._scorer = least_allocated if strategy == LEAST_ALLOCATED else most_allocated
        self._fast = strategy == LEAST_ALLOCATED and self.resources == DEFAULT_RESOURCES

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status]:
        return None, SUCCESS  # the requests were computed once, in PodInfo

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        r = pod.requests
        if (len(node.pods) < node.alloc_pods and r.milli_cpu <= node.alloc_cpu - node.req_cpu
                and r.memory <= node.alloc_mem - node.req_mem and r.ephemeral_storage <= node.alloc_eph - node.req_eph
                and not r.scalars):
            return SUCCESS  # the common case, without building a list
        short = fits_request(r, node)
        if not short:
            return SUCCESS
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if any(s.unresolvable for s in short) else Code.UNSCHEDULABLE
        return Status(code, *(s.reason for s in short))

    def filter_mask(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[bool] | None:
        r = pod.requests
        if r.scalars:
            return None
        c, m, e = r.milli_cpu, r.memory, r.ephemeral_storage
        return [len(n.pods) < n.alloc_pods and c <= n.alloc_cpu - n.req_cpu and m <= n.alloc_mem - n.req_mem
                and e <= n.alloc_eph - n.req_eph for n in nodes]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        state[PRE_SCORE_KEY] = pod_score_requests(pod, self.resources, use_requested=False)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        pod_requests: list[int] = state.get(PRE_SCORE_KEY) or pod_score_requests(pod, self.resources, False)
        total = weights = 0
        for (name, weight), pod_request in zip(self.resources, pod_requests, strict=True):
            alloc, requested = allocatable_and_requested(node, name, pod_request, use_requested=False)
            if alloc == 0:
                continue
            total += self._scorer(requested, alloc) * weight
            weights += weight
        return (total // weights if weights else 0), SUCCESS

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status]:
        if not self._fast:
            return super().score_nodes(state, pod, nodes)
        pc, pm = pod.non0_cpu, pod.non0_mem
        # LeastAllocated over cpu and memory, weight 1 each, inlined (one expression per node)
        return [((0 if n.non0_cpu + pc > n.alloc_cpu else (n.alloc_cpu - n.non0_cpu - pc) * 100 // n.alloc_cpu)
                 + (0 if n.non0_mem + pm > n.alloc_mem else (n.alloc_mem - n.non0_mem - pm) * 100 // n.alloc_mem)) // 2
                if n.alloc_cpu and n.alloc_mem else self.score(state, pod, n)[0] for n in nodes], SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(POD, ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN),
                                     _assigned_pod_shrank),
                ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE),
                                     _fits_empty_node)]


def _assigned_pod_shrank(pod: PodInfo, old: Any, new: Any) -> bool:
    return not isinstance(old, PodInfo) or bool(old.node_name)


def _fits_empty_node(pod: PodInfo, old: Any, new: Any) -> bool:
    return not new or not fits_request(pod.requests, NodeInfo(new))


def new(args: dict[str, Any], handle: Any) -> NodeResourcesFit:
    strategy = args.get("scoringStrategy") or {}
    resources = tuple((r["name"], int(r.get("weight", 1))) for r in strategy.get("resources") or ()) \
        or DEFAULT_RESOURCES
    return NodeResourcesFit(strategy.get("type", LEAST_ALLOCATED), resources)
