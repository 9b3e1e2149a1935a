"""Shared pieces of the plugins: node selector terms, tolerations, score normalisation.

* :class:`NodeSelectorTerms` - a ``nodeSelectorTerms`` list (ORed terms of
  ANDed requirements over labels, and ``matchFields`` over ``metadata.name``);
  a term with no requirement matches nothing, as upstream.
* :class:`RequiredNodeAffinity` - ``spec.nodeSelector`` AND the required node
  affinity of a pod (upstream's ``nodeaffinity.GetRequiredNodeAffinity``).
* :func:`find_untolerated_taint` - the first taint not tolerated by any of the
  tolerations (``v1helper.FindMatchingUntoleratedTaint``).
* :func:`default_normalize_score` - scale to ``0..max`` by the largest score,
  optionally reversed (``helper.DefaultNormalizeScore``).

Pure functions; no side effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kybernetes.scheduler.nodeinfo import NodeInfo, Taint
from kybernetes.scheduler.podinfo import Toleration

OBJECT_NAME_FIELD = "metadata.name"


def _int64(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def requirement_matches(req: Mapping[str, Any], values_by_key: Mapping[str, str]) -> bool:
    """One ``NodeSelectorRequirement`` (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""
    key, op, values = req.get("key", ""), req.get("operator", ""), req.get("values") or []
    present = key in values_by_key
    value = values_by_key.get(key)
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and len(values) == 1:
        have, want = _int64(value), _int64(values[0])
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: Mapping[str, Any], node: NodeInfo) -> bool:
    """A ``NodeSelectorTerm``: every expression and field requirement; an empty term matches nothing."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = node.labels
    if not all(requirement_matches(r, labels) for r in expressions):
        return False
    if fields:
        node_fields = {OBJECT_NAME_FIELD: node.name}
        if not all(r.get("key") == OBJECT_NAME_FIELD and requirement_matches(r, node_fields) for r in fields):
            return False
    return True


class NodeSelectorTerms:
    """ORed ``nodeSelectorTerms``."""

    def __init__(self, terms: Sequence[Mapping[str, Any]]):
        self.terms = list(terms)

    def matches(self, node: NodeInfo) -> bool:
        return any(term_matches(t, node) for t in self.terms)


class RequiredNodeAffinity:
    """``spec.nodeSelector`` AND required node affinity; matches every node when the pod has neither."""

    def __init__(self, spec: Mapping[str, Any]):
        self.node_selector: dict[str, str] = dict(spec.get("nodeSelector") or {})
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution"))
        self.terms = NodeSelectorTerms(required.get("nodeSelectorTerms") or []) if required is not None else None

    def matches(self, node: NodeInfo) -> bool:
        labels = node.labels
        for key, value in self.node_selector.items():
            if labels.get(key) != value:
                return False
        return self.terms is None or self.terms.matches(node)


def preferred_terms(spec: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    """(weight, term) of the pod's preferred node affinity, zero weights dropped."""
    raw = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    return [(int(t.get("weight") or 0), t.get("preference") or {}) for t in raw if int(t.get("weight") or 0)]


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator in ("", "Equal"):
        return toleration.value == taint.value
    return toleration.operator == "Exists"


def find_untolerated_taint(taints: Iterable[Taint], tolerations: Sequence[Toleration]) -> Taint | None:
    for taint in taints:
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def default_normalize_score(max_score: int, reverse: bool, scores: list[int]) -> None:
    """Scale ``scores`` in place so the largest becomes ``max_score`` (reversed: the smallest)."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [max_score] * len(scores)
        return
    for i, s in enumerate(scores):
        s = max_score * s // highest
        scores[i] = max_score - s if reverse else s

