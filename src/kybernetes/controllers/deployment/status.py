"""Deployment status: counters from the ReplicaSets, and the condition list (pure).

``calculate_status`` is upstream's: replicas, readyReplicas, availableReplicas and
updatedReplicas add up the ReplicaSets' *status* counts (what runs), unavailableReplicas is
the *spec* total minus available (never negative), observedGeneration is the deployment's
generation, and the ``Available`` condition says whether at least ``replicas -
maxUnavailable`` pods are available.  Zero counters are left out, as the API's
``omitempty`` does.

Conditions follow ``SetDeploymentCondition``: setting one with the same status and reason
as the current one changes nothing; a new reason with the same status keeps the
``lastTransitionTime``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kybernetes.api.meta import format_time
from kybernetes.controllers.deployment.util import (
    AVAILABLE,
    MIN_AVAILABLE,
    MIN_UNAVAILABLE,
    Obj,
    actual_count,
    max_unavailable,
    meta,
    replica_count,
    replicas,
    status,
)

COUNTERS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas")


def new_condition(type_: str, status_: str, reason: str, message: str, now: datetime) -> dict[str, Any]:
    ts = format_time(now)
    return {"type": type_, "status": status_, "lastUpdateTime": ts, "lastTransitionTime": ts,
            "reason": reason, "message": message}


def get_condition(st: Mapping[str, Any], type_: str) -> dict[str, Any] | None:
    for c in st.get("conditions") or ():
        if c.get("type") == type_:
            return dict(c)
    return None


def remove_condition(st: dict[str, Any], type_: str) -> None:
    kept = [c for c in st.get("conditions") or () if c.get("type") != type_]
    if kept:
        st["conditions"] = kept
    else:
        st.pop("conditions", None)


def set_condition(st: dict[str, Any], cond: Mapping[str, Any]) -> None:
    """Upstream SetDeploymentCondition (see the module docstring)."""
    current = get_condition(st, str(cond["type"]))
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    new = dict(cond)
    if current is not None and current.get("status") == cond["status"]:
        new["lastTransitionTime"] = current.get("lastTransitionTime", new["lastTransitionTime"])
    remove_condition(st, str(cond["type"]))
    st["conditions"] = [*(st.get("conditions") or []), new]


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    available_ = actual_count(all_rss, "availableReplicas")
    counts = {
        "replicas": actual_count(all_rss),
        "updatedReplicas": actual_count([new_rs]),
        "readyReplicas": actual_count(all_rss, "readyReplicas"),
        "availableReplicas": available_,
        "unavailableReplicas": max(0, replica_count(all_rss) - available_),
    }
    out: dict[str, Any] = {}
    generation = meta(d).get("generation")
    if generation:
        out["observedGeneration"] = generation
    out.update({k: v for k, v in counts.items() if v})
    current = status(d)
    if current.get("collisionCount") is not None:
        out["collisionCount"] = current["collisionCount"]
    if current.get("conditions"):
        out["conditions"] = copy.deepcopy(current["conditions"])
    if available_ >= replicas(d) - max_unavailable(d):
        set_condition(out, new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now))
    else:
        set_condition(out, new_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
                                         "Deployment does not have minimum availability.", now))
    return out


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """A merge patch turning status ``old`` into ``new`` (None when they are equal)."""
    if dict(old) == dict(new):
        return None
    patch: dict[str, Any] = {k: None for k in old if k not in new}
    patch.update(new)
    return {"status": patch}
