"""DefaultPreemption, message only: what preemption would say, without preempting anything.

Upstream's PostFilter tries to make room by evicting lower-priority pods and,
when it cannot, adds to the FitError a second histogram in the same form::

    preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod,
    2 Preemption is not helpful for scheduling.

This plugin produces that message and never evicts: a pod with
``preemptionPolicy: Never`` gets "not eligible due to preemptionPolicy=Never.";
otherwise nodes the filters rejected as ``UnschedulableAndUnresolvable`` (or
never considered) are "Preemption is not helpful for scheduling", and nodes
rejected as merely ``Unschedulable`` are "No preemption victims found for
incoming pod" when they hold no lower-priority pod.  A node that does hold
lower-priority pods would be a preemption candidate upstream; this scheduler
does not preempt and says "preemption is not supported by this scheduler".
The status is always ``Unschedulable``: the pod waits for a cluster change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kybernetes.scheduler.framework import CycleState, PostFilterPlugin
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import (
    Code,
    Diagnosis,
    Status,
    fit_error_message,
    unresolvable,
    unschedulable,
)

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_SUPPORTED = "preemption is not supported by this scheduler"
NEVER = "not eligible due to preemptionPolicy=Never."


class DefaultPreemption(PostFilterPlugin):
    name = "DefaultPreemption"

    def post_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                    diagnosis: Diagnosis) -> Status:
        if pod.preemption_policy == "Never":
            return unschedulable("preemption: " + NEVER)
        result = Diagnosis(absent_status=unresolvable(NOT_HELPFUL))
        for node in nodes:
            if diagnosis.status_of(node.name).code is not Code.UNSCHEDULABLE:
                continue
            lower = any(p.priority < pod.priority for p in node.pods.values())
            result.node_to_status[node.name] = unresolvable(NOT_SUPPORTED if lower else NO_VICTIMS)
        return unschedulable("preemption: " + fit_error_message(len(nodes), result))


def new(args: dict[str, Any], handle: Any) -> DefaultPreemption:
    return DefaultPreemption()
