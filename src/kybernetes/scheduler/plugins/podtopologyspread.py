"""PodTopologySpread: spread matching pods evenly over topology domains (zones, nodes, ...).

Constraints come from ``spec.topologySpreadConstraints`` only (no cluster-wide
default constraints: upstream's system defaults are off here).  A constraint's
selector is its ``labelSelector`` plus ``matchLabelKeys`` (``key In [the pod's
value]``).  Pods counted are those on the domain's nodes, in the pod's
namespace, not terminating, matching the selector.  Nodes take part only if
they have every constraint's topology key and pass the inclusion policies
(``nodeAffinityPolicy: Honor`` by default - the pod's nodeSelector/affinity;
``nodeTaintsPolicy: Ignore`` by default).

* Filter (``whenUnsatisfiable: DoNotSchedule``): a node without the topology
  key is ``UnschedulableAndUnresolvable`` "node(s) didn't match pod topology
  spread constraints (missing required label)"; otherwise with ``count`` the
  matching pods in the node's domain and ``min`` the smallest count of any
  domain (0 when there are fewer domains than ``minDomains``), the node fits
  when ``count + (1 if the pod itself matches) - min <= maxSkew``, else
  ``Unschedulable`` "node(s) didn't match pod topology spread constraints".
* Score (``ScheduleAnyway``): per constraint ``count * log(domains + 2) +
  (maxSkew - 1)``, summed and rounded; then ``100 * (max + min - s) / max`` so
  the emptiest domain gets the best score; nodes missing a key score 0.
* Requeued on assigned pod changes and node changes (add, delete, labels, taints).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kybernetes.api.selectors import LabelSelector
from kybernetes.scheduler.events import NODE, POD, ActionType, ClusterEvent, ClusterEventWithHint
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
from kybernetes.scheduler.plugins.helpers import RequiredNodeAffinity, find_untolerated_taint
from kybernetes.scheduler.podinfo import PodInfo, selector_or_nothing
from kybernetes.scheduler.status import SKIP, SUCCESS, Status, unresolvable, unschedulable

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
PRE_FILTER_KEY = "PreFilterPodTopologySpread"
PRE_SCORE_KEY = "PreScorePodTopologySpread"
_MISSING_LABEL = unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
_SKEWED = unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
INVALID_SCORE = -1  # a node missing a topology key: scored 0 after normalising


class Constraint:
    __slots__ = ("honor_affinity", "honor_taints", "max_skew", "min_domains", "selector", "topology_key")

    def __init__(self, raw: Mapping[str, Any], pod_labels: Mapping[str, str]):
        self.max_skew = int(raw.get("maxSkew") or 1)
        self.topology_key = str(raw.get("topologyKey") or "")
        self.min_domains = int(raw.get("minDomains") or 1)
        self.honor_affinity = (raw.get("nodeAffinityPolicy") or "Honor") == "Honor"
        self.honor_taints = (raw.get("nodeTaintsPolicy") or "Ignore") == "Honor"
        selector = dict(raw.get("labelSelector") or {}) if raw.get("labelSelector") is not None else None
        keys = [k for k in raw.get("matchLabelKeys") or () if k in pod_labels]
        if selector is not None and keys:
            selector["matchExpressions"] = [*(selector.get("matchExpressions") or ()),
                                            *({"key": k, "operator": "In", "values": [pod_labels[k]]} for k in keys)]
        self.selector: LabelSelector = selector_or_nothing(selector)

    def includes(self, pod: PodInfo, node: NodeInfo, required: RequiredNodeAffinity) -> bool:
        if self.honor_affinity and not required.matches(node):
            return False
        return not (self.honor_taints and find_untolerated_taint(node.no_schedule_taints, pod.tolerations))


def constraints_of(pod: PodInfo, when: str) -> list[Constraint]:
    return [Constraint(c, pod.labels) for c in pod.spec.get("topologySpreadConstraints") or ()
            if c.get("whenUnsatisfiable") == when]


def has_all_keys(node: NodeInfo, constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)


def count_matching(node: NodeInfo, selector: LabelSelector, namespace: str) -> int:
    if selector.empty:
        return 0
    return sum(1 for p in node.pods.values()
               if p.namespace == namespace and not p.terminating and selector.matches(p.labels))


class PreFilterState:
    """Matching pods per (key, value) domain, and the smallest count and domain count per key."""

    def __init__(self, constraints: list[Constraint], pair_counts: dict[tuple[str, str], int]):
        self.constraints = constraints
        self.pair_counts = pair_counts
        self.min_count: dict[str, int] = {}
        self.domains: dict[str, int] = {}
        for (key, _), n in pair_counts.items():
            self.domains[key] = self.domains.get(key, 0) + 1
            self.min_count[key] = min(self.min_count.get(key, n), n)

    def min_match(self, c: Constraint) -> int:
        if self.domains.get(c.topology_key, 0) < c.min_domains:
            return 0
        return self.min_count.get(c.topology_key, 2**31 - 1)


class PodTopologySpread(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "PodTopologySpread"

    def __init__(self, all_nodes: Callable[[], Sequence[NodeInfo]] | None = None):
        # Scores count matching pods on every node, not only the feasible ones.
        self._all_nodes = all_nodes

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status]:
        constraints = constraints_of(pod, "DoNotSchedule")
        if not constraints:
            return None, SKIP
        required = RequiredNodeAffinity(pod.spec)
        counts: dict[tuple[str, str], int] = {}
        for node in nodes:
            if not has_all_keys(node, constraints):
                continue
            for c in constraints:
                if c.includes(pod, node, required):
                    pair = (c.topology_key, node.labels[c.topology_key])
                    counts[pair] = counts.get(pair, 0) + count_matching(node, c.selector, pod.namespace)
        state[PRE_FILTER_KEY] = PreFilterState(constraints, counts)
        return None, SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: PreFilterState = state[PRE_FILTER_KEY]
        for c in s.constraints:
            value = node.labels.get(c.topology_key)
            if value is None:
                return _MISSING_LABEL
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = s.pair_counts.get((c.topology_key, value), 0) + self_match - s.min_match(c)
            if skew > c.max_skew:
                return _SKEWED
        return SUCCESS

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        constraints = constraints_of(pod, "ScheduleAnyway")
        if not constraints or not nodes:
            return SKIP
        ignored = {n.name for n in nodes if not has_all_keys(n, constraints)}
        counts: dict[tuple[str, str], int] = {}
        sizes = [0] * len(constraints)
        for n in nodes:
            if n.name in ignored:
                continue
            for i, c in enumerate(constraints):
                pair = (c.topology_key, n.labels[c.topology_key])
                if c.topology_key != HOSTNAME and pair not in counts:
                    counts[pair] = 0
                    sizes[i] += 1
        required = RequiredNodeAffinity(pod.spec)
        for n in (self._all_nodes() if self._all_nodes is not None else nodes):
            if not has_all_keys(n, constraints):
                continue
            for c in constraints:
                pair = (c.topology_key, n.labels[c.topology_key])
                if pair in counts and c.includes(pod, n, required):
                    counts[pair] += count_matching(n, c.selector, pod.namespace)
        weights = [math.log((len(nodes) - len(ignored) if c.topology_key == HOSTNAME else sizes[i]) + 2)
                   for i, c in enumerate(constraints)]
        state[PRE_SCORE_KEY] = (constraints, counts, weights, ignored)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        constraints, counts, weights, ignored = state[PRE_SCORE_KEY]
        if node.name in ignored:
            return INVALID_SCORE, SUCCESS
        total = 0.0
        for c, weight in zip(constraints, weights, strict=True):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                n = count_matching(node, c.selector, pod.namespace)
            else:
                n = counts.get((c.topology_key, value), 0)
            total += n * weight + (c.max_skew - 1)
        return _round_half_away(total), SUCCESS

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> Status:
        valid = [s for s in scores if s != INVALID_SCORE]
        lo, hi = min(valid, default=0), max(valid, default=0)
        for i, s in enumerate(scores):
            if s == INVALID_SCORE:
                scores[i] = 0
            elif hi == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (hi + lo - s) // hi
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        pod_actions = ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE
        node_actions = ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT
        return [ClusterEventWithHint(ClusterEvent(POD, pod_actions), _pod_change_matters),
                ClusterEventWithHint(ClusterEvent(NODE, node_actions), _node_change_matters)]


def _round_half_away(x: float) -> int:
    """Go's math.Round: halves away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _pod_change_matters(pod: PodInfo, old: Any, new: Any) -> bool:
    changed = [p for p in (old, new) if isinstance(p, PodInfo)]
    constraints = [Constraint(c, pod.labels) for c in pod.spec.get("topologySpreadConstraints") or ()]
    return any(p.namespace == pod.namespace and c.selector.matches(p.labels) for p in changed for c in constraints)


def _node_change_matters(pod: PodInfo, old: Any, new: Any) -> bool:
    keys = {c.get("topologyKey") for c in pod.spec.get("topologySpreadConstraints") or ()}
    return any(key in ((n.get("metadata") or {}).get("labels") or {}) for n in (old, new) if n for key in keys)


def new(args: dict[str, Any], handle: Any) -> PodTopologySpread:
    return PodTopologySpread(handle.node_infos if handle is not None else None)
