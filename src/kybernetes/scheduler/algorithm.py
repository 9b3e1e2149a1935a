"""One scheduling decision: filter the nodes, score the feasible ones, pick the best.

:func:`schedule_pod` is upstream's ``schedulePod`` and runs synchronously
against the cache (nothing else can change it meanwhile):

1. no nodes at all: ``UnschedulableAndUnresolvable`` "no nodes available to
   schedule pods";
2. PreFilter; a rejection makes every node share that status (FitError with
   the PreFilter message); a :class:`PreFilterResult` narrows the candidates
   (the others count as "node(s) didn't satisfy plugin(s) [...]");
3. Filter, starting where the previous cycle stopped (``next_start``, so every
   node gets its turn) and stopping once :func:`num_feasible_nodes_to_find`
   nodes passed - upstream's ``percentageOfNodesToScore``: all nodes below
   100; else ``percentage`` (adaptive by default: ``50 - nodes/125``, at least
   5) percent of them, at least 100;
4. no feasible node: PostFilter adds its message; the result is a FitError;
5. one feasible node: it wins unscored;
6. PreScore, Score (normalised, weighted, summed) and :func:`select_host`: the
   highest total, ties broken uniformly at random with the scheduler's
   seedable ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from kybernetes.scheduler.framework import CycleState, Framework
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import (
    NO_NODES_AVAILABLE,
    SUCCESS,
    Code,
    Diagnosis,
    FitError,
    Status,
    unresolvable,
)

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes to look for before scoring (upstream's numFeasibleNodesToFind)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    if percentage >= 100:
        return num_all_nodes
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def select_host(nodes: Sequence[NodeInfo], totals: Sequence[int], rng: random.Random) -> NodeInfo:
    """The node with the highest total; among equals, each with the same probability."""
    best = max(totals)
    ties = [i for i, total in enumerate(totals) if total == best]
    return nodes[ties[rng.randrange(len(ties))] if len(ties) > 1 else ties[0]]


@dataclass
class ScheduleResult:
    node: str = ""
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    status: Status = SUCCESS
    fit_error: FitError | None = None


class Algorithm:
    """Holds what persists between cycles: where filtering starts next, the random source."""

    def __init__(self, framework: Framework, percentage_of_nodes_to_score: int = 0,
                 rng: random.Random | None = None):
        self.framework = framework
        self.percentage = percentage_of_nodes_to_score
        self.rng = rng or random.Random()
        self.next_start = 0

    def schedule_pod(self, state: CycleState, pod: PodInfo, all_nodes: Sequence[NodeInfo]) -> ScheduleResult:
        fw = self.framework
        if not all_nodes:
            return ScheduleResult(status=unresolvable(NO_NODES_AVAILABLE))
        diagnosis = Diagnosis()
        pre_result, status, plugins = fw.run_pre_filter(state, pod, all_nodes)
        diagnosis.unschedulable_plugins = set(plugins)
        if not status.is_success():
            if not status.is_rejected():
                return ScheduleResult(status=status)
            diagnosis.absent_status = status
            diagnosis.pre_filter_msg = status.message()
            return self._fit_error(state, pod, all_nodes, diagnosis)
        nodes: Sequence[NodeInfo] = all_nodes
        if pre_result is not None and pre_result.node_names is not None:
            nodes = [n for n in all_nodes if n.name in pre_result.node_names]
            diagnosis.absent_status = unresolvable(
                f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(plugins))}]")
        feasible = self._find_feasible(state, pod, nodes, diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if not feasible:
            return self._fit_error(state, pod, all_nodes, diagnosis)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        status = fw.run_pre_score(state, pod, feasible)
        if status.is_success():
            totals, status = fw.run_score(state, pod, feasible)
        if not status.is_success():
            return ScheduleResult(status=status)
        return ScheduleResult(select_host(feasible, totals, self.rng).name, evaluated, len(feasible))

    def _find_feasible(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                       diagnosis: Diagnosis) -> list[NodeInfo]:
        """Nodes passing every filter, in rotation order, until enough are found.

        Nodes are taken in chunks sized to what is still needed; for each chunk
        every plugin's ``filter_mask`` (when it has one) marks the nodes that
        surely pass, and ``filter`` runs only where a mask says "maybe not".
        """
        n = len(nodes)
        if n == 0:
            return []
        want = num_feasible_nodes_to_find(self.percentage, n)
        plugins = self.framework.active_filter_plugins(state)
        start = self.next_start % n
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status
        rejecting = diagnosis.unschedulable_plugins
        processed = 0
        while processed < n and len(feasible) < want:
            size = min(n - processed, max(want - len(feasible), 64))
            begin = (start + processed) % n
            chunk = list(nodes[begin:begin + size])
            if len(chunk) < size:
                chunk += nodes[:size - len(chunk)]
            checks = [(p.name, p.filter, p.filter_mask(state, pod, chunk)) for p in plugins]
            if all(mask is not None and all(mask) for _, _, mask in checks):
                take = min(len(chunk), want - len(feasible))  # the common case: every node passes
                feasible.extend(chunk[:take])
                processed += take
                continue
            for j, node in enumerate(chunk):
                processed += 1
                for name, f, mask in checks:
                    if mask is not None and mask[j]:
                        continue
                    status = f(state, pod, node)
                    if status is not SUCCESS and status.code is not Code.SUCCESS:
                        statuses[node.name] = status
                        rejecting.add(name)
                        break
                else:
                    feasible.append(node)
                    if len(feasible) >= want:
                        break
        self.next_start = (start + processed) % n
        return feasible

    def _fit_error(self, state: CycleState, pod: PodInfo, all_nodes: Sequence[NodeInfo],
                   diagnosis: Diagnosis) -> ScheduleResult:
        post = self.framework.run_post_filter(state, pod, all_nodes, diagnosis)
        if post.code is Code.ERROR:
            return ScheduleResult(status=post)
        diagnosis.post_filter_msg = post.message()
        error = FitError(pod.key, len(all_nodes), diagnosis)
        return ScheduleResult(status=Status(Code.UNSCHEDULABLE, str(error)), fit_error=error)
