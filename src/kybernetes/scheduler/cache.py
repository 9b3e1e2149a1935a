"""The scheduler's cache: nodes with their pods' aggregates, including pods it *assumed*.

Built from the node and pod informers (assigned pods only).  Binding is slow
compared with deciding, so after choosing a node the scheduler *assumes* the
pod there at once (:meth:`Cache.assume_pod`): the next decision already sees
its requests and ports, long before the informer reports the binding.  The
lifecycle of a pod key (its uid)::

    assume_pod -> (bind request) -> finish_binding -> add_pod (informer: confirmed)
        |                                  |
        +-> forget_pod (bind failed)       +-> expired after ``ttl`` if never confirmed

* ``add_pod`` of an assumed pod *confirms* it (moving it if the informer says
  another node); of an unknown pod, adds it.
* ``remove_pod`` removes whatever is known, assumed or not.
* ``cleanup_expired(now)`` drops assumptions whose binding finished more than
  ``ttl`` seconds ago without confirmation (``ttl=0`` keeps them for ever, as
  upstream does by default; the informer's delete then cleans up).

The algorithm reads :meth:`Cache.node_infos` directly instead of upstream's
per-cycle snapshot: the scheduling cycle runs without awaiting, so nothing can
change the cache in the middle of a decision.  Cluster-wide shortcuts are kept
up to date incrementally: the nodes that have pods with (anti-)affinity, so
InterPodAffinity looks only at those.  The clock is injected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kybernetes.scheduler.nodeinfo import NodeInfo, Obj
from kybernetes.scheduler.podinfo import PodInfo

log = logging.getLogger(__name__)


class Cache:
    def __init__(self, ttl: float = 0.0, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, PodInfo] = {}  # uid -> the pod as placed (node_name set)
        self._assumed: set[str] = set()
        self._deadlines: dict[str, float] = {}  # assumed uid -> expiry, once its binding finished
        self._node_list: list[NodeInfo] | None = None
        self._with_affinity: set[str] = set()  # node names with pods that have (anti-)affinity
        self._with_anti_affinity: set[str] = set()  # ... with required anti-affinity

    # -- nodes -----------------------------------------------------------------------

    def add_node(self, node: Obj) -> NodeInfo:
        name = str((node.get("metadata") or {}).get("name") or "")
        ni = self._nodes.get(name)
        if ni is None:
            ni = self._nodes[name] = NodeInfo(node)
        else:
            ni.set_node(node)
        self._node_list = None
        return ni

    update_node = add_node

    def remove_node(self, name: str) -> None:
        ni = self._nodes.get(name)
        if ni is None:
            return
        if ni.pods:
            ni.node = None  # keep the pods' accounting until they go; hidden from the algorithm
        else:
            del self._nodes[name]
        self._node_list = None

    def node_info(self, name: str) -> NodeInfo | None:
        ni = self._nodes.get(name)
        return ni if ni is not None and ni.node is not None else None

    def node_infos(self) -> list[NodeInfo]:
        """Every node with a Node object, in a stable order (the algorithm rotates through it)."""
        if self._node_list is None:
            self._node_list = [ni for ni in self._nodes.values() if ni.node is not None]
        return self._node_list

    def nodes_with_affinity_pods(self) -> list[NodeInfo]:
        return [ni for n in self._with_affinity if (ni := self.node_info(n)) is not None]

    def nodes_with_required_anti_affinity_pods(self) -> list[NodeInfo]:
        return [ni for n in self._with_anti_affinity if (ni := self.node_info(n)) is not None]

    # -- pods ------------------------------------------------------------------------

    def _place(self, pi: PodInfo) -> None:
        ni = self._nodes.get(pi.node_name)
        if ni is None:
            ni = self._nodes[pi.node_name] = NodeInfo(name=pi.node_name)  # pods before their node
        ni.add_pod(pi)
        self._pods[pi.uid] = pi
        self._reindex(ni)

    def _unplace(self, uid: str) -> PodInfo | None:
        pi = self._pods.pop(uid, None)
        if pi is None:
            return None
        ni = self._nodes.get(pi.node_name)
        if ni is not None:
            ni.remove_pod(uid)
            self._reindex(ni)
            if ni.node is None and not ni.pods:
                del self._nodes[ni.name]
        return pi

    def _reindex(self, ni: NodeInfo) -> None:
        for index, members in ((self._with_affinity, ni.pods_with_affinity),
                               (self._with_anti_affinity, ni.pods_with_required_anti_affinity)):
            if members:
                index.add(ni.name)
            else:
                index.discard(ni.name)

    def assume_pod(self, pi: PodInfo) -> None:
        """Place a pod the scheduler decided on (``pi.node_name`` set) before the binding is seen."""
        if pi.uid in self._pods:
            raise ValueError(f"pod {pi.key} ({pi.uid}) is already in the cache")
        self._place(pi)
        self._assumed.add(pi.uid)

    def finish_binding(self, uid: str) -> None:
        """The binding request returned; start the assumption's expiry clock."""
        if uid in self._assumed and self.ttl > 0:
            self._deadlines[uid] = self.clock() + self.ttl

    def forget_pod(self, uid: str) -> None:
        """Undo an assumption (the binding failed)."""
        if uid in self._assumed:
            self._assumed.discard(uid)
            self._deadlines.pop(uid, None)
            self._unplace(uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    def add_pod(self, pi: PodInfo) -> None:
        """An assigned pod from the informer: confirms an assumption, or adds the pod."""
        current = self._pods.get(pi.uid)
        if pi.uid in self._assumed:
            self._assumed.discard(pi.uid)
            self._deadlines.pop(pi.uid, None)
        if current is not None:
            if current.node_name != pi.node_name:
                log.warning("pod %s was assumed on %s but is bound to %s", pi.key, current.node_name, pi.node_name)
            self._unplace(pi.uid)
        self._place(pi)

    update_pod = add_pod

    def remove_pod(self, uid: str) -> PodInfo | None:
        self._assumed.discard(uid)
        self._deadlines.pop(uid, None)
        return self._unplace(uid)

    def get_pod(self, uid: str) -> PodInfo | None:
        return self._pods.get(uid)

    def cleanup_expired(self, now: float | None = None) -> list[PodInfo]:
        """Drop assumptions whose binding finished ``ttl`` ago and were never confirmed."""
        now = self.clock() if now is None else now
        expired = [uid for uid, deadline in self._deadlines.items() if deadline <= now]
        out: list[PodInfo] = []
        for uid in expired:
            pi = self.remove_pod(uid)
            if pi is not None:
                log.warning("assumed pod %s on %s expired without confirmation", pi.key, pi.node_name)
                out.append(pi)
        return out

    # -- introspection (tests, metrics) ----------------------------------------------

    def pod_count(self) -> int:
        return len(self._pods)

    def assumed_count(self) -> int:
        return len(self._assumed)

    def node_count(self) -> int:
        return len(self.node_infos())
