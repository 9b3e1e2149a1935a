"""NodePorts: a host port can be taken only once per node (per protocol and IP).

PreFilter: ``SKIP`` for a pod without host ports (nearly all), so Filter never
runs for it.  Filter: any wanted ``(ip, protocol, port)`` colliding with one in
use on the node - same protocol and port, and the same IP or either being
``0.0.0.0`` - makes the node ``Unschedulable`` "node(s) didn't have free ports
for the requested pod ports".  Requeued when an assigned pod holding one of
those ports is deleted, or a node is added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kybernetes.scheduler.events import NODE, POD, ActionType, ClusterEvent, ClusterEventWithHint
from kybernetes.scheduler.framework import (
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
)
from kybernetes.scheduler.nodeinfo import ANY_IP, NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SKIP, SUCCESS, Status, unschedulable

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECT = unschedulable(ERR_REASON)


class NodePorts(PreFilterPlugin, FilterPlugin, EnqueueExtensions):
    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status]:
        return None, (SUCCESS if pod.host_ports else SKIP)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.used_ports:
            return SUCCESS
        for wanted in pod.host_ports:
            if node.port_conflicts(wanted):
                return _REJECT
        return SUCCESS

    def filter_mask(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[bool]:
        return [not n.used_ports for n in nodes]

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(POD, ActionType.DELETE), _frees_a_port),
                ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD))]


def _frees_a_port(pod: PodInfo, old: Any, new: Any) -> bool:
    if not isinstance(old, PodInfo):
        return True
    return any(w.protocol == h.protocol and w.port == h.port and (w.ip == h.ip or ANY_IP in (w.ip, h.ip))
               for w in pod.host_ports for h in old.host_ports)


def new(args: dict[str, Any], handle: Any) -> NodePorts:
    return NodePorts()
