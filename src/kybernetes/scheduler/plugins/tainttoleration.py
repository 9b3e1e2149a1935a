"""TaintToleration: keep pods off nodes whose taints they do not tolerate.

* Filter: the first ``NoSchedule`` / ``NoExecute`` taint (in the node's order)
  that no toleration matches rejects the node, ``UnschedulableAndUnresolvable``
  "node(s) had untolerated taint {key: value}".
* Score: the number of ``PreferNoSchedule`` taints not tolerated by the pod's
  tolerations with effect ``PreferNoSchedule`` or none; normalised *reversed*
  (fewest intolerable taints -> 100).  Skipped when no candidate node has
  such a taint: every node would get 100, which changes no ranking.
* Requeued when a node is added or its taints change and the pod now
  tolerates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kybernetes.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    PreScorePlugin,
    ScorePlugin,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.helpers import default_normalize_score, find_untolerated_taint, tolerates
from kybernetes.scheduler.podinfo import PodInfo, Toleration
from kybernetes.scheduler.status import SKIP, SUCCESS, Status, unresolvable

PRE_SCORE_KEY = "PreScoreTaintToleration"


def untolerated_message(key: str, value: str) -> str:
    return f"node(s) had untolerated taint {{{key}: {value}}}"


class TaintToleration(FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "TaintToleration"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.no_schedule_taints:
            return SUCCESS
        taint = find_untolerated_taint(node.no_schedule_taints, pod.tolerations)
        if taint is None:
            return SUCCESS
        return unresolvable(untolerated_message(taint.key, taint.value))

    def filter_mask(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[bool]:
        return [not n.no_schedule_taints for n in nodes]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not any(n.prefer_no_schedule_taints for n in nodes):
            return SKIP  # every node would score the same: the ranking cannot change
        state[PRE_SCORE_KEY] = [t for t in pod.tolerations if t.effect in ("", "PreferNoSchedule")]
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        tolerations: list[Toleration] = state.get(PRE_SCORE_KEY, [])
        return sum(1 for taint in node.prefer_no_schedule_taints
                   if not any(tolerates(t, taint) for t in tolerations)), SUCCESS

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status]:
        return [self.score(state, pod, n)[0] if n.prefer_no_schedule_taints else 0 for n in nodes], SUCCESS

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> Status:
        default_normalize_score(MAX_NODE_SCORE, True, scores)
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                                     _now_tolerated)]


def _now_tolerated(pod: PodInfo, old: Any, new: Any) -> bool:
    node = NodeInfo(new) if new else None
    return node is not None and find_untolerated_taint(node.no_schedule_taints, pod.tolerations) is None


def new(args: dict[str, Any], handle: Any) -> TaintToleration:
    return TaintToleration()
