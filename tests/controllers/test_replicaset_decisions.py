"""The ReplicaSet controller's pure decisions, table-driven: deletion order, resize plans, status,
claims, expectations, slow start; and the failure path of ``manage_replicas`` against a client
that refuses every pod."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.client.rest import APIError
from kybernetes.controllers.podcontrol import (
    Expectations,
    deletion_order,
    is_pod_available,
    plan_claims,
    pod_from_template,
    slow_start_batch,
)
from kybernetes.controllers.replicaset import (
    REPLICASET,
    ReplicaSetController,
    calculate_status,
    plan_replicas,
    pods_to_delete,
    status_patch,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready_since: float | None = 100.0,
        created: float = 1000.0, restarts: int = 0, cost: int | None = None, labels: dict[str, str] | None = None,
        owner: str | None = None, deleting: bool = False) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": ts(created),
                         "labels": labels if labels is not None else {"app": "web"}, "resourceVersion": "1"}
    if cost is not None:
        m["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    if owner:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": owner,
                                 "controller": True}]
    if deleting:
        m["deletionTimestamp"] = ts(0)
    conditions = [] if ready_since is None else [{"type": "Ready", "status": "True",
                                                  "lastTransitionTime": ts(ready_since)}]
    return {"metadata": m, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"restartCount": restarts}]}}


ORDER_CASES = {
    # name: (pods, expected order of names)
    "unscheduled before scheduled": ([pod("a"), pod("b", node="")], ["b", "a"]),
    "pending before unknown before running": (
        [pod("run"), pod("unk", phase="Unknown"), pod("pend", phase="Pending")], ["pend", "unk", "run"]),
    "not ready before ready": ([pod("r"), pod("nr", ready_since=None)], ["nr", "r"]),
    "lower deletion cost first": ([pod("hi", cost=10), pod("lo", cost=-5), pod("none")], ["lo", "none", "hi"]),
    "ready for less time first (log2 buckets)": ([pod("old", ready_since=3600), pod("new", ready_since=2)],
                                                 ["new", "old"]),
    "same bucket: by uid": ([pod("b", ready_since=40), pod("a", ready_since=50)], ["a", "b"]),
    "more restarts first": ([pod("calm"), pod("crashy", restarts=7)], ["crashy", "calm"]),
    "newer first": ([pod("older", created=5000), pod("newer", created=10)], ["newer", "older"]),
    "phase beats readiness": ([pod("pend", phase="Pending"), pod("nr", ready_since=None)], ["pend", "nr"]),
}


@pytest.mark.parametrize("pods, expected", ORDER_CASES.values(), ids=ORDER_CASES.keys())
def test_deletion_order(pods: list[dict[str, Any]], expected: list[str]) -> None:
    assert [p["metadata"]["name"] for p in deletion_order(pods, now=NOW)] == expected


def test_doubled_up_pods_go_first() -> None:
    mine = [pod("alone", node="n1"), pod("crowded", node="n2")]
    related = [*mine, pod("sibling-1", node="n2"), pod("sibling-2", node="n2")]
    assert [p["metadata"]["name"] for p in pods_to_delete(mine, related, 1, NOW)] == ["crowded"]


PLAN_CASES = {
    # name: (desired, number of pods, burst, creates, deletes)
    "in step": (3, 3, 500, 0, 0),
    "too few": (5, 2, 500, 3, 0),
    "too many": (1, 4, 500, 0, 3),
    "creations capped by burst": (2000, 0, 500, 500, 0),
    "deletions capped by burst": (0, 7, 5, 0, 5),
    "to zero": (0, 2, 500, 0, 2),
}


@pytest.mark.parametrize("desired, n, burst, creates, deletes", PLAN_CASES.values(), ids=PLAN_CASES.keys())
def test_plan_replicas(desired: int, n: int, burst: int, creates: int, deletes: int) -> None:
    pods = [pod(f"p{i}") for i in range(n)]
    plan = plan_replicas(desired, pods, pods, NOW, burst)
    assert (plan.create, len(plan.delete)) == (creates, deletes)


def rs(replicas: int = 3, min_ready: int = 0, status: dict[str, Any] | None = None, generation: int = 2) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "rs-uid", "generation": generation},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "front"}}}},
            "status": status or {"replicas": 0}}


def test_status_counts() -> None:
    pods = [pod("a", labels={"app": "web", "tier": "front"}, ready_since=100),
            pod("b", labels={"app": "web", "tier": "front"}, ready_since=5),
            pod("c", ready_since=None)]
    st = calculate_status(rs(min_ready=10), pods, NOW)
    assert st == {"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1,
                  "observedGeneration": 2}


def test_status_leaves_zero_counts_out() -> None:
    st = calculate_status(rs(0, status={"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}), [], NOW)
    assert st == {"replicas": 0, "observedGeneration": 2}
    assert status_patch({"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}, st) == \
        {"status": {"replicas": 0, "observedGeneration": 2, "readyReplicas": None, "availableReplicas": None}}
    assert status_patch(st, dict(st)) is None


def test_replica_failure_condition_set_kept_and_cleared() -> None:
    err = RuntimeError('pods "web-x" is forbidden: exceeded quota')
    st = calculate_status(rs(3), [], NOW, err)
    (cond,) = st["conditions"]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == \
        ("ReplicaFailure", "True", "FailedCreate", str(err))
    later = calculate_status(rs(3, status=st), [], NOW + timedelta(seconds=30), RuntimeError("other"))
    assert later["conditions"] == [cond], "an existing failure is kept as it was"
    assert "conditions" not in calculate_status(rs(3, status=st), [], NOW)
    deleting = calculate_status(rs(0), [pod("a")], NOW, RuntimeError("no"))
    assert deleting["conditions"][0]["reason"] == "FailedDelete"


@pytest.mark.parametrize("min_ready, ready_since, available", [
    (0, 0, True), (10, 11, True), (10, 10, False), (10, 3, False), (10, None, False),
])
def test_availability(min_ready: int, ready_since: float | None, available: bool) -> None:
    assert is_pod_available(pod("a", ready_since=ready_since), min_ready, NOW) is available


def test_claims() -> None:
    owner = {"metadata": {"uid": "rs-uid", "namespace": "ns"}}
    pods = [pod("mine", owner="rs-uid"), pod("mine-relabelled", owner="rs-uid", labels={"app": "other"}),
            pod("orphan"), pod("orphan-other", labels={"app": "other"}), pod("theirs", owner="other-uid"),
            pod("orphan-deleting", deleting=True)]
    claims = plan_claims(owner, lambda p: p["metadata"]["labels"].get("app") == "web", pods)
    names = [[p["metadata"]["name"] for p in group] for group in (claims.owned, claims.adopt, claims.release)]
    assert names == [["mine"], ["orphan"], ["mine-relabelled"]]
    owner["metadata"]["deletionTimestamp"] = ts(0)
    claims = plan_claims(owner, lambda p: p["metadata"]["labels"].get("app") == "web", pods)
    assert ([p["metadata"]["name"] for p in claims.owned], claims.adopt, claims.release) == (["mine"], [], [])


def test_pod_from_template() -> None:
    template = {"metadata": {"labels": {"app": "web"}, "annotations": {"a": "1"}, "name": "ignored"},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u", "controller": True,
           "blockOwnerDeletion": True}
    assert pod_from_template(template, "web", ref) == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "web-", "labels": {"app": "web"}, "annotations": {"a": "1"},
                     "ownerReferences": [ref]},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_expectations() -> None:
    clock = [0.0]
    exp = Expectations(clock=lambda: clock[0], ttl=300)
    assert exp.satisfied("ns/web")
    exp.expect_creations("ns/web", 2)
    exp.creation_observed("ns/web")
    assert not exp.satisfied("ns/web")
    exp.creation_observed("ns/web")
    assert exp.satisfied("ns/web")
    exp.expect_deletions("ns/web", ["ns/a", "ns/b"])
    exp.deletion_observed("ns/web", "ns/a")
    exp.deletion_observed("ns/web", "ns/a")  # seen twice (graceful, then gone): counts once
    assert exp.pending("ns/web") == (0, 1) and not exp.satisfied("ns/web")
    clock[0] = 301.0
    assert exp.satisfied("ns/web"), "expired expectations no longer block"


@pytest.mark.parametrize("count, fail_at, calls, done", [
    (10, None, 10, 10), (10, 0, 1, 0), (10, 2, 3, 2), (7, 5, 7, 6), (0, None, 0, 0),
])
async def test_slow_start(count: int, fail_at: int | None, calls: int, done: int) -> None:
    seen: list[int] = []

    async def fn() -> None:
        n = len(seen)
        seen.append(n)
        await asyncio.sleep(0)
        if n == fail_at:
            raise RuntimeError("quota")
    got, err = await slow_start_batch(count, 1, fn)
    assert (len(seen), got, err is None) == (calls, done, fail_at is None)


class RefusingClient:
    """A stand-in for the API that refuses every pod (a quota would), recording calls."""

    def __init__(self) -> None:
        self.creates = 0

    async def create(self, path: str, obj: dict[str, Any]) -> Any:
        self.creates += 1
        raise APIError({"kind": "Status", "code": 403, "reason": "Forbidden",
                        "message": 'pods "web-" is forbidden: exceeded quota: compute'}, 403)


class Recorded:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: Any, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


async def test_failed_creation_stops_early_and_is_reported() -> None:
    client = RefusingClient()
    ctl = ReplicaSetController.__new__(ReplicaSetController)
    ctl.kind, ctl.burst, ctl.clock = REPLICASET, 500, lambda: NOW
    ctl.expectations = Expectations()
    recorder = Recorded()
    from kybernetes.controllers.podcontrol import PodControl
    ctl.pod_control = PodControl(client, recorder)  # type: ignore[arg-type]
    ctl.related_pods = lambda owner: []  # type: ignore[method-assign]
    owner = rs(50)
    owner["spec"]["template"]["spec"] = {"containers": [{"name": "c", "image": "nginx"}]}
    err = await ctl.manage_replicas(owner, [], {"uid": "rs-uid"})
    assert isinstance(err, APIError) and client.creates == 1
    assert ctl.expectations.satisfied("ns/web"), "creations never made are not waited for"
    assert recorder.events == [("Warning", "FailedCreate",
                                'Error creating: pods "web-" is forbidden: exceeded quota: compute')]
    assert calculate_status(owner, [], NOW, err)["conditions"][0]["reason"] == "FailedCreate"
