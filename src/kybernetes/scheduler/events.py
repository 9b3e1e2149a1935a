"""Cluster events: what changed, in the terms plugins use to say what could help a pod.

A pod rejected by some plugins waits among the unschedulable pods until a
cluster event happens that one of those plugins registered (upstream's
``EnqueueExtensions.EventsToRegister``): NodeResourcesFit cares about a node
added or its allocatable growing and about assigned pods going away;
TaintToleration about a node added or its taints changing; and so on.

An event is a resource (``Node``, ``Pod`` - meaning an *assigned* pod, other
than the waiting one) and an :class:`ActionType` bit set.  Updates are split
into specific kinds (label, taint, allocatable, ...) by comparing the old and
new object (:func:`node_update_actions`, :func:`pod_update_actions`), so a
node's heartbeat (conditions only) wakes nobody who only cares about taints.
A registered event matches an incoming one when the resources agree (or the
registration is the ``*`` wildcard) and they share an action bit.

Optional *queueing hints* refine a match: ``hint(pod, old, new)`` returns False
when the change cannot help this particular pod (e.g. the new node is still
too small), and the pod stays where it is.

Pure functions and plain data; no side effects.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.scheduler.podinfo import PodInfo

Obj = dict[str, Any]
NODE, POD, WILDCARD = "Node", "Pod", "*"


class ActionType(enum.IntFlag):
    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_NODE_ANNOTATION = 64
    UPDATE_POD_LABEL = 128
    UPDATE_POD_SCALE_DOWN = 256
    UPDATE_POD_TOLERATION = 512
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1024
    UPDATE = 4 | 8 | 16 | 32 | 64 | 128 | 256 | 512 | 1024
    ALL = ADD | DELETE | UPDATE


@dataclass(frozen=True)
class ClusterEvent:
    resource: str
    action: ActionType
    label: str = ""

    def matches(self, incoming: ClusterEvent) -> bool:
        """Whether this *registered* event covers ``incoming`` (upstream's MatchClusterEvents)."""
        if self.resource == WILDCARD and self.action == ActionType.ALL:
            return True
        return (self.resource in (WILDCARD, incoming.resource)) and bool(self.action & incoming.action)

    def __str__(self) -> str:
        return self.label or f"{self.resource}{self.action!r}"


# (waiting pod, old object or None, new object or None) -> may this change make the pod schedulable?
QueueingHint = Callable[[PodInfo, Any, Any], bool]


@dataclass(frozen=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHint | None = None


# Events raised by the scheduler itself.
UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL, "UnschedulableTimeout")
NODE_ADD = ClusterEvent(NODE, ActionType.ADD, "NodeAdd")
NODE_DELETE = ClusterEvent(NODE, ActionType.DELETE, "NodeDelete")
ASSIGNED_POD_ADD = ClusterEvent(POD, ActionType.ADD, "AssignedPodAdd")
ASSIGNED_POD_DELETE = ClusterEvent(POD, ActionType.DELETE, "AssignedPodDelete")


def _taints(node: Obj) -> Any:
    return (node.get("spec") or {}).get("taints") or []


def node_update_actions(old: Obj, new: Obj) -> ActionType:
    """The specific kinds of update between two versions of a Node (zero when none matters)."""
    action = ActionType(0)
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    if old_status.get("allocatable") != new_status.get("allocatable"):
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    if (old_meta.get("labels") or {}) != (new_meta.get("labels") or {}):
        action |= ActionType.UPDATE_NODE_LABEL
    # spec.unschedulable is reported as a taint change, as upstream does.
    if _taints(old) != _taints(new) or bool((old.get("spec") or {}).get("unschedulable")) != \
            bool((new.get("spec") or {}).get("unschedulable")):
        action |= ActionType.UPDATE_NODE_TAINT
    if _conditions(old_status) != _conditions(new_status):
        action |= ActionType.UPDATE_NODE_CONDITION
    if (old_meta.get("annotations") or {}) != (new_meta.get("annotations") or {}):
        action |= ActionType.UPDATE_NODE_ANNOTATION
    return action


def _conditions(status: Obj) -> list[tuple[Any, Any]]:
    # Heartbeats rewrite lastHeartbeatTime every few seconds; only type and status matter.
    return [(c.get("type"), c.get("status")) for c in status.get("conditions") or ()]


def pod_update_actions(old: PodInfo, new: PodInfo) -> ActionType:
    """The specific kinds of update between two versions of a pod."""
    action = ActionType(0)
    if old.labels != new.labels:
        action |= ActionType.UPDATE_POD_LABEL
    o, n = old.requests, new.requests
    if (n.milli_cpu < o.milli_cpu or n.memory < o.memory or n.ephemeral_storage < o.ephemeral_storage
            or any(n.scalars.get(k, 0) < v for k, v in o.scalars.items())):
        action |= ActionType.UPDATE_POD_SCALE_DOWN
    if old.tolerations != new.tolerations:
        action |= ActionType.UPDATE_POD_TOLERATION
    if old.scheduling_gates and not new.scheduling_gates:
        action |= ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED
    return action


def node_update_event(old: Obj, new: Obj) -> ClusterEvent | None:
    action = node_update_actions(old, new)
    return ClusterEvent(NODE, action, "NodeUpdate") if action else None


def pod_update_event(old: PodInfo, new: PodInfo) -> ClusterEvent | None:
    action = pod_update_actions(old, new)
    return ClusterEvent(POD, action, "AssignedPodUpdate") if action else None
