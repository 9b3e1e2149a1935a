"""The scheduling queue: ordering, backoff, unschedulable pods moved by the events their rejectors registered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kybernetes.scheduler.events import (
    ASSIGNED_POD_DELETE,
    NODE,
    NODE_ADD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    node_update_actions,
)
from kybernetes.scheduler.framework import Framework
from kybernetes.scheduler.plugins.schedulinggates import SchedulingGates
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.queue import QueuedPodInfo, SchedulingQueue
from tests.scheduler.builders import node, pinfo, pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


EVENTS = {
    "NodeResourcesFit": [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)),
                         ClusterEventWithHint(ClusterEvent("Pod", ActionType.DELETE))],
    "TaintToleration": [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                                             lambda pod, old, new: bool(new and new.get("ok")))],
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue:
    gates = Framework([SchedulingGates()])
    return SchedulingQueue(EVENTS, gates.run_pre_enqueue, clock)


def fail(q: SchedulingQueue, qpi: QueuedPodInfo, *plugins: str) -> None:
    qpi.unschedulable_plugins = set(plugins)
    q.add_unschedulable_if_not_present(qpi)


def popped(q: SchedulingQueue) -> QueuedPodInfo:
    qpi = q.pop_nowait()
    assert qpi is not None
    return qpi


def test_priority_then_arrival_order(queue: SchedulingQueue, clock: Clock) -> None:
    for name, prio in (("low-1", 0), ("high", 100), ("low-2", 0), ("mid", 50)):
        queue.add(pinfo(name, priority=prio))
        clock.now += 1
    assert [popped(queue).pod.name for _ in range(4)] == ["high", "mid", "low-1", "low-2"]
    assert queue.pop_nowait() is None


@pytest.mark.parametrize(("attempts", "want"), [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (12, 10.0)])
def test_backoff_durations_1s_to_10s(queue: SchedulingQueue, attempts: int, want: float) -> None:
    assert queue.backoff_duration(attempts) == want


def test_error_goes_to_backoff_and_returns_after_it(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pinfo("p"))
    qpi = popped(queue)
    fail(queue, qpi)  # no rejecting plugin: an error -> backoffQ
    assert queue.where("default/p") == "backoff"
    clock.now += 0.9
    assert queue.flush_backoff_completed() == 0
    clock.now += 0.2
    assert queue.flush_backoff_completed() == 1
    again = popped(queue)
    assert again.attempts == 2
    fail(queue, again)
    clock.now += 1.5
    assert queue.flush_backoff_completed() == 0, "second failure backs off 2s"
    clock.now += 0.6
    assert queue.flush_backoff_completed() == 1


def test_unschedulable_waits_for_a_registered_event(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pinfo("p"))
    fail(queue, popped(queue), "NodeResourcesFit")
    assert queue.where("default/p") == "unschedulable"
    update_labels = ClusterEvent(NODE, ActionType.UPDATE_NODE_LABEL)
    assert queue.move_all_to_active_or_backoff(update_labels) == 0, "Fit did not register label updates"
    clock.now += 5
    assert queue.move_all_to_active_or_backoff(NODE_ADD) == 1
    assert queue.where("default/p") == "active", "backoff (1s) already over"


def test_moved_pod_still_backing_off_goes_to_backoff(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pinfo("p"))
    fail(queue, popped(queue), "NodeResourcesFit")
    clock.now += 0.5
    queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)
    assert queue.where("default/p") == "backoff"
    clock.now += 0.6
    queue.flush_backoff_completed()
    assert queue.where("default/p") == "active"


def test_queueing_hint_can_keep_a_pod_waiting(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pinfo("p"))
    fail(queue, popped(queue), "TaintToleration")
    clock.now += 5
    assert queue.move_all_to_active_or_backoff(NODE_ADD, None, {"ok": False}) == 0
    assert queue.move_all_to_active_or_backoff(NODE_ADD, None, {"ok": True}) == 1


def test_unschedulable_flushed_after_five_minutes(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pinfo("p"))
    fail(queue, popped(queue), "TaintToleration")
    clock.now += 299
    assert queue.flush_unschedulable_leftover() == 0
    clock.now += 2
    assert queue.flush_unschedulable_leftover() == 1
    assert queue.where("default/p") == "active"


def test_update_while_in_flight_is_recorded_not_queued(queue: SchedulingQueue) -> None:
    queue.add(pinfo("p"))
    qpi = popped(queue)
    newer = pinfo("p", labels={"v": "2"})
    queue.update(qpi.pod.pod, newer)
    assert queue.where("default/p") == "in-flight" and qpi.pod is newer
    queue.done("default/p")
    assert queue.where("default/p") == ""


def test_spec_update_moves_unschedulable_pod_status_update_does_not(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pinfo("p"))
    qpi = popped(queue)
    fail(queue, qpi, "NodeResourcesFit")
    status_only = pod("p")
    status_only["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}
    queue.update(qpi.pod.pod, PodInfo.from_pod(status_only))
    assert queue.where("default/p") == "unschedulable"
    clock.now += 2
    queue.update(status_only, pinfo("p", node_selector={"zone": "a"}))
    assert queue.where("default/p") == "active"


def test_scheduling_gates_hold_until_removed(queue: SchedulingQueue) -> None:
    queue.add(pinfo("p", gates=["example.com/wait"]))
    assert queue.where("default/p") == "unschedulable" and queue.pop_nowait() is None
    assert queue.move_all_to_active_or_backoff(NODE_ADD) == 0, "gated pods ignore cluster events"
    queue.update(pod("p", gates=["example.com/wait"]), pinfo("p"))
    assert popped(queue).pod.name == "p"


def test_delete_removes_everywhere(queue: SchedulingQueue) -> None:
    queue.add(pinfo("a"))
    queue.add(pinfo("b"))
    fail(queue, popped(queue), "NodeResourcesFit")
    queue.delete("default/a")
    queue.delete("default/b")
    assert len(queue) == 0 and queue.pop_nowait() is None


def test_priority_update_reorders(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pinfo("a"))
    clock.now += 1
    queue.add(pinfo("b"))
    queue.update(None, pinfo("b", priority=5))
    assert popped(queue).pod.name == "b"


async def test_pop_waits_for_a_pod(queue: SchedulingQueue) -> None:
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    queue.add(pinfo("p"))
    assert (await asyncio.wait_for(waiter, 1)).pod.name == "p"


@pytest.mark.parametrize(("change", "want"), [
    pytest.param(lambda n: n["metadata"]["labels"].update(zone="b"), ActionType.UPDATE_NODE_LABEL, id="labels"),
    pytest.param(lambda n: n["spec"].update(taints=[{"key": "k", "effect": "NoSchedule"}]),
                 ActionType.UPDATE_NODE_TAINT, id="taints"),
    pytest.param(lambda n: n["spec"].update(unschedulable=True), ActionType.UPDATE_NODE_TAINT, id="cordon-is-taint"),
    pytest.param(lambda n: n["status"]["allocatable"].update(cpu="8"), ActionType.UPDATE_NODE_ALLOCATABLE,
                 id="allocatable"),
    pytest.param(lambda n: n["status"]["conditions"][0].update(status="False"), ActionType.UPDATE_NODE_CONDITION,
                 id="ready-condition"),
    pytest.param(lambda n: n["status"]["conditions"][0].update(lastHeartbeatTime="now"), ActionType(0),
                 id="heartbeat-is-nothing"),
])
def test_node_update_classification(change: Any, want: ActionType) -> None:
    old = node("n")
    new = node("n")
    change(new)
    assert node_update_actions(old, new) == want
