"""RollingUpdate and Recreate decisions: which ReplicaSet to resize, and to what (pure).

Upstream's ``rolling.go`` and ``recreate.go``, as plans of :class:`Scale` steps; the sync
performs them in order and stops at the first failure (the next sync decides again).

Rolling, one step per sync in upstream's order:

1. **Scale the new ReplicaSet up** as far as ``replicas + maxSurge`` total (spec counts) allows,
   never beyond ``replicas`` (or down to ``replicas`` after a scale-down).
2. Else **scale old ReplicaSets down**, at most ``all - minAvailable - newUnavailable`` in all:
   first their unavailable replicas (oldest ReplicaSet first; removing them costs no
   availability), then available ones while more than ``minAvailable`` pods are available.

Together these keep ``replicas - maxUnavailable <= available`` and ``total <= replicas +
maxSurge`` at every step.

Recreate: scale every old ReplicaSet to 0; once none of their pods runs, scale the new one
to ``replicas`` (the sync creates it only then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.controllers.deployment.util import (
    Obj,
    active,
    available,
    by_creation,
    is_rolling,
    max_surge,
    max_unavailable,
    name_of,
    replica_count,
    replicas,
    uid_of,
)


@dataclass(frozen=True)
class Scale:
    """Resize one ReplicaSet (by name) to ``replicas``."""

    name: str
    replicas: int


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: list[Obj | None], new_rs: Obj) -> int:
    """The size the new ReplicaSet may grow to now (upstream NewRSNewReplicas)."""
    if not is_rolling(d):
        return replicas(d)
    current = replica_count(all_rss)
    max_total = replicas(d) + max_surge(d)
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, replicas(d) - replicas(new_rs))


def reconcile_new(d: Mapping[str, Any], all_rss: list[Obj | None], new_rs: Obj) -> Scale | None:
    """Step 1: resize the new ReplicaSet, if it should be."""
    want = replicas(d)
    if replicas(new_rs) == want:
        return None
    if replicas(new_rs) > want:
        return Scale(name_of(new_rs), want)
    target = new_rs_new_replicas(d, all_rss, new_rs)
    return Scale(name_of(new_rs), target) if target != replicas(new_rs) else None


def reconcile_old(d: Mapping[str, Any], all_rss: list[Obj | None], old_rss: list[Obj], new_rs: Obj) -> list[Scale]:
    """Step 2: scale old ReplicaSets down, first their unhealthy replicas, then within maxUnavailable."""
    old = active(old_rss)
    if replica_count(old) == 0:
        return []
    min_avail = replicas(d) - max_unavailable(d)
    new_unavailable = replicas(new_rs) - available(new_rs)
    budget = replica_count(all_rss) - min_avail - new_unavailable
    if budget <= 0:
        return []
    sizes = {uid_of(rs): replicas(rs) for rs in old}
    steps: dict[str, Scale] = {}
    # Unhealthy replicas first: deleting them does not lower availability.
    cleaned = 0
    for rs in by_creation(old):
        if cleaned >= budget:
            break
        unhealthy = replicas(rs) - available(rs)
        if replicas(rs) == 0 or unhealthy <= 0:
            continue
        n = min(budget - cleaned, unhealthy)
        sizes[uid_of(rs)] -= n
        steps[uid_of(rs)] = Scale(name_of(rs), sizes[uid_of(rs)])
        cleaned += n
    # Then available ones, while more than minAvailable pods are available.
    avail = sum(min(available(rs), sizes[uid_of(rs)]) for rs in old) + available(new_rs)
    if avail > min_avail:
        to_remove, removed = avail - min_avail, 0
        for rs in by_creation(old):
            if removed >= to_remove:
                break
            size = sizes[uid_of(rs)]
            if size == 0:
                continue
            n = min(size, to_remove - removed)
            sizes[uid_of(rs)] = size - n
            steps[uid_of(rs)] = Scale(name_of(rs), size - n)
            removed += n
    return list(steps.values())


def plan_rolling(d: Mapping[str, Any], new_rs: Obj, old_rss: list[Obj]) -> list[Scale]:
    """The next rolling step: grow the new ReplicaSet, or else shrink old ones (maybe nothing)."""
    all_rss: list[Obj | None] = [*old_rss, new_rs]
    step = reconcile_new(d, all_rss, new_rs)
    if step is not None:
        return [step]
    return reconcile_old(d, all_rss, old_rss, new_rs)


# -- Recreate ---------------------------------------------------------------------------------------

def plan_recreate_scale_down(old_rss: list[Obj]) -> list[Scale]:
    return [Scale(name_of(rs), 0) for rs in active(old_rss)]


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj], pod_map: Mapping[str, list[Obj]]) -> bool:
    """Does any old ReplicaSet report pods, or own a pod that has not finished (even one being
    deleted)?  Recreate waits for this to be false before it starts the new pods."""
    if sum(int((rs.get("status") or {}).get("replicas") or 0) for rs in old_rss) > 0:
        return True
    new_uid = uid_of(new_rs) if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if rs_uid == new_uid:
            continue
        if any((p.get("status") or {}).get("phase") not in ("Failed", "Succeeded") for p in pods):
            return True
    return False
