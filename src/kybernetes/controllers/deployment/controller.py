"""The deployment controller: informers, event handlers, the work queue (upstream ``deployment_controller.go``).

Three informers (deployments; ReplicaSets indexed by controller uid and orphans by namespace;
pods, slimmed, indexed by controller uid), which may be shared with the ReplicaSet controller
when both run in one process.  Handlers only enqueue deployment keys:

* a deployment added, changed or deleted;
* a ReplicaSet added, changed or deleted -> its controlling deployment; an orphan (or one whose
  labels or owner changed) -> every deployment in its namespace whose selector matches it;
* a pod deleted -> the deployment over its ReplicaSet, when that deployment is Recreate (it
  waits for old pods to be gone).

:meth:`DeploymentController.sync` reads the caches: the deployment, the ReplicaSets it claims
(adopting matching orphans, releasing those that stopped matching) and their pods, and hands
them to :class:`~kybernetes.controllers.deployment.sync.DeploymentSync`.  A deployment whose
caches do not yet show the sync's own last writes waits for them (see ``WriteLog``).  A
deployment with an empty selector is refused with a ``SelectingAll`` warning, as upstream.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.selectors import label_selector_from_dict
from kybernetes.client.events import WARNING, EventRecorder
from kybernetes.client.informer import Informer
from kybernetes.client.rest import APIError, Client
from kybernetes.client.workqueue import WorkQueue, run_workers
from kybernetes.controllers.deployment.sync import DeploymentSync, Stale, WriteLog
from kybernetes.controllers.deployment.util import Obj, is_recreate, meta, name_of, spec, status, uid_of
from kybernetes.controllers.podcontrol import (
    CannotAdopt,
    apply_claims,
    controller_index,
    controller_of,
    key_of,
    namespace_index,
    new_controller_ref,
    plan_claims,
    slim_pod,
)

log = logging.getLogger("kybernetes.controllers.deployment")

WORKERS = 5
COMPONENT = "deployment-controller"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def replicaset_informer(client: Client, namespace: str | None = None) -> Informer:
    inf = Informer(client, "apps", "v1", "replicasets", namespace=namespace)
    inf.add_index("controller", controller_index)
    inf.add_index("namespace", namespace_index)
    return inf


def pod_informer(client: Client, namespace: str | None = None) -> Informer:
    inf = Informer(client, "", "v1", "pods", namespace=namespace, transform=slim_pod)
    inf.add_index("controller", controller_index)
    return inf


class DeploymentController:
    """Runs the deployment sync loop; ``namespace`` limits it to one namespace (tests).

    ``replicasets`` and ``pods`` may be informers shared with other controllers: their owner
    starts and stops them (see :func:`~kybernetes.controllers.deployment.run_workload_controllers`).
    """

    def __init__(self, client: Client, *, namespace: str | None = None, workers: int = WORKERS,
                 clock: Callable[[], datetime] = utcnow, replicasets: Informer | None = None,
                 pods: Informer | None = None):
        self.client = client
        self.workers = workers
        self.clock = clock
        self.deployments = Informer(client, "apps", "v1", "deployments", namespace=namespace)
        self.deployments.add_index("namespace", namespace_index)
        self._owned = [self.deployments]
        if replicasets is None:
            replicasets = replicaset_informer(client, namespace)
            self._owned.append(replicasets)
        if pods is None:
            pods = pod_informer(client, namespace)
            self._owned.append(pods)
        self.replicasets, self.pods = replicasets, pods
        self.queue: WorkQueue[str] = WorkQueue()
        self.recorder = EventRecorder(client, COMPONENT)
        self.writes = WriteLog()
        self.syncer = DeploymentSync(client, self.recorder, clock, self.writes)
        self.synced = asyncio.Event()
        self.deployments.add_event_handler(self._enqueue, lambda _old, new: self._enqueue(new), self._enqueue)
        self.replicasets.add_event_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pods.add_event_handler(None, None, self._pod_deleted)

    # -- lifecycle --

    async def run(self) -> None:
        """Sync until cancelled; stops the informers it started on the way out."""
        try:
            for inf in self._owned:
                inf.start()
            for inf in (self.deployments, self.replicasets, self.pods):
                await inf.wait_synced()
            self.synced.set()
            await run_workers(self.queue, self.sync, self.workers, self._sync_failed)
        finally:
            await self.queue.shutdown()
            for inf in self._owned:
                await inf.stop()
            await self.recorder.close()

    def _sync_failed(self, key: str, e: BaseException) -> None:
        routine = isinstance(e, (Stale, CannotAdopt)) or (isinstance(e, APIError) and e.code in (409, 422))
        log.log(logging.DEBUG if routine else logging.WARNING, "deployment %s: sync failed: %s", key, e,
                exc_info=not isinstance(e, (APIError, Stale, CannotAdopt)))

    # -- handlers --

    def _enqueue(self, d: Obj) -> None:
        self.queue.add(key_of(d))

    def resolve(self, namespace: str, ref: Mapping[str, Any] | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.deployments.get(f"{namespace}/{ref.get('name', '')}")
        return d if d is not None and uid_of(d) == ref.get("uid") else None

    def deployments_selecting(self, rs: Obj) -> list[Obj]:
        out = []
        for d in self.deployments.by_index("namespace", str(meta(rs).get("namespace", ""))):
            try:
                sel = label_selector_from_dict(spec(d).get("selector"))
            except StatusError:
                continue
            if not sel.empty and sel.matches(_labels(rs)):
                out.append(d)
        return out

    def _rs_added(self, rs: Obj) -> None:
        ns = str(meta(rs).get("namespace", ""))
        ref = controller_of(rs)
        if ref is not None:
            d = self.resolve(ns, ref)
            if d is not None:
                self._enqueue(d)
            return
        for d in self.deployments_selecting(rs):
            self._enqueue(d)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        ns = str(meta(new).get("namespace", ""))
        old_ref, new_ref = controller_of(old), controller_of(new)
        if old_ref != new_ref and old_ref is not None and (d := self.resolve(ns, old_ref)) is not None:
            self._enqueue(d)
        if new_ref is not None:
            if (d := self.resolve(ns, new_ref)) is not None:
                self._enqueue(d)
            return
        if _labels(old) != _labels(new) or old_ref != new_ref:
            for d in self.deployments_selecting(new):
                self._enqueue(d)

    def _rs_deleted(self, rs: Obj) -> None:
        d = self.resolve(str(meta(rs).get("namespace", "")), controller_of(rs))
        if d is not None:
            self._enqueue(d)

    def _pod_deleted(self, pod: Obj) -> None:
        ns = str(meta(pod).get("namespace", ""))
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(f"{ns}/{ref.get('name', '')}")
        if rs is None or uid_of(rs) != ref.get("uid"):
            return
        d = self.resolve(ns, controller_of(rs))
        if d is not None and is_recreate(d):
            self._enqueue(d)

    # -- reconcile --

    def _cached(self, kind: str, key: str) -> Obj | None:
        return (self.deployments if kind == "deployment" else self.replicasets).get(key)

    async def sync(self, key: str) -> None:
        cached = self.deployments.get(key)
        if cached is None:
            self.writes.forget(key)
            return
        if self.writes.lagging(key, self._cached):
            self.queue.add_after(key, 1.0)  # the awaited event re-enqueues it sooner
            return
        d = {**copy.deepcopy(cached), "apiVersion": "apps/v1", "kind": "Deployment"}
        namespace = key.split("/", 1)[0]
        try:
            selector = label_selector_from_dict(spec(d).get("selector"))
        except StatusError as e:
            log.warning("deployment %s has an invalid selector: %s", key, e)
            return
        if selector.empty:
            self.recorder.event(d, WARNING, "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if int(status(d).get("observedGeneration") or 0) < int(meta(d).get("generation") or 0):
                await self.client.patch(DeploymentSync.d_path(d, "status"),
                                        {"status": {"observedGeneration": meta(d)["generation"]}})
            return
        candidates = [*self.replicasets.by_index("controller", uid_of(d)),
                      *self.replicasets.by_index("controller", f"orphan:{namespace}")]
        claims = plan_claims(d, lambda rs: selector.matches(_labels(rs)), candidates)
        rs_list = await apply_claims(self.client, lambda rs: DeploymentSync.rs_path(namespace, name_of(rs)), claims,
                                     new_controller_ref(d, "apps/v1", "Deployment"), lambda: self._can_adopt(d))
        rs_list = [copy.deepcopy(rs) for rs in rs_list]
        pod_map = {uid_of(rs): [p for p in self.pods.by_index("controller", uid_of(rs))
                                if selector.matches(_labels(p))] for rs in rs_list}
        after = await self.syncer.sync(d, rs_list, pod_map)
        if after is not None:
            self.queue.add_after(key, max(after, 0.25))  # a progress deadline to check

    async def _can_adopt(self, d: Obj) -> None:
        fresh = await self.client.get(DeploymentSync.d_path(d))
        if uid_of(fresh) != uid_of(d):
            raise CannotAdopt(f"original Deployment {key_of(d)} is gone: got uid {uid_of(fresh)}, wanted {uid_of(d)}")
        if meta(fresh).get("deletionTimestamp"):
            raise CannotAdopt(f"{key_of(d)} has just been deleted at {meta(fresh)['deletionTimestamp']}")
