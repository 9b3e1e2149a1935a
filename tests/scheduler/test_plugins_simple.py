"""Table-driven tests of the small filter plugins: NodeName, NodeUnschedulable, TaintToleration, NodePorts."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.plugins.nodename import NodeName
from kybernetes.scheduler.plugins.nodeports import NodePorts
from kybernetes.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from kybernetes.scheduler.plugins.tainttoleration import TaintToleration
from kybernetes.scheduler.status import Code
from tests.scheduler.builders import filter_status, info, node, pinfo, pod, reasons, scores

OK = ("SUCCESS", ())
NOSCHED = "NoSchedule"


@pytest.mark.parametrize(("node_name", "want"), [
    pytest.param("", OK, id="no-node-name-fits-any"),
    pytest.param("n1", OK, id="named-node-fits"),
    pytest.param("n2", ("UNSCHEDULABLE_AND_UNRESOLVABLE", ("node(s) didn't match the requested node name",)),
                 id="other-node-rejected"),
])
def test_node_name_filter(node_name: str, want: Any) -> None:
    p = pod("p", **({"nodeName": node_name} if node_name else {}))
    assert reasons(filter_status(NodeName(), p, info(node("n1")))) == want


UNSCHED = ("UNSCHEDULABLE_AND_UNRESOLVABLE", ("node(s) were unschedulable",))


@pytest.mark.parametrize(("unschedulable", "tolerations", "want"), [
    pytest.param(False, [], OK, id="schedulable-node"),
    pytest.param(True, [], UNSCHED, id="cordoned-node-rejected"),
    pytest.param(True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": NOSCHED}], OK,
                 id="cordoned-node-tolerated"),
    pytest.param(True, [{"operator": "Exists"}], OK, id="tolerate-everything"),
    pytest.param(True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}],
                 UNSCHED, id="wrong-effect-does-not-tolerate"),
])
def test_node_unschedulable_filter(unschedulable: bool, tolerations: list[Any], want: Any) -> None:
    p = pod("p", tolerations=tolerations)
    assert reasons(filter_status(NodeUnschedulable(), p, info(node("n", unschedulable=unschedulable)))) == want


def untolerated(key: str, value: str) -> tuple[str, tuple[str, ...]]:
    return "UNSCHEDULABLE_AND_UNRESOLVABLE", (f"node(s) had untolerated taint {{{key}: {value}}}",)


@pytest.mark.parametrize(("taints", "tolerations", "want"), [
    pytest.param([], [], OK, id="no-taints"),
    pytest.param([("dedicated", "gpu", NOSCHED)], [], untolerated("dedicated", "gpu"), id="noschedule-untolerated"),
    pytest.param([("node-role.kubernetes.io/control-plane", "", NOSCHED)], [],
                 untolerated("node-role.kubernetes.io/control-plane", ""), id="empty-value-in-message"),
    pytest.param([("dedicated", "gpu", "NoExecute")], [], untolerated("dedicated", "gpu"), id="noexecute-untolerated"),
    pytest.param([("dedicated", "gpu", "PreferNoSchedule")], [], OK, id="prefer-no-schedule-ignored-by-filter"),
    pytest.param([("dedicated", "gpu", NOSCHED)],
                 [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": NOSCHED}], OK, id="equal-match"),
    pytest.param([("dedicated", "gpu", NOSCHED)], [{"key": "dedicated", "value": "gpu"}], OK,
                 id="empty-operator-is-equal-and-empty-effect-matches-all"),
    pytest.param([("dedicated", "gpu", NOSCHED)], [{"key": "dedicated", "operator": "Equal", "value": "cpu"}],
                 untolerated("dedicated", "gpu"), id="value-mismatch"),
    pytest.param([("dedicated", "gpu", NOSCHED)], [{"key": "dedicated", "operator": "Exists"}], OK, id="exists"),
    pytest.param([("a", "1", NOSCHED), ("b", "2", NOSCHED)], [{"key": "a", "operator": "Exists"}],
                 untolerated("b", "2"), id="first-untolerated-taint-reported"),
    pytest.param([("a", "1", NOSCHED), ("b", "2", NOSCHED)], [], untolerated("a", "1"), id="taint-order-kept"),
])
def test_taint_toleration_filter(taints: list[tuple[str, str, str]], tolerations: list[Any], want: Any) -> None:
    assert reasons(filter_status(TaintToleration(), pod("p", tolerations=tolerations),
                                 info(node("n", taints=taints)))) == want


@pytest.mark.parametrize(("node_taints", "tolerations", "want"), [
    pytest.param([[], [], []], [], None, id="no-prefer-taints-skipped"),
    pytest.param([[], [("k", "v", "PreferNoSchedule")], [("k", "v", "PreferNoSchedule"), ("j", "w", "PreferNoSchedule")]],
                 [], [100, 50, 0], id="fewer-intolerable-taints-better"),
    pytest.param([[], [("k", "v", "PreferNoSchedule")]], [{"key": "k", "operator": "Exists", "effect": "PreferNoSchedule"}],
                 [100, 100], id="tolerated-prefer-taint"),
    pytest.param([[], [("k", "v", "PreferNoSchedule")]], [{"key": "k", "operator": "Exists", "effect": NOSCHED}],
                 [100, 0], id="noschedule-toleration-does-not-count"),
    pytest.param([[("k", "v", NOSCHED)], []], [], None, id="noschedule-taints-not-scored"),
])
def test_taint_toleration_score(node_taints: list[Any], tolerations: list[Any], want: list[int]) -> None:
    nodes = [info(node(f"n{i}", taints=t)) for i, t in enumerate(node_taints)]
    assert scores(TaintToleration(), pod("p", tolerations=tolerations), nodes) == want


PORTS_TAKEN = ("UNSCHEDULABLE", ("node(s) didn't have free ports for the requested pod ports",))


@pytest.mark.parametrize(("wanted", "used", "want"), [
    pytest.param([], [8080], OK, id="no-host-ports-skipped"),
    pytest.param([8080], [], OK, id="free-node"),
    pytest.param([8080], [8080], PORTS_TAKEN, id="same-port-conflicts"),
    pytest.param([8080], [8081], OK, id="other-port"),
    pytest.param([(53, "UDP", "0.0.0.0")], [(53, "TCP", "0.0.0.0")], OK, id="other-protocol"),
    pytest.param([(80, "TCP", "10.0.0.1")], [(80, "TCP", "10.0.0.2")], OK, id="different-specific-ips"),
    pytest.param([(80, "TCP", "10.0.0.1")], [(80, "TCP", "10.0.0.1")], PORTS_TAKEN, id="same-specific-ip"),
    pytest.param([(80, "TCP", "10.0.0.1")], [(80, "TCP", "0.0.0.0")], PORTS_TAKEN, id="used-on-any-ip"),
    pytest.param([(80, "TCP", "0.0.0.0")], [(80, "TCP", "10.0.0.2")], PORTS_TAKEN, id="wanted-on-any-ip"),
])
def test_node_ports_filter(wanted: list[Any], used: list[Any], want: Any) -> None:
    existing = [pod("old", ports=used)] if used else []
    assert reasons(filter_status(NodePorts(), pod("p", ports=wanted), info(node("n"), *existing))) == want


def test_node_ports_sidecar_ports_count_and_removal_frees() -> None:
    from tests.scheduler.builders import container
    sidecar = pod("old", init_containers=[container("s", ports=[9090], restart_policy="Always")])
    ni = info(node("n"), sidecar)
    assert filter_status(NodePorts(), pod("p", ports=[9090]), ni).code is Code.UNSCHEDULABLE
    ni.remove_pod(pinfo("old").uid)
    assert filter_status(NodePorts(), pod("p", ports=[9090]), ni).is_success()
    assert not ni.used_ports
