"""The generic object store behind every resource (upstream's generic registry Store).

It turns API semantics into backend operations: system metadata on create,
optimistic concurrency on update, graceful deletion and finalizers on delete,
consistent lists from the watch cache and paged lists from the backend at a
fixed revision, and the per-kind hooks of :mod:`strategy`, :mod:`admission`
and validation.  Objects enter and leave in their *served* form (the group
version of the request); they are stored in their storage form (see
``api.conversion``).  Nothing is written unless every check passed, so a
failed request never leaves a half-written object.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from kybernetes.api import conversion, errors
from kybernetes.api import validation as v
from kybernetes.api.meta import format_time, generate_name, new_uid
from kybernetes.api.meta import now as wall_clock
from kybernetes.api.registry import ResourceType
from kybernetes.apiserver import strategy
from kybernetes.apiserver.admission import Admission
from kybernetes.apiserver.listing import Lister
from kybernetes.apiserver.services import Txn
from kybernetes.apiserver.watchcache import WatchCache, decode
from kybernetes.storage.backend import (
    Backend,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
)

_CONFLICT_RETRIES = 16


@dataclass
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


def _encode(rt: ResourceType, obj: dict[str, Any]) -> bytes:
    stored = conversion.to_storage(rt.group, obj)
    meta = stored.get("metadata") or {}
    if "resourceVersion" in meta:
        # The revision is the store's to say; it is not kept in the value.
        stored = dict(stored)
        stored["metadata"] = {k: val for k, val in meta.items() if k != "resourceVersion"}
    return orjson.dumps(stored)


def served(rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
    return conversion.from_storage(rt.group, stored)


class Store:
    def __init__(self, backend: Backend, cache: WatchCache, admission: Admission,
                 clock: Callable[[], datetime] = wall_clock):
        self.backend = backend
        self.cache = cache
        self.admission = admission
        self.clock = clock
        self.lister = Lister(backend, cache)

    # -- reads ---------------------------------------------------------------

    def _load(self, rt: ResourceType, kv: KeyValue) -> dict[str, Any]:
        return served(rt, decode(kv))

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        kv = await self.backend.get(rt.key(namespace, name))
        if kv is None:
            raise errors.not_found(rt.plural, name, rt.group)
        return self._load(rt, kv)

    # -- create --------------------------------------------------------------

    async def create(self, rt: ResourceType, namespace: str | None, obj: dict[str, Any],
                     *, dry_run: bool = False) -> dict[str, Any]:
        meta = obj["metadata"]
        generated = not meta.get("name") and bool(meta.get("generateName"))
        if generated:
            meta["name"] = generate_name(meta["generateName"])
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        name = meta.get("name") or ""
        await self.admission.check_namespace(rt, namespace, name)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = format_time(self.clock())
        for f in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(f, None)
        strategy.prepare_for_create(rt, obj)
        self.admission.mutate_create(rt, obj)
        errs = v.validate_create(rt, obj)
        if errs:
            raise errors.invalid(rt.kind, name, errs, rt.group)
        txn = self.admission.allocate_create(rt, obj)
        if dry_run:
            txn.rollback()
            return obj
        for attempt in range(8):
            try:
                rev = await self.backend.create(rt.key(namespace, name), _encode(rt, obj))
                break
            except KeyExistsError:
                if generated and attempt < 7:
                    # A generated name that happens to be taken: draw another (upstream retries too).
                    name = meta["name"] = generate_name(meta["generateName"])
                    continue
                txn.rollback()
                raise errors.already_exists(rt.plural, name, rt.group) from None
            except BaseException:
                txn.rollback()
                raise
        txn.commit()
        meta["resourceVersion"] = str(rev)
        return obj

    # -- update --------------------------------------------------------------

    async def update(self, rt: ResourceType, namespace: str | None, name: str,
                     obj: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]],
                     *, subresource: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Replace the object (``obj``) or apply ``obj(current) -> new`` (a patch).

        A replacement carrying ``metadata.resourceVersion`` is conditional on it
        (409 Conflict when stale); without one, and for patches, the write is
        retried against the latest version.
        """
        key = rt.key(namespace, name)
        for _ in range(_CONFLICT_RETRIES):
            kv = await self.backend.get(key)
            if kv is None:
                raise errors.not_found(rt.plural, name, rt.group)
            old = self._load(rt, kv)
            new = obj(copy.deepcopy(old)) if callable(obj) else copy.deepcopy(obj)
            new_meta = new.setdefault("metadata", {})
            want_rv = new_meta.get("resourceVersion") or ""
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, name, rt.group)
            if rt.namespaced:
                new_meta["namespace"] = namespace
            stored = strategy.prepare_for_update(rt, new, old, subresource)
            m = stored["metadata"]
            om = old["metadata"]
            # System fields are the server's: they survive any update unchanged.
            for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if f in om:
                    m[f] = om[f]
                else:
                    m.pop(f, None)
            m.pop("resourceVersion", None)
            if subresource == "status":
                txn = Txn()
                errs = v.validate_status_update(rt, stored, old)
            elif subresource == "binding":
                txn = Txn()
                errs = []  # the binding's own checks ran; pod spec updates are otherwise refused
            else:
                self.admission.mutate_update(rt, stored, old)
                txn = self.admission.allocate_update(rt, stored, old)
                errs = v.validate_update(rt, stored, old)
            if errs:
                txn.rollback()
                raise errors.invalid(rt.kind, name, errs, rt.group)
            m["resourceVersion"] = om["resourceVersion"]
            if stored == old:
                txn.rollback()
                return old  # nothing changed: no write, same resourceVersion
            if dry_run:
                txn.rollback()
                return stored
            try:
                if self._finished(rt, stored):
                    rev = (await self.backend.delete(key, kv.mod_revision)).mod_revision
                    self.admission.on_deleted(rt, stored)
                else:
                    rev = await self.backend.update(key, _encode(rt, stored), kv.mod_revision)
            except RevisionMismatchError as e:
                txn.rollback()
                if e.current is None:
                    raise errors.not_found(rt.plural, name, rt.group) from None
                if want_rv and not callable(obj):
                    raise errors.conflict(rt.plural, name, rt.group) from None
                # Unconditional, or a patch: apply again to the latest version.  A patch that
                # names a resourceVersion itself fails the check above on the retry.
                continue
            except BaseException:
                txn.rollback()
                raise
            txn.commit()
            m["resourceVersion"] = str(rev)
            return stored
        raise errors.conflict(rt.plural, name, rt.group)

    @staticmethod
    def _finished(rt: ResourceType, obj: dict[str, Any]) -> bool:
        """A deleting object whose last finalizer went (upstream ShouldDeleteDuringUpdate)."""
        m = obj["metadata"]
        if not m.get("deletionTimestamp") or m.get("finalizers"):
            return False
        if rt.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
            return False
        return not m.get("deletionGracePeriodSeconds")

    # -- delete --------------------------------------------------------------

    async def delete(self, rt: ResourceType, namespace: str | None, name: str,
                     opts: DeleteOptions) -> tuple[dict[str, Any], bool]:
        """Delete or start deleting; returns (object, deleted now)."""
        key = rt.key(namespace, name)
        for _ in range(_CONFLICT_RETRIES):
            kv = await self.backend.get(key)
            if kv is None:
                raise errors.not_found(rt.plural, name, rt.group)
            obj = self._load(rt, kv)
            m = obj["metadata"]
            if opts.uid is not None and opts.uid != m.get("uid"):
                raise errors.conflict(rt.plural, name, rt.group,
                                      f"Precondition failed: UID in precondition: {opts.uid}, "
                                      f"UID in object meta: {m.get('uid', '')}")
            if opts.resource_version is not None and opts.resource_version != m["resourceVersion"]:
                raise errors.conflict(rt.plural, name, rt.group,
                                      f"Precondition failed: ResourceVersion in precondition: "
                                      f"{opts.resource_version}, ResourceVersion in object meta: "
                                      f"{m['resourceVersion']}")
            self.admission.check_delete(rt, obj)
            pending = self._pending_after_delete(rt, obj, opts)
            try:
                if pending is not None:
                    if opts.dry_run:
                        return pending, False
                    if pending == obj:
                        return obj, False
                    rev = await self.backend.update(key, _encode(rt, pending), kv.mod_revision)
                    pending["metadata"]["resourceVersion"] = str(rev)
                    return pending, False
                if opts.dry_run:
                    return obj, True
                await self.backend.delete(key, kv.mod_revision)
            except RevisionMismatchError as e:
                if e.current is None:
                    raise errors.not_found(rt.plural, name, rt.group) from None
                continue
            except KeyNotFoundError:
                raise errors.not_found(rt.plural, name, rt.group) from None
            self.admission.on_deleted(rt, obj)
            return obj, True
        raise errors.conflict(rt.plural, name, rt.group)

    def _pending_after_delete(self, rt: ResourceType, obj: dict[str, Any],
                              opts: DeleteOptions) -> dict[str, Any] | None:
        """The object marked for deletion, or None when it goes at once."""
        m = obj["metadata"]
        finalizers = list(m.get("finalizers") or [])
        if opts.propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif opts.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        spec_finalizers = (obj.get("spec") or {}).get("finalizers") if rt.kind == "Namespace" else None
        grace = strategy.graceful_deletion_seconds(rt, obj, opts.grace_period)
        if not finalizers and not spec_finalizers and grace == 0:
            return None
        out = strategy.mark_deleting(obj, grace, self.clock())
        if finalizers:
            out["metadata"]["finalizers"] = finalizers
        if rt.kind == "Namespace":
            out.setdefault("status", {})["phase"] = "Terminating"
        return out

    # -- lists ---------------------------------------------------------------

    async def wait_deleted(self, rt: ResourceType, namespace: str | None, name: str,
                           timeout: float) -> bool:
        """Poll until the object is gone (used by delete with a wait)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            if await self.backend.get(rt.key(namespace, name)) is None:
                return True
            await asyncio.sleep(0.05)
        return False
