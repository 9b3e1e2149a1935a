"""The deployment controller's pure decisions, table-driven: fenceposts, rolling steps, Recreate,
proportional scaling, revisions and history, hashing, status and progress conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.controllers.deployment.history import history_to_prune, new_rs_annotations
from kybernetes.controllers.deployment.progress import (
    paused_conditions,
    requeue_after,
    rollout_status,
)
from kybernetes.controllers.deployment.rolling import (
    Scale,
    old_pods_running,
    plan_rolling,
    reconcile_new,
    reconcile_old,
)
from kybernetes.controllers.deployment.scaling import find_active_or_latest, is_scaling_event, plan_scale
from kybernetes.controllers.deployment.status import calculate_status
from kybernetes.controllers.deployment.util import (
    compute_hash,
    equal_ignore_hash,
    int_or_percent,
    max_surge,
    max_unavailable,
    resolve_fenceposts,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float = 0) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def dep(replicas: int = 10, surge: int | str = 0, unavailable: int | str = 1, *, strategy: str = "RollingUpdate",
        status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    strat: dict[str, Any] = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": 1, "annotations": {}},
            "spec": {"replicas": replicas, "strategy": strat, "progressDeadlineSeconds": 600, **spec,
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "a"}]}}},
            "status": status or {}}


def rs(name: str, replicas: int, available: int | None = None, *, age: int = 100, max_replicas: int | None = None,
       desired: int | None = None, revision: int | None = None, actual: int | None = None) -> dict[str, Any]:
    ann: dict[str, str] = {}
    if max_replicas is not None:
        ann["deployment.kubernetes.io/max-replicas"] = str(max_replicas)
    if desired is not None:
        ann["deployment.kubernetes.io/desired-replicas"] = str(desired)
    if revision is not None:
        ann["deployment.kubernetes.io/revision"] = str(revision)
    avail = replicas if available is None else available
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": ts(age), "annotations": ann, "generation": 1},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas if actual is None else actual, "readyReplicas": avail,
                       "availableReplicas": avail, "observedGeneration": 1}}


@pytest.mark.parametrize("value, total, up, expected", [
    (3, 10, True, 3), ("25%", 10, True, 3), ("25%", 10, False, 2), ("0%", 10, True, 0), ("100%", 7, False, 7),
    ("1%", 2, True, 1), ("1%", 2, False, 0), (None, 5, True, 0),
])
def test_int_or_percent(value: int | str | None, total: int, up: bool, expected: int) -> None:
    assert int_or_percent(value, total, up) == expected


@pytest.mark.parametrize("surge, unavailable, desired, expected", [
    ("0%", "1%", 2, (0, 1)),  # both resolve to 0: unavailable becomes 1
    ("1%", "25%", 2, (1, 0)),
    ("1%", "0%", 1, (1, 0)),
    ("25%", "25%", 10, (3, 2)),
    (0, 0, 5, (0, 1)),
])
def test_fenceposts(surge: int | str, unavailable: int | str, desired: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == expected


def test_fenceposts_per_strategy() -> None:
    assert (max_surge(dep(4, 2, 9)), max_unavailable(dep(4, 2, 9))) == (2, 4)  # unavailable capped at replicas
    assert max_unavailable(dep(0, 1, 1)) == 0
    assert (max_surge(dep(4, strategy="Recreate")), max_unavailable(dep(4, strategy="Recreate"))) == (0, 0)


NEW_CASES = {
    # name: (replicas, surge, old size, new size, expected new size or None)
    "no room to surge": (10, 0, 10, 0, None),
    "surge 2": (10, 2, 10, 0, 2),
    "room from scaled-down old": (10, 2, 5, 0, 7),
    "never beyond replicas": (10, 5, 0, 8, 10),
    "too big after a scale-down": (10, 2, 0, 11, 10),
    "done": (10, 2, 0, 10, None),
}


@pytest.mark.parametrize("replicas, surge, old, new, expected", NEW_CASES.values(), ids=NEW_CASES.keys())
def test_reconcile_new(replicas: int, surge: int, old: int, new: int, expected: int | None) -> None:
    d, new_rs = dep(replicas, surge, 1), rs("new", new, 0, age=1)
    step = reconcile_new(d, [rs("old", old), new_rs], new_rs)
    assert (step.replicas if step else None) == expected


OLD_CASES = {
    # name: (deployment (replicas, surge, unavailable), old [(size, available, age)], new (size, available), steps)
    "scale down within maxUnavailable": ((10, 0, 2), [(10, 10, 100)], (0, 0), [Scale("old0", 8)]),
    "unhealthy replicas go first": ((10, 0, 2), [(10, 8, 100)], (0, 0), [Scale("old0", 8)]),
    "new pods not available yet": ((10, 2, 0), [(10, 10, 100)], (2, 0), []),
    "new pods available": ((10, 2, 0), [(10, 10, 100)], (2, 2), [Scale("old0", 8)]),
    "crashlooping new pods block (upstream case 1)": ((10, 3, 2), [(8, 7, 100)], (5, 0), []),
    "oldest first": ((8, 0, 1), [(3, 3, 300), (5, 5, 200)], (2, 2), [Scale("old0", 0)]),
    "lagging old status is not over-counted": ((10, 0, 2), [(5, 10, 100)], (5, 5), [Scale("old0", 3)]),
}


@pytest.mark.parametrize("d, olds, new, steps", OLD_CASES.values(), ids=OLD_CASES.keys())
def test_reconcile_old(d: tuple[int, int, int], olds: list[tuple[int, int, int]], new: tuple[int, int],
                       steps: list[Scale]) -> None:
    old_rss = [rs(f"old{i}", size, avail, age=age) for i, (size, avail, age) in enumerate(olds)]
    new_rs = rs("new", new[0], new[1], age=1)
    assert reconcile_old(dep(*d), [*old_rss, new_rs], old_rss, new_rs) == steps


def test_rolling_grows_before_it_shrinks() -> None:
    old, new = rs("old", 4, age=100), rs("new", 0, 0, age=1)
    assert plan_rolling(dep(4, 1, 1), new, [old]) == [Scale("new", 1)]
    assert plan_rolling(dep(4, 1, 1), rs("new", 1, 0, age=1), [old]) == [Scale("old", 3)]


def test_recreate_waits_for_old_pods() -> None:
    old, new = rs("old", 0, 0, actual=0), rs("new", 0, 0)
    running = {"old": [{"status": {"phase": "Running"}, "metadata": {"deletionTimestamp": ts()}}]}
    finished = {"old": [{"status": {"phase": "Failed"}}], "new": [{"status": {"phase": "Running"}}]}
    assert old_pods_running(new, [old], running)
    assert not old_pods_running(new, [old], finished)
    assert old_pods_running(None, [rs("old", 0, 0, actual=1)], {})


SCALE_CASES = {
    # name: (replicas, [(name, size, max-replicas annotation, age)], expected sizes by name)
    "one active takes it all": (12, [("new", 10, 10, 1)], {"new": 12}),
    "proportional 5 -> 10": (10, [("new", 2, 5, 1), ("old", 3, 5, 100)], {"new": 4, "old": 6}),
    "proportional 5 -> 3": (3, [("new", 2, 5, 1), ("old", 3, 5, 100)], {"new": 1, "old": 2}),
    "proportional 9 -> 4": (4, [("new", 8, 9, 1), ("old", 1, 9, 100)], {"new": 4, "old": 0}),
    "three sets 7 -> 10": (10, [("new", 2, 7, 1), ("old", 3, 7, 50), ("older", 2, 7, 100)],
                           {"new": 3, "old": 4, "older": 3}),
    "leftover to the newest of equals": (4, [("new", 1, 3, 1), ("old", 1, 3, 50), ("older", 1, 3, 100)],
                                         {"new": 2, "old": 1, "older": 1}),
    "to zero": (0, [("new", 2, 5, 1), ("old", 3, 5, 100)], {"new": 0, "old": 0}),
}


@pytest.mark.parametrize("replicas, sets, expected", SCALE_CASES.values(), ids=SCALE_CASES.keys())
def test_proportional_scaling(replicas: int, sets: list[tuple[str, int, int, int]], expected: dict[str, int]) -> None:
    rss = [rs(name, size, age=age, max_replicas=mx) for name, size, mx, age in sets]
    new, olds = rss[0], rss[1:]
    _, steps = plan_scale(dep(replicas, 0, 1), new, olds)
    sizes = {r["metadata"]["name"]: r["spec"]["replicas"] for r in rss} | {s.name: s.replicas for s in steps}
    assert sizes == expected


def test_saturated_new_replicaset_lets_old_ones_go() -> None:
    new, old = rs("new", 5, 5, desired=5), rs("old", 2)
    assert plan_scale(dep(5), new, [old]) == ("", [Scale("old", 0)])


def test_scaling_event_and_active_or_latest() -> None:
    d = dep(5)
    assert is_scaling_event(d, rs("new", 3, desired=3), [])
    assert not is_scaling_event(d, rs("new", 3, desired=5), [rs("old", 0, desired=3)])
    assert not is_scaling_event(d, rs("new", 3), [])
    older, newer = rs("a", 0, age=100), rs("b", 0, age=10)
    assert find_active_or_latest(None, [older, newer]) is newer
    assert find_active_or_latest(None, [older, rs("c", 2)])["metadata"]["name"] == "c"  # type: ignore[index]
    assert find_active_or_latest(rs("n", 1), [rs("c", 2)]) is None


def test_new_replicaset_annotations() -> None:
    d = dep(3, 1, 0)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "v2", "team": "web",
                                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                    "deployment.kubernetes.io/revision": "7"}
    ann, changed = new_rs_annotations(d, None, 4, exists=False)
    assert changed and ann == {"kubernetes.io/change-cause": "v2", "team": "web",
                               "deployment.kubernetes.io/revision": "4",
                               "deployment.kubernetes.io/desired-replicas": "3",
                               "deployment.kubernetes.io/max-replicas": "4"}
    # Coming back (rollout undo): the revision moves on and the old one goes to the history.
    back = rs("back", 0, revision=1)
    back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] = "0"
    ann, changed = new_rs_annotations(d, back, 5, exists=True)
    assert ann["deployment.kubernetes.io/revision"] == "5"
    assert ann["deployment.kubernetes.io/revision-history"] == "0,1"
    # Already the newest: nothing to do.
    current = rs("cur", 3, revision=6)
    current["metadata"]["annotations"].update({"kubernetes.io/change-cause": "v2", "team": "web"})
    assert new_rs_annotations(d, current, 5, exists=True) == (current["metadata"]["annotations"], False)


def test_history_pruning() -> None:
    olds = [rs(f"r{i}", 0, revision=i, age=100 - i) for i in range(1, 6)]
    olds[1]["status"]["replicas"] = 1  # still has a pod: kept
    olds[2]["metadata"]["generation"] = 2  # not observed yet: kept
    pruned = history_to_prune(dep(revisionHistoryLimit=1), olds)
    assert [r["metadata"]["name"] for r in pruned] == ["r1", "r4"]
    assert history_to_prune(dep(revisionHistoryLimit=10), olds) == []


TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}


def test_hash_is_stable() -> None:
    reordered = {"spec": {"containers": [{"image": "nginx:1", "name": "c"}]}, "metadata": {"labels": {"app": "web"}}}
    assert compute_hash(TEMPLATE) == compute_hash(reordered) == "79bfd649dc"
    assert compute_hash(TEMPLATE, 0) == "857df6fbc9" and compute_hash(TEMPLATE, 1) == "69c66bc686"
    assert set(compute_hash({"x": "y"})) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert compute_hash({**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}) != compute_hash(TEMPLATE)


def test_templates_compare_without_the_hash_label() -> None:
    labelled = {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}, "annotations": {}},
                "spec": TEMPLATE["spec"]}
    assert equal_ignore_hash(labelled, TEMPLATE)
    assert not equal_ignore_hash(labelled, {**TEMPLATE, "spec": {"containers": []}})


def test_status_counters_and_availability() -> None:
    d = dep(4, 1, 1)
    new, old = rs("new", 3, 2), rs("old", 1, 1)
    st = calculate_status([old, new], new, d, NOW)
    assert {k: v for k, v in st.items() if k != "conditions"} == {
        "observedGeneration": 1, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "unavailableReplicas": 1}
    (avail,) = st["conditions"]
    assert (avail["type"], avail["status"], avail["reason"]) == ("Available", "True", "MinimumReplicasAvailable")
    low = calculate_status([rs("new", 4, 1)], None, d, NOW)["conditions"][0]
    assert (low["status"], low["reason"], low["message"]) == \
        ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")


def progressing(reason: str, seconds_ago: float, status: str = "True") -> dict[str, Any]:
    return {"type": "Progressing", "status": status, "reason": reason, "message": "",
            "lastUpdateTime": ts(seconds_ago), "lastTransitionTime": ts(seconds_ago)}


PROGRESS_CASES = {
    # name: (previous status, new/old sets, expected (reason, status) of Progressing)
    "complete": ({"replicas": 4, "updatedReplicas": 2, "conditions": [progressing("ReplicaSetUpdated", 5)]},
                 (rs("new", 4), []), ("NewReplicaSetAvailable", "True")),
    "progress made": ({"replicas": 4, "updatedReplicas": 1, "conditions": [progressing("ReplicaSetUpdated", 5)]},
                      (rs("new", 2, 0), [rs("old", 2)]), ("ReplicaSetUpdated", "True")),
    "no progress within the deadline": (
        {"replicas": 4, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
         "conditions": [progressing("ReplicaSetUpdated", 30)]},
        (rs("new", 2, 0), [rs("old", 2)]), ("ReplicaSetUpdated", "True")),
    "deadline passed": (
        {"replicas": 4, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
         "conditions": [progressing("ReplicaSetUpdated", 700)]},
        (rs("new", 2, 0), [rs("old", 2)]), ("ProgressDeadlineExceeded", "False")),
}


@pytest.mark.parametrize("previous, sets, expected", PROGRESS_CASES.values(), ids=PROGRESS_CASES.keys())
def test_progress(previous: dict[str, Any], sets: tuple[dict[str, Any], list[dict[str, Any]]],
                  expected: tuple[str, str]) -> None:
    d = dep(4, 1, 1, status=previous)
    new, olds = sets
    st = rollout_status(d, [*olds, new], new, NOW)
    cond = next(c for c in st["conditions"] if c["type"] == "Progressing")
    assert (cond["reason"], cond["status"]) == expected
    if expected[0] == "NewReplicaSetAvailable":
        assert cond["message"] == 'ReplicaSet "new" has successfully progressed.'
    if expected[0] == "ProgressDeadlineExceeded":
        assert cond["message"] == 'ReplicaSet "new" has timed out progressing.'


def test_requeue_for_the_deadline() -> None:
    stuck = {"replicas": 4, "updatedReplicas": 2, "conditions": [progressing("ReplicaSetUpdated", 100)]}
    d = dep(4, 1, 1, status=stuck)
    assert requeue_after(d, stuck, NOW) == 600 - 100 + 1
    assert requeue_after(dep(4, 1, 1, status={**stuck, "conditions": [progressing("ReplicaSetUpdated", 600)]}),
                         stuck, NOW) == 0.0
    assert requeue_after(dep(4, 1, 1, status={}), stuck, NOW) is None


def test_paused_and_resumed_conditions() -> None:
    paused = paused_conditions(dep(paused=True, status={"conditions": [progressing("ReplicaSetUpdated", 5)]}), NOW)
    assert paused is not None
    (cond,) = paused["conditions"]
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
    assert paused_conditions(dep(paused=True, status=paused), NOW) is None
    resumed = paused_conditions(dep(status=paused), NOW)
    assert resumed is not None and resumed["conditions"][0]["reason"] == "DeploymentResumed"
    timed_out = {"conditions": [progressing("ProgressDeadlineExceeded", 5, "False")]}
    assert paused_conditions(dep(paused=True, status=timed_out), NOW) is None
