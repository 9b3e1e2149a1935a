"""Garbage collector: cascading deletion through ``metadata.ownerReferences``.

Behaviour is upstream's (``pkg/controller/garbagecollector``); the shape is ours:

* **Graph.**  One metadata-only :class:`~kybernetes.client.informer.Informer` per
  served resource that supports list, watch and delete (events excepted, as upstream),
  objects slimmed to apiVersion, kind and the metadata the collector reads.  The
  ownership graph *is* those caches, through two indexes: ``uid`` and ``owner``
  (owner uid -> dependents).  Nothing else is kept: a restart rebuilds it all.
* **Level-triggered.**  Handlers only enqueue uids (:class:`UidQueue`: deduplicated,
  one worker per uid at a time, failures retried with capped exponential backoff).
  :meth:`GarbageCollector.sync` reads the caches, decides with the pure functions
  below, and acts.  Acting twice is harmless.
* **Dependents** (objects with owners): every owner is *solid* (exists), *dangling*
  (gone, or its uid is not the referenced one) or *waiting* (being deleted in the
  foreground).  An owner missing from the caches is looked up with a live GET by
  name before it counts as dangling; the absence is remembered by uid.  Any solid
  owner keeps the object, and references to dangling / waiting owners are removed
  from it.  Otherwise it is deleted: in the foreground when a waiting owner needs
  it gone and it has dependents of its own (after unblocking its references when
  one of those is itself deleting in the foreground: cycles would deadlock), else
  with the policy its own finalizers ask for, Background by default.
* **Foreground owners** (``deletionTimestamp`` + ``foregroundDeletion``): their
  dependents are enqueued (and deleted by the rule above); once no dependent with
  ``blockOwnerDeletion: true`` is left, the finalizer is removed.
* **Orphaning owners** (``deletionTimestamp`` + ``orphan``): the reference to the
  owner is removed from every dependent, then the finalizer.

Writes are conditional on what the decision saw: deletes carry uid and
resourceVersion preconditions (retried without the resourceVersion only while the
live ownerReferences are those the decision rested on); patches are JSON patches
that ``test`` uid and resourceVersion.  At idle only the informers' watches run:
no polling, no periodic relists.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from kybernetes.client.informer import Informer, Obj
from kybernetes.client.rest import JSON_PATCH, METADATA, APIError, APIResource, Client

log = logging.getLogger("kybernetes.controllers.garbagecollector")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
IGNORED = {("", "events"), ("events.k8s.io", "events")}  # high churn, never owners (upstream ignores them too)
KEPT_METADATA = ("name", "namespace", "uid", "resourceVersion", "ownerReferences", "finalizers",
                 "deletionTimestamp")
WORKERS = 8
SYNC_TIMEOUT = 30.0
ABSENT_CACHE_SIZE = 1024

Meta = Mapping[str, Any]


class OwnerState(enum.Enum):
    SOLID = "solid"
    DANGLING = "dangling"
    WAITING = "waiting"  # being deleted in the foreground: waits for its dependents


@dataclass(frozen=True)
class Plan:
    """What to do with a dependent: nothing, remove some references, or delete it."""

    action: str  # "none" | "remove-refs" | "delete"
    policy: str | None = None
    remove: tuple[str, ...] = ()
    unblock: bool = False


NOTHING = Plan("none")


# -- pure decisions (no side effects) -------------------------------------------------

def refs(meta: Meta) -> list[dict[str, Any]]:
    return list(meta.get("ownerReferences") or [])


def owner_uids(meta: Meta) -> list[str]:
    return [str(r.get("uid", "")) for r in refs(meta)]


def deleting_dependents(meta: Meta) -> bool:
    return bool(meta.get("deletionTimestamp")) and FOREGROUND in (meta.get("finalizers") or ())


def needs_sync(meta: Meta) -> bool:
    """Could this object need the collector: it has owners, or it waits for it to finish deleting."""
    if meta.get("ownerReferences"):
        return True
    fins = meta.get("finalizers") or ()
    return bool(meta.get("deletionTimestamp")) and (FOREGROUND in fins or ORPHAN in fins)


def relevant_change(old: Meta, new: Meta) -> bool:
    return any(old.get(f) != new.get(f) for f in ("ownerReferences", "finalizers", "deletionTimestamp"))


def changed_owners(old: Meta, new: Meta) -> set[str]:
    """Owners whose reference appeared, went or changed (e.g. blockOwnerDeletion)."""
    before = {r.get("uid"): r for r in refs(old)}
    after = {r.get("uid"): r for r in refs(new)}
    return {str(u) for u in before.keys() | after.keys() if before.get(u) != after.get(u)}


def owner_state(owner: Meta | None, uid: str) -> OwnerState:
    """Classify one owner from its (cached or live) metadata; None means not found."""
    if owner is None or owner.get("uid") != uid:
        return OwnerState.DANGLING
    return OwnerState.WAITING if deleting_dependents(owner) else OwnerState.SOLID


def plan_dependent(states: Mapping[str, OwnerState], finalizers: Iterable[str], has_dependents: bool,
                   a_dependent_deletes_dependents: bool) -> Plan:
    """Upstream's attemptToDeleteItem decision for an object whose owners are classified."""
    solid = [u for u, s in states.items() if s is OwnerState.SOLID]
    gone = tuple(u for u, s in states.items() if s is not OwnerState.SOLID)
    waiting = any(s is OwnerState.WAITING for s in states.values())
    if solid:
        # Kept; references to owners that are gone or waiting must go, or those owners stay stuck.
        return Plan("remove-refs", remove=gone) if gone else NOTHING
    if not states:
        return NOTHING
    if waiting and has_dependents:
        return Plan("delete", "Foreground", unblock=a_dependent_deletes_dependents)
    fins = set(finalizers)
    policy = "Orphan" if ORPHAN in fins else "Foreground" if FOREGROUND in fins else "Background"
    return Plan("delete", policy)


def blocks(dependent: Meta, owner_uid: str) -> bool:
    """Does ``dependent`` hold up the foreground deletion of ``owner_uid``?"""
    return any(r.get("uid") == owner_uid and r.get("blockOwnerDeletion") is True for r in refs(dependent))


def without_owners(meta: Meta, uids: Iterable[str]) -> list[dict[str, Any]] | None:
    """The ownerReferences minus ``uids``; None when there is nothing to remove."""
    drop = set(uids)
    kept = [r for r in refs(meta) if r.get("uid") not in drop]
    return None if len(kept) == len(refs(meta)) else kept


def unblocked(meta: Meta) -> list[dict[str, Any]] | None:
    """The ownerReferences with blockOwnerDeletion cleared; None when none was set."""
    if not any(r.get("blockOwnerDeletion") for r in refs(meta)):
        return None
    return [dict(r, blockOwnerDeletion=False) if r.get("blockOwnerDeletion") else r for r in refs(meta)]


def without_finalizer(meta: Meta, name: str) -> list[str] | None:
    fins = list(meta.get("finalizers") or [])
    return [f for f in fins if f != name] if name in fins else None


# -- the work queue ---------------------------------------------------------------------

class UidQueue:
    """client-go's workqueue semantics, small: a uid waits at most once and is never
    processed by two workers at once (added while processing, it runs again after)."""

    def __init__(self, base_delay: float = 0.05, max_delay: float = 30.0):
        self.base_delay, self.max_delay = base_delay, max_delay
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._dirty: set[str] = set()  # waiting to be processed
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def add(self, uid: str) -> None:
        if uid and uid not in self._dirty:
            self._dirty.add(uid)
            if uid not in self._processing:
                self._ready.put_nowait(uid)

    async def get(self) -> str:
        uid = await self._ready.get()
        self._dirty.discard(uid)
        self._processing.add(uid)
        return uid

    def done(self, uid: str) -> None:
        self._processing.discard(uid)
        if uid in self._dirty:
            self._ready.put_nowait(uid)

    def retry(self, uid: str) -> float:
        """Add ``uid`` again after a delay that doubles with each consecutive failure."""
        n = self._failures[uid] = self._failures.get(uid, 0) + 1
        delay = min(self.base_delay * 2 ** (n - 1), self.max_delay)
        if uid not in self._timers:
            self._timers[uid] = asyncio.get_running_loop().call_later(delay, self._fire, uid)
        return delay

    def _fire(self, uid: str) -> None:
        self._timers.pop(uid, None)
        self.add(uid)

    def forget(self, uid: str) -> None:
        self._failures.pop(uid, None)

    def idle(self) -> bool:
        return not self._dirty and not self._processing and not self._timers

    def close(self) -> None:
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()


# -- the collector ----------------------------------------------------------------------

class Stale(Exception):
    """The object changed under a decision: decide again once the cache caught up."""


def slim(res: APIResource) -> Callable[[Obj], Obj]:
    """Keep what the collector reads: the graph of 10k pods stays a few MiB."""
    def transform(obj: Obj) -> Obj:
        meta = obj.get("metadata") or {}
        return {"apiVersion": res.api_version, "kind": res.kind,
                "metadata": {k: meta[k] for k in KEPT_METADATA if k in meta}}
    return transform


def collectable(res: APIResource) -> bool:
    return {"list", "watch", "delete"} <= res.verbs and (res.group, res.plural) not in IGNORED


class GarbageCollector:
    def __init__(self, client: Client, resources: list[APIResource], workers: int = WORKERS):
        self.client = client
        self.workers = workers
        self.queue = UidQueue()
        self.synced = asyncio.Event()
        # Any version of a group/kind names the same objects; owners are found by (group, kind).
        self.mapper = {(r.group, r.kind): r for r in resources}
        self.informers: dict[APIResource, Informer] = {}
        for res in filter(collectable, resources):
            inf = Informer(client, res.group, res.version, res.plural, metadata_only=True, transform=slim(res))
            inf.add_index("uid", lambda o: [o["metadata"].get("uid", "")])
            inf.add_index("owner", lambda o: owner_uids(o["metadata"]))
            inf.add_event_handler(self._on_add, self._on_update, self._on_delete)
            self.informers[res] = inf
        self._absent: OrderedDict[str, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []

    # -- the graph (read from the caches) --

    def get(self, uid: str) -> tuple[APIResource, Obj] | None:
        for res, inf in self.informers.items():
            found = inf.by_index("uid", uid)
            if found:
                return res, found[0]
        return None

    def dependents(self, uid: str) -> list[tuple[APIResource, Obj]]:
        return [(res, o) for res, inf in self.informers.items() for o in inf.by_index("owner", uid)]

    # -- handlers: enqueue only --

    def _on_add(self, obj: Obj) -> None:
        if needs_sync(obj["metadata"]):
            self.queue.add(obj["metadata"]["uid"])

    def _on_update(self, old: Obj, new: Obj) -> None:
        om, nm = old["metadata"], new["metadata"]
        if om.get("uid") != nm.get("uid"):  # deleted and made again between a list and a relist
            self._on_delete(old)
            self._on_add(new)
        elif relevant_change(om, nm):
            if needs_sync(nm):
                self.queue.add(nm["uid"])
            for uid in changed_owners(om, nm):
                self.queue.add(uid)  # an owner waiting in the foreground may be unblocked

    def _on_delete(self, obj: Obj) -> None:
        meta = obj["metadata"]
        for _, dep in self.dependents(meta.get("uid", "")):
            self.queue.add(dep["metadata"]["uid"])
        for uid in owner_uids(meta):
            self.queue.add(uid)

    # -- lifecycle --

    async def run(self) -> None:
        for inf in self.informers.values():
            inf.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SYNC_TIMEOUT
        for inf in self.informers.values():
            # Deciding before every cache is filled would miss blocking dependents; a cache that
            # cannot fill (a broken resource) must not stop collection altogether.
            if not await inf.wait_synced(max(0.0, deadline - loop.time())):
                log.warning("garbage collector: %r not synced after %.0fs; starting anyway", inf, SYNC_TIMEOUT)
        self.synced.set()
        log.debug("garbage collector: watching %d resources", len(self.informers))
        self._tasks = [asyncio.create_task(self._worker(), name=f"gc-worker-{i}") for i in range(self.workers)]
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(inf.stop() for inf in self.informers.values()))
        self.queue.close()

    async def _worker(self) -> None:
        while True:
            uid = await self.queue.get()
            try:
                await self.sync(uid)
            except (APIError, Stale, aiohttp.ClientError, OSError, TimeoutError) as e:
                delay = self.queue.retry(uid)
                # Conflicts with a cache that lags are routine; only a uid failing again and again is news.
                log.log(logging.WARNING if delay >= 1.0 else logging.DEBUG,
                        "garbage collector: %s: %s; retrying in %.2fs", uid, e, delay)
            except Exception:
                log.exception("garbage collector: %s failed", uid)
                self.queue.retry(uid)
            else:
                self.queue.forget(uid)
            finally:
                self.queue.done(uid)

    # -- reconcile --

    async def sync(self, uid: str) -> None:
        found = self.get(uid)
        if found is None:
            return  # gone: its deletion event already enqueued what depended on it
        res, obj = found
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            # Being deleted is a one-way trip: only the finalizers that are ours matter.
            if FOREGROUND in (meta.get("finalizers") or ()):
                await self._finish_foreground(res, meta)
            elif ORPHAN in (meta.get("finalizers") or ()):
                await self._orphan(res, meta)
            return
        if not meta.get("ownerReferences"):
            return
        states = {str(r.get("uid", "")): await self._owner_state(meta, r) for r in refs(meta)}
        deps = self.dependents(uid)
        plan = plan_dependent(states, meta.get("finalizers") or (), bool(deps),
                              any(deleting_dependents(d["metadata"]) for _, d in deps))
        if plan.action == "remove-refs":
            log.debug("garbage collector: removing owners %s from %s %s", plan.remove, res.plural, meta["name"])
            await self._patch(res, meta, "ownerReferences", lambda m: without_owners(m, plan.remove))
        elif plan.action == "delete":
            if plan.unblock:
                meta = await self._patch(res, meta, "ownerReferences", unblocked) or meta
            log.debug("garbage collector: deleting %s %s (%s)", res.plural, meta["name"], plan.policy)
            await self._delete(res, meta, plan.policy or "Background")

    async def _owner_state(self, item: Meta, ref: Mapping[str, Any]) -> OwnerState:
        uid = str(ref.get("uid", ""))
        cached = self.get(uid)
        if cached is not None:
            return owner_state(cached[1]["metadata"], uid)
        if uid in self._absent:
            return OwnerState.DANGLING
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        res = self.mapper.get((group, str(ref.get("kind", ""))))
        if res is None or (res.namespaced and not item.get("namespace")):
            # An unknown kind, or a cluster-scoped object naming a namespaced owner: never
            # collect on such a reference's account (upstream does not either).
            return OwnerState.SOLID
        live = await self._live(res, item.get("namespace"), str(ref.get("name", "")))
        state = owner_state(live, uid)
        if state is OwnerState.DANGLING:
            self._absent[uid] = None
            if len(self._absent) > ABSENT_CACHE_SIZE:
                self._absent.popitem(last=False)
        return state

    async def _finish_foreground(self, res: APIResource, owner: Meta) -> None:
        uid = owner["uid"]
        deps = self.dependents(uid)
        for _, dep in deps:
            if not dep["metadata"].get("deletionTimestamp"):
                self.queue.add(dep["metadata"]["uid"])
        if any(blocks(dep["metadata"], uid) for _, dep in deps):
            return  # their deletion events bring us back
        log.debug("garbage collector: dependents of %s %s gone; finishing its deletion", res.plural, owner["name"])
        await self._patch(res, owner, "finalizers", lambda m: without_finalizer(m, FOREGROUND))

    async def _orphan(self, res: APIResource, owner: Meta) -> None:
        uid = owner["uid"]
        for dep_res, dep in self.dependents(uid):
            await self._patch(dep_res, dep["metadata"], "ownerReferences", lambda m: without_owners(m, [uid]))
        log.debug("garbage collector: orphaned the dependents of %s %s", res.plural, owner["name"])
        await self._patch(res, owner, "finalizers", lambda m: without_finalizer(m, ORPHAN))

    # -- writes --

    async def _live(self, res: APIResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            found = await self.client.request("GET", res.path(namespace, name), accept=METADATA)
        except APIError as e:
            if e.code == 404:
                return None
            raise
        return dict(found.get("metadata") or {})

    async def _patch(self, res: APIResource, meta: Meta, field: str,
                     compute: Callable[[Meta], list[Any] | None]) -> Meta | None:
        """Set ``metadata.<field>`` to ``compute(meta)`` (None: no change) as a JSON patch that
        tests uid and resourceVersion; when those are stale, recompute once from a live GET.
        Returns the patched metadata, or None when nothing was written."""
        for attempt in range(2):
            value = compute(meta)
            if value is None:
                return None
            ops: list[dict[str, Any]] = [
                {"op": "test", "path": "/metadata/uid", "value": meta["uid"]},
                {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
                {"op": "add", "path": f"/metadata/{field}", "value": value} if value
                else {"op": "remove", "path": f"/metadata/{field}"}]
            path = res.path(meta.get("namespace"), meta["name"])
            try:
                out = await self.client.patch(path, ops, JSON_PATCH)
                return dict(out.get("metadata") or {}) if isinstance(out, dict) else None
            except APIError as e:
                if e.code == 404:
                    return None
                if e.code not in (409, 422) or attempt:
                    raise
            live = await self._live(res, meta.get("namespace"), meta["name"])
            if live is None or live.get("uid") != meta["uid"]:
                return None
            meta = live
        return None

    async def _delete(self, res: APIResource, meta: Meta, policy: str) -> None:
        path = res.path(meta.get("namespace"), meta["name"])
        pre: dict[str, str] = {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}
        opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy,
                                "preconditions": pre}
        if await self._send_delete(path, opts):
            return
        # Changed since the cache saw it.  The decision rested on its owner references only:
        # if those are unchanged, delete regardless of the rest (as upstream does).
        live = await self._live(res, meta.get("namespace"), meta["name"])
        if live is None or live.get("uid") != meta["uid"]:
            return
        if (live.get("ownerReferences") or []) != (meta.get("ownerReferences") or []):
            raise Stale(f"{res.plural} {meta['name']}: owner references changed")
        pre.pop("resourceVersion")
        if not await self._send_delete(path, opts):
            raise Stale(f"{res.plural} {meta['name']}: changed again")

    async def _send_delete(self, path: str, opts: dict[str, Any]) -> bool:
        """DELETE; False when a precondition failed (409), True when done or already gone."""
        try:
            await self.client.delete(path, opts)
        except APIError as e:
            if e.code == 409:
                return False
            if e.code != 404:
                raise
        return True


async def discover(client: Client) -> list[APIResource]:
    """Discovery, retried until the server answers (it may still be starting)."""
    delay = 0.1
    while True:
        try:
            return await client.api_resources()
        except (APIError, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.warning("garbage collector: discovery failed: %s; retrying in %.1fs", e, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def run_garbage_collector(url: str) -> None:
    """Run the garbage collector against the API server at ``url`` until cancelled."""
    # One long-lived watch per resource plus the workers' requests: lift aiohttp's 100-connection cap.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    client = Client(url, session)
    gc: GarbageCollector | None = None
    try:
        gc = GarbageCollector(client, await discover(client))
        await gc.run()
    finally:
        if gc is not None:
            await gc.stop()
        await session.close()
