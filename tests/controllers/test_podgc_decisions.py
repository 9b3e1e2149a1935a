"""The pod garbage collector's pure decisions: which terminated pods go first, which pods are orphans or
unscheduled-terminating or stuck on an out-of-service node, and the quarantine of missing nodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.controllers.podgc import (
    OUT_OF_SERVICE,
    gc_plan,
    missing_nodes,
    quarantine_over,
    terminated_to_delete,
    update_quarantine,
)

Obj = dict[str, Any]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pod(name: str, phase: str = "Running", node: str = "n1", created: int = 0, deleting: bool = False,
        reason: str = "") -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": name,
                 "creationTimestamp": f"2026-01-01T00:00:{created:02d}Z"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    status: Obj = {"phase": phase}
    if reason:
        status["reason"] = reason
    return {"metadata": meta, "spec": {"nodeName": node}, "status": status}


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


@pytest.mark.parametrize("threshold,expected", [
    (10, []), (5, []), (4, ["evicted"]), (3, ["evicted", "old"]), (2, ["evicted", "old", "mid-a"]),
    (1, ["evicted", "old", "mid-a", "mid-b"]),
    (0, []),  # 0 disables the terminated-pod collection, as upstream
])
def test_terminated_over_threshold_evicted_then_oldest_then_by_name(threshold: int, expected: list[str]) -> None:
    pods = [pod("new", "Succeeded", created=30), pod("mid-b", "Failed", created=20), pod("old", "Succeeded", created=1),
            pod("mid-a", "Succeeded", created=20), pod("evicted", "Failed", created=50, reason="Evicted"),
            pod("running", "Running", created=0), pod("pending", "Pending", created=0)]
    assert names(terminated_to_delete(pods, threshold)) == expected


def test_plan_sorts_pods_into_their_cases() -> None:
    ready = {"type": "Ready", "status": "True"}
    nodes = {"n1": {"metadata": {"name": "n1"}, "spec": {}, "status": {"conditions": [ready]}},
             "oos": {"metadata": {"name": "oos"}, "spec": {"taints": [{"key": OUT_OF_SERVICE, "effect": "NoExecute"}]},
                     "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}},
             "oos-ready": {"metadata": {"name": "oos-ready"},
                           "spec": {"taints": [{"key": OUT_OF_SERVICE, "effect": "NoExecute"}]},
                           "status": {"conditions": [ready]}}}
    pods = [pod("fine"), pod("orphan", node="gone"), pod("orphan-quarantined", node="missing"),
            pod("unscheduled-deleting", node="", deleting=True), pod("unscheduled", node="", phase="Pending"),
            pod("stuck", node="oos", deleting=True), pod("oos-alive", node="oos"),
            pod("deleting-on-ready-node", node="oos-ready", deleting=True)]
    plan = gc_plan(pods, nodes, {"gone"}, 12500)
    assert names(plan.orphaned) == ["orphan"]
    assert names(plan.unscheduled_terminating) == ["unscheduled-deleting"]
    assert names(plan.out_of_service) == ["stuck"]
    assert plan.terminated == []


def test_quarantine_of_missing_nodes() -> None:
    pods = [pod("a", node="gone"), pod("b", node="n1"), pod("c", node="")]
    missing = missing_nodes(pods, {"n1"})
    assert missing == {"gone"}
    since = update_quarantine({}, missing, T0)
    assert quarantine_over(since, T0 + timedelta(seconds=39), 40) == set()
    since = update_quarantine(since, missing, T0 + timedelta(seconds=39))
    assert since == {"gone": T0}  # the first time it was missed counts
    assert quarantine_over(since, T0 + timedelta(seconds=40), 40) == {"gone"}
    assert update_quarantine(since, set(), T0 + timedelta(seconds=41)) == {}  # it came back
