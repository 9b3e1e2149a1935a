"""The deployment controller's vocabulary and small pure helpers (upstream ``deployment/util``).

Everything here is a function of wire-JSON dicts, without side effects:

* annotation and label names, condition reasons, the ``intstr`` resolution of ``maxSurge``
  (rounded up) and ``maxUnavailable`` (rounded down) and their fenceposts (both resolving to
  0 makes ``maxUnavailable`` 1);
* ReplicaSet accessors and orderings (by creation, by size, by revision), replica counts;
* the pod template hash: FNV-32a over the template's canonical JSON (keys sorted) plus the
  collision count, rendered with upstream's ``SafeEncodeString`` alphabet.  It names new
  ReplicaSets (``<deployment>-<hash>``) and labels their pods; which ReplicaSet is *new* is
  decided by comparing templates (ignoring that label), never by the hash, so the exact
  value only has to be stable.
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
# Deployment annotations never copied to its ReplicaSets.
SKIPPED_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                                 ROLLBACK_TO})
HASH_LABEL = "pod-template-hash"
MAX_REVISION_HISTORY_CHARS = 2000

# Condition types and reasons.
PROGRESSING = "Progressing"
AVAILABLE = "Available"
REPLICA_FAILURE = "ReplicaFailure"
RS_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

MAX_INT32 = 2**31 - 1
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# -- accessors ------------------------------------------------------------------------------------

def meta(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    return (obj or {}).get("metadata") or {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name", ""))


def uid_of(obj: Mapping[str, Any] | None) -> str:
    return str(meta(obj).get("uid", ""))


def annotations_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    return dict(meta(obj).get("annotations") or {})


def spec(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    return (obj or {}).get("spec") or {}


def status(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    return (obj or {}).get("status") or {}


def replicas(obj: Mapping[str, Any] | None) -> int:
    """``spec.replicas`` (1 when unset, as the API defaults it); 0 for no object."""
    if obj is None:
        return 0
    value = spec(obj).get("replicas")
    return 1 if value is None else int(value)


def status_count(obj: Mapping[str, Any] | None, field: str) -> int:
    return int(status(obj).get(field) or 0)


def available(rs: Mapping[str, Any] | None) -> int:
    """Available pods a ReplicaSet will keep: its status count, at most its (maybe just lowered)
    spec.  A ReplicaSet scaled down deletes its unavailable pods first, so this never
    over-counts while its status lags behind the scale-down (upstream reads the status alone)."""
    return min(status_count(rs, "availableReplicas"), replicas(rs)) if rs is not None else 0


def is_rolling(d: Mapping[str, Any]) -> bool:
    return (spec(d).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def is_recreate(d: Mapping[str, Any]) -> bool:
    return (spec(d).get("strategy") or {}).get("type") == "Recreate"


def progress_deadline(d: Mapping[str, Any]) -> int | None:
    """``progressDeadlineSeconds``, or None when progress is not estimated (unset or MaxInt32)."""
    value = spec(d).get("progressDeadlineSeconds")
    return None if value is None or int(value) == MAX_INT32 else int(value)


def revision_history_limit(d: Mapping[str, Any]) -> int | None:
    value = spec(d).get("revisionHistoryLimit")
    return None if value is None or int(value) == MAX_INT32 else int(value)


# -- maxSurge / maxUnavailable ----------------------------------------------------------------------

def int_or_percent(value: int | str | None, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"N%"`` of ``total``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")
    percent = int(value[:-1])
    return -(-percent * total // 100) if round_up else percent * total // 100


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable down; both 0 makes unavailable 1."""
    surge = int_or_percent(max_surge if max_surge is not None else 0, desired, True)
    unavailable = int_or_percent(max_unavailable if max_unavailable is not None else 0, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_params(d: Mapping[str, Any]) -> tuple[int | str | None, int | str | None]:
    ru = (spec(d).get("strategy") or {}).get("rollingUpdate") or {}
    return ru.get("maxSurge"), ru.get("maxUnavailable")


def max_surge(d: Mapping[str, Any]) -> int:
    if not is_rolling(d):
        return 0
    return resolve_fenceposts(*_rolling_params(d), replicas(d))[0]


def max_unavailable(d: Mapping[str, Any]) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(resolve_fenceposts(*_rolling_params(d), replicas(d))[1], replicas(d))


def min_available(d: Mapping[str, Any]) -> int:
    return replicas(d) - max_unavailable(d) if is_rolling(d) else 0


# -- ReplicaSet lists ---------------------------------------------------------------------------------

def by_creation(rss: Iterable[Obj]) -> list[Obj]:
    """Oldest first; equal times by name (upstream ReplicaSetsByCreationTimestamp)."""
    return sorted(rss, key=lambda rs: (str(meta(rs).get("creationTimestamp", "")), name_of(rs)))


def by_size_older_first(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; equal sizes oldest first (scaling down)."""
    return sorted(by_creation(rss), key=lambda rs: -replicas(rs))


def by_size_newer_first(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; equal sizes newest first (scaling up)."""
    newest = sorted(rss, key=lambda rs: str(meta(rs).get("creationTimestamp", "")), reverse=True)
    return sorted(newest, key=lambda rs: -replicas(rs))


def revision(rs: Mapping[str, Any]) -> int:
    """The revision annotation; 0 when absent.  Raises ValueError when it is not a number."""
    value = annotations_of(rs).get(REVISION)
    return 0 if value is None else int(value)


def by_revision(rss: Iterable[Obj]) -> list[Obj]:
    """Lowest revision first, equal revisions by creation (unparsable ones count as 0)."""
    def rev(rs: Obj) -> int:
        try:
            return revision(rs)
        except ValueError:
            return 0
    return sorted(by_creation(rss), key=rev)


def max_revision(rss: Iterable[Obj | None]) -> int:
    best = 0
    for rs in rss:
        if rs is None:
            continue
        try:
            best = max(best, revision(rs))
        except ValueError:
            continue  # skipped, as upstream does
    return best


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """ReplicaSets with replicas to run (upstream FilterActiveReplicaSets)."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def replica_count(rss: Iterable[Obj | None]) -> int:
    """Sum of ``spec.replicas``."""
    return sum(replicas(rs) for rs in rss if rs is not None)


def actual_count(rss: Iterable[Obj | None], field: str = "replicas") -> int:
    """Sum of one status counter."""
    return sum(status_count(rs, field) for rs in rss if rs is not None)


def available_count(rss: Iterable[Obj | None]) -> int:
    return sum(available(rs) for rs in rss if rs is not None)


# -- templates ------------------------------------------------------------------------------------------

def _normalized(value: Any) -> Any:
    """Drop nulls and empty maps and lists, which the API treats as absent."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def without_hash_label(template: Mapping[str, Any]) -> Obj:
    out = copy.deepcopy(dict(template))
    labels = (out.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return out


def equal_ignore_hash(t1: Mapping[str, Any], t2: Mapping[str, Any]) -> bool:
    """Are two pod templates the same, apart from the ``pod-template-hash`` label?"""
    return bool(_normalized(without_hash_label(t1)) == _normalized(without_hash_label(t2)))


def fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: each byte mapped into an alphabet with no vowels or look-alikes."""
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in text.encode())


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """The pod-template-hash of ``template`` (see the module docstring)."""
    h = fnv32a(orjson.dumps(_normalized(dict(template)), option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        h = fnv32a(struct.pack("<II", collision_count & 0xFFFFFFFF, 0), h)
    return safe_encode(str(h))


def find_new_replica_set(d: Mapping[str, Any], rss: Iterable[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the deployment's (ignoring the hash label)."""
    template = spec(d).get("template") or {}
    for rs in by_creation(rss):
        if equal_ignore_hash(spec(rs).get("template") or {}, template):
            return rs
    return None


def find_old_replica_sets(d: Mapping[str, Any], rss: Iterable[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets with replicas, all old ReplicaSets)."""
    rss = list(rss)
    new = find_new_replica_set(d, rss)
    olds = [rs for rs in rss if new is None or uid_of(rs) != uid_of(new)]
    return [rs for rs in olds if replicas(rs) != 0], olds
