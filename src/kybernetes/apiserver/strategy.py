"""Per-kind rules applied around writes (upstream's ``registry/*/strategy.go``).

``prepare_for_create`` resets what a client may not set on create (status of
most kinds) and sets ``generation``; ``prepare_for_update`` keeps what an
update of the main resource may not change (status) or, for the status
subresource, keeps everything but status; both bump ``generation`` when the
spec changed.  ``prepare_for_delete`` decides graceful deletion.

Pure: takes the clock as an argument.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from kybernetes.api import defaults
from kybernetes.api.meta import format_time
from kybernetes.api.registry import ResourceType

# Kinds whose metadata.generation tracks spec changes.
GENERATION_KINDS = {"Deployment", "ReplicaSet", "ReplicationController", "Pod"}

# Kinds whose status a create request may set (nodes report status at registration;
# events and leases have no status subresource at all).
_STATUS_ON_CREATE = {"Node"}


def _qos_class(spec: dict[str, Any]) -> str:
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or str(req.get(r, lim[r])) != str(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def initial_status(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The status a newly created object starts with, or None to leave it absent."""
    kind = rt.kind
    if kind == "Pod":
        return {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})}
    if kind == "Namespace":
        return {"phase": "Active"}
    if kind == "Service":
        return {"loadBalancer": {}}
    if kind in ("ReplicaSet", "ReplicationController"):
        return {"replicas": 0}  # required, no omitempty: always on the wire
    if kind == "Deployment":
        return {}
    return None


def prepare_for_create(rt: ResourceType, obj: dict[str, Any]) -> None:
    if rt.kind == "Namespace":
        defaults.prepare_namespace_for_create(obj)
    if rt.has_status and rt.kind not in _STATUS_ON_CREATE:
        status = initial_status(rt, obj)
        if status is None:
            obj.pop("status", None)
        else:
            obj["status"] = status
    if rt.kind in GENERATION_KINDS:
        obj["metadata"]["generation"] = 1
    else:
        obj["metadata"].pop("generation", None)


def prepare_for_update(rt: ResourceType, new: dict[str, Any], old: dict[str, Any],
                       subresource: str | None) -> dict[str, Any]:
    """The object to store for an update; ``new`` is the client's intent."""
    if subresource == "status":
        # The status subresource changes status and nothing else.
        out = copy.deepcopy(old)
        if "status" in new:
            out["status"] = new["status"]
        else:
            out.pop("status", None)
        if rt.kind in ("ReplicaSet", "ReplicationController"):
            out.setdefault("status", {}).setdefault("replicas", 0)
        out["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion", "")
        return out
    out = new
    if subresource == "binding":
        return out  # spec.nodeName and the PodScheduled condition, as the binding set them
    if rt.has_status and rt.kind != "Namespace":
        # The main resource ignores status changes.
        if "status" in old:
            out["status"] = old["status"]
        else:
            out.pop("status", None)
    if rt.kind == "Namespace":
        out["status"] = old.get("status", {"phase": "Active"})
    gen = old["metadata"].get("generation")
    if rt.kind in GENERATION_KINDS and gen is not None:
        out["metadata"]["generation"] = gen + 1 if new.get("spec") != old.get("spec") else gen
    return out


def graceful_deletion_seconds(rt: ResourceType, obj: dict[str, Any], requested: int | None) -> int:
    """Seconds of grace a delete gets; 0 means delete now (upstream BeforeDelete)."""
    if rt.kind != "Pod":
        return 0
    spec = obj.get("spec") or {}
    phase = (obj.get("status") or {}).get("phase")
    # Unscheduled and finished pods have no kubelet to wait for.
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, requested)
    grace = spec.get("terminationGracePeriodSeconds")
    return int(grace) if grace is not None else 30


MAX_GRACE_FOR_TIMESTAMP = 100 * 365 * 24 * 3600  # beyond a century the date itself would overflow


def _deadline(now: datetime, grace: int) -> str:
    return format_time(now + timedelta(seconds=min(grace, MAX_GRACE_FOR_TIMESTAMP)))


def mark_deleting(obj: dict[str, Any], grace: int, now: datetime) -> dict[str, Any]:
    """A copy of ``obj`` with deletionTimestamp set (``now + grace``)."""
    out = copy.deepcopy(obj)
    meta = out["metadata"]
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = _deadline(now, grace)
        meta["deletionGracePeriodSeconds"] = grace
        if meta.get("generation"):
            meta["generation"] = meta["generation"] + 1
    elif grace < (meta.get("deletionGracePeriodSeconds") or 0):
        # A shorter grace period may cut a pending graceful deletion short.
        meta["deletionTimestamp"] = _deadline(now, grace)
        meta["deletionGracePeriodSeconds"] = grace
    return out
