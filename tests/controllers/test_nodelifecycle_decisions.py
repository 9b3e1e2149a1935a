"""The node lifecycle controller's pure decisions: the health state machine on a fake clock, Unknown
conditions, zones and tainting rates, taint plans, toleration matching and eviction timing.  No server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.controllers.nodelifecycle import (
    FULL,
    NORMAL_ZONE,
    NOT_READY,
    PARTIAL,
    UNREACHABLE,
    EvictionRates,
    NodeHealth,
    TokenBucket,
    desired_taints,
    eviction_time,
    is_stale,
    observe,
    plan_taints,
    taint_plans,
    tolerates,
    unknown_conditions,
    zone_qps,
    zone_state,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Obj = dict[str, Any]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ts(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(name: str = "n", ready: str | None = "True", heartbeat: float = 0, taints: list[Obj] | None = None,
         zone: str = "", unschedulable: bool = False, extra: list[Obj] | None = None) -> Obj:
    conditions = list(extra or [])
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "reason": "KubeletReady",
                           "lastHeartbeatTime": ts(heartbeat), "lastTransitionTime": ts(0)})
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    spec: Obj = {"taints": taints} if taints else {}
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "creationTimestamp": ts(-100), "labels": labels}, "spec": spec,
            "status": {"conditions": conditions}}


def lease(renew: float) -> Obj:
    return {"spec": {"renewTime": at(renew).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}


# -- the health state machine ---------------------------------------------------------------

# Each step: (local time, Ready heartbeat posted, lease renewTime or None, expected probe time, stale?)
# with a 40 s grace period.
SCENARIOS = {
    "lease-renewals-keep-it-alive": [
        (0, 0, 0, 0, False), (10, 0, 10, 10, False), (45, 0, 40, 45, False), (84, 0, 40, 45, False),
        (86, 0, 40, 45, True)],
    "status-heartbeats-alone-keep-it-alive": [
        (0, 0, None, 0, False), (30, 30, None, 30, False), (60, 60, None, 60, False), (101, 60, None, 60, True)],
    "silence-after-start-is-stale-after-grace": [
        (0, 0, 0, 0, False), (40, 0, 0, 0, False), (40.5, 0, 0, 0, True)],
    "a-renewal-brings-it-back": [
        (0, 0, 0, 0, False), (50, 0, 0, 0, True), (51, 0, 51, 51, False)],
    "an-old-lease-does-not-count": [
        (0, 0, 20, 0, False), (30, 0, 10, 0, False), (41, 0, 20, 0, True)],
}


@pytest.mark.parametrize("steps", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_health_state_machine(steps: list[tuple[float, float, float | None, float, bool]]) -> None:
    health: NodeHealth | None = None
    for now, heartbeat, renew, probe, stale in steps:
        health = observe(health, node(heartbeat=heartbeat), lease(renew) if renew is not None else None, at(now))
        assert health.probe == at(probe), (now, health)
        assert is_stale(health, at(now), 40.0, 60.0) is stale, now


def test_node_that_never_posted_status_gets_the_startup_grace_from_its_creation() -> None:
    n = node(ready=None)  # created at -100
    health = observe(None, n, None, at(0))
    assert health.probe == at(-100) and not health.has_ready
    assert not is_stale(health, at(-41), 40.0, 60.0)
    assert is_stale(health, at(-39), 40.0, 60.0)  # 61 s after creation


def test_a_ready_condition_appearing_counts_as_a_sign_of_life() -> None:
    health = observe(None, node(ready=None), None, at(0))
    health = observe(health, node(heartbeat=5), None, at(30))
    assert health.probe == at(30) and health.has_ready


def test_unknown_conditions_marks_the_kubelet_conditions() -> None:
    pressure = {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                "lastHeartbeatTime": ts(0), "lastTransitionTime": ts(0)}
    foreign = {"type": "NetworkUnavailable", "status": "False", "reason": "RouteCreated"}
    n = node(extra=[pressure, foreign])
    got = {c["type"]: c for c in unknown_conditions(n, at(50)) or []}
    assert got["Ready"]["status"] == "Unknown"
    assert got["Ready"]["reason"] == "NodeStatusUnknown"
    assert got["Ready"]["message"] == "Kubelet stopped posting node status."
    assert got["Ready"]["lastTransitionTime"] == ts(50)
    assert got["Ready"]["lastHeartbeatTime"] == ts(0)  # kept: it says when the kubelet last spoke
    assert got["MemoryPressure"]["status"] == "Unknown"
    for missing in ("DiskPressure", "PIDPressure"):
        assert got[missing]["reason"] == "NodeStatusNeverUpdated"
        assert got[missing]["message"] == "Kubelet never posted node status."
    assert got["NetworkUnavailable"] == foreign
    # the input is not modified, and a second pass changes nothing
    assert n["status"]["conditions"][-1]["status"] == "True"
    n["status"]["conditions"] = list(got.values())
    assert unknown_conditions(n, at(60)) is None


# -- zones, rates and taints ---------------------------------------------------------------------

@pytest.mark.parametrize("ready,state", [
    (["True", "True"], NORMAL_ZONE),
    (["True", "Unknown"], NORMAL_ZONE),
    (["True", "Unknown", "Unknown"], NORMAL_ZONE),  # 2 of 3: partial needs more than 2
    (["Unknown"], FULL),
    (["False", None], FULL),
    (["True", "False", "Unknown", None], PARTIAL),  # 3 of 4
    (["True", "True", "False", "Unknown", None], PARTIAL),  # 3 of 5 = 60 %
    (["True", "True", "True", "False", "Unknown", None], NORMAL_ZONE),  # 50 % < 55 %
    ([], NORMAL_ZONE),
], ids=["all-ready", "one-of-two", "two-of-three", "single-down", "all-down", "three-of-four", "three-of-five", "half", "empty"])
def test_zone_state(ready: list[str | None], state: str) -> None:
    assert zone_state(ready) == state


@pytest.mark.parametrize("state,size,qps", [
    (NORMAL_ZONE, 3, 0.1), (FULL, 3, 0.1), (PARTIAL, 10, 0.0), (PARTIAL, 51, 0.01)])
def test_zone_rates(state: str, size: int, qps: float) -> None:
    assert zone_qps(state, size, 0.1, 0.01) == qps


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(0.1, at(0))
    assert bucket.try_take(at(0))
    assert not bucket.try_take(at(5))
    assert bucket.try_take(at(10))
    bucket.qps = 0.0
    assert not bucket.try_take(at(100))


@pytest.mark.parametrize("ready,unschedulable,no_execute,extra,want", [
    ("True", False, None, [], set()),
    ("False", False, NOT_READY, [], {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")}),
    ("Unknown", False, UNREACHABLE, [], {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}),
    ("Unknown", False, None, [], {(UNREACHABLE, "NoSchedule")}),
    ("True", True, None, [], {("node.kubernetes.io/unschedulable", "NoSchedule")}),
    ("True", False, None, [{"type": "DiskPressure", "status": "True"}],
     {("node.kubernetes.io/disk-pressure", "NoSchedule")}),
], ids=["healthy", "not-ready", "unreachable", "unreachable-rate-limited", "cordoned", "disk-pressure"])
def test_desired_taints(ready: str, unschedulable: bool, no_execute: str | None, extra: list[Obj],
                        want: set[tuple[str, str]]) -> None:
    assert desired_taints(node(ready=ready, unschedulable=unschedulable, extra=extra), no_execute) == want


def test_plan_taints_keeps_foreign_taints_and_our_time_added() -> None:
    foreign = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    ours = {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": ts(1)}
    n = node(taints=[foreign, ours])
    assert plan_taints(n, {(UNREACHABLE, "NoExecute")}, at(9)) is None
    got = plan_taints(n, {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}, at(9))
    assert got == [foreign, ours, {"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": ts(9)}]
    assert plan_taints(n, set(), at(9)) == [foreign]


def rates() -> EvictionRates:
    return EvictionRates(qps=0.1, secondary_qps=0.01, large_cluster_size=50)


def test_taint_plans_rate_limit_new_no_execute_taints_per_zone() -> None:
    nodes = [node("a", "Unknown", zone="z"), node("b", "Unknown", zone="z"), node("c", zone="z"),
             node("d", zone="z"), node("e", zone="z"), node("f", zone="z")]
    buckets: dict[str, TokenBucket] = {}
    states, plans = taint_plans(nodes, buckets, rates(), at(0))
    assert set(states.values()) == {NORMAL_ZONE}
    got = {n["metadata"]["name"]: {(t["key"], t["effect"]) for t in taints} for n, taints in plans}
    assert got == {"a": {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")},
                   "b": {(UNREACHABLE, "NoSchedule")}}  # b waits for the zone's next token
    for n, taints in plans:  # as if written and observed
        n["spec"]["taints"] = taints
    _, plans = taint_plans(nodes, buckets, rates(), at(5))
    assert plans == []
    _, plans = taint_plans(nodes, buckets, rates(), at(10))
    assert [(n["metadata"]["name"], [(t["key"], t["effect"]) for t in taints]) for n, taints in plans] == [
        ("b", [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")])]


def test_taint_plans_swap_not_ready_for_unreachable_at_once() -> None:
    tainted = node("a", "Unknown", zone="z", taints=[{"key": NOT_READY, "effect": "NoExecute", "timeAdded": ts(0)}])
    buckets = {"": TokenBucket(0.0, at(0), tokens=0)}
    _, plans = taint_plans([tainted, node("b", zone="z")], buckets, rates(), at(5))
    ((_, taints),) = plans
    assert {(t["key"], t["effect"]) for t in taints} == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}


def test_taint_plans_master_disruption_removes_no_execute_taints() -> None:
    down = [node("a", "Unknown", zone="z1", taints=[{"key": UNREACHABLE, "effect": "NoExecute"}]),
            node("b", "Unknown", zone="z2")]
    states, plans = taint_plans(down, {}, rates(), at(0))
    assert set(states.values()) == {FULL}
    got = {n["metadata"]["name"]: {(t["key"], t["effect"]) for t in taints} for n, taints in plans}
    assert got == {"a": {(UNREACHABLE, "NoSchedule")}, "b": {(UNREACHABLE, "NoSchedule")}}


def test_taint_plans_partial_disruption_of_a_small_zone_stops_tainting() -> None:
    nodes = [node(f"n{i}", "Unknown", zone="z") for i in range(3)] + [node("ok", zone="z")]
    states, plans = taint_plans(nodes, {}, rates(), at(0))
    assert set(states.values()) == {PARTIAL}
    assert all(t["effect"] == "NoSchedule" for _, taints in plans for t in taints)


def test_taint_plans_healthy_node_loses_controller_taints() -> None:
    n = node("a", zone="z", taints=[{"key": UNREACHABLE, "effect": "NoExecute"},
                                    {"key": UNREACHABLE, "effect": "NoSchedule"}])
    _, plans = taint_plans([n], {}, rates(), at(0))
    assert plans == [(n, [])]


# -- tolerations and eviction timing -----------------------------------------------------------

TAINT = {"key": UNREACHABLE, "effect": "NoExecute"}


@pytest.mark.parametrize("tol,taint,ok", [
    ({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}, TAINT, True),
    ({"key": UNREACHABLE, "operator": "Exists"}, TAINT, True),
    ({"operator": "Exists"}, TAINT, True),
    ({"key": NOT_READY, "operator": "Exists"}, TAINT, False),
    ({"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}, TAINT, False),
    ({"key": "k", "operator": "Equal", "value": "v"}, {"key": "k", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "value": "v"}, {"key": "k", "value": "w", "effect": "NoExecute"}, False),
    ({"key": "k"}, {"key": "k", "effect": "NoExecute"}, True),
], ids=["exact", "any-effect", "wildcard", "other-key", "other-effect", "equal", "unequal", "empty-values"])
def test_tolerates(tol: Obj, taint: Obj, ok: bool) -> None:
    assert tolerates(tol, taint) is ok


def tol(key: str, seconds: int | None) -> Obj:
    t: Obj = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        t["tolerationSeconds"] = seconds
    return t


@pytest.mark.parametrize("tolerations,taints,cap,when", [
    ([], [TAINT], None, 0),
    ([tol(UNREACHABLE, 300)], [TAINT], None, 310),
    ([tol(UNREACHABLE, None)], [TAINT], None, None),
    ([tol(UNREACHABLE, 0)], [TAINT], None, 10),
    ([tol(UNREACHABLE, -5)], [TAINT], None, 10),
    ([tol(UNREACHABLE, 300)], [TAINT, {"key": "gpu", "effect": "NoExecute"}], None, 0),
    ([tol(UNREACHABLE, 300), tol("gpu", 30)], [TAINT, {"key": "gpu", "effect": "NoExecute"}], None, 40),
    ([tol(UNREACHABLE, 300), tol("gpu", None)], [TAINT, {"key": "gpu", "effect": "NoExecute"}], None, 310),
    ([tol(UNREACHABLE, 300)], [TAINT], 30.0, 40),
    ([tol(UNREACHABLE, None)], [TAINT], 30.0, None),
    ([], [], None, None),
], ids=["untolerated", "300s", "forever", "zero", "negative", "one-untolerated", "min-of-two",
        "forever-and-300", "capped", "forever-not-capped", "no-taints"])
def test_eviction_time(tolerations: list[Obj], taints: list[Obj], cap: float | None, when: float | None) -> None:
    # taints appeared at 10, it is now 0 (when is relative to T0; "0" means at once = now)
    got = eviction_time(tolerations, taints, lambda _t: at(10), at(0), cap)
    assert got == (at(when) if when is not None else None)
