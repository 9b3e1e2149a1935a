"""NodeResourcesFit (filter, LeastAllocated / MostAllocated) and BalancedAllocation, and the request rules."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.plugins.balancedallocation import BalancedAllocation
from kybernetes.scheduler.plugins.noderesources import MOST_ALLOCATED, NodeResourcesFit
from kybernetes.scheduler.resources import NON_MISSING_DEFAULTS, pod_requests, quantity_value
from tests.scheduler.builders import container, filter_status, info, node, pod, reasons, scores

OK = ("SUCCESS", ())
GI = 1024**3


@pytest.mark.parametrize(("name", "value", "want"), [
    pytest.param("cpu", "100m", 100, id="millicores"),
    pytest.param("cpu", "1", 1000, id="whole-cpu"),
    pytest.param("cpu", "0.5", 500, id="fraction"),
    pytest.param("cpu", "1u", 1, id="rounds-up-to-a-millicore"),
    pytest.param("memory", "1Gi", GI, id="binary-suffix"),
    pytest.param("memory", "1G", 10**9, id="decimal-suffix"),
    pytest.param("memory", "1.5", 2, id="bytes-round-up"),
    pytest.param("pods", 110, 110, id="number"),
])
def test_quantity_values(name: str, value: Any, want: int) -> None:
    assert quantity_value(name, value) == want


@pytest.mark.parametrize(("spec", "want"), [
    pytest.param({"containers": [container("a", "1", "1Gi"), container("b", "500m", "1Gi")]},
                 {"cpu": 1500, "memory": 2 * GI}, id="containers-add-up"),
    pytest.param({"containers": [container("a", "2", "1Gi"), container("b", "1", "1Gi")],
                  "initContainers": [container("i1", "2", "1Gi"), container("i2", "2", "3Gi")]},
                 {"cpu": 3000, "memory": 3 * GI}, id="init-containers-max-rule-upstream-example"),
    pytest.param({"containers": [container("a", "1")],
                  "initContainers": [container("i", "4")]}, {"cpu": 4000}, id="big-init-container-wins"),
    pytest.param({"containers": [container("a", "1")],
                  "initContainers": [container("side", "500m", restart_policy="Always"), container("i", "1")]},
                 {"cpu": 1500}, id="sidecar-adds-to-containers-and-to-later-init-containers"),
    pytest.param({"containers": [container("a", "1")],
                  "initContainers": [container("side", "1", restart_policy="Always"), container("i", "3")]},
                 {"cpu": 4000}, id="sidecar-plus-init-container-beats-sum"),
    pytest.param({"containers": [container("a", "1")], "overhead": {"cpu": "250m", "memory": "120Mi"}},
                 {"cpu": 1250, "memory": 120 * 1024**2}, id="overhead-added"),
    pytest.param({"containers": [container("a", requests={"ephemeral-storage": "1Gi", "example.com/gpu": "2"})]},
                 {"ephemeral-storage": GI, "example.com/gpu": 2}, id="ephemeral-and-extended"),
])
def test_pod_requests(spec: dict[str, Any], want: dict[str, int]) -> None:
    assert pod_requests(spec) == want


def test_non_missing_defaults_only_fill_absent_requests() -> None:
    spec = {"containers": [container("a"), container("b", "0", "1Gi")]}
    assert pod_requests(spec, NON_MISSING_DEFAULTS) == {"cpu": 100, "memory": 200 * 1024**2 + GI}


def insufficient(*what: str, unresolvable: bool = False) -> tuple[str, tuple[str, ...]]:
    return ("UNSCHEDULABLE_AND_UNRESOLVABLE" if unresolvable else "UNSCHEDULABLE"), what


@pytest.mark.parametrize(("incoming", "existing", "node_kw", "want"), [
    pytest.param(pod("p", "1", "1Gi"), [], {}, OK, id="fits-empty-node"),
    pytest.param(pod("p", "3"), [pod("a", "2")], {}, insufficient("Insufficient cpu"), id="insufficient-cpu"),
    pytest.param(pod("p", "2"), [pod("a", "2")], {}, OK, id="exactly-fits"),
    pytest.param(pod("p", "5"), [], {}, insufficient("Insufficient cpu", unresolvable=True),
                 id="more-than-allocatable-is-unresolvable"),
    pytest.param(pod("p", "3", "7Gi"), [pod("a", "2", "2Gi")], {},
                 insufficient("Insufficient cpu", "Insufficient memory"), id="all-shortfalls-reported"),
    pytest.param(pod("p"), [pod("a"), pod("b")], {"pods": "2"}, insufficient("Too many pods"), id="too-many-pods"),
    pytest.param(pod("p", "5"), [pod("a"), pod("b")], {"pods": "2"},
                 insufficient("Too many pods", "Insufficient cpu", unresolvable=True), id="pods-and-cpu"),
    pytest.param(pod("p"), [pod("a", "6")], {}, OK, id="best-effort-fits-overcommitted-node"),
    pytest.param(pod("p", containers=[container(requests={"ephemeral-storage": "2Gi"})]), [],
                 {"extra": {"ephemeral-storage": "1Gi"}}, insufficient("Insufficient ephemeral-storage",
                                                                       unresolvable=True), id="ephemeral-storage"),
    pytest.param(pod("p", containers=[container(requests={"example.com/gpu": "1"})]), [], {},
                 insufficient("Insufficient example.com/gpu", unresolvable=True), id="extended-resource-absent"),
    pytest.param(pod("p", containers=[container(requests={"example.com/gpu": "1"})]),
                 [pod("a", containers=[container(requests={"example.com/gpu": "1"})])],
                 {"extra": {"example.com/gpu": "1"}}, insufficient("Insufficient example.com/gpu"),
                 id="extended-resource-used"),
    pytest.param(pod("p", containers=[container("c", "1")], init_containers=[container("i", "3")]),
                 [pod("a", "2")], {}, insufficient("Insufficient cpu"), id="init-container-counts"),
    pytest.param(pod("p", "1", overhead={"cpu": "1500m"}), [pod("a", "2")], {}, insufficient("Insufficient cpu"),
                 id="overhead-counts"),
])
def test_fit_filter(incoming: dict[str, Any], existing: list[dict[str, Any]], node_kw: dict[str, Any], want: Any) -> None:
    assert reasons(filter_status(NodeResourcesFit(), incoming, info(node("n", **node_kw), *existing))) == want


@pytest.mark.parametrize(("incoming", "nodes", "want"), [
    # 4 cpu / 8Gi nodes; upstream's formula ((alloc - req) * 100 / alloc), mean of cpu and memory
    pytest.param(pod("p", "1", "2Gi"), [[], [pod("a", "2", "4Gi")]], [75, 25], id="emptier-node-wins"),
    pytest.param(pod("p", "1", "1Gi"), [[], []], [81, 81], id="cpu-75-memory-87"),
    pytest.param(pod("p"), [[]], [97], id="best-effort-uses-non-zero-defaults"),
    pytest.param(pod("p", "5"), [[]], [48], id="over-allocatable-scores-zero-for-cpu"),
])
def test_least_allocated_score(incoming: dict[str, Any], nodes: list[list[Any]], want: list[int]) -> None:
    infos = [info(node(f"n{i}"), *existing) for i, existing in enumerate(nodes)]
    assert scores(NodeResourcesFit(), incoming, infos) == want
    # the generic (per-node) path agrees with the inlined one
    generic = NodeResourcesFit(resources=(("memory", 1), ("cpu", 1)))
    assert scores(generic, incoming, infos) == want


def test_most_allocated_score_prefers_fuller_nodes() -> None:
    infos = [info(node("n0")), info(node("n1"), pod("a", "2", "4Gi"))]
    assert scores(NodeResourcesFit(MOST_ALLOCATED), pod("p", "1", "2Gi"), infos) == [25, 75]


def test_weighted_resources() -> None:
    plugin = NodeResourcesFit(resources=(("cpu", 3), ("memory", 1)))
    # cpu 50 (weight 3), memory 75 -> (150 + 75) // 4
    assert scores(plugin, pod("p", "2", "2Gi"), [info(node("n"))]) == [56]


@pytest.mark.parametrize(("incoming", "nodes", "want"), [
    pytest.param(pod("p", "1", "1Gi"), [[pod("a", "1", "7Gi")], [pod("a", "1", "1Gi")]], [75, 87],
                 id="cpu-50-memory-100-vs-cpu-50-memory-25"),
    pytest.param(pod("p", "2", "4Gi"), [[]], [100], id="perfectly-balanced"),
    pytest.param(pod("p", "8", "1Gi"), [[]], [56], id="fraction-capped-at-one"),
])
def test_balanced_allocation_score(incoming: dict[str, Any], nodes: list[list[Any]], want: list[int]) -> None:
    infos = [info(node(f"n{i}"), *existing) for i, existing in enumerate(nodes)]
    assert scores(BalancedAllocation(), incoming, infos) == want
    generic = BalancedAllocation(resources=(("memory", 1), ("cpu", 1)))
    assert scores(generic, incoming, infos) == want


def test_balanced_allocation_skips_best_effort_pods() -> None:
    assert scores(BalancedAllocation(), pod("p"), [info(node("n"))]) is None
