"""InterPodAffinity: place pods near (affinity) or away from (anti-affinity) other pods.

Counts are per topology pair ``(topologyKey, the node's value)``, from pods
already placed (assumed pods included).

* PreFilter computes three counts and ``SKIP``s when all are irrelevant (no
  required terms on the pod, no placed pod with required anti-affinity
  matching it - the common case costs one dict lookup on the cache's index):
  - *existing anti-affinity*: pairs where a placed pod's required
    anti-affinity term matches the incoming pod (only nodes holding such pods
    are visited);
  - *affinity*: pairs where a placed pod matches **all** the incoming pod's
    required affinity terms;
  - *anti-affinity*: pairs where a placed pod matches one of its required
    anti-affinity terms.
* Filter: the node must have every affinity term's topology key with a
  positive count - unless no pod anywhere matches and the pod matches its own
  terms (the first pod of a group) - else ``UnschedulableAndUnresolvable``
  "node(s) didn't match pod affinity rules"; no anti-affinity pair of the
  node may be counted ("node(s) didn't match pod anti-affinity rules") and no
  label of the node may be an existing anti-affinity pair ("node(s) didn't
  satisfy existing pods anti-affinity rules"), both ``Unschedulable``.
* Score: for every placed pod, the incoming pod's preferred terms matching it
  add (affinity) or subtract (anti-affinity) their weight to the pod's
  topology pair, and the placed pod's own preferred terms (and required
  affinity terms, weight 1) matching the incoming pod do the same; a node
  scores the sum over its labels; normalised min..max to 0..100.

Namespace selectors of the incoming pod's terms are resolved to names once per
cycle; placed pods' terms match the incoming pod against its namespace labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kybernetes.scheduler.events import NODE, POD, ActionType, ClusterEvent, ClusterEventWithHint
from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ScorePlugin,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import AffinityTerm, PodInfo
from kybernetes.scheduler.status import SKIP, SUCCESS, Status, unresolvable, unschedulable

ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
PRE_FILTER_KEY = "PreFilterInterPodAffinity"
PRE_SCORE_KEY = "PreScoreInterPodAffinity"
HARD_POD_AFFINITY_WEIGHT = 1

Pair = tuple[str, str]


def _bump(counts: dict[Pair, int], node: NodeInfo, key: str, by: int) -> None:
    value = node.labels.get(key)
    if value is not None:
        pair = (key, value)
        n = counts.get(pair, 0) + by
        if n:
            counts[pair] = n
        else:
            counts.pop(pair, None)


class FilterState:
    def __init__(self, affinity_terms: Sequence[AffinityTerm], anti_terms: Sequence[AffinityTerm]):
        self.affinity_terms = affinity_terms
        self.anti_terms = anti_terms
        self.existing_anti: dict[Pair, int] = {}
        self.affinity: dict[Pair, int] = {}
        self.anti: dict[Pair, int] = {}


class InterPodAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "InterPodAffinity"

    def __init__(self, handle: Handle | None = None, hard_pod_affinity_weight: int = HARD_POD_AFFINITY_WEIGHT):
        self.handle = handle
        self.hard_weight = hard_pod_affinity_weight

    # -- helpers ----------------------------------------------------------------------

    def _resolve(self, terms: Iterable[AffinityTerm]) -> list[AffinityTerm]:
        """Fold a non-empty namespace selector into the term's namespace names."""
        out = []
        for t in terms:
            if t.namespace_selector.empty or t.namespace_selector.nothing or self.handle is None:
                out.append(t)
            else:
                out.append(t.with_namespaces(self.handle.namespaces_matching(t.namespace_selector)))
        return out

    def _ns_labels(self, pod: PodInfo) -> Any:
        return self.handle.namespace_labels(pod.namespace) if self.handle is not None else None

    def _nodes_with_anti_affinity(self, nodes: Sequence[NodeInfo]) -> Iterable[NodeInfo]:
        if self.handle is not None:
            return self.handle.cache.nodes_with_required_anti_affinity_pods()
        return [n for n in nodes if n.pods_with_required_anti_affinity]

    # -- filter -----------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status]:
        s = FilterState(self._resolve(pod.required_affinity_terms), self._resolve(pod.required_anti_affinity_terms))
        ns_labels = self._ns_labels(pod)
        for node in self._nodes_with_anti_affinity(nodes):
            for existing in node.pods_with_required_anti_affinity.values():
                for term in existing.required_anti_affinity_terms:
                    if term.matches(pod, ns_labels):
                        _bump(s.existing_anti, node, term.topology_key, 1)
        if s.affinity_terms or s.anti_terms:
            for node in nodes:
                for existing in node.pods.values():
                    if s.affinity_terms and all(t.matches(existing, None) for t in s.affinity_terms):
                        for t in s.affinity_terms:
                            _bump(s.affinity, node, t.topology_key, 1)
                    for t in s.anti_terms:
                        if t.matches(existing, None):
                            _bump(s.anti, node, t.topology_key, 1)
        if not s.existing_anti and not s.affinity_terms and not s.anti_terms:
            return None, SKIP
        state[PRE_FILTER_KEY] = s
        return None, SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: FilterState = state[PRE_FILTER_KEY]
        labels = node.labels
        if s.affinity_terms:
            pods_exist = True
            for t in s.affinity_terms:
                value = labels.get(t.topology_key)
                if value is None:
                    return unresolvable(ERR_REASON_AFFINITY)
                if s.affinity.get((t.topology_key, value), 0) <= 0:
                    pods_exist = False
            if not pods_exist and not (not s.affinity and all(t.matches(pod, None) for t in s.affinity_terms)):
                return unresolvable(ERR_REASON_AFFINITY)
        for t in s.anti_terms:
            value = labels.get(t.topology_key)
            if value is not None and s.anti.get((t.topology_key, value), 0) > 0:
                return unschedulable(ERR_REASON_ANTI_AFFINITY)
        if s.existing_anti:
            for pair in labels.items():
                if s.existing_anti.get(pair, 0) > 0:
                    return unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
        return SUCCESS

    # -- score ------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        has_constraints = bool(pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms)
        if self.handle is None:
            candidates: Sequence[NodeInfo] = nodes
        else:
            candidates = self.handle.node_infos() if has_constraints else self.handle.cache.nodes_with_affinity_pods()
        preferred = self._resolve(pod.preferred_affinity_terms)
        preferred_anti = self._resolve(pod.preferred_anti_affinity_terms)
        ns_labels = self._ns_labels(pod)
        scores: dict[Pair, int] = {}
        for node in candidates:
            if not node.labels:
                continue
            existing_pods = node.pods.values() if has_constraints else node.pods_with_affinity.values()
            for existing in existing_pods:
                for own_terms, sign in ((preferred, 1), (preferred_anti, -1)):
                    for t in own_terms:
                        if t.matches(existing, None):
                            _bump(scores, node, t.topology_key, t.weight * sign)
                if self.hard_weight > 0:
                    for t in existing.required_affinity_terms:
                        if t.matches(pod, ns_labels):
                            _bump(scores, node, t.topology_key, self.hard_weight)
                for terms, sign in ((existing.preferred_affinity_terms, 1), (existing.preferred_anti_affinity_terms, -1)):
                    for t in terms:
                        if t.matches(pod, ns_labels):
                            _bump(scores, node, t.topology_key, t.weight * sign)
        if not scores:
            return SKIP
        state[PRE_SCORE_KEY] = scores
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        scores: dict[Pair, int] = state[PRE_SCORE_KEY]
        return sum(scores.get(pair, 0) for pair in node.labels.items()), SUCCESS

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> Status:
        if not scores:
            return SUCCESS
        lo, hi = min(scores), max(scores)
        diff = hi - lo
        scores[:] = [int(MAX_NODE_SCORE * ((s - lo) / diff)) if diff > 0 else 0 for s in scores]
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE)),
                ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL))]


def new(args: dict[str, Any], handle: Any) -> InterPodAffinity:
    return InterPodAffinity(handle, int(args.get("hardPodAffinityWeight", HARD_POD_AFFINITY_WEIGHT)))
