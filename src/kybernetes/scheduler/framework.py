"""The scheduling framework: extension points, plugin interfaces and the runner.

Upstream's framework in Python.  A plugin is a class with a ``name`` that
inherits the interface of every extension point it implements:

* :class:`PreEnqueuePlugin` - may the pod enter the active queue at all
  (scheduling gates);
* :class:`PreFilterPlugin` - per pod, before any node: precompute into the
  :class:`CycleState`, reject the pod outright, narrow the candidate nodes
  (:class:`PreFilterResult`) or return ``SKIP`` (then its Filter is not run);
* :class:`FilterPlugin` - per node: can the pod run there (``filter_mask``
  optionally answers "surely yes" for many nodes in one expression, so the
  common case costs no call per node);
* :class:`PostFilterPlugin` - no node fits: say why not beyond the filters
  (here only DefaultPreemption's message; no pod is preempted);
* :class:`PreScorePlugin` / :class:`ScorePlugin` - rank the feasible nodes:
  ``score_nodes`` returns one integer per node (the default loops over
  ``score``; hot plugins override it to avoid a call per node), then
  ``normalize_score`` maps them into ``0..MAX_NODE_SCORE`` and the framework
  multiplies by the plugin's weight and adds up;
* :class:`BindPlugin` - write the decision (``pods/<name>/binding``);
* :class:`EnqueueExtensions` - the cluster events that can make a pod this
  plugin rejected schedulable again.

Every method returns a :class:`~kybernetes.scheduler.status.Status`; a plugin
never raises for an expected outcome.  The runner follows upstream's rules
(order, skip sets, first failing filter wins, an unresolvable PreFilter stops
the others, PreFilter results intersect).  Plugins see the cluster through a
:class:`Handle`: the cache's nodes (with their aggregates), namespace labels
and the API client.  No I/O here except ``run_bind``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from kybernetes.api.selectors import LabelSelector
from kybernetes.scheduler.events import ClusterEventWithHint
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SUCCESS, Code, Diagnosis, Status, as_status, unresolvable

if TYPE_CHECKING:
    from kybernetes.client.rest import Client
    from kybernetes.scheduler.cache import Cache

MAX_NODE_SCORE = 100


class CycleState(dict[str, Any]):
    """Data plugins share within one scheduling cycle of one pod, plus the skip sets."""

    def __init__(self) -> None:
        super().__init__()
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()


@dataclass(frozen=True)
class PreFilterResult:
    """``node_names=None`` means every node; otherwise only those nodes are candidates."""

    node_names: frozenset[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


class Handle:
    """What plugins may read: the cache, namespace labels and the client (for binding)."""

    def __init__(self, cache: Cache, namespaces: Callable[[], Mapping[str, Mapping[str, str]]] | None = None,
                 client: Client | None = None):
        self.cache = cache
        self._namespaces = namespaces or dict
        self.client = client

    def node_infos(self) -> list[NodeInfo]:
        return self.cache.node_infos()

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self._namespaces().get(namespace)

    def namespaces_matching(self, selector: LabelSelector) -> set[str]:
        return {name for name, labels in self._namespaces().items() if selector.matches(labels)}


class Plugin:
    name: ClassVar[str] = ""


class PreEnqueuePlugin(Plugin, abc.ABC):
    @abc.abstractmethod
    def pre_enqueue(self, pod: PodInfo) -> Status: ...


class PreFilterPlugin(Plugin, abc.ABC):
    @abc.abstractmethod
    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status]: ...


class FilterPlugin(Plugin, abc.ABC):
    @abc.abstractmethod
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...

    def filter_mask(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[bool] | None:
        """Optional fast path: ``True`` where the node surely passes (one expression per node, no call);
        ``filter`` is still asked for the other nodes, and decides.  ``None``: no fast path."""
        return None


class PostFilterPlugin(Plugin, abc.ABC):
    @abc.abstractmethod
    def post_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                    diagnosis: Diagnosis) -> Status: ...


class PreScorePlugin(Plugin, abc.ABC):
    @abc.abstractmethod
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status: ...


class ScorePlugin(Plugin, abc.ABC):
    @abc.abstractmethod
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]: ...

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status]:
        scores: list[int] = []
        for node in nodes:
            s, status = self.score(state, pod, node)
            if not status.is_success():
                return [], status
            scores.append(s)
        return scores, SUCCESS

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> Status:
        return SUCCESS


class BindPlugin(Plugin, abc.ABC):
    @abc.abstractmethod
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


class EnqueueExtensions(abc.ABC):
    @abc.abstractmethod
    def events_to_register(self) -> list[ClusterEventWithHint]: ...


FilterFunc = Callable[[CycleState, PodInfo, NodeInfo], Status]


class Framework:
    """Runs the enabled plugins of one profile at each extension point, in order."""

    def __init__(self, plugins: Sequence[Plugin], weights: Mapping[str, int] | None = None):
        weights = weights or {}
        self.plugins = list(plugins)
        self.pre_enqueue = [p for p in plugins if isinstance(p, PreEnqueuePlugin)]
        self.pre_filter = [p for p in plugins if isinstance(p, PreFilterPlugin)]
        self.filter = [p for p in plugins if isinstance(p, FilterPlugin)]
        self.post_filter = [p for p in plugins if isinstance(p, PostFilterPlugin)]
        self.pre_score = [p for p in plugins if isinstance(p, PreScorePlugin)]
        self.score = [(p, weights.get(p.name, 1)) for p in plugins if isinstance(p, ScorePlugin)]
        self.bind = [p for p in plugins if isinstance(p, BindPlugin)]
        self.events: dict[str, list[ClusterEventWithHint]] = {
            p.name: p.events_to_register() for p in plugins if isinstance(p, EnqueueExtensions)}

    def plugin(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.name == name), None)

    def run_pre_enqueue(self, pod: PodInfo) -> tuple[Status, str]:
        for p in self.pre_enqueue:
            status = p.pre_enqueue(pod)
            if not status.is_success():
                return status, p.name
        return SUCCESS, ""

    def run_pre_filter(self, state: CycleState, pod: PodInfo,
                       nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status, set[str]]:
        """(narrowed candidates, status, the plugins that rejected or narrowed)."""
        result: PreFilterResult | None = None
        narrowing: set[str] = set()
        rejected: tuple[Status, str] | None = None
        for p in self.pre_filter:
            r, status = p.pre_filter(state, pod, nodes)
            if status.is_skip():
                state.skip_filter_plugins.add(p.name)
                continue
            if not status.is_success():
                if status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                    return None, status, {p.name}
                if status.code is Code.UNSCHEDULABLE:
                    rejected = rejected or (status, p.name)  # run the rest: preemption may still help
                    continue
                return None, as_status(f"running PreFilter plugin {p.name!r}: {status.message()}"), {p.name}
            if r is not None and not r.all_nodes():
                narrowing.add(p.name)
            result = r if result is None else result.merge(r)
            if result is not None and result.node_names is not None and not result.node_names:
                names = sorted(narrowing)
                msg = (f"node(s) didn't satisfy plugin {names[0]}" if len(names) == 1 else
                       f"node(s) didn't satisfy plugin(s) [{' '.join(names)}] simultaneously")
                return result, unresolvable(msg), narrowing
        if rejected is not None:
            return None, rejected[0], {rejected[1]}
        return result, SUCCESS, narrowing

    def active_filters(self, state: CycleState) -> list[tuple[str, FilterFunc]]:
        return [(p.name, p.filter) for p in self.filter if p.name not in state.skip_filter_plugins]

    def active_filter_plugins(self, state: CycleState) -> list[FilterPlugin]:
        return [p for p in self.filter if p.name not in state.skip_filter_plugins]

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[Status, str]:
        """The first rejection (and its plugin), or SUCCESS."""
        for name, f in self.active_filters(state):
            status = f(state, pod, node)
            if status is not SUCCESS and not status.is_success():
                return status, name
        return SUCCESS, ""

    def run_post_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        diagnosis: Diagnosis) -> Status:
        reasons: list[str] = []
        for p in self.post_filter:
            status = p.post_filter(state, pod, nodes, diagnosis)
            if status.is_success() or status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return status
            if not status.is_rejected():
                return as_status(f"running PostFilter plugin {p.name!r}: {status.message()}")
            reasons.extend(status.reasons)
        return Status(Code.UNSCHEDULABLE, *reasons)

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        for p in self.pre_score:
            status = p.pre_score(state, pod, nodes)
            if status.is_skip():
                state.skip_score_plugins.add(p.name)
            elif not status.is_success():
                return as_status(f"running PreScore plugin {p.name!r}: {status.message()}")
        return SUCCESS

    def run_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status]:
        """Weighted total score per node (same order as ``nodes``)."""
        totals = [0] * len(nodes)
        for p, weight in self.score:
            if p.name in state.skip_score_plugins:
                continue
            scores, status = p.score_nodes(state, pod, nodes)
            if status.is_success():
                status = p.normalize_score(state, pod, scores)
            if not status.is_success():
                return [], as_status(f"running Score plugin {p.name!r}: {status.message()}")
            if scores and (min(scores) < 0 or max(scores) > MAX_NODE_SCORE):
                bad = next(s for s in scores if not 0 <= s <= MAX_NODE_SCORE)
                return [], as_status(f"plugin {p.name!r} returns an invalid score {bad}, "
                                     f"it should in the range of [0, {MAX_NODE_SCORE}] after normalizing")
            if weight == 1:
                totals = [t + s for t, s in zip(totals, scores, strict=True)]
            elif weight:
                totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals, SUCCESS

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for p in self.bind:
            status = await p.bind(state, pod, node_name)
            if not status.is_skip():
                return status
        return as_status("no bind plugin handled the pod")
