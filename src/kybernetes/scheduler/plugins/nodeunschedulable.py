"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take no new pods.

Filter: ``UnschedulableAndUnresolvable`` "node(s) were unschedulable" unless
the pod tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint
(DaemonSet pods do).  Requeued when a node is added or its taints /
schedulability change and it now takes the pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kybernetes.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kybernetes.scheduler.framework import CycleState, EnqueueExtensions, FilterPlugin
from kybernetes.scheduler.nodeinfo import NodeInfo, Taint
from kybernetes.scheduler.plugins.helpers import tolerates
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SUCCESS, Status, unresolvable

ERR_REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")
_REJECT = unresolvable(ERR_REASON)


def _admits(pod: PodInfo, unschedulable: bool) -> bool:
    return not unschedulable or any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations)


class NodeUnschedulable(FilterPlugin, EnqueueExtensions):
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if _admits(pod, node.unschedulable) else _REJECT

    def filter_mask(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[bool]:
        if _admits(pod, True):
            return [True] * len(nodes)
        return [not n.unschedulable for n in nodes]

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                                     _now_admits)]


def _now_admits(pod: PodInfo, old: Any, new: Any) -> bool:
    return _admits(pod, bool(((new or {}).get("spec") or {}).get("unschedulable")))


def new(args: dict[str, Any], handle: Any) -> NodeUnschedulable:
    return NodeUnschedulable()
