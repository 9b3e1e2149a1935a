"""A pod's ``status``, computed from its spec and what the node sees (pure functions, injected clock).

Behaviour is upstream's kubelet (``generateAPIPodStatus``, ``convertToAPIContainerStatuses``, ``getPhase``,
``status/generate.go``, the QoS helper); the shape is ours.  The caller hands over a :class:`PodObservation`:
a :class:`ContainerSnapshot` per container it knows (newest runtime container, previous termination, probe
verdicts, the kubelet's waiting reason such as ``CrashLoopBackOff``), the IPs and whether the sandbox is ready.
:func:`pod_status` returns the new ``status`` in the wire form.  Invariants:

* **Container states.**  Running -> ``running``; exited -> ``terminated`` (with ``containerID``); created -> an
  empty ``waiting``.  A waiting reason applies to a container that is not running and moves its terminated
  state to ``lastState`` (an init container that exited 0 is never restarted: it keeps its state).  Without a
  snapshot a previous ``terminated`` status is kept, else it waits with ``ContainerCreating``
  (``PodInitializing`` in a pod with init containers); one that was running and vanished gets a
  ``ContainerStatusUnknown`` ``lastState`` (137) and a restart more unless the pod is being deleted.
* **Ready / started.**  ``started``: running and the startup probe passed (or none); ``ready``: started and the
  readiness probe passed.  A regular init container is ready once it exited 0.
* **Phase** as ``getPhase``: pending init containers -> Pending (a failed one under ``restartPolicy: Never`` ->
  Failed); all stopped -> Succeeded / Failed / Running by restart policy, or Succeeded / Failed when the
  kubelet made the pod terminal; a terminal phase never changes.
* **Conditions.**  Conditions the kubelet does not own come first, kept; then PodReadyToStartContainers,
  Initialized, Ready, ContainersReady, PodScheduled with upstream reasons and messages;
  ``lastTransitionTime`` is kept while a condition's status does not change.
* Times are RFC 3339, UTC, whole seconds; a zero time is ``null``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kybernetes.api.meta import format_time
from kybernetes.api.validation.quantity import QuantityError, parse_quantity
from kybernetes.runtime.api import ContainerState, ContainerStatus

Obj = dict[str, Any]

CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
STATUS_UNKNOWN = "ContainerStatusUnknown"
CONTAINERS_NOT_READY = "ContainersNotReady"
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
READINESS_GATES_NOT_READY = "ReadinessGatesNotReady"
POD_COMPLETED = "PodCompleted"
POD_FAILED = "PodFailed"
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
TERMINAL_PHASES = ("Succeeded", "Failed")
CONTAINER_ID_SCHEME = "kyb://"


def rfc3339(t: float) -> str | None:
    """``2024-01-02T03:04:05Z`` for a Unix time; None (``null``) for 0."""
    return format_time(datetime.fromtimestamp(t, UTC)) if t else None


@dataclass(frozen=True)
class Terminated:
    """One ended attempt of a container."""

    exit_code: int
    reason: str = ""
    message: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    container_id: str = ""

    def wire(self) -> Obj:
        return {"exitCode": self.exit_code, "reason": self.reason, **({"message": self.message} if self.message else {}),
                "startedAt": rfc3339(self.started_at), "finishedAt": rfc3339(self.finished_at),
                **({"containerID": self.container_id} if self.container_id else {})}


@dataclass(frozen=True)
class ContainerSnapshot:
    """What the kubelet knows of one container.  ``state`` None: no runtime container (yet)."""

    name: str
    state: ContainerState | None = None
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    restart_count: int = 0
    image: str = ""
    image_id: str = ""
    container_id: str = ""
    ready: bool = False  # the readiness probe passed (True for a container without one)
    started: bool = True  # the startup probe passed (True for a container without one)
    waiting_reason: str = ""  # the kubelet's reason not to run it now: CrashLoopBackOff, ErrImagePull...
    waiting_message: str = ""
    last_terminated: Terminated | None = None

    @classmethod
    def from_runtime(cls, status: ContainerStatus, **kw: Any) -> ContainerSnapshot:
        """A snapshot of a runtime container; ``kw`` adds what the runtime does not know (probes, restarts)."""
        return cls(**{**dict(
            name=status.name, state=status.state, exit_code=status.exit_code, reason=status.reason,
            message=status.message, started_at=status.started_at, finished_at=status.finished_at,
            restart_count=status.attempt, image=status.image, image_id=status.image_id,
            container_id=CONTAINER_ID_SCHEME + status.id), **kw})

    def terminated(self) -> Terminated:
        return Terminated(self.exit_code, self.reason, self.message, self.started_at, self.finished_at, self.container_id)


@dataclass(frozen=True)
class PodObservation:
    containers: Sequence[ContainerSnapshot] = ()
    pod_ips: Sequence[str] = ()
    host_ips: Sequence[str] = ()
    sandbox_ready: bool = False
    terminal: bool = False  # the kubelet stopped the pod for good (deleted, deadline exceeded)


def is_sidecar(container: Mapping[str, Any]) -> bool:
    """A restartable init container (``restartPolicy: Always``)."""
    return container.get("restartPolicy") == "Always"


def _from_runtime(c: Mapping[str, Any], s: ContainerSnapshot, old: Obj | None, regular_init: bool) -> Obj:
    state: Obj
    started = ready = False
    last: Obj = {"terminated": s.last_terminated.wire()} if s.last_terminated else {}
    restarts = s.restart_count
    if s.state is ContainerState.RUNNING:
        state, started = {"running": {"startedAt": rfc3339(s.started_at)}}, s.started
        ready = started and s.ready and not regular_init
    elif s.state is ContainerState.EXITED:
        state = {"terminated": s.terminated().wire()}
        ready = regular_init and s.exit_code == 0
    elif s.state is ContainerState.UNKNOWN and old and "running" in (old.get("state") or {}):
        state = {"terminated": {"exitCode": 137, "reason": STATUS_UNKNOWN,
                                "message": "The container could not be located when the pod was terminated",
                                "startedAt": None, "finishedAt": None}}
        restarts = int(old.get("restartCount", 0)) + 1
    else:
        state = {"waiting": {}}
    return _wire(s.name, state, last, ready, restarts, s.image or str(c.get("image", "")), s.image_id,
                 s.container_id, started)


def _wire(name: str, state: Obj, last: Obj, ready: bool, restarts: int, image: str, image_id: str, cid: str,
          started: bool) -> Obj:
    return {"name": name, "state": state, "lastState": last, "ready": ready, "restartCount": restarts,
            "image": image, "imageID": image_id, **({"containerID": cid} if cid else {}), "started": started}


def _default_status(c: Mapping[str, Any], old: Obj | None, default_reason: str, deleting: bool) -> Obj:
    if old and "terminated" in (old.get("state") or {}):
        return copy.deepcopy(old)
    last = copy.deepcopy((old or {}).get("lastState") or {})
    restarts = int((old or {}).get("restartCount", 0))
    if old and "running" in (old.get("state") or {}) and "terminated" not in last:
        last = {"terminated": {"exitCode": 137, "reason": STATUS_UNKNOWN, "message": (
            "The container could not be located when the pod was deleted.  The container used to be Running"),
            "startedAt": None, "finishedAt": None}}
        restarts += 0 if deleting else 1
    return _wire(str(c["name"]), {"waiting": {"reason": default_reason}}, last, False, restarts,
                 str(c.get("image", "")), "", "", False)


def container_statuses(pod: Mapping[str, Any], observed: PodObservation, *, init: bool) -> list[Obj]:
    """``initContainerStatuses`` (spec order) or ``containerStatuses`` (sorted by name, as upstream)."""
    spec = pod.get("spec") or {}
    containers = spec.get("initContainers" if init else "containers") or []
    old_key = "initContainerStatuses" if init else "containerStatuses"
    olds = {o.get("name"): o for o in (pod.get("status") or {}).get(old_key) or []}
    snaps = {s.name: s for s in observed.containers}
    default_reason = POD_INITIALIZING if spec.get("initContainers") else CONTAINER_CREATING
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    out = []
    for c in containers:
        s, old = snaps.get(c["name"]), olds.get(c["name"])
        regular_init = init and not is_sidecar(c)
        if s is not None and s.state is not None:
            status = _from_runtime(c, s, old, regular_init)
        else:
            status = _default_status(c, old, default_reason, deleting)
            if s is not None:
                status["restartCount"] = max(status["restartCount"], s.restart_count)
                if s.last_terminated:
                    status["lastState"] = {"terminated": s.last_terminated.wire()}
        exited_ok = regular_init and s is not None and s.state is ContainerState.EXITED and s.exit_code == 0
        if s is not None and s.waiting_reason and s.state is not ContainerState.RUNNING and not exited_ok:
            if "terminated" in status["state"]:
                status["lastState"] = status["state"]
            message = {"message": s.waiting_message} if s.waiting_message else {}
            status["state"] = {"waiting": {"reason": s.waiting_reason, **message}}
            status["ready"] = status["started"] = False
        out.append(status)
    return out if init else sorted(out, key=lambda st: st["name"])


def _regular_started(spec: Mapping[str, Any], statuses: Sequence[Obj]) -> bool:
    names = {c["name"] for c in spec.get("containers") or []}
    return any(st["name"] in names and ({"running", "terminated"} & set(st.get("state") or {})) for st in statuses)


def _where(st: Obj | None) -> tuple[str, int]:
    """(running | terminated | restarting | waiting | unknown | missing, the exit code that matters)."""
    if st is None:
        return "missing", 0
    state, last = st.get("state") or {}, st.get("lastState") or {}
    if "running" in state:
        return "running", 0
    if "terminated" in state:
        return "terminated", int(state["terminated"].get("exitCode", 0))
    if "waiting" in state:
        if "terminated" in last:
            return "restarting", int(last["terminated"].get("exitCode", 0))
        return "waiting", 0
    return "unknown", 0


def pod_phase(pod: Mapping[str, Any], statuses: Sequence[Obj], *, terminal: bool = False) -> str:
    """The phase for these container statuses (init and regular together), as ``getPhase``."""
    spec = pod.get("spec") or {}
    by_name = {st["name"]: st for st in statuses}
    initialized = _regular_started(spec, statuses)
    pending_init = pending_sidecar = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        where, code = _where(by_name.get(c["name"]))
        if not is_sidecar(c):
            pending_init += where in ("missing", "running", "waiting", "unknown")
            failed_init += where in ("terminated", "restarting") and code != 0
        elif where in ("missing", "unknown"):
            unknown += 1
            pending_sidecar += where == "unknown"
        elif where == "running":
            pending_sidecar += not by_name[c["name"]].get("started")
            running += 1
        elif where == "waiting":
            pending_sidecar += 1
            waiting += 1
    for c in spec.get("containers") or []:
        where, code = _where(by_name.get(c["name"]))
        unknown += where in ("missing", "unknown")
        running += where == "running"
        waiting += where == "waiting"
        stopped += where in ("terminated", "restarting")
        succeeded += where == "terminated" and code == 0
    policy = spec.get("restartPolicy") or "Always"
    if failed_init and policy == "Never":
        return "Failed"
    if pending_init or (pending_sidecar and not initialized) or waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"  # Go's %s of a []string


def _cond(type_: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    return {"type": type_, "status": "True" if ok else "False", **({"reason": reason} if reason else {}),
            **({"message": message} if message else {})}


def _listing(type_: str, reason: str, unknown: list[str], word: str, bad: list[str]) -> Obj:
    """False with ``containers with unknown status: [a], containers with <word> status: [b c]``, else True."""
    messages = [f"containers with {w} status: {_names(names)}" for w, names in (("unknown", unknown), (word, bad))
                if names]
    return _cond(type_, False, reason, ", ".join(messages)) if messages else _cond(type_, True)


def _containers_ready(spec: Mapping[str, Any], statuses: Sequence[Obj], phase: str) -> Obj:
    by_name = {st["name"]: st for st in statuses}
    watched = [c for c in spec.get("initContainers") or [] if is_sidecar(c)] + list(spec.get("containers") or [])
    unknown = [c["name"] for c in watched if c["name"] not in by_name]
    unready = [c["name"] for c in watched if c["name"] in by_name and not by_name[c["name"]].get("ready")]
    if (phase == "Succeeded" and not unknown) or phase == "Failed":
        return _cond("ContainersReady", False, POD_COMPLETED if phase == "Succeeded" else POD_FAILED)
    return _listing("ContainersReady", CONTAINERS_NOT_READY, unknown, "unready", unready)


def _ready(spec: Mapping[str, Any], containers_ready: Obj, conditions: Sequence[Obj]) -> Obj:
    if containers_ready["status"] != "True":
        return {**containers_ready, "type": "Ready"}
    by_type = {c.get("type"): c for c in conditions}
    messages = []
    for gate in spec.get("readinessGates") or []:
        got = by_type.get(gate.get("conditionType"))
        if got is None:
            messages.append(f'corresponding condition of pod readiness gate "{gate.get("conditionType")}" '
                            "does not exist.")
        elif got.get("status") != "True":
            messages.append(f'the status of pod readiness gate "{gate.get("conditionType")}" is not "True", '
                            f"but {got.get('status')}")
    if messages:
        return _cond("Ready", False, READINESS_GATES_NOT_READY, ", ".join(messages))
    return _cond("Ready", True)


def _initialized(spec: Mapping[str, Any], statuses: Sequence[Obj], phase: str) -> Obj:
    by_name = {st["name"]: st for st in statuses}
    inits = spec.get("initContainers") or []
    unknown = [c["name"] for c in inits if c["name"] not in by_name]
    incomplete = [c["name"] for c in inits if c["name"] in by_name
                  and not by_name[c["name"]].get("started" if is_sidecar(c) else "ready")]
    if phase == "Succeeded" and not unknown:
        return _cond("Initialized", True, POD_COMPLETED)
    if _regular_started(spec, statuses):
        return _cond("Initialized", True)
    return _listing("Initialized", CONTAINERS_NOT_INITIALIZED, unknown, "incomplete", incomplete)


def pod_conditions(pod: Mapping[str, Any], statuses: Sequence[Obj], phase: str, *, sandbox_ready: bool,
                   now: float) -> list[Obj]:
    """Kept foreign conditions, then the five kubelet conditions, transition times carried over."""
    spec = pod.get("spec") or {}
    previous = (pod.get("status") or {}).get("conditions") or []
    kept = [copy.deepcopy(c) for c in previous if c.get("type") not in KUBELET_CONDITIONS]
    containers_ready = _containers_ready(spec, statuses, phase)
    fresh = [_cond("PodReadyToStartContainers", sandbox_ready), _initialized(spec, statuses, phase),
             _ready(spec, containers_ready, previous), containers_ready, _cond("PodScheduled", True)]
    by_type = {c.get("type"): c for c in previous}
    stamp = rfc3339(now)
    out: list[Obj] = []
    for c in fresh:
        old = by_type.get(c["type"])
        since = old.get("lastTransitionTime") if old and old.get("status") == c["status"] else stamp
        out.append({"type": c["type"], "status": c["status"], "lastProbeTime": None, "lastTransitionTime": since,
                    **{k: c[k] for k in ("reason", "message") if k in c}})
    return kept + out


def _positive(raw: Any) -> Decimal:
    try:
        return parse_quantity(raw) if raw not in (None, "") else Decimal(0)
    except QuantityError:
        return Decimal(0)


def qos_class(spec: Mapping[str, Any]) -> str:
    """BestEffort / Burstable / Guaranteed from the CPU and memory requests and limits of every container.

    Only positive amounts count.  Guaranteed: every container limits both CPU and memory, and the summed
    requests equal the summed limits (a request left out counts as its limit, the API server's default)."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = c.get("resources") or {}
        lim_raw = res.get("limits") or {}
        req_raw = {**{k: v for k, v in lim_raw.items() if k in ("cpu", "memory")}, **(res.get("requests") or {})}
        found = set()
        for raw, total, is_limit in ((req_raw, requests, False), (lim_raw, limits, True)):
            for name in ("cpu", "memory"):
                if (amount := _positive(raw.get(name))) > 0:
                    total[name] = total.get(name, Decimal(0)) + amount
                    found |= {name} if is_limit else set()
        guaranteed = guaranteed and found == {"cpu", "memory"}
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def pod_status(pod: Mapping[str, Any], observed: PodObservation, now: float) -> Obj:
    """The pod's new ``status``, from its spec, its current status (the previous one) and ``observed``."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    init_statuses, statuses = (container_statuses(pod, observed, init=i) for i in (True, False))
    every = [*init_statuses, *statuses]
    phase = pod_phase(pod, every, terminal=observed.terminal)
    if old.get("phase") in TERMINAL_PHASES:
        phase = old["phase"]
    out: Obj = {"phase": phase, "conditions": pod_conditions(pod, every, phase,
                                                             sandbox_ready=observed.sandbox_ready, now=now)}
    if phase == old.get("phase"):
        out.update({k: old[k] for k in ("message", "reason") if old.get(k)})
    host_ips = list(observed.host_ips) or [h["ip"] for h in old.get("hostIPs") or []]
    pod_ips = list(observed.pod_ips) or (host_ips if spec.get("hostNetwork") else []) or [
        p["ip"] for p in old.get("podIPs") or []]
    if host_ips:
        out["hostIP"], out["hostIPs"] = host_ips[0], [{"ip": ip} for ip in host_ips]
    if pod_ips:
        out["podIP"], out["podIPs"] = pod_ips[0], [{"ip": ip} for ip in pod_ips]
    out["startTime"] = old.get("startTime") or rfc3339(now)
    if spec.get("initContainers"):
        out["initContainerStatuses"] = init_statuses
    out["containerStatuses"] = statuses
    out["qosClass"] = old.get("qosClass") or qos_class(spec)
    return out
