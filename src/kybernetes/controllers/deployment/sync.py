"""One deployment's sync: decide with the pure modules, then write (upstream ``sync.go`` and friends).

:meth:`DeploymentSync.sync` gets the deployment (a private copy), the ReplicaSets it controls
and their pods, as the caches show them, and walks upstream's ``syncDeployment``: status only
while being deleted; record pausing/resuming; paused or a scaling event -> proportional
scaling (:mod:`.scaling`); else a Recreate or RollingUpdate step (:mod:`.rolling`), then the
rollout status (:mod:`.progress`) and history pruning (:mod:`.history`).

Writes:

* ReplicaSet resizes and annotation changes are JSON patches that ``test`` uid and generation:
  they apply unless the spec moved on since the decision (status writes of the ReplicaSet
  controller do not get in the way), and set annotations key by key.  Each resize records
  ``ScalingReplicaSet`` in upstream wording (``Scaled up replica set web-5d8f7c9b4 from 0 to 3``).
* A new ReplicaSet is named ``<deployment>-<pod-template-hash>``; when that name is taken by
  a ReplicaSet that is not this deployment's with this template (a hash collision),
  ``status.collisionCount`` goes up and the next sync hashes again.
* Deployment status goes through the status subresource as a merge patch, only when changed.
  The revision annotation on the deployment is a metadata patch of the main resource (the
  status subresource here keeps metadata as stored).
* Every write is logged in a :class:`WriteLog`; the controller does not sync a deployment again
  until its caches show those writes, so no decision rests on a state older than its own.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.rest import JSON_PATCH, APIError, Client
from kybernetes.controllers.deployment.history import (
    history_to_prune,
    new_rs_annotations,
    replicas_annotations,
    replicas_annotations_need_update,
)
from kybernetes.controllers.deployment.progress import (
    deployment_complete,
    paused_conditions,
    requeue_after,
    rollout_status,
)
from kybernetes.controllers.deployment.rolling import (
    Scale,
    new_rs_new_replicas,
    old_pods_running,
    plan_recreate_scale_down,
    plan_rolling,
)
from kybernetes.controllers.deployment.scaling import is_scaling_event, plan_scale
from kybernetes.controllers.deployment.status import (
    calculate_status,
    get_condition,
    new_condition,
    set_condition,
    status_patch,
)
from kybernetes.controllers.deployment.util import (
    DESIRED_REPLICAS,
    FAILED_RS_CREATE,
    FOUND_NEW_RS,
    HASH_LABEL,
    MAX_REPLICAS,
    NEW_RS_CREATED,
    PROGRESSING,
    REVISION,
    Obj,
    annotations_of,
    compute_hash,
    equal_ignore_hash,
    find_new_replica_set,
    find_old_replica_sets,
    is_recreate,
    max_revision,
    meta,
    name_of,
    progress_deadline,
    replicas,
    spec,
    status,
    uid_of,
)
from kybernetes.controllers.podcontrol import controller_of, namespace_terminating, new_controller_ref

log = logging.getLogger("kybernetes.controllers.deployment")

WRITE_LAG_TTL = 10.0  # after this long, stop waiting for a cache to show a write (it was overtaken)


class WriteLog:
    """Writes of each deployment's sync that its caches have not shown yet.

    An entry is ``(kind, namespace/name) -> resourceVersion the write replaced`` ("" for a
    creation).  The cache has caught up once it holds another resourceVersion (or, for a
    creation, the object at all).  resourceVersions are only compared for equality.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = WRITE_LAG_TTL):
        self.clock = clock
        self.ttl = ttl
        self._by_deployment: dict[str, dict[tuple[str, str], tuple[str, float]]] = {}

    def wrote(self, deployment: str, kind: str, key: str, replaced_rv: str, written: Any = None) -> None:
        """Log a write that replaced ``replaced_rv``; ``written`` is the server's answer (a write
        that changed nothing leaves the resourceVersion as it was: nothing to wait for)."""
        if isinstance(written, dict) and str(meta(written).get("resourceVersion", "")) == replaced_rv:
            return
        entries = self._by_deployment.setdefault(deployment, {})
        if (kind, key) not in entries:
            entries[(kind, key)] = (replaced_rv, self.clock())

    def lagging(self, deployment: str, lookup: Callable[[str, str], Obj | None]) -> bool:
        entries = self._by_deployment.get(deployment)
        if not entries:
            return False
        now = self.clock()
        for (kind, key), (replaced, when) in list(entries.items()):
            cached = lookup(kind, key)
            rv = str(meta(cached).get("resourceVersion", "")) if cached is not None else None
            caught_up = (rv is not None) if replaced == "" else rv != replaced
            if caught_up or now - when > self.ttl:
                del entries[(kind, key)]
        if not entries:
            del self._by_deployment[deployment]
            return False
        return True

    def forget(self, deployment: str) -> None:
        self._by_deployment.pop(deployment, None)


class Stale(Exception):
    """An object changed under a decision; the next sync decides again."""


def _key(obj: Mapping[str, Any]) -> str:
    return f"{meta(obj).get('namespace', '')}/{name_of(obj)}"


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def rs_patch(rs: Mapping[str, Any], *, size: int | None = None, set_annotations: Mapping[str, str] | None = None,
             min_ready: int | None = None) -> list[dict[str, Any]]:
    """A JSON patch making these changes, valid only while the ReplicaSet's uid and generation
    (its spec) are those the decision saw; annotations are set key by key, never replaced."""
    m = meta(rs)
    ops: list[dict[str, Any]] = [{"op": "test", "path": "/metadata/uid", "value": m.get("uid")},
                                 {"op": "test", "path": "/metadata/generation", "value": m.get("generation")}]
    if size is not None:
        ops.append({"op": "add", "path": "/spec/replicas", "value": size})
    if set_annotations:
        if m.get("annotations"):
            ops += [{"op": "add", "path": f"/metadata/annotations/{_pointer(k)}", "value": v}
                    for k, v in set_annotations.items()]
        else:
            ops.append({"op": "add", "path": "/metadata/annotations", "value": dict(set_annotations)})
    if min_ready is not None:
        if min_ready:
            ops.append({"op": "add", "path": "/spec/minReadySeconds", "value": min_ready})
        elif "minReadySeconds" in spec(rs):
            ops.append({"op": "remove", "path": "/spec/minReadySeconds"})
    return ops


class DeploymentSync:
    """The I/O of one deployment's sync (see the module docstring)."""

    def __init__(self, client: Client, recorder: EventRecorder, clock: Callable[[], datetime], writes: WriteLog):
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.writes = writes

    # -- paths and writes --

    @staticmethod
    def rs_path(namespace: str, name: str | None = None) -> str:
        return f"/apis/apps/v1/namespaces/{namespace}/replicasets" + (f"/{name}" if name else "")

    @staticmethod
    def d_path(d: Mapping[str, Any], sub: str = "") -> str:
        m = meta(d)
        return f"/apis/apps/v1/namespaces/{m['namespace']}/deployments/{m['name']}" + (f"/{sub}" if sub else "")

    async def update_rs(self, d: Obj, rs: Obj, *, size: int | None = None,
                        set_annotations: Mapping[str, str] | None = None, min_ready: int | None = None) -> Obj:
        """Patch one ReplicaSet, on condition that its spec is still the one decided on."""
        ops = rs_patch(rs, size=size, set_annotations=set_annotations, min_ready=min_ready)
        try:
            updated: Obj = await self.client.patch(self.rs_path(meta(rs)["namespace"], name_of(rs)), ops, JSON_PATCH)
        except APIError as e:
            if e.code in (404, 422):
                raise Stale(f"replica set {name_of(rs)} changed under the decision") from None
            raise
        self.writes.wrote(_key(d), "rs", _key(rs), str(meta(rs).get("resourceVersion", "")), updated)
        return updated

    async def write_status(self, d: Obj, new: dict[str, Any]) -> None:
        patch = status_patch(status(d), new)
        if patch is None:
            return
        try:
            written = await self.client.patch(self.d_path(d, "status"), patch)
        except APIError as e:
            if e.code == 404:
                return
            raise
        self.writes.wrote(_key(d), "deployment", _key(d), str(meta(d).get("resourceVersion", "")), written)
        d["status"] = new

    async def set_revision(self, d: Obj, rev: str | None) -> None:
        if rev is None or annotations_of(d).get(REVISION) == rev:
            return
        written = await self.client.patch(self.d_path(d), {"metadata": {"annotations": {REVISION: rev}}})
        self.writes.wrote(_key(d), "deployment", _key(d), str(meta(d).get("resourceVersion", "")), written)
        d["metadata"].setdefault("annotations", {})[REVISION] = rev

    async def scale_rs(self, d: Obj, rs: Obj, size: int, direction: str = "") -> Obj:
        """Resize one ReplicaSet (and record the deployment's size on it); the updated object."""
        old = replicas(rs)
        if old == size and not replicas_annotations_need_update(rs, d):
            return rs

        desired, maximum = replicas_annotations(d)
        updated = await self.update_rs(d, rs, size=size, set_annotations={DESIRED_REPLICAS: str(desired),
                                                                           MAX_REPLICAS: str(maximum)})
        if old != size:
            op = direction or ("up" if old < size else "down")
            self.recorder.event(d, NORMAL, "ScalingReplicaSet", f"Scaled {op} replica set {name_of(rs)} from {old} to {size}")
        return updated

    async def apply(self, d: Obj, rss: list[Obj | None], steps: list[Scale], direction: str = "") -> list[Obj | None]:
        """Perform ``steps`` in order (stopping at the first failure); ``rss`` with the results."""
        out = list(rss)
        for step in steps:
            i = next(i for i, rs in enumerate(out) if rs is not None and name_of(rs) == step.name)
            rs = out[i]
            assert rs is not None
            out[i] = await self.scale_rs(d, rs, step.replicas, direction)
        return out

    # -- the new ReplicaSet --

    async def all_replica_sets(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """(the new ReplicaSet, all old ones), the new one's revision and annotations synced."""
        _, olds = find_old_replica_sets(d, rs_list)
        return await self.new_replica_set(d, rs_list, olds, create), olds

    async def new_replica_set(self, d: Obj, rs_list: list[Obj], olds: list[Obj], create: bool) -> Obj | None:
        existing = find_new_replica_set(d, rs_list)
        revision = max_revision(olds) + 1
        min_ready = int(spec(d).get("minReadySeconds") or 0)
        if existing is not None:
            wanted, changed = new_rs_annotations(d, existing, revision, exists=True)
            if changed or int(spec(existing).get("minReadySeconds") or 0) != min_ready:
                have = annotations_of(existing)
                return await self.update_rs(d, existing, min_ready=min_ready,
                                            set_annotations={k: v for k, v in wanted.items() if have.get(k) != v})
            await self.set_revision(d, annotations_of(existing).get(REVISION))
            if progress_deadline(d) is not None and get_condition(status(d), PROGRESSING) is None:
                st = copy.deepcopy(status(d))
                set_condition(st, new_condition(PROGRESSING, "True", FOUND_NEW_RS,
                                                f'Found new replica set "{name_of(existing)}"', self.clock()))
                await self.write_status(d, st)
            return existing
        if not create:
            return None
        return await self.create_replica_set(d, olds, revision, min_ready)

    def new_rs_body(self, d: Obj, olds: list[Obj], revision: int, min_ready: int) -> Obj:
        template = copy.deepcopy(spec(d).get("template") or {})
        pod_hash = compute_hash(template, status(d).get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: pod_hash}
        selector = copy.deepcopy(spec(d).get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{name_of(d)}-{pod_hash}", "namespace": meta(d)["namespace"],
                                "labels": dict(tmeta["labels"]),
                                "ownerReferences": [new_controller_ref(d, "apps/v1", "Deployment")]},
                   "spec": {"replicas": 0, "selector": selector, "template": template}}
        if min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
        rs["spec"]["replicas"] = new_rs_new_replicas(d, [*olds, rs], rs)
        rs["metadata"]["annotations"] = new_rs_annotations(d, rs, revision, exists=False)[0]
        return rs

    async def create_replica_set(self, d: Obj, olds: list[Obj], revision: int, min_ready: int) -> Obj:
        body = self.new_rs_body(d, olds, revision, min_ready)
        name, ns, count = name_of(body), meta(d)["namespace"], replicas(body)
        existed = False
        try:
            created: Obj = await self.client.create(self.rs_path(ns), body)
        except APIError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                found = await self.client.get(self.rs_path(ns, name))
                ref = controller_of(found)
                if not (ref and ref.get("uid") == uid_of(d) and equal_ignore_hash(spec(d).get("template") or {},
                                                                                 spec(found).get("template") or {})):
                    # A hash collision: the next sync tries the next name.
                    st = copy.deepcopy(status(d))
                    st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
                    await self.write_status(d, st)
                    raise
                created, existed = found, True
            elif namespace_terminating(e):
                raise
            else:
                msg = f'Failed to create new replica set "{name}": {e}'
                if progress_deadline(d) is not None:
                    st = copy.deepcopy(status(d))
                    set_condition(st, new_condition(PROGRESSING, "False", FAILED_RS_CREATE, msg, self.clock()))
                    try:
                        await self.write_status(d, st)
                    except APIError:
                        pass  # the creation error is the one to report
                self.recorder.event(d, WARNING, FAILED_RS_CREATE, msg)
                raise
        if not existed:
            self.writes.wrote(_key(d), "rs", f"{ns}/{name}", "")
            if count > 0:
                self.recorder.event(d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {count}")
        await self.set_revision(d, str(revision))
        if not existed and progress_deadline(d) is not None:
            st = copy.deepcopy(status(d))
            set_condition(st, new_condition(PROGRESSING, "True", NEW_RS_CREATED,
                                            f'Created new replica set "{name}"', self.clock()))
            await self.write_status(d, st)
        return created

    # -- the sync --

    async def sync(self, d: Obj, rs_list: list[Obj], pod_map: Mapping[str, list[Obj]]) -> float | None:
        """One pass over one deployment; seconds after which to look again (None: on events only)."""
        if meta(d).get("deletionTimestamp"):
            new_rs, olds = await self.all_replica_sets(d, rs_list, create=False)
            await self.write_status(d, calculate_status([*olds, new_rs], new_rs, d, self.clock()))
            return None
        paused = paused_conditions(d, self.clock())
        if paused is not None:
            await self.write_status(d, paused)
        if spec(d).get("paused"):
            return await self.sync_scale(d, rs_list)
        new_rs, olds = await self.all_replica_sets(d, rs_list, create=False)
        if is_scaling_event(d, new_rs, olds):
            return await self.sync_scale(d, rs_list, (new_rs, olds))
        if is_recreate(d):
            return await self.rollout_recreate(d, rs_list, pod_map)
        return await self.rollout_rolling(d, rs_list)

    async def sync_scale(self, d: Obj, rs_list: list[Obj],
                         found: tuple[Obj | None, list[Obj]] | None = None) -> float | None:
        """Scaling event or paused: size the ReplicaSets proportionally, no rollout progress."""
        new_rs, olds = found or await self.all_replica_sets(d, rs_list, create=False)
        direction, steps = plan_scale(d, new_rs, olds)
        all_rss = await self.apply(d, [*olds, new_rs], steps, direction)
        new_rs = all_rss[-1]
        olds = [rs for rs in all_rss[:-1] if rs is not None]
        if spec(d).get("paused"):
            await self.cleanup(d, olds)
        await self.write_status(d, calculate_status(all_rss, new_rs, d, self.clock()))
        return None

    async def rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new_rs, olds = await self.all_replica_sets(d, rs_list, create=True)
        assert new_rs is not None
        steps = plan_rolling(d, new_rs, olds)
        all_rss = await self.apply(d, [*olds, new_rs], steps)
        if not steps and self.complete(d):
            await self.cleanup(d, olds)
        return await self.sync_rollout_status(d, all_rss, all_rss[-1])

    async def rollout_recreate(self, d: Obj, rs_list: list[Obj], pod_map: Mapping[str, list[Obj]]) -> float | None:
        new_rs, olds = await self.all_replica_sets(d, rs_list, create=False)
        steps = plan_recreate_scale_down(olds)
        if steps:
            return await self.sync_rollout_status(d, await self.apply(d, [*olds, new_rs], steps), new_rs)
        if old_pods_running(new_rs, olds, pod_map):
            return await self.sync_rollout_status(d, [*olds, new_rs], new_rs)
        if new_rs is None:
            new_rs, olds = await self.all_replica_sets(d, rs_list, create=True)
            assert new_rs is not None
        new_rs = await self.scale_rs(d, new_rs, replicas(d))
        if self.complete(d):
            await self.cleanup(d, olds)
        return await self.sync_rollout_status(d, [*olds, new_rs], new_rs)

    @staticmethod
    def complete(d: Obj) -> bool:
        return deployment_complete(d, status(d))

    async def sync_rollout_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> float | None:
        now = self.clock()
        st = rollout_status(d, all_rss, new_rs, now)
        if st == status(d):
            return requeue_after(d, st, now)
        await self.write_status(d, st)
        return None

    async def cleanup(self, d: Obj, olds: list[Obj]) -> None:
        """Delete old ReplicaSets beyond ``revisionHistoryLimit``."""
        for rs in history_to_prune(d, olds):
            try:
                await self.client.delete(self.rs_path(meta(rs)["namespace"], name_of(rs)),
                                         {"preconditions": {"uid": uid_of(rs)}})
            except APIError as e:
                if e.code not in (404, 409):
                    raise
