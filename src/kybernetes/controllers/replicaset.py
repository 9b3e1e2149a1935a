"""ReplicaSet and ReplicationController controller: keep ``spec.replicas`` pods matching the selector.

One controller, two kinds (:data:`REPLICASET`, :data:`REPLICATION_CONTROLLER`): they differ
only in where they live and how their selector is written.  Behaviour is upstream's
(``pkg/controller/replicaset``):

* **Level-triggered.**  Informers on the owners and on pods (indexed by controller uid, and
  orphans by namespace); handlers only enqueue owner keys and count what they observe
  against the expectations.  :meth:`ReplicaSetController.sync` reads the caches.
* **Claiming.**  Active pods the owner controls and orphans in its namespace are sorted by
  :func:`~kybernetes.controllers.podcontrol.plan_claims`: matching orphans are adopted (a
  controller reference with ``blockOwnerDeletion``, after a live read of the owner), owned
  pods that stopped matching are released.
* **Resizing** (:func:`plan_replicas`, pure), only when the expectations are satisfied and the
  owner is not being deleted: too few pods -> create the difference (at most 500 per sync) in
  slow-start batches; too many -> delete the first ones in :func:`pods_to_delete` order (pods
  doubled up on a node with their siblings, those of the owner's controller's other
  ReplicaSets, go first).  Failed pods and vanished pods simply no longer count, so they are
  replaced.
* **Status** (:func:`calculate_status`, pure): replicas, fullyLabeledReplicas, readyReplicas,
  availableReplicas (ready for ``minReadySeconds``), observedGeneration, and a
  ``ReplicaFailure`` condition while creating or deleting fails.  Written through the status
  subresource, only when it changed; an owner waiting for pods to become available is
  re-synced when the first of them will be.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import format_time
from kybernetes.api.selectors import LabelSelector, label_selector_from_dict, selector_from_set
from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer
from kybernetes.client.rest import APIError, Client, resource_path
from kybernetes.client.workqueue import WorkQueue, run_workers
from kybernetes.controllers.podcontrol import (
    CannotAdopt,
    Expectations,
    Obj,
    PodControl,
    apply_claims,
    controller_index,
    controller_of,
    deletion_order,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    key_of,
    meta,
    namespace_index,
    namespace_terminating,
    new_controller_ref,
    plan_claims,
    seconds_until_available,
    slim_pod,
    slow_start_batch,
)

log = logging.getLogger("kybernetes.controllers.replicaset")

BURST_REPLICAS = 500  # upstream: at most this many creations or deletions per sync
SLOW_START_INITIAL_BATCH = 1
WORKERS = 5


@dataclass(frozen=True)
class WorkloadKind:
    """What differs between ReplicaSets and ReplicationControllers."""

    group: str
    version: str
    plural: str
    kind: str
    component: str  # the Events' source
    set_based_selector: bool  # a LabelSelector (ReplicaSet) or a plain label map (ReplicationController)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        return resource_path(self.group, self.version, self.plural, namespace, name, subresource)

    def selector(self, owner: Mapping[str, Any]) -> LabelSelector:
        raw = (owner.get("spec") or {}).get("selector")
        if self.set_based_selector:
            return label_selector_from_dict(raw)
        return selector_from_set(raw or {})

    def with_kind(self, owner: Obj) -> Obj:
        """The owner with apiVersion and kind (list items lack them); Events need both."""
        return {**owner, "apiVersion": self.api_version, "kind": self.kind}


REPLICASET = WorkloadKind("apps", "v1", "replicasets", "ReplicaSet", "replicaset-controller", True)
REPLICATION_CONTROLLER = WorkloadKind("", "v1", "replicationcontrollers", "ReplicationController",
                                      "replication-controller", False)


# -- decisions (pure) --------------------------------------------------------------------------

def desired_replicas(owner: Mapping[str, Any]) -> int:
    value = (owner.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid", ""))


def node_ranks(pods: Iterable[Obj], related: Iterable[Obj]) -> dict[str, int]:
    """Each pod's rank: how many active related pods share its node (upstream
    getPodsRankedByRelatedPodsOnSameNode)."""
    on_node = Counter(str((p.get("spec") or {}).get("nodeName", "")) for p in related if is_pod_active(p))
    return {uid_of(p): on_node[str((p.get("spec") or {}).get("nodeName", ""))] for p in pods}


def pods_to_delete(pods: list[Obj], related: Iterable[Obj], count: int, now: datetime | None) -> list[Obj]:
    """The ``count`` pods to delete first (upstream getPodsToDelete)."""
    if count < len(pods):
        return deletion_order(pods, node_ranks(pods, related), now)[:count]
    return list(pods[:count])


@dataclass(frozen=True)
class ReplicaPlan:
    create: int = 0
    delete: list[Obj] = field(default_factory=list)


def plan_replicas(desired: int, pods: list[Obj], related: Iterable[Obj], now: datetime | None,
                  burst: int = BURST_REPLICAS) -> ReplicaPlan:
    """How many pods to create, or which to delete, so that ``pods`` (active, owned) becomes ``desired``."""
    diff = len(pods) - desired
    if diff < 0:
        return ReplicaPlan(create=min(-diff, burst))
    if diff > 0:
        return ReplicaPlan(delete=pods_to_delete(pods, related, min(diff, burst), now))
    return ReplicaPlan()


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def calculate_status(owner: Mapping[str, Any], pods: list[Obj], now: datetime,
                     error: BaseException | None = None) -> dict[str, Any]:
    """The status the owner should have, given its active pods (upstream calculateStatus).

    Zero counts are left out, as the API's ``omitempty`` does; ``replicas`` is always there.
    """
    status: dict[str, Any] = copy.deepcopy(dict(owner.get("status") or {}))
    spec = owner.get("spec") or {}
    template_labels = selector_from_set(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
    min_ready = int(spec.get("minReadySeconds") or 0)
    counts = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(1 for p in pods if template_labels.matches(_labels(p))),
        "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready, now)),
    }
    for k, v in counts.items():
        if v or k == "replicas":
            status[k] = v
        else:
            status.pop(k, None)
    generation = meta(owner).get("generation")
    if generation:
        status["observedGeneration"] = generation
    conditions = [c for c in status.get("conditions") or () if c.get("type") != "ReplicaFailure"]
    failure = next((c for c in status.get("conditions") or () if c.get("type") == "ReplicaFailure"), None)
    if error is not None:
        if failure is None:
            reason = "FailedCreate" if len(pods) < desired_replicas(owner) else "FailedDelete"
            failure = {"type": "ReplicaFailure", "status": "True", "lastTransitionTime": format_time(now),
                       "reason": reason, "message": str(error)}
        conditions.append(failure)
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    return status


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """A merge patch turning status ``old`` into ``new`` (None when they are equal)."""
    if dict(old) == dict(new):
        return None
    patch: dict[str, Any] = {k: None for k in old if k not in new}
    patch.update(new)
    return {"status": patch}


# -- the controller ----------------------------------------------------------------------------

def utcnow() -> datetime:
    return datetime.now(UTC)


class ReplicaSetController:
    """Runs the sync loop for one kind; ``namespace`` limits it to one namespace (tests).

    ``owners`` and ``pods`` may be informers shared with other controllers: their owner
    starts and stops them.
    """

    def __init__(self, client: Client, kind: WorkloadKind = REPLICASET, *, namespace: str | None = None,
                 workers: int = WORKERS, burst: int = BURST_REPLICAS, clock: Callable[[], datetime] = utcnow,
                 owners: Informer | None = None, pods: Informer | None = None):
        self.client = client
        self.kind = kind
        self.workers = workers
        self.burst = burst
        self.clock = clock
        self._owned: list[Informer] = []
        if owners is None:
            owners = Informer(client, kind.group, kind.version, kind.plural, namespace=namespace)
            self._owned.append(owners)
        if pods is None:
            pods = Informer(client, "", "v1", "pods", namespace=namespace, transform=slim_pod)
            self._owned.append(pods)
        self.owners, self.pods = owners, pods
        self.owners.add_index("controller", controller_index)
        self.owners.add_index("namespace", namespace_index)
        self.pods.add_index("controller", controller_index)
        self.queue: WorkQueue[str] = WorkQueue()
        self.expectations = Expectations()
        self.recorder = EventRecorder(client, kind.component)
        self.pod_control = PodControl(client, self.recorder)
        self.synced = asyncio.Event()
        self.owners.add_event_handler(self._owner_added, self._owner_updated, self._owner_deleted)
        self.pods.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- lifecycle --

    async def run(self) -> None:
        """Sync until cancelled; stops the informers it started on the way out."""
        try:
            for inf in self._owned:
                inf.start()
            await self.owners.wait_synced()
            await self.pods.wait_synced()
            self.synced.set()
            await run_workers(self.queue, self.sync, self.workers, self._sync_failed)
        finally:
            await self.queue.shutdown()
            for inf in self._owned:
                await inf.stop()
            await self.recorder.close()

    def _sync_failed(self, key: str, e: BaseException) -> None:
        # Conflicts with a lagging cache and owners vanishing are routine; only other failures are news.
        routine = isinstance(e, CannotAdopt) or (isinstance(e, APIError) and e.code in (409, 422))
        log.log(logging.DEBUG if routine else logging.WARNING, "%s %s: sync failed: %s", self.kind.kind, key, e,
                exc_info=not isinstance(e, (APIError, CannotAdopt)))

    # -- handlers: count observations, enqueue keys --

    def _owner_added(self, owner: Obj) -> None:
        self.queue.add(key_of(owner))

    def _owner_updated(self, old: Obj, new: Obj) -> None:
        if uid_of(old) != uid_of(new):
            self._owner_deleted(old)
        self.queue.add(key_of(new))

    def _owner_deleted(self, owner: Obj) -> None:
        self.expectations.forget(key_of(owner))
        self.queue.add(key_of(owner))

    def resolve(self, namespace: str, ref: Mapping[str, Any] | None) -> Obj | None:
        """The cached owner a controller reference names, if it is one of ours and still the same."""
        if ref is None or ref.get("kind") != self.kind.kind:
            return None
        owner = self.owners.get(f"{namespace}/{ref.get('name', '')}")
        return owner if owner is not None and uid_of(owner) == ref.get("uid") else None

    def owners_selecting(self, pod: Obj) -> list[Obj]:
        """Owners in the pod's namespace whose (non-empty) selector matches it: adoption candidates."""
        out = []
        for owner in self.owners.by_index("namespace", str(meta(pod).get("namespace", ""))):
            try:
                sel = self.kind.selector(owner)
            except StatusError:
                continue
            if not sel.empty and sel.matches(_labels(pod)):
                out.append(owner)
        return out

    def _pod_added(self, pod: Obj) -> None:
        if meta(pod).get("deletionTimestamp"):
            self._pod_deleted(pod)  # a restart found it being deleted: that deletion is observed
            return
        ref = controller_of(pod)
        if ref is not None:
            owner = self.resolve(str(meta(pod).get("namespace", "")), ref)
            if owner is not None:
                self.expectations.creation_observed(key_of(owner))
                self.queue.add(key_of(owner))
            return
        for owner in self.owners_selecting(pod):
            self.queue.add(key_of(owner))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        labels_changed = _labels(old) != _labels(new)
        if meta(new).get("deletionTimestamp"):
            # Graceful deletion: the pod counts as gone now, so its replacement is not delayed.
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        ns = str(meta(new).get("namespace", ""))
        old_ref, new_ref = controller_of(old), controller_of(new)
        if old_ref != new_ref and old_ref is not None:
            previous = self.resolve(ns, old_ref)
            if previous is not None:
                self.queue.add(key_of(previous))
        if new_ref is not None:
            owner = self.resolve(ns, new_ref)
            if owner is not None:
                self.queue.add(key_of(owner))
                min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
                if min_ready and not is_pod_ready(old) and is_pod_ready(new):
                    self.queue.add_after(key_of(owner), min_ready + 0.05)
            return
        if labels_changed or old_ref != new_ref:
            for owner in self.owners_selecting(new):
                self.queue.add(key_of(owner))

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self.resolve(str(meta(pod).get("namespace", "")), controller_of(pod))
        if owner is not None:
            self.expectations.deletion_observed(key_of(owner), key_of(pod))
            self.queue.add(key_of(owner))

    # -- reconcile --

    def related_pods(self, owner: Obj) -> list[Obj]:
        """Pods of every owner sharing this owner's controller (a Deployment's ReplicaSets)."""
        ref = controller_of(owner)
        if ref is None:
            return []
        siblings = self.owners.by_index("controller", str(ref.get("uid", "")))
        return [p for s in siblings for p in self.pods.by_index("controller", uid_of(s))]

    async def sync(self, key: str) -> None:
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.forget(key)
            return
        namespace, name = key.split("/", 1)
        needs_resize = self.expectations.satisfied(key)
        try:
            selector = self.kind.selector(owner)
        except StatusError as e:
            log.warning("%s %s has an invalid selector: %s", self.kind.kind, key, e)
            return
        candidates = [p for p in (*self.pods.by_index("controller", uid_of(owner)),
                                  *self.pods.by_index("controller", f"orphan:{namespace}")) if is_pod_active(p)]
        claims = plan_claims(owner, lambda p: selector.matches(_labels(p)), candidates)
        ref = new_controller_ref(owner, self.kind.api_version, self.kind.kind)
        pods = await apply_claims(self.client, lambda p: f"/api/v1/namespaces/{namespace}/pods/{meta(p)['name']}",
                                  claims, ref, lambda: self._can_adopt(owner))
        error: BaseException | None = None
        if needs_resize and not meta(owner).get("deletionTimestamp"):
            error = await self.manage_replicas(owner, pods, ref)
        now = self.clock()
        status = calculate_status(owner, pods, now, error)
        patch = status_patch(owner.get("status") or {}, status)
        if patch is not None:
            try:
                await self.client.patch(self.kind.path(namespace, name, "status"), patch)
            except APIError as e:
                if e.code != 404:
                    raise
                return
        min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        waits = [w for p in pods if (w := seconds_until_available(p, min_ready, now)) is not None]
        if error is None and waits:
            self.queue.add_after(key, min(waits) + 0.05)
        if error is not None:
            raise error

    async def _can_adopt(self, owner: Obj) -> None:
        """Adopt only for the live owner: same uid, not being deleted (upstream RecheckDeletionTimestamp)."""
        m = meta(owner)
        fresh = await self.client.get(self.kind.path(m["namespace"], m["name"]))
        fm = fresh.get("metadata") or {}
        if fm.get("uid") != m.get("uid"):
            raise CannotAdopt(f"original {self.kind.kind} {m['namespace']}/{m['name']} is gone: "
                               f"got uid {fm.get('uid')}, wanted {m.get('uid')}")
        if fm.get("deletionTimestamp"):
            raise CannotAdopt(f"{m['namespace']}/{m['name']} has just been deleted at {fm['deletionTimestamp']}")

    async def manage_replicas(self, owner: Obj, pods: list[Obj], ref: Mapping[str, Any]) -> BaseException | None:
        """Create or delete pods towards ``spec.replicas``; the first error, if any (never raised)."""
        key, namespace = key_of(owner), str(meta(owner)["namespace"])
        plan = plan_replicas(desired_replicas(owner), pods, self.related_pods(owner), self.clock(), self.burst)
        template = (owner.get("spec") or {}).get("template") or {}
        event_owner = self.kind.with_kind(owner)
        if plan.create:
            self.expectations.expect_creations(key, plan.create)

            async def create_one() -> None:
                try:
                    await self.pod_control.create(namespace, template, event_owner, ref)
                except APIError as e:
                    if not namespace_terminating(e):
                        raise
                    # Nothing can be created there any more; the creation will never be observed.
            done, error = await slow_start_batch(plan.create, SLOW_START_INITIAL_BATCH, create_one)
            for _ in range(plan.create - done):
                self.expectations.creation_observed(key)  # never made: not waited for
            return error
        if plan.delete:
            self.expectations.expect_deletions(key, [key_of(p) for p in plan.delete])

            async def delete_one(pod: Obj) -> BaseException | None:
                try:
                    await self.pod_control.delete(namespace, str(meta(pod)["name"]), event_owner)
                except (APIError, aiohttp.ClientError, OSError, TimeoutError) as e:
                    self.expectations.deletion_observed(key, key_of(pod))  # no event will come
                    if isinstance(e, APIError) and e.code == 404:
                        return None
                    return e
                return None
            results = await asyncio.gather(*(delete_one(p) for p in plan.delete))
            return next((e for e in results if e is not None), None)
        return None


# -- entry points --------------------------------------------------------------------------------

def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))


async def run_controller(url: str, kind: WorkloadKind) -> None:
    """Run the controller for ``kind`` against the API server at ``url`` until cancelled."""
    session = _session()
    try:
        await ReplicaSetController(Client(url, session), kind).run()
    finally:
        await session.close()


async def run_replicaset_controller(url: str) -> None:
    await run_controller(url, REPLICASET)


async def run_replicationcontroller_controller(url: str) -> None:
    await run_controller(url, REPLICATION_CONTROLLER)
