"""The Pod printer: NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED NODE READINESS GATES.

STATUS is the one cell with real logic, and it follows upstream's ``printPod``
step by step, because users read it as *the* state of their pod:

1. start from ``status.reason`` or the phase; a ``SchedulingGated`` scheduling
   condition overrides both;
2. walk the init container statuses in order: a finished (exit 0) one, or a
   started restartable ("sidecar") one, is passed over; the first other one
   decides ``Init:<reason>``, ``Init:ExitCode:N``, ``Init:Signal:N`` or
   ``Init:i/n`` and stops the walk;
3. once initialized, walk the app container statuses *last to first*, so the
   first container's waiting/terminated reason wins (``CrashLoopBackOff``,
   ``Completed``, ``ExitCode:1``...); a pod whose containers say Completed but
   one still runs is ``Running`` when Ready, else ``NotReady``;
4. a pod being deleted is ``Terminating`` (``Unknown`` when its node was lost),
   unless it already finished.

READY counts ready running app containers plus started-and-ready sidecars over
app containers plus sidecars.  RESTARTS sums restart counts of the containers
that decided the status and appends ``(5m ago)`` from the newest
``lastState.terminated.finishedAt``.

Pure module: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.printers.base import (
    AGE,
    CORE,
    NAME,
    Cells,
    Column,
    Obj,
    Printer,
    count,
    metadata,
    section,
    wide,
)
from kybernetes.api.printers.text import NONE
from kybernetes.api.printers.timefmt import epoch, human_duration, since

_TERMINAL = ("Succeeded", "Failed")


def _finished_at(status: Obj) -> float | None:
    last = status.get("lastState")
    if not isinstance(last, dict):
        return None
    terminated = last.get("terminated")
    if not isinstance(terminated, dict):
        return None
    return epoch(terminated.get("finishedAt"))


def _newer(current: float | None, candidate: float | None) -> float | None:
    if candidate is not None and (current is None or candidate > current):
        return candidate
    return current


def _condition_true(conditions: list[Any], kind: str) -> bool:
    """The first condition of type ``kind`` is True (isPodInitializedConditionTrue)."""
    for c in conditions:
        if isinstance(c, dict) and c.get("type") == kind:
            return bool(c.get("status") == "True")
    return False


def _any_condition_true(conditions: list[Any], kind: str) -> bool:
    """Some condition of type ``kind`` is True (hasPodReadyCondition)."""
    return any(isinstance(c, dict) and c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _exit_text(terminated: Obj, prefix: str) -> str:
    signal = count(terminated.get("signal"))
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{count(terminated.get('exitCode'))}"


def pod_cells(pod: Obj, now: float) -> Cells:
    meta = metadata(pod)
    spec = section(pod, "spec")
    status = section(pod, "status")
    conditions: list[Any] = status.get("conditions") or []
    init_specs: list[Any] = spec.get("initContainers") or []

    sidecars = {c.get("name") for c in init_specs if isinstance(c, dict) and c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + sum(
        1 for c in init_specs if isinstance(c, dict) and c.get("restartPolicy") == "Always"
    )
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: float | None = None
    sidecar_last_restart: float | None = None

    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or "") or phase
    for c in conditions:
        if isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    for index, cs in enumerate(status.get("initContainerStatuses") or []):
        restart_count = count(cs.get("restartCount"))
        finished = _finished_at(cs)
        restarts += restart_count
        last_restart = _newer(last_restart, finished)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += restart_count
            sidecar_last_restart = _newer(sidecar_last_restart, finished)
        state = cs.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated is not None and count(terminated.get("exitCode")) == 0:
            continue
        if is_sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            why = terminated.get("reason")
            reason = f"Init:{why}" if why else _exit_text(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        # only sidecar restarts carry over once the pod is initialized
        restarts = sidecar_restarts
        last_restart = sidecar_last_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += count(cs.get("restartCount"))
            last_restart = _newer(last_restart, _finished_at(cs))
            state = cs.get("state") or {}
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated is not None and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif terminated is not None:
                reason = _exit_text(terminated, "")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _any_condition_true(conditions, "Ready") else "NotReady"

    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in _TERMINAL:
            reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"

    pod_ips = status.get("podIPs") or []
    pod_ip = (pod_ips[0].get("ip") if pod_ips and isinstance(pod_ips[0], dict) else None) or status.get("podIP")

    return [
        str(meta.get("name") or ""),
        f"{ready}/{total}",
        reason,
        restarts_text,
        since(meta.get("creationTimestamp"), now),
        pod_ip or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        _readiness_gates(spec, conditions),
    ]


def _readiness_gates(spec: Obj, conditions: list[Any]) -> str:
    gates = spec.get("readinessGates") or []
    if not gates:
        return NONE
    satisfied = 0
    for gate in gates:
        wanted = gate.get("conditionType")
        for c in conditions:
            if isinstance(c, dict) and c.get("type") == wanted:
                if c.get("status") == "True":
                    satisfied += 1
                break
    return f"{satisfied}/{len(gates)}"


_SUCCEEDED = [
    {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
]
_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def pod_conditions(pod: Obj) -> list[dict[str, Any]] | None:
    """Row conditions: finished pods are marked Completed (kubectl may hide such rows)."""
    phase = section(pod, "status").get("phase")
    if phase == "Succeeded":
        return [dict(c) for c in _SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _FAILED]
    return None


POD = Printer(
    (
        NAME,
        Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", "string", "The aggregate status of the containers in this pod."),
        Column(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last "
            "container in this pod has restarted.",
        ),
        AGE,
        wide("IP", "string", (CORE + "PodStatus", "podIP")),
        wide("Node", "string", (CORE + "PodSpec", "nodeName")),
        wide("Nominated Node", "string", (CORE + "PodStatus", "nominatedNodeName")),
        wide("Readiness Gates", "string", (CORE + "PodSpec", "readinessGates")),
    ),
    pod_cells,
    pod_conditions,
)
