"""NodeName: a pod that names a node (``spec.nodeName``) fits only that node.

Filter: ``UnschedulableAndUnresolvable`` "node(s) didn't match the requested
node name" on every other node (PreFilter skips pods that name no node).  Requeued when a node is added whose name is
the one asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kybernetes.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kybernetes.scheduler.framework import (
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SKIP, SUCCESS, Status, unresolvable

ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = unresolvable(ERR_REASON)


class NodeName(PreFilterPlugin, FilterPlugin, EnqueueExtensions):
    name = "NodeName"

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status]:
        return None, (SUCCESS if pod.node_name else SKIP)  # pending pods rarely name a node

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        wanted = pod.node_name
        return SUCCESS if not wanted or wanted == node.name else _REJECT

    def filter_mask(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[bool]:
        return [not pod.node_name or n.name == pod.node_name for n in nodes]

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD), _node_is_the_one)]


def _node_is_the_one(pod: PodInfo, old: Any, new: Any) -> bool:
    name = ((new or {}).get("metadata") or {}).get("name")
    return not pod.node_name or pod.node_name == name


def new(args: dict[str, Any], handle: Any) -> NodeName:
    return NodeName()
