"""The FitError message (upstream's exact form) and DefaultPreemption's suffix, alone and from whole cycles."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.algorithm import Algorithm
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import CycleState, Handle
from kybernetes.scheduler.plugins import build_framework
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import (
    Diagnosis,
    Status,
    fit_error_message,
    truncate_message,
    unresolvable,
    unschedulable,
)
from tests.scheduler.builders import node, pod

CP = ("node-role.kubernetes.io/control-plane", "", "NoSchedule")


@pytest.mark.parametrize(("num", "diagnosis", "want"), [
    pytest.param(3, Diagnosis({"a": unschedulable("Insufficient cpu"),
                               "b": unresolvable("node(s) had untolerated taint {k: }"),
                               "c": unresolvable("node(s) had untolerated taint {k: }")}),
                 "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: }.",
                 id="histogram-sorted"),
    pytest.param(12, Diagnosis({**{f"a{i}": unschedulable("Insufficient cpu") for i in range(10)},
                                "b": unschedulable("Insufficient memory"), "c": unschedulable("Insufficient memory")}),
                 "0/12 nodes are available: 10 Insufficient cpu, 2 Insufficient memory.",
                 id="sorted-as-strings-10-before-2"),
    pytest.param(2, Diagnosis({"a": unschedulable("Insufficient cpu", "Insufficient memory"),
                               "b": unschedulable("Insufficient memory")}),
                 "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.", id="several-reasons-per-node"),
    pytest.param(3, Diagnosis(absent_status=unresolvable("pod affinity terms conflict"),
                              pre_filter_msg="pod affinity terms conflict"),
                 "0/3 nodes are available: pod affinity terms conflict.", id="prefilter-message-no-histogram"),
    pytest.param(4, Diagnosis({"a": unresolvable("node(s) didn't match Pod's node affinity/selector")},
                              absent_status=unresolvable("node(s) didn't satisfy plugin(s) [NodeAffinity]")),
                 "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                 "3 node(s) didn't satisfy plugin(s) [NodeAffinity].", id="absent-nodes-counted"),
    pytest.param(1, Diagnosis({"a": unschedulable("Insufficient cpu")},
                              post_filter_msg="preemption: 0/1 nodes are available: 1 No preemption victims found "
                                              "for incoming pod."),
                 "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                 "1 No preemption victims found for incoming pod.", id="postfilter-suffix-single-period"),
    pytest.param(2, Diagnosis(), "0/2 nodes are available:", id="nothing-known"),
])
def test_fit_error_message(num: int, diagnosis: Diagnosis, want: str) -> None:
    assert fit_error_message(num, diagnosis) == want


def test_truncate_message() -> None:
    assert truncate_message("x" * 1024) == "x" * 1024
    assert truncate_message("x" * 2000) == "x" * 1020 + " ..."


def decide(nodes: list[dict[str, Any]], incoming: dict[str, Any], placed: dict[str, list[Any]] | None = None) -> str:
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    for name, pods in (placed or {}).items():
        for p in pods:
            cache.add_pod(PodInfo.from_pod(p).with_node(name))
    handle = Handle(cache)
    algorithm = Algorithm(build_framework(handle))
    result = algorithm.schedule_pod(CycleState(), PodInfo.from_pod(incoming), cache.node_infos())
    return result.node or result.status.message()


PREEMPT_ALL_UNRESOLVABLE = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."


@pytest.mark.parametrize(("nodes", "incoming", "placed", "want"), [
    pytest.param([node("cp", taints=[CP]), node("w1", taints=[CP]), node("w2", cpu="1")], pod("p", "6"), None,
                 "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
                 "{node-role.kubernetes.io/control-plane: }. " + PREEMPT_ALL_UNRESOLVABLE,
                 id="issue-example-cpu-beyond-allocatable"),
    pytest.param([node("cp", taints=[CP]), node("w1", taints=[CP]), node("w2", cpu="2")], pod("p", "2"),
                 {"w2": [pod("a", "1")]},
                 "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
                 "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
                 "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
                 id="resolvable-shortage-no-victims"),
    pytest.param([node("a"), node("b"), node("c")], pod("p", "2", node_selector={"disk": "ssd"}), None,
                 "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
                 + PREEMPT_ALL_UNRESOLVABLE, id="selector-matches-nothing"),
    pytest.param([node("a", cpu="2"), node("b", cpu="2")], pod("p", "2", preemptionPolicy="Never"),
                 {"a": [pod("x", "1")], "b": [pod("y", "1")]},
                 "0/2 nodes are available: 2 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
                 id="preemption-policy-never"),
    pytest.param([node("a", cpu="2")], pod("p", "2", priority=10), {"a": [pod("low", "1")]},
                 "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                 "1 preemption is not supported by this scheduler.", id="lower-priority-victims-not-preempted"),
    pytest.param([node("a", taints=[("k", "v", "NoSchedule")], cpu="1")], pod("p", "2"), None,
                 "0/1 nodes are available: 1 node(s) had untolerated taint {k: v}. " +
                 "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                 id="first-failing-filter-wins-taint-before-resources"),
    pytest.param([node("a"), node("b"), node("c")],
                 pod("p", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                     "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                             "values": ["a"]}]}]}}}, cpu="8"), None,
                 "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
                 + PREEMPT_ALL_UNRESOLVABLE, id="prefilter-narrowed-nodes"),
    pytest.param([], pod("p"), None, "no nodes available to schedule pods", id="no-nodes"),
])
def test_whole_cycle_messages(nodes: list[Any], incoming: dict[str, Any], placed: Any, want: str) -> None:
    assert decide(nodes, incoming, placed) == want


def test_status_basics() -> None:
    assert Status().is_success() and not unschedulable("x").is_success()
    assert unschedulable("a", "b").message() == "a, b"
    assert unresolvable("x").is_rejected() and unschedulable("x").is_rejected()
    assert unschedulable("x") == unschedulable("x") and unschedulable("x") != unresolvable("x")
