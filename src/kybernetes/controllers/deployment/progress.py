"""The ``Progressing`` condition and ``progressDeadlineSeconds`` (pure; upstream ``progress.go``).

After each rollout step the new status gets, when the deployment has a progress deadline and
its latest rollout is not already known complete:

* ``NewReplicaSetAvailable`` (True) once complete: every replica updated, available, no old
  pods left, the current generation observed;
* else ``ReplicaSetUpdated`` (True, ``lastUpdateTime`` refreshed) when it made progress
  since the last status (more updated, ready or available pods, fewer old ones);
* else ``ProgressDeadlineExceeded`` (False) once the last progress is older than the deadline.

A deployment that made no progress is synced again when its deadline would pass
(:func:`requeue_after`).  Pausing and resuming set ``DeploymentPaused`` / ``DeploymentResumed``
(Unknown), so time spent paused never counts against the deadline.  ``ReplicaFailure``
conditions of the ReplicaSets (the new one's first) are mirrored on the deployment.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kybernetes.api.meta import parse_time
from kybernetes.controllers.deployment.status import (
    calculate_status,
    get_condition,
    new_condition,
    remove_condition,
    set_condition,
)
from kybernetes.controllers.deployment.util import (
    NEW_RS_AVAILABLE,
    PAUSED,
    PROGRESSING,
    REPLICA_FAILURE,
    RESUMED,
    RS_UPDATED,
    TIMED_OUT,
    Obj,
    meta,
    name_of,
    progress_deadline,
    replicas,
    spec,
    status,
)


def _count(st: Mapping[str, Any], field: str) -> int:
    return int(st.get(field) or 0)


def deployment_complete(d: Mapping[str, Any], st: Mapping[str, Any]) -> bool:
    want = replicas(d)
    return (_count(st, "updatedReplicas") == want and _count(st, "replicas") == want
            and _count(st, "availableReplicas") == want
            and _count(st, "observedGeneration") >= int(meta(d).get("generation") or 0))


def deployment_progressing(d: Mapping[str, Any], st: Mapping[str, Any]) -> bool:
    old = status(d)
    old_old = _count(old, "replicas") - _count(old, "updatedReplicas")
    new_old = _count(st, "replicas") - _count(st, "updatedReplicas")
    return (_count(st, "updatedReplicas") > _count(old, "updatedReplicas") or new_old < old_old
            or _count(st, "readyReplicas") > _count(old, "readyReplicas")
            or _count(st, "availableReplicas") > _count(old, "availableReplicas"))


def _last_progress(cond: Mapping[str, Any]) -> datetime | None:
    return parse_time(str(cond.get("lastUpdateTime") or ""))


def deployment_timed_out(d: Mapping[str, Any], st: Mapping[str, Any], now: datetime) -> bool:
    deadline = progress_deadline(d)
    cond = get_condition(st, PROGRESSING)
    if deadline is None or cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = _last_progress(cond)
    return since is not None and since.timestamp() + deadline < now.timestamp()


def _rs_failures(all_rss: list[Obj | None], new_rs: Obj | None) -> list[dict[str, Any]]:
    def failures(rs: Obj | None) -> list[dict[str, Any]]:
        return [{"type": c.get("type"), "status": c.get("status"), "lastUpdateTime": c.get("lastTransitionTime"),
                 "lastTransitionTime": c.get("lastTransitionTime"), "reason": c.get("reason"),
                 "message": c.get("message")}
                for c in status(rs).get("conditions") or () if c.get("type") == REPLICA_FAILURE]
    return failures(new_rs) or [f for rs in all_rss for f in failures(rs)]


def rollout_status(d: Mapping[str, Any], all_rss: list[Obj | None], new_rs: Obj | None,
                   now: datetime) -> dict[str, Any]:
    """The status after a rollout step (upstream syncRolloutStatus, without the write)."""
    st = calculate_status(all_rss, new_rs, d, now)
    deadline = progress_deadline(d)
    if deadline is None:
        remove_condition(st, PROGRESSING)
    current = get_condition(status(d), PROGRESSING)
    complete_before = (_count(st, "replicas") == _count(st, "updatedReplicas") and current is not None
                       and current.get("reason") == NEW_RS_AVAILABLE)
    if deadline is not None and not complete_before:
        if deployment_complete(d, st):
            msg = (f'ReplicaSet "{name_of(new_rs)}" has successfully progressed.' if new_rs is not None
                   else f'Deployment "{name_of(d)}" has successfully progressed.')
            set_condition(st, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now))
        elif deployment_progressing(d, st):
            msg = (f'ReplicaSet "{name_of(new_rs)}" is progressing.' if new_rs is not None
                   else f'Deployment "{name_of(d)}" is progressing.')
            cond = new_condition(PROGRESSING, "True", RS_UPDATED, msg, now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
                remove_condition(st, PROGRESSING)
            set_condition(st, cond)
        elif deployment_timed_out(d, st, now):
            msg = (f'ReplicaSet "{name_of(new_rs)}" has timed out progressing.' if new_rs is not None
                   else f'Deployment "{name_of(d)}" has timed out progressing.')
            set_condition(st, new_condition(PROGRESSING, "False", TIMED_OUT, msg, now))
    failures = _rs_failures(all_rss, new_rs)
    if failures:
        set_condition(st, failures[0])
    else:
        remove_condition(st, REPLICA_FAILURE)
    return st


def requeue_after(d: Mapping[str, Any], st: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds until a deployment without progress should be checked against its deadline
    (0: now), or None when there is nothing to check (upstream requeueStuckDeployment)."""
    deadline = progress_deadline(d)
    current = get_condition(status(d), PROGRESSING)
    if deadline is None or current is None:
        return None
    if deployment_complete(d, st) or current.get("reason") == TIMED_OUT:
        return None
    since = _last_progress(current)
    if since is None:
        return None
    after = since.timestamp() + deadline - now.timestamp()
    return 0.0 if after < 1.0 else after + 1.0


def paused_conditions(d: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """The status with a DeploymentPaused / DeploymentResumed condition, when pausing or
    resuming needs one recorded (upstream checkPausedConditions); None otherwise."""
    if progress_deadline(d) is None:
        return None
    cond = get_condition(status(d), PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return None  # a reported lack of progress is not overwritten
    paused_recorded = cond is not None and cond.get("reason") == PAUSED
    st = copy.deepcopy(status(d))
    if spec(d).get("paused") and not paused_recorded:
        set_condition(st, new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now))
    elif not spec(d).get("paused") and paused_recorded:
        set_condition(st, new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now))
    else:
        return None
    return st
