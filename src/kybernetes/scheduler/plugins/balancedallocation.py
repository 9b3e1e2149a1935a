"""NodeResourcesBalancedAllocation: prefer nodes whose resources are used evenly.

Score only.  For each scored resource (cpu and memory by default) the fraction
``(requested + pod's request) / allocatable`` (capped at 1, *actual* requests,
no non-zero defaults); the score is ``(1 - std) * 100`` of those fractions,
truncated (for two resources ``std = |f1 - f2| / 2``).  A best-effort pod (no
requests at all) is skipped in PreScore, as upstream does since 1.33, so such
pods do not all land on the emptiest-looking node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from kybernetes.scheduler.framework import MAX_NODE_SCORE, CycleState, PreScorePlugin, ScorePlugin
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.noderesources import (
    DEFAULT_RESOURCES,
    allocatable_and_requested,
    pod_score_requests,
)
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SKIP, SUCCESS, Status

PRE_SCORE_KEY = "PreScoreNodeResourcesBalancedAllocation"


def balanced_score(fractions: Sequence[float]) -> int:
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) * (f - mean) for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation(PreScorePlugin, ScorePlugin):
    name = "NodeResourcesBalancedAllocation"

    def __init__(self, resources: Sequence[tuple[str, int]] = DEFAULT_RESOURCES):
        self.resources = tuple(resources)
        self._fast = self.resources == DEFAULT_RESOURCES

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        requests = pod_score_requests(pod, self.resources, use_requested=True)
        if not any(requests):
            return SKIP
        state[PRE_SCORE_KEY] = requests
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        requests: list[int] = state.get(PRE_SCORE_KEY) or pod_score_requests(pod, self.resources, True)
        fractions = []
        for (name, _), pod_request in zip(self.resources, requests, strict=True):
            alloc, requested = allocatable_and_requested(node, name, pod_request, use_requested=True)
            if alloc:
                fractions.append(min(requested / alloc, 1.0))
        return balanced_score(fractions), SUCCESS

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status]:
        if not self._fast:
            return super().score_nodes(state, pod, nodes)
        pc, pm = pod.requests.milli_cpu, pod.requests.memory
        # cpu and memory inlined; with one fraction or none the deviation is 0
        return [int((1 - abs(((fc if (fc := (n.req_cpu + pc) / n.alloc_cpu) < 1.0 else 1.0)
                              - (fm if (fm := (n.req_mem + pm) / n.alloc_mem) < 1.0 else 1.0)) / 2)) * MAX_NODE_SCORE)
                if n.alloc_cpu and n.alloc_mem else MAX_NODE_SCORE for n in nodes], SUCCESS


def new(args: dict[str, Any], handle: Any) -> BalancedAllocation:
    resources = tuple((r["name"], int(r.get("weight", 1))) for r in args.get("resources") or ()) \
        or DEFAULT_RESOURCES
    return BalancedAllocation(resources)
