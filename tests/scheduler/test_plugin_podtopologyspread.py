"""PodTopologySpread: hard constraints (filter) and soft constraints (score) over zones and hostnames."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.framework import CycleState
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.podtopologyspread import PodTopologySpread
from kybernetes.scheduler.podinfo import PodInfo
from tests.scheduler.builders import info, node, pod, scores

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
WEB = {"app": "web"}
SKEW = "UNSCHEDULABLE: node(s) didn't match pod topology spread constraints"
MISSING = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match pod topology spread constraints (missing required label)"


def spread(key: str = ZONE, max_skew: int = 1, when: str = "DoNotSchedule", selector: dict[str, Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": selector if selector is not None else {"matchLabels": WEB}, **extra}


def cluster(pods_on: dict[str, list[dict[str, Any]]], extra_labels: dict[str, dict[str, str]] | None = None) -> list[NodeInfo]:
    """n1, n2 in zone a; n3 in zone b; n4 without a zone label."""
    zones = {"n1": "a", "n2": "a", "n3": "b", "n4": None}
    out = []
    for name, zone in zones.items():
        labels = {ZONE: zone} if zone else {}
        labels.update((extra_labels or {}).get(name, {}))
        out.append(info(node(name, labels=labels), *pods_on.get(name, [])))
    return out


def web(name: str, **kw: Any) -> dict[str, Any]:
    return pod(name, labels={**WEB, **kw.pop("labels", {})}, **kw)


def run_filter(incoming: dict[str, Any], nodes: list[NodeInfo]) -> dict[str, str]:
    plugin, state, pi = PodTopologySpread(), CycleState(), PodInfo.from_pod(incoming)
    _, status = plugin.pre_filter(state, pi, nodes)
    if status.is_skip():
        return {n.name: "SKIP" for n in nodes}
    out = {}
    for n in nodes:
        st = plugin.filter(state, pi, n)
        out[n.name] = "OK" if st.is_success() else f"{st.code.name}: {st.message()}"
    return out


@pytest.mark.parametrize(("incoming", "pods_on", "labels", "want"), [
    pytest.param(web("p"), {}, None, {"n1": "SKIP", "n2": "SKIP", "n3": "SKIP", "n4": "SKIP"}, id="no-constraints-skip"),
    pytest.param(web("p", spread=[spread()]), {"n1": [web("a1"), web("a2")]}, None,
                 {"n1": SKEW, "n2": SKEW, "n3": "OK", "n4": MISSING}, id="zone-skew"),
    pytest.param(web("p", spread=[spread(max_skew=2)]), {"n1": [web("a1")]}, None,
                 {"n1": "OK", "n2": "OK", "n3": "OK", "n4": MISSING}, id="max-skew-2"),
    pytest.param(web("p", spread=[spread()]),
                 {"n1": [pod("other", labels={"app": "db"}), web("ns", namespace="elsewhere"),
                         web("dying", terminating=True)]}, None,
                 {"n1": "OK", "n2": "OK", "n3": "OK", "n4": MISSING}, id="non-matching-pods-not-counted"),
    pytest.param(pod("p", spread=[spread()]), {"n1": [web("a1")]}, None,
                 {"n1": "OK", "n2": "OK", "n3": "OK", "n4": MISSING}, id="incoming-pod-not-self-matching"),
    pytest.param(web("p", spread=[spread(HOST)]), {"n1": [web("a1")]}, None,
                 {"n1": SKEW, "n2": "OK", "n3": "OK", "n4": "OK"}, id="hostname-key"),
    pytest.param(web("p", spread=[spread(minDomains=3)]), {"n3": [web("b1")]}, None,
                 {"n1": "OK", "n2": "OK", "n3": SKEW, "n4": MISSING}, id="min-domains-not-reached-min-is-zero"),
    pytest.param(web("p", spread=[spread()], node_selector={"disk": "ssd"}), {"n1": [web("a1")]},
                 {"n1": {"disk": "ssd"}, "n2": {"disk": "ssd"}}, {"n1": "OK", "n2": "OK", "n3": "OK", "n4": MISSING},
                 id="node-affinity-honored-excludes-zone-b"),
    pytest.param(web("p", spread=[spread(nodeAffinityPolicy="Ignore")], node_selector={"disk": "ssd"}),
                 {"n1": [web("a1")]}, {"n1": {"disk": "ssd"}, "n2": {"disk": "ssd"}},
                 {"n1": SKEW, "n2": SKEW, "n3": "OK", "n4": MISSING}, id="node-affinity-ignored"),
    pytest.param(web("p", labels={"version": "v2"}, spread=[spread(matchLabelKeys=["version"])]),
                 {"n1": [web("a1", labels={"version": "v1"}), web("a2", labels={"version": "v1"})]}, None,
                 {"n1": "OK", "n2": "OK", "n3": "OK", "n4": MISSING}, id="match-label-keys-separate-versions"),
    pytest.param(web("p", spread=[spread(max_skew=2), spread(HOST)]), {"n2": [web("a1")]}, None,
                 {"n1": "OK", "n2": SKEW, "n3": "OK", "n4": MISSING}, id="two-constraints-all-must-hold"),
    pytest.param(web("p", spread=[spread(when="ScheduleAnyway")]), {"n1": [web("a1"), web("a2")]}, None,
                 {"n1": "SKIP", "n2": "SKIP", "n3": "SKIP", "n4": "SKIP"}, id="soft-constraint-not-filtered"),
])
def test_filter(incoming: dict[str, Any], pods_on: dict[str, list[Any]], labels: Any, want: dict[str, str]) -> None:
    assert run_filter(incoming, cluster(pods_on, labels)) == want


@pytest.mark.parametrize(("incoming", "pods_on", "want"), [
    pytest.param(web("p"), {}, None, id="no-soft-constraints-skip"),
    # zone: 2 zones -> weight log(4); n1/n2 count 2 -> round(2.77) = 3, n3 0; n4 lacks the key
    pytest.param(web("p", spread=[spread(when="ScheduleAnyway")]), {"n1": [web("a1"), web("a2")]},
                 [0, 0, 100, 0], id="zone-emptiest-domain-best"),
    # hostname: 4 nodes -> weight log(6); counts 2, 1, 0, 0 -> 4, 2, 0, 0 -> 100 * (4 + 0 - s) / 4
    pytest.param(web("p", spread=[spread(HOST, when="ScheduleAnyway")]), {"n1": [web("a1"), web("a2")],
                                                                          "n2": [web("a3")]},
                 [0, 50, 100, 100], id="hostname-per-node-counts"),
    pytest.param(web("p", spread=[spread(when="ScheduleAnyway")]), {}, [100, 100, 100, 0],
                 id="no-matching-pods-all-max-but-missing-key"),
])
def test_score(incoming: dict[str, Any], pods_on: dict[str, list[Any]], want: list[int] | None) -> None:
    nodes = cluster(pods_on)
    plugin = PodTopologySpread(lambda: nodes)
    assert scores(plugin, incoming, nodes) == want
