"""The cache: node aggregates, assume / confirm / forget / expire, pods seen before their node."""

from __future__ import annotations

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.podinfo import PodInfo
from tests.scheduler.builders import container, node, pinfo, pod


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_aggregates_follow_pods() -> None:
    cache = Cache()
    cache.add_node(node("n", cpu="4", memory="8Gi"))
    a = pinfo("a", "1", "1Gi", node_name="n")
    b = pinfo("b", containers=[container("c", ports=[80])], node_name="n")
    cache.add_pod(a)
    cache.add_pod(b)
    ni = cache.node_info("n")
    assert ni is not None
    assert (ni.req_cpu, ni.req_mem, len(ni.pods)) == (1000, 1024**3, 2)
    assert (ni.non0_cpu, ni.non0_mem) == (1100, 1024**3 + 200 * 1024**2), "b counts with the non-zero defaults"
    assert ni.used_ports == {("TCP", 80): {"0.0.0.0": 1}}
    cache.remove_pod(b.uid)
    assert (ni.req_cpu, ni.non0_cpu, ni.used_ports) == (1000, 1000, {})


def test_assume_then_confirm() -> None:
    cache = Cache(ttl=30)
    cache.add_node(node("n"))
    p = pinfo("p", "1")
    cache.assume_pod(p.with_node("n"))
    assert cache.is_assumed(p.uid) and cache.node_infos()[0].req_cpu == 1000, "seen before the binding lands"
    cache.finish_binding(p.uid)
    cache.add_pod(PodInfo.from_pod(pod("p", "1", node_name="n")))  # the informer reports the binding
    assert not cache.is_assumed(p.uid)
    assert cache.node_infos()[0].req_cpu == 1000, "counted once"
    assert cache.cleanup_expired(now=10**9) == [], "confirmed pods never expire"


def test_forget_after_failed_binding() -> None:
    cache = Cache()
    cache.add_node(node("n"))
    p = pinfo("p", "1").with_node("n")
    cache.assume_pod(p)
    cache.forget_pod(p.uid)
    assert cache.pod_count() == 0 and cache.node_infos()[0].req_cpu == 0


def test_unconfirmed_assumption_expires_ttl_after_binding_finished() -> None:
    clock = Clock()
    cache = Cache(ttl=30, clock=clock)
    cache.add_node(node("n"))
    p = pinfo("p", "1").with_node("n")
    cache.assume_pod(p)
    clock.now += 100
    assert cache.cleanup_expired() == [], "no expiry while the binding is in flight"
    cache.finish_binding(p.uid)
    clock.now += 29
    assert cache.cleanup_expired() == []
    clock.now += 2
    assert [x.key for x in cache.cleanup_expired()] == ["default/p"]
    assert cache.node_infos()[0].req_cpu == 0 and not cache.is_assumed(p.uid)


def test_ttl_zero_never_expires() -> None:
    cache = Cache(ttl=0)
    cache.add_node(node("n"))
    p = pinfo("p").with_node("n")
    cache.assume_pod(p)
    cache.finish_binding(p.uid)
    assert cache.cleanup_expired(now=10**9) == [] and cache.is_assumed(p.uid)


def test_confirmed_on_another_node_moves() -> None:
    cache = Cache()
    cache.add_node(node("a"))
    cache.add_node(node("b"))
    cache.assume_pod(pinfo("p", "1").with_node("a"))
    cache.add_pod(pinfo("p", "1", node_name="b"))
    a, b = cache.node_info("a"), cache.node_info("b")
    assert a is not None and b is not None
    assert (a.req_cpu, b.req_cpu) == (0, 1000)


def test_pods_before_their_node_and_node_removal() -> None:
    cache = Cache()
    cache.add_pod(pinfo("p", "1", node_name="late"))
    assert cache.node_infos() == [], "a placeholder is not offered to the algorithm"
    cache.add_node(node("late"))
    ni = cache.node_info("late")
    assert ni is not None and ni.req_cpu == 1000
    cache.remove_node("late")
    assert cache.node_infos() == [] and cache.pod_count() == 1
    cache.remove_pod(pinfo("p").uid)
    assert cache.pod_count() == 0


def test_affinity_indexes() -> None:
    cache = Cache()
    for n in ("a", "b"):
        cache.add_node(node(n))
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    p = pinfo("p", affinity=anti, node_name="a")
    cache.add_pod(p)
    cache.add_pod(pinfo("q", node_name="b"))
    assert [n.name for n in cache.nodes_with_affinity_pods()] == ["a"]
    assert [n.name for n in cache.nodes_with_required_anti_affinity_pods()] == ["a"]
    cache.remove_pod(p.uid)
    assert cache.nodes_with_affinity_pods() == [] and cache.nodes_with_required_anti_affinity_pods() == []
