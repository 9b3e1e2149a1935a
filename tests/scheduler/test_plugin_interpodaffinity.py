"""InterPodAffinity: required affinity / anti-affinity (filter), existing pods' anti-affinity, preferred terms (score)."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import CycleState, Handle
from kybernetes.scheduler.plugins.interpodaffinity import InterPodAffinity
from kybernetes.scheduler.podinfo import PodInfo
from tests.scheduler.builders import node, pod, scores

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
AFF = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match pod affinity rules"
ANTI = "UNSCHEDULABLE: node(s) didn't match pod anti-affinity rules"
EXISTING = "UNSCHEDULABLE: node(s) didn't satisfy existing pods anti-affinity rules"
ALL_OK = {"n1": "OK", "n2": "OK", "n3": "OK"}
NAMESPACES = {"default": {}, "other": {"team": "x"}, "third": {"team": "y"}}


def term(app: str, key: str = ZONE, **extra: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key, **extra}


def affinity(*, required: list[Any] = (), anti: list[Any] = (), preferred: list[tuple[int, Any]] = (),
             preferred_anti: list[tuple[int, Any]] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if required or preferred:
        out["podAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": list(required),
                              "preferredDuringSchedulingIgnoredDuringExecution": [
                                  {"weight": w, "podAffinityTerm": t} for w, t in preferred]}
    if anti or preferred_anti:
        out["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": list(anti),
                                  "preferredDuringSchedulingIgnoredDuringExecution": [
                                      {"weight": w, "podAffinityTerm": t} for w, t in preferred_anti]}
    return out


def app(name: str, label: str, **kw: Any) -> dict[str, Any]:
    return pod(name, labels={"app": label}, **kw)


def cluster(pods_on: dict[str, list[dict[str, Any]]]) -> Handle:
    """n1 and n2 in zone a (n1 also in rack r1), n3 in zone b; pods placed through the cache."""
    cache = Cache()
    cache.add_node(node("n1", labels={ZONE: "a", "rack": "r1"}))
    cache.add_node(node("n2", labels={ZONE: "a"}))
    cache.add_node(node("n3", labels={ZONE: "b"}))
    for name, pods in pods_on.items():
        for p in pods:
            cache.add_pod(PodInfo.from_pod(p).with_node(name))
    return Handle(cache, lambda: NAMESPACES)


def run_filter(incoming: dict[str, Any], handle: Handle) -> dict[str, str]:
    plugin, state, pi = InterPodAffinity(handle), CycleState(), PodInfo.from_pod(incoming)
    nodes = handle.node_infos()
    _, status = plugin.pre_filter(state, pi, nodes)
    if status.is_skip():
        return {n.name: "SKIP" for n in nodes}
    out = {}
    for n in nodes:
        st = plugin.filter(state, pi, n)
        out[n.name] = "OK" if st.is_success() else f"{st.code.name}: {st.message()}"
    return out


@pytest.mark.parametrize(("incoming", "pods_on", "want"), [
    pytest.param(app("p", "web"), {"n1": [app("db", "db")]}, {"n1": "SKIP", "n2": "SKIP", "n3": "SKIP"},
                 id="no-terms-skip"),
    pytest.param(app("p", "web", affinity=affinity(required=[term("db")])), {"n1": [app("db", "db")]},
                 {"n1": "OK", "n2": "OK", "n3": AFF}, id="affinity-same-zone"),
    pytest.param(app("p", "db", affinity=affinity(required=[term("db")])), {},
                 ALL_OK, id="first-pod-of-a-group-matches-itself"),
    pytest.param(app("p", "web", affinity=affinity(required=[term("db")])), {},
                 {"n1": AFF, "n2": AFF, "n3": AFF}, id="affinity-nothing-matches"),
    pytest.param(app("p", "web", affinity=affinity(required=[term("db", "rack")])), {"n1": [app("db", "db")]},
                 {"n1": "OK", "n2": AFF, "n3": AFF}, id="affinity-topology-key-missing"),
    pytest.param(app("p", "web", affinity=affinity(anti=[term("web", HOST)])), {"n1": [app("w", "web")]},
                 {"n1": ANTI, "n2": "OK", "n3": "OK"}, id="anti-affinity-hostname"),
    pytest.param(app("p", "web", affinity=affinity(anti=[term("web")])), {"n1": [app("w", "web")]},
                 {"n1": ANTI, "n2": ANTI, "n3": "OK"}, id="anti-affinity-zone"),
    pytest.param(app("p", "web"), {"n1": [app("guard", "guard", affinity=affinity(anti=[term("web")]))]},
                 {"n1": EXISTING, "n2": EXISTING, "n3": "OK"}, id="existing-pods-anti-affinity"),
    pytest.param(app("p", "db"), {"n1": [app("guard", "guard", affinity=affinity(anti=[term("web")]))]},
                 {"n1": "SKIP", "n2": "SKIP", "n3": "SKIP"}, id="existing-anti-affinity-not-matching-skips"),
    pytest.param(app("p", "web", affinity=affinity(required=[term("db", namespaces=["other"])])),
                 {"n1": [app("db", "db")]}, {"n1": AFF, "n2": AFF, "n3": AFF}, id="term-namespaces-exclude-default"),
    pytest.param(app("p", "web", affinity=affinity(required=[term("db", namespaceSelector={})])),
                 {"n3": [app("db", "db", namespace="third")]}, {"n1": AFF, "n2": AFF, "n3": "OK"},
                 id="empty-namespace-selector-all-namespaces"),
    pytest.param(app("p", "web", affinity=affinity(required=[term("db", namespaceSelector={"matchLabels": {"team": "x"}})])),
                 {"n1": [app("db", "db", namespace="third")], "n3": [app("db", "db", namespace="other")]},
                 {"n1": AFF, "n2": AFF, "n3": "OK"}, id="namespace-selector-by-labels"),
    pytest.param(app("p", "web", affinity=affinity(required=[term("db")])), {"n1": [app("db", "db", terminating=True)]},
                 {"n1": "OK", "n2": "OK", "n3": AFF}, id="terminating-pods-still-count"),
])
def test_filter(incoming: dict[str, Any], pods_on: dict[str, list[Any]], want: dict[str, str]) -> None:
    assert run_filter(incoming, cluster(pods_on)) == want


@pytest.mark.parametrize(("incoming", "pods_on", "want"), [
    pytest.param(app("p", "web"), {"n1": [app("db", "db")]}, None, id="nothing-to-score-skip"),
    pytest.param(app("p", "web", affinity=affinity(preferred=[(10, term("db"))])), {"n1": [app("db", "db")]},
                 [100, 100, 0], id="preferred-affinity-zone"),
    pytest.param(app("p", "web", affinity=affinity(preferred_anti=[(10, term("web", HOST))])),
                 {"n1": [app("w", "web")]}, [0, 100, 100], id="preferred-anti-affinity-host"),
    pytest.param(app("p", "web", affinity=affinity(preferred=[(10, term("db"))], preferred_anti=[(5, term("web"))])),
                 {"n1": [app("db", "db")], "n3": [app("w", "web")]}, [100, 100, 0], id="mixed-weights"),
    pytest.param(app("p", "web"), {"n3": [app("fan", "fan", affinity=affinity(preferred=[(7, term("web"))]))]},
                 [0, 0, 100], id="existing-pods-preferred-affinity-to-incoming"),
    pytest.param(app("p", "web"), {"n1": [app("fan", "fan", affinity=affinity(required=[term("web", HOST)]))]},
                 [100, 0, 0], id="existing-pods-required-affinity-hard-weight"),
    pytest.param(app("p", "web"), {"n1": [app("foe", "foe", affinity=affinity(preferred_anti=[(3, term("web"))]))]},
                 [0, 0, 100], id="existing-pods-preferred-anti-affinity"),
])
def test_score(incoming: dict[str, Any], pods_on: dict[str, list[Any]], want: list[int] | None) -> None:
    handle = cluster(pods_on)
    assert scores(InterPodAffinity(handle), incoming, handle.node_infos()) == want
