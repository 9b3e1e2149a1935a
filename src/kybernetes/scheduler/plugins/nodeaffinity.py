"""NodeAffinity: ``spec.nodeSelector`` and node affinity, required (filter) and preferred (score).

* PreFilter: ``SKIP`` when the pod has neither a nodeSelector nor required
  node affinity.  When every required term pins ``metadata.name`` with
  ``matchFields`` ``In``, the candidates are narrowed to those names (a
  :class:`PreFilterResult`; nodes left out count as "node(s) didn't satisfy
  plugin(s) [NodeAffinity]"); if the terms' names conflict to nothing,
  "pod affinity terms conflict" (unresolvable) - upstream's text.
* Filter: the node must match every nodeSelector pair and at least one
  required term (expressions over labels; ``matchFields`` over
  ``metadata.name``), else ``UnschedulableAndUnresolvable`` "node(s) didn't
  match Pod's node affinity/selector".
* PreScore / Score: ``SKIP`` without preferred terms; otherwise the sum of the
  weights of the preferred terms the node matches, normalised so the best node
  gets 100.
* Requeued when a node is added or relabelled and now matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ScorePlugin,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.helpers import (
    OBJECT_NAME_FIELD,
    RequiredNodeAffinity,
    default_normalize_score,
    preferred_terms,
    term_matches,
)
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SKIP, SUCCESS, Status, unresolvable

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
PRE_FILTER_KEY = "PreFilterNodeAffinity"
PRE_SCORE_KEY = "PreScoreNodeAffinity"
_REJECT = unresolvable(ERR_REASON_POD)


def _required(spec: dict[str, Any]) -> dict[str, Any] | None:
    required: dict[str, Any] | None = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                                       .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return required


def pinned_node_names(terms: Sequence[dict[str, Any]]) -> set[str] | None:
    """Names every term restricts ``metadata.name`` to (union over terms); None when a term does not."""
    names: set[str] = set()
    for term in terms:
        term_names: set[str] | None = None
        for req in term.get("matchFields") or ():
            if req.get("key") == OBJECT_NAME_FIELD and req.get("operator") == "In":
                values = set(req.get("values") or ())
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None  # this term accepts nodes by label: every node is a candidate
        names |= term_names
    return names


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "NodeAffinity"

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status]:
        spec = pod.spec
        required = _required(spec)
        if required is None and not spec.get("nodeSelector"):
            return None, SKIP
        state[PRE_FILTER_KEY] = RequiredNodeAffinity(spec)
        terms = (required or {}).get("nodeSelectorTerms") or []
        if not terms:
            return None, SUCCESS
        names = pinned_node_names(terms)
        if names is None:
            return None, SUCCESS
        if not names:
            return None, unresolvable(ERR_REASON_CONFLICT)
        return PreFilterResult(frozenset(names)), SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        required: RequiredNodeAffinity | None = state.get(PRE_FILTER_KEY)
        if required is None:
            required = RequiredNodeAffinity(pod.spec)
        return SUCCESS if required.matches(node) else _REJECT

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        terms = preferred_terms(pod.spec)
        if not terms:
            return SKIP
        state[PRE_SCORE_KEY] = terms
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        terms: list[tuple[int, Mapping[str, Any]]] = state.get(PRE_SCORE_KEY) or preferred_terms(pod.spec)
        return sum(weight for weight, term in terms if term_matches(term, node)), SUCCESS

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> Status:
        default_normalize_score(MAX_NODE_SCORE, False, scores)
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
                                     _now_matches)]


def _now_matches(pod: PodInfo, old: Any, new: Any) -> bool:
    return bool(new) and RequiredNodeAffinity(pod.spec).matches(NodeInfo(new))


def new(args: dict[str, Any], handle: Any) -> NodeAffinity:
    return NodeAffinity()
