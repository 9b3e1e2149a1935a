"""Revisions: the annotations that make ``kubectl rollout history`` and ``undo`` work, and pruning.

Pure functions (upstream ``SetNewReplicaSetAnnotations``, ``cleanupDeployment``):

* The new ReplicaSet gets the deployment's annotations (except :data:`SKIPPED_ANNOTATIONS`:
  last-applied-configuration and the controller's own), and revision ``max(old) + 1`` unless
  it already has a higher one.  A ReplicaSet coming back as the new one (``rollout undo``
  points the template back at it) keeps the revisions it had served in
  ``deployment.kubernetes.io/revision-history`` (comma separated, trimmed from the front to
  2000 characters).
* Every ReplicaSet the controller sizes records ``desired-replicas`` (the deployment's
  replicas) and ``max-replicas`` (replicas + maxSurge), which proportional scaling reads.
* With ``revisionHistoryLimit`` N, old ReplicaSets beyond the newest N are deleted, lowest
  revision first, but only those fully scaled down and observed so by their controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.controllers.deployment.util import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    MAX_REVISION_HISTORY_CHARS,
    REVISION,
    REVISION_HISTORY,
    SKIPPED_ANNOTATIONS,
    Obj,
    annotations_of,
    by_revision,
    max_surge,
    meta,
    replicas,
    revision_history_limit,
    status_count,
)


def copy_deployment_annotations(d: Mapping[str, Any], rs_annotations: dict[str, str]) -> bool:
    """Copy the deployment's annotations (but the skipped ones) onto ``rs_annotations``; changed?"""
    changed = False
    for k, v in annotations_of(d).items():
        if k in SKIPPED_ANNOTATIONS or rs_annotations.get(k) == v:
            continue
        rs_annotations[k] = v
        changed = True
    return changed


def set_replicas_annotations(rs_annotations: dict[str, str], desired: int, maximum: int) -> bool:
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if rs_annotations.get(key) != value:
            rs_annotations[key] = value
            changed = True
    return changed


def replicas_annotations(d: Mapping[str, Any]) -> tuple[int, int]:
    """(desired-replicas, max-replicas) for the deployment's ReplicaSets."""
    return replicas(d), replicas(d) + max_surge(d)


def replicas_annotations_need_update(rs: Mapping[str, Any], d: Mapping[str, Any]) -> bool:
    desired, maximum = replicas_annotations(d)
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def _append_history(history: str, old: str, limit: int) -> str | None:
    """``history`` with ``old`` appended, the oldest entries dropped to stay within ``limit``
    characters; None when even that cannot fit."""
    if not history:
        return old
    entries = history.split(",")
    total, start = len(history) + len(old) + 1, 0
    while total > limit and start < len(entries):
        total -= len(entries[start]) + 1
        start += 1
    return ",".join([*entries[start:], old]) if total <= limit else None


def new_rs_annotations(d: Mapping[str, Any], rs: Mapping[str, Any] | None, new_revision: int,
                       exists: bool, limit: int = MAX_REVISION_HISTORY_CHARS) -> tuple[dict[str, str], bool]:
    """The annotations the new ReplicaSet should carry, and whether they differ from its own."""
    out = annotations_of(rs)
    changed = copy_deployment_annotations(d, out)
    old = out.get(REVISION)
    try:
        old_revision = int(old) if old else 0
    except ValueError:
        return annotations_of(rs), False  # not ours to fix (upstream leaves it too)
    if old_revision < new_revision:
        out[REVISION] = str(new_revision)
        changed = True
        if old is not None:
            # Coming back as the new ReplicaSet (a rollback): remember the revision it had.
            history = _append_history(out.get(REVISION_HISTORY, ""), old, limit)
            if history is not None:
                out[REVISION_HISTORY] = history
    if not exists and set_replicas_annotations(out, *replicas_annotations(d)):
        changed = True
    return out, changed


def history_to_prune(d: Mapping[str, Any], old_rss: list[Obj]) -> list[Obj]:
    """Old ReplicaSets to delete so that at most ``revisionHistoryLimit`` remain (upstream
    cleanupDeployment): the lowest revisions, skipping any still running pods, not yet
    observed at their current generation, or already being deleted."""
    limit = revision_history_limit(d)
    if limit is None:
        return []
    alive = [rs for rs in old_rss if rs is not None and not meta(rs).get("deletionTimestamp")]
    excess = len(alive) - limit
    if excess <= 0:
        return []
    out = []
    for rs in by_revision(alive)[:excess]:
        m = meta(rs)
        if status_count(rs, "replicas") != 0 or replicas(rs) != 0:
            continue
        if int(m.get("generation") or 0) > status_count(rs, "observedGeneration"):
            continue
        out.append(rs)
    return out
