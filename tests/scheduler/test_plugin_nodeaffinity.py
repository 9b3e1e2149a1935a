"""NodeAffinity: nodeSelector, required terms (labels and metadata.name fields), PreFilter narrowing, preferred score."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.framework import CycleState
from kybernetes.scheduler.plugins.nodeaffinity import NodeAffinity
from kybernetes.scheduler.podinfo import PodInfo
from tests.scheduler.builders import filter_status, info, node, pod, reasons, scores

OK = ("SUCCESS", ())
NO_MATCH = ("UNSCHEDULABLE_AND_UNRESOLVABLE", ("node(s) didn't match Pod's node affinity/selector",))
LABELS = {"zone": "a", "disk": "ssd", "cores": "16"}


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


def term(*exprs: dict[str, Any], fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"matchExpressions": list(exprs), **({"matchFields": fields} if fields else {})}


@pytest.mark.parametrize(("selector", "affinity", "want"), [
    pytest.param(None, None, OK, id="no-constraints"),
    pytest.param({"zone": "a"}, None, OK, id="node-selector-match"),
    pytest.param({"zone": "b"}, None, NO_MATCH, id="node-selector-value-mismatch"),
    pytest.param({"zone": "a", "gpu": "yes"}, None, NO_MATCH, id="node-selector-all-pairs-needed"),
    pytest.param(None, required(term(expr("zone", "In", "a", "b"))), OK, id="in"),
    pytest.param(None, required(term(expr("zone", "In", "b"))), NO_MATCH, id="in-mismatch"),
    pytest.param(None, required(term(expr("zone", "NotIn", "b"))), OK, id="notin"),
    pytest.param(None, required(term(expr("gpu", "NotIn", "yes"))), OK, id="notin-absent-label"),
    pytest.param(None, required(term(expr("disk", "Exists"))), OK, id="exists"),
    pytest.param(None, required(term(expr("disk", "DoesNotExist"))), NO_MATCH, id="does-not-exist"),
    pytest.param(None, required(term(expr("cores", "Gt", "8"))), OK, id="gt"),
    pytest.param(None, required(term(expr("cores", "Lt", "8"))), NO_MATCH, id="lt"),
    pytest.param(None, required(term(expr("zone", "Gt", "8"))), NO_MATCH, id="gt-non-integer-label"),
    pytest.param(None, required(term(expr("zone", "In", "a"), expr("disk", "In", "hdd"))), NO_MATCH,
                 id="expressions-anded"),
    pytest.param(None, required(term(expr("zone", "In", "x")), term(expr("disk", "In", "ssd"))), OK,
                 id="terms-ored"),
    pytest.param(None, required(term()), NO_MATCH, id="empty-term-matches-nothing"),
    pytest.param(None, required(term(fields=[expr("metadata.name", "In", "n1")])), OK, id="match-fields-name"),
    pytest.param(None, required(term(fields=[expr("metadata.name", "NotIn", "n1")])), NO_MATCH,
                 id="match-fields-name-notin"),
    pytest.param({"zone": "b"}, required(term(expr("zone", "In", "a"))), NO_MATCH, id="selector-and-affinity-anded"),
])
def test_filter(selector: dict[str, str] | None, affinity: dict[str, Any] | None, want: Any) -> None:
    p = pod("p", node_selector=selector, affinity=affinity)
    assert reasons(filter_status(NodeAffinity(), p, info(node("n1", labels=LABELS)))) == want


@pytest.mark.parametrize(("affinity", "selector", "want"), [
    pytest.param(None, None, ("SKIP", None), id="nothing-to-do-skips"),
    pytest.param(None, {"zone": "a"}, ("SUCCESS", None), id="selector-only-all-nodes"),
    pytest.param(required(term(fields=[expr("metadata.name", "In", "n1", "n2")])), None,
                 ("SUCCESS", {"n1", "n2"}), id="pinned-names-narrow"),
    pytest.param(required(term(fields=[expr("metadata.name", "In", "n1")]),
                          term(fields=[expr("metadata.name", "In", "n3")])), None,
                 ("SUCCESS", {"n1", "n3"}), id="union-over-terms"),
    pytest.param(required(term(fields=[expr("metadata.name", "In", "n1", "n2"), expr("metadata.name", "In", "n2")])),
                 None, ("SUCCESS", {"n2"}), id="intersection-within-term"),
    pytest.param(required(term(fields=[expr("metadata.name", "In", "n1")]), term(expr("zone", "In", "a"))), None,
                 ("SUCCESS", None), id="label-term-keeps-all-nodes"),
    pytest.param(required(term(fields=[expr("metadata.name", "In", "n1"), expr("metadata.name", "In", "n2")])),
                 None, ("UNSCHEDULABLE_AND_UNRESOLVABLE", "pod affinity terms conflict"), id="conflict"),
])
def test_pre_filter(affinity: dict[str, Any] | None, selector: dict[str, str] | None, want: Any) -> None:
    result, status = NodeAffinity().pre_filter(CycleState(), PodInfo.from_pod(pod("p", affinity=affinity,
                                                                                   node_selector=selector)), [])
    if status.is_success():
        got = ("SUCCESS", set(result.node_names) if result and result.node_names is not None else None)
    elif status.is_skip():
        got = ("SKIP", None)
    else:
        got = (status.code.name, status.message())
    assert got == want


def preferred(*weighted: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "preference": t} for w, t in weighted]}}


@pytest.mark.parametrize(("affinity", "want"), [
    pytest.param(None, None, id="no-preferences-skip"),
    pytest.param(preferred((5, term(expr("zone", "In", "a")))), [100, 0, 100], id="single-term"),
    pytest.param(preferred((2, term(expr("zone", "In", "a"))), (6, term(expr("disk", "In", "ssd")))), [25, 75, 100],
                 id="weights-summed-and-normalised"),
    pytest.param(preferred((3, term(expr("gpu", "Exists")))), [0, 0, 0], id="nothing-matches-all-zero"),
])
def test_score(affinity: dict[str, Any] | None, want: list[int] | None) -> None:
    nodes = [info(node("a-hdd", labels={"zone": "a"})), info(node("b-ssd", labels={"zone": "b", "disk": "ssd"})),
             info(node("a-ssd", labels={"zone": "a", "disk": "ssd"}))]
    assert scores(NodeAffinity(), pod("p", affinity=affinity), nodes) == want
