"""The decision: percentageOfNodesToScore, rotation over nodes, random tie-breaking, consecutive assumptions."""

from __future__ import annotations

import collections
import random

import pytest

from kybernetes.scheduler.algorithm import Algorithm, num_feasible_nodes_to_find, select_host
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import CycleState, Handle
from kybernetes.scheduler.plugins import Profile, build_framework
from tests.scheduler.builders import info, node, pinfo


@pytest.mark.parametrize(("percentage", "nodes", "want"), [
    pytest.param(0, 50, 50, id="small-cluster-all"),
    pytest.param(0, 99, 99, id="below-100-all"),
    pytest.param(0, 100, 100, id="100-nodes-at-least-100"),
    pytest.param(0, 1000, 420, id="1000-nodes-42-percent"),
    pytest.param(0, 5000, 500, id="5000-nodes-10-percent"),
    pytest.param(0, 6000, 300, id="6000-nodes-floor-5-percent"),
    pytest.param(0, 10000, 500, id="10000-nodes-5-percent"),
    pytest.param(30, 1000, 300, id="explicit-30-percent"),
    pytest.param(5, 1000, 100, id="explicit-but-at-least-100"),
    pytest.param(100, 1000, 1000, id="explicit-100-percent"),
])
def test_num_feasible_nodes_to_find(percentage: int, nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(percentage, nodes) == want


def test_select_host_breaks_ties_uniformly_and_reproducibly() -> None:
    nodes = [info(node(f"n{i}")) for i in range(4)]
    totals = [5, 9, 9, 9]
    rng = random.Random(42)
    picks = collections.Counter(select_host(nodes, totals, rng).name for _ in range(3000))
    assert set(picks) == {"n1", "n2", "n3"}
    assert all(900 < n < 1100 for n in picks.values()), picks
    a = [select_host(nodes, totals, r).name for r in [random.Random(3)] for _ in range(20)]
    b = [select_host(nodes, totals, r).name for r in [random.Random(3)] for _ in range(20)]
    assert a == b, "seeded: the same choices"


def cluster(count: int, **node_kw: str) -> tuple[Cache, Algorithm]:
    cache = Cache()
    for i in range(count):
        cache.add_node(node(f"n{i:04d}", **node_kw))
    return cache, Algorithm(build_framework(Handle(cache)), rng=random.Random(1))


def test_filtering_rotates_through_the_nodes() -> None:
    cache, algorithm = cluster(1000)
    result = algorithm.schedule_pod(CycleState(), pinfo("p", "1"), cache.node_infos())
    assert (result.evaluated_nodes, result.feasible_nodes) == (420, 420)
    assert algorithm.next_start == 420
    algorithm.schedule_pod(CycleState(), pinfo("q", "1"), cache.node_infos())
    algorithm.schedule_pod(CycleState(), pinfo("r", "1"), cache.node_infos())
    assert algorithm.next_start == (3 * 420) % 1000


def test_consecutive_decisions_see_assumed_pods() -> None:
    cache, algorithm = cluster(3, cpu="2")
    placed = collections.Counter()
    for i in range(7):
        p = pinfo(f"p{i}", "1")
        result = algorithm.schedule_pod(CycleState(), p, cache.node_infos())
        if not result.node:
            assert i == 6 and "0/3 nodes are available: 3 Insufficient cpu." in result.status.message()
            break
        cache.assume_pod(p.with_node(result.node))
        placed[result.node] += 1
    assert sorted(placed.values()) == [2, 2, 2], "six 1-cpu pods on three 2-cpu nodes"


def test_least_allocated_spreads_and_weights_apply() -> None:
    cache, algorithm = cluster(2)
    busy = pinfo("busy", "3", node_name="n0000")
    cache.add_pod(busy)
    result = algorithm.schedule_pod(CycleState(), pinfo("p", "500m", "256Mi"), cache.node_infos())
    assert result.node == "n0001"


def test_preferred_affinity_outweighs_resources() -> None:
    cache = Cache()
    cache.add_node(node("big", cpu="64"))
    cache.add_node(node("ssd", cpu="4", labels={"disk": "ssd"}))
    algorithm = Algorithm(build_framework(Handle(cache)))
    prefer = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}
    result = algorithm.schedule_pod(CycleState(), pinfo("p", "1", affinity=prefer), cache.node_infos())
    assert result.node == "ssd"


def test_profile_subset_and_percentage() -> None:
    cache = Cache()
    for i in range(200):
        cache.add_node(node(f"n{i}"))
    profile = Profile(plugins=[("NodeResourcesFit", 0), ("DefaultBinder", 0)], percentage_of_nodes_to_score=50)
    fw = build_framework(Handle(cache), profile)
    assert [p.name for p, _ in fw.score] == ["NodeResourcesFit"]
    algorithm = Algorithm(fw, profile.percentage_of_nodes_to_score)
    result = algorithm.schedule_pod(CycleState(), pinfo("p"), cache.node_infos())
    assert result.feasible_nodes == 100


def test_unknown_plugin_rejected() -> None:
    with pytest.raises(ValueError, match="not in the registry"):
        build_framework(None, Profile(plugins=[("NoSuchPlugin", 1)]))
