"""SchedulingGates: a pod with ``spec.schedulingGates`` is not scheduled until they are all removed.

PreEnqueue only: the queue keeps a gated pod aside (no attempts, no events)
and lets it in on the update that removes the last gate.
"""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import PreEnqueuePlugin
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SUCCESS, Status, unresolvable


class SchedulingGates(PreEnqueuePlugin):
    name = "SchedulingGates"

    def pre_enqueue(self, pod: PodInfo) -> Status:
        if not pod.scheduling_gates:
            return SUCCESS
        return unresolvable(f"waiting for scheduling gates: [{' '.join(pod.scheduling_gates)}]")


def new(args: dict[str, Any], handle: Any) -> SchedulingGates:
    return SchedulingGates()
