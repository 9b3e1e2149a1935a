"""What every workload controller shares: pods from templates, controller references, expectations.

Behaviour is upstream's (``pkg/controller/controller_utils.go``, ``controller_ref_manager.go``);
the shape is ours:

* **Pod facts** (pure, on the wire JSON): active (not finished, not being deleted), ready,
  available (ready for ``minReadySeconds``), and :func:`deletion_order`, the order in which
  surplus pods go (upstream ``ActivePodsWithRanks``): unscheduled < scheduled, Pending <
  Unknown < Running, not ready < ready, lower ``pod-deletion-cost``, more pods of the same
  owner on its node, ready for less time (log2 buckets, then uid), more restarts, newer
  (log2 buckets, then uid).
* **Controller references.**  :func:`plan_claims` (pure) sorts the candidates of an owner into
  kept, to adopt (orphans its selector matches) and to release (ours, no longer matching).
  The patches are JSON patches that first ``test`` uid and resourceVersion: a decision taken
  on a stale cache fails (and is retried on a fresh one) instead of clobbering a newer write.
* **Expectations** (:class:`Expectations`): the creations and deletions a controller issued
  and has not yet seen through its informer.  While any are outstanding (for at most five
  minutes) the owner is not resized again, so a lagging cache never makes it create twice.
  Deletions are tracked by pod key, so seeing one twice counts once.
* **Slow start** (:func:`slow_start_batch`): creations go in batches of 1, 2, 4, ... and stop
  at the first batch with an error, so a create that cannot succeed (quota, admission) costs
  one request, not hundreds.
* **PodControl**: the I/O of creating and deleting pods, each recorded as an Event on the
  owner in upstream wording (``SuccessfulCreate`` / ``FailedCreate`` / ``SuccessfulDelete`` /
  ``FailedDelete``).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kybernetes.api.meta import parse_time
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.rest import JSON_PATCH, APIError, Client

Obj = dict[str, Any]

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
EXPECTATIONS_TTL = 300.0  # upstream ExpectationsTimeout: a lost watch event cannot block an owner forever
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# -- pod facts (pure) ------------------------------------------------------------------------

def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def key_of(obj: Mapping[str, Any]) -> str:
    m = meta(obj)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """Not Succeeded, not Failed, not being deleted (upstream IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not meta(pod).get("deletionTimestamp")


def ready_condition(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return dict(c)
    return None


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    c = ready_condition(pod)
    return c is not None and c.get("status") == "True"


def pod_ready_time(pod: Mapping[str, Any]) -> datetime | None:
    """When the pod last became ready; None when not ready (or not known)."""
    c = ready_condition(pod)
    if c is None or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime") or "")


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and for longer than ``min_ready_seconds`` (upstream IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = pod_ready_time(pod)
    return since is not None and since.timestamp() + min_ready_seconds < now.timestamp()


def seconds_until_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> float | None:
    """For a ready pod not yet available: how long until it is (None otherwise)."""
    if not min_ready_seconds or not is_pod_ready(pod) or is_pod_available(pod, min_ready_seconds, now):
        return None
    since = pod_ready_time(pod)
    return None if since is None else max(0.0, since.timestamp() + min_ready_seconds - now.timestamp())


def max_restarts(pod: Mapping[str, Any]) -> int:
    return max((int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or ()),
               default=0)


def deletion_cost(pod: Mapping[str, Any]) -> int:
    try:
        return int((meta(pod).get("annotations") or {}).get(DELETION_COST, 0))
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class _Facts:
    """What the deletion order compares, read once per pod."""

    unassigned: bool
    phase: int
    ready: bool
    cost: int
    rank: int
    ready_time: datetime | None
    restarts: int
    created: datetime | None
    uid: str


def _facts(pod: Mapping[str, Any], rank: int) -> _Facts:
    m = meta(pod)
    return _Facts(not (pod.get("spec") or {}).get("nodeName"),
                  _PHASE_ORDINAL.get((pod.get("status") or {}).get("phase") or "", 0),
                  is_pod_ready(pod), deletion_cost(pod), rank, pod_ready_time(pod), max_restarts(pod),
                  parse_time(m.get("creationTimestamp") or ""), str(m.get("uid", "")))


def _log_bucket(t: datetime, now: datetime) -> int:
    ns = (now - t).total_seconds() * 1e9
    return int(math.log2(ns)) if ns > 0 else -1


def _newer_first(t1: datetime | None, t2: datetime | None, u1: str, u2: str, now: datetime | None) -> bool:
    """Upstream's time rule: a missing time first, then the more recent (by log2 bucket of age,
    ties broken by uid), so equally aged pods go in a pseudo-random but stable order."""
    if t1 is None or t2 is None or now is None:
        return t1 is None if (t1 is None or t2 is None) else t1 > t2
    diff = _log_bucket(t1, now) - _log_bucket(t2, now)
    return u1 < u2 if diff == 0 else diff < 0


def _delete_first(a: _Facts, b: _Facts, now: datetime | None) -> bool:
    if a.unassigned != b.unassigned:
        return a.unassigned
    if a.phase != b.phase:
        return a.phase < b.phase
    if a.ready != b.ready:
        return not a.ready
    if a.cost != b.cost:
        return a.cost < b.cost
    if a.rank != b.rank:
        return a.rank > b.rank
    if a.ready and b.ready and a.ready_time != b.ready_time:
        return _newer_first(a.ready_time, b.ready_time, a.uid, b.uid, now)
    if a.restarts != b.restarts:
        return a.restarts > b.restarts
    if a.created != b.created:
        return _newer_first(a.created, b.created, a.uid, b.uid, now)
    return False


def deletion_order(pods: Iterable[Obj], ranks: Mapping[str, int] | None = None,
                   now: datetime | None = None) -> list[Obj]:
    """``pods`` sorted so that the ones to delete first come first (pure).

    ``ranks`` maps a pod's uid to how many related active pods share its node; ``now`` enables
    the logarithmic comparison of ready and creation times (upstream's default since 1.22).
    """
    items = [(_facts(p, (ranks or {}).get(str(meta(p).get("uid", "")), 0)), p) for p in pods]

    def cmp(x: tuple[_Facts, Obj], y: tuple[_Facts, Obj]) -> int:
        if _delete_first(x[0], y[0], now):
            return -1
        return 1 if _delete_first(y[0], x[0], now) else 0
    return [p for _, p in sorted(items, key=functools.cmp_to_key(cmp))]


# -- controller references -------------------------------------------------------------------

def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    for ref in meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def controller_index(obj: Mapping[str, Any]) -> list[str]:
    """Informer index: the controller's uid, or ``orphan:<namespace>`` for an object with none."""
    ref = controller_of(obj)
    return [str(ref.get("uid", ""))] if ref else [f"orphan:{meta(obj).get('namespace', '')}"]


POD_METADATA = ("name", "namespace", "uid", "resourceVersion", "generation", "labels", "annotations",
                "ownerReferences", "creationTimestamp", "deletionTimestamp")


def slim_pod(pod: Obj) -> Obj:
    """Informer transform: what the workload controllers read of a pod, so 10k pods stay small."""
    m = meta(pod)
    status = pod.get("status") or {}
    out: Obj = {"metadata": {k: m[k] for k in POD_METADATA if k in m},
                "spec": {"nodeName": (pod.get("spec") or {}).get("nodeName", "")},
                "status": {"phase": status.get("phase", "")}}
    ready = ready_condition(pod)
    if ready is not None:
        out["status"]["conditions"] = [{k: ready[k] for k in ("type", "status", "lastTransitionTime") if k in ready}]
    restarts = max_restarts(pod)
    if restarts:
        out["status"]["containerStatuses"] = [{"restartCount": restarts}]
    return out


def namespace_index(obj: Mapping[str, Any]) -> list[str]:
    return [str(meta(obj).get("namespace", ""))]


def new_controller_ref(owner: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    m = meta(owner)
    return {"apiVersion": api_version, "kind": kind, "name": m.get("name", ""), "uid": m.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


class CannotAdopt(Exception):
    """The owner is gone or being deleted (a live read says so): it must not adopt."""


@dataclass
class Claims:
    """An owner's candidates, sorted (upstream ClaimObject)."""

    owned: list[Obj] = field(default_factory=list)  # ours and matching: kept
    adopt: list[Obj] = field(default_factory=list)  # orphans the selector matches
    release: list[Obj] = field(default_factory=list)  # ours but no longer matching


def plan_claims(owner: Mapping[str, Any], matches: Callable[[Obj], bool], candidates: Iterable[Obj]) -> Claims:
    """Pure: which candidates an owner keeps, adopts and releases.  Objects controlled by
    someone else are ignored; an owner being deleted neither adopts nor releases."""
    om = meta(owner)
    uid, deleting, ns = om.get("uid"), bool(om.get("deletionTimestamp")), om.get("namespace")
    out = Claims()
    for obj in candidates:
        ref = controller_of(obj)
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches(obj):
                out.owned.append(obj)
            elif not deleting:
                out.release.append(obj)
            continue
        if deleting or not matches(obj) or meta(obj).get("deletionTimestamp"):
            continue
        if ns and meta(obj).get("namespace") != ns:
            continue
        out.adopt.append(obj)
    return out


def _guarded(obj: Mapping[str, Any], ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    m = meta(obj)
    return [{"op": "test", "path": "/metadata/uid", "value": m.get("uid")},
            {"op": "test", "path": "/metadata/resourceVersion", "value": m.get("resourceVersion")}, *ops]


def adopt_patch(obj: Mapping[str, Any], ref: Mapping[str, Any]) -> list[dict[str, Any]]:
    refs = [r for r in meta(obj).get("ownerReferences") or () if r.get("uid") != ref.get("uid")]
    return _guarded(obj, [{"op": "add", "path": "/metadata/ownerReferences", "value": [*refs, dict(ref)]}])


def release_patch(obj: Mapping[str, Any], owner_uid: str) -> list[dict[str, Any]]:
    refs = [r for r in meta(obj).get("ownerReferences") or () if r.get("uid") != owner_uid]
    op = {"op": "add", "path": "/metadata/ownerReferences", "value": refs} if refs else \
        {"op": "remove", "path": "/metadata/ownerReferences"}
    return _guarded(obj, [op])


async def apply_claims(client: Client, path_of: Callable[[Obj], str], claims: Claims, ref: Mapping[str, Any],
                       can_adopt: Callable[[], Awaitable[None]]) -> list[Obj]:
    """Adopt and release as planned; the objects the owner now controls.

    ``can_adopt`` runs once before the first adoption (upstream rechecks the owner with a
    live read: a deleted or replaced owner must not adopt).  A vanished object is skipped;
    any other failure propagates, so the sync is retried on a fresher cache.
    """
    owned = list(claims.owned)
    if claims.adopt:
        await can_adopt()
    for obj in claims.adopt:
        try:
            owned.append(await client.patch(path_of(obj), adopt_patch(obj, ref), JSON_PATCH))
        except APIError as e:
            if e.code != 404:
                raise
    for obj in claims.release:
        try:
            await client.patch(path_of(obj), release_patch(obj, str(ref.get("uid"))), JSON_PATCH)
        except APIError as e:
            if e.code not in (404, 422):  # gone, or its uid changed: nothing of ours to release
                raise
    return owned


# -- expectations ----------------------------------------------------------------------------

@dataclass
class _Expected:
    adds: int
    deletes: set[str]
    since: float


class Expectations:
    """Creations and deletions an owner (by key) waits to see (upstream UIDTrackingControllerExpectations)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = EXPECTATIONS_TTL):
        self.clock = clock
        self.ttl = ttl
        self._by_key: dict[str, _Expected] = {}

    def expect_creations(self, key: str, count: int) -> None:
        self._by_key[key] = _Expected(count, set(), self.clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        self._by_key[key] = _Expected(0, set(pod_keys), self.clock())

    def creation_observed(self, key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.deletes.discard(pod_key)

    def satisfied(self, key: str) -> bool:
        """True when nothing is outstanding, none was ever expected, or the wait timed out."""
        exp = self._by_key.get(key)
        if exp is None:
            return True
        return (exp.adds <= 0 and not exp.deletes) or self.clock() - exp.since > self.ttl

    def pending(self, key: str) -> tuple[int, int]:
        exp = self._by_key.get(key)
        return (0, 0) if exp is None else (max(exp.adds, 0), len(exp.deletes))

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)


# -- slow start ------------------------------------------------------------------------------

async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, BaseException | None]:
    """Call ``fn`` ``count`` times in doubling concurrent batches; stop after a batch with an error.

    Returns (successes, first error).  Upstream's slowStartBatch.
    """
    done, remaining, size = 0, count, min(count, initial)
    while size > 0:
        results = await asyncio.gather(*(fn() for _ in range(size)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += size - len(errors)
        for r in errors:
            if isinstance(r, asyncio.CancelledError):
                raise r
        if errors:
            return done, errors[0]
        remaining -= size
        size = min(2 * size, remaining)
    return done, None


# -- pods from templates, and the I/O ----------------------------------------------------------

def pod_from_template(template: Mapping[str, Any], owner_name: str, ref: Mapping[str, Any] | None) -> Obj:
    """A pod to create for an owner: the template's labels, annotations, finalizers and spec,
    ``generateName: <owner>-`` and the controller reference (upstream GetPodFromTemplate)."""
    tmeta = template.get("metadata") or {}
    m: dict[str, Any] = {"generateName": f"{owner_name}-"}
    for f in ("labels", "annotations", "finalizers"):
        if tmeta.get(f):
            m[f] = copy.deepcopy(tmeta[f])
    if ref is not None:
        m["ownerReferences"] = [dict(ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": copy.deepcopy(template.get("spec") or {})}


class PodControl:
    """Creates and deletes pods for an owner, recording what happened as Events on it."""

    def __init__(self, client: Client, recorder: EventRecorder):
        self.client = client
        self.recorder = recorder

    async def create(self, namespace: str, template: Mapping[str, Any], owner: Obj, ref: Mapping[str, Any]) -> Obj:
        pod = pod_from_template(template, meta(owner).get("name", ""), ref)
        if not pod["metadata"].get("labels"):
            raise ValueError("unable to create pods, no labels")
        try:
            created: Obj = await self.client.create(f"/api/v1/namespaces/{namespace}/pods", pod)
        except APIError as e:
            if not namespace_terminating(e):
                self.recorder.event(owner, WARNING, "FailedCreate", f"Error creating: {e}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return created

    async def delete(self, namespace: str, name: str, owner: Obj) -> None:
        """Delete one pod; a 404 is raised too (the caller decides what a vanished pod means)."""
        try:
            await self.client.delete(f"/api/v1/namespaces/{namespace}/pods/{name}")
        except APIError as e:
            if e.code != 404:
                self.recorder.event(owner, WARNING, "FailedDelete", f"Error deleting: {e}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")


def namespace_terminating(e: APIError) -> bool:
    causes = ((e.status.get("details") or {}).get("causes")) or ()
    return any(c.get("reason") == "NamespaceTerminating" for c in causes) or \
        (e.code == 403 and "because it is being terminated" in str(e))
