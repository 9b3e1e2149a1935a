"""Scaling a deployment that is not rolling out, or is mid-rollout or paused (pure).

Upstream's ``scale`` / ``isScalingEvent`` / ``GetProportion``:

* A **scaling event** is a change of ``spec.replicas`` that an active ReplicaSet's
  ``desired-replicas`` annotation does not yet record; it is handled here, not by a rollout
  step, so a rollout's pace is not mistaken for scaling.
* One active ReplicaSet (or none: the newest) simply takes ``replicas``.  A saturated new
  ReplicaSet (all replicas, all available) lets the old ones go to 0.
* Otherwise, with RollingUpdate, the change in allowed pods (``replicas + maxSurge`` minus
  what the ReplicaSets hold) is **spread proportionally**: each ReplicaSet gets
  ``round(size * allowed / max-replicas annotation) - size``, capped by what is left; the
  rounding remainder goes to the largest ReplicaSet (newest first when growing, oldest first
  when shrinking), never below 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.controllers.deployment.rolling import Scale
from kybernetes.controllers.deployment.util import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    Obj,
    active,
    annotations_of,
    by_creation,
    by_size_newer_first,
    by_size_older_first,
    is_rolling,
    max_surge,
    name_of,
    replica_count,
    replicas,
    status_count,
)


def _int_annotation(rs: Mapping[str, Any], key: str) -> int | None:
    try:
        return int(annotations_of(rs)[key])
    except (KeyError, ValueError):
        return None


def is_scaling_event(d: Mapping[str, Any], new_rs: Obj | None, old_rss: list[Obj]) -> bool:
    for rs in active([*old_rss, new_rs]):
        desired = _int_annotation(rs, DESIRED_REPLICAS)
        if desired is not None and desired != replicas(d):
            return True
    return False


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest when none is active; None when several are."""
    if new_rs is None and not old_rss:
        return None
    olds = list(reversed(by_creation(old_rss)))
    running = active([*olds, new_rs])
    if not running:
        return new_rs if new_rs is not None else olds[0]
    return running[0] if len(running) == 1 else None


def is_saturated(d: Mapping[str, Any], rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = _int_annotation(rs, DESIRED_REPLICAS)
    return (desired is not None and replicas(rs) == replicas(d) and desired == replicas(d)
            and status_count(rs, "availableReplicas") == replicas(d))


def _round(x: float) -> int:
    """Go's integer.RoundToInt32: halves away from zero."""
    return int(x - 0.5) if x < 0 else int(x + 0.5)


def replica_set_fraction(rs: Mapping[str, Any], d: Mapping[str, Any]) -> int:
    """How many replicas ``rs`` should gain (negative: lose) for the deployment's new size."""
    if replicas(d) == 0:
        return -replicas(rs)
    allowed = replicas(d) + max_surge(d)
    annotated = _int_annotation(rs, MAX_REPLICAS)
    if annotated is None:
        annotated = status_count(d, "replicas")  # the best guess left
    if annotated <= 0:
        return 0
    return _round(replicas(rs) * allowed / annotated) - replicas(rs)


def proportion(rs: Mapping[str, Any], d: Mapping[str, Any], to_add: int, added: int) -> int:
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def plan_scale(d: Mapping[str, Any], new_rs: Obj | None, old_rss: list[Obj]) -> tuple[str, list[Scale]]:
    """(direction, steps) to bring the ReplicaSets to the deployment's size (upstream ``scale``).

    Steps may keep a size: performing one still brings the ReplicaSet's desired-replicas and
    max-replicas annotations up to date (else the scaling event would never end).
    ``direction`` is ``up``/``down`` for the Events of proportional scaling, ``""`` when each
    step's own direction applies.
    """
    target = find_active_or_latest(new_rs, old_rss)
    if target is not None:
        return "", [Scale(name_of(target), replicas(d))]
    if is_saturated(d, new_rs):
        return "", [Scale(name_of(rs), 0) for rs in active(old_rss)]
    if not is_rolling(d):
        return "", []
    running = active([*old_rss, new_rs])
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - replica_count(running)
    if to_add > 0:
        ordered, direction = by_size_newer_first(running), "up"
    elif to_add < 0:
        ordered, direction = by_size_older_first(running), "down"
    else:
        return "", []
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        p = proportion(rs, d, to_add, added)
        sizes[name_of(rs)] = replicas(rs) + p
        added += p
    first = name_of(ordered[0])
    sizes[first] = max(0, sizes[first] + to_add - added)
    return direction, [Scale(name_of(rs), sizes[name_of(rs)]) for rs in ordered]

