"""When to probe a container and what each probe result means (pure state machines, injected clock).

Behaviour is upstream's prober workers (``pkg/kubelet/prober/worker.go``, ``prober.go``) and the restart
decision of the runtime manager; the shape is ours.  Running a probe (HTTP, TCP, exec, gRPC) is the doer's
job: it asks :meth:`ContainerProbes.due`, runs those probes with ``timeout`` seconds each, and hands each result
to :meth:`ContainerProbes.record`, which returns a :class:`Transition` saying what to do.

:class:`ProbeState` (one probe of one container):

* ``reset(container_id, started_at)`` for every new container: the published result goes back to its
  initial value (readiness ``failure``, liveness ``success``, startup ``unknown``) and probing resumes.
* The first probe is due ``initialDelaySeconds`` after the container started, the next ones ``periodSeconds``
  after the previous one (upstream ticks on a timer and may run up to one period later; we do not).
* ``record`` counts consecutive equal results.  The published result changes only after
  ``successThreshold`` successes or ``failureThreshold`` failures in a row.  A published liveness or startup
  failure asks for a restart and puts the probe on hold until the next container.  ``warning`` counts as a
  success; ``error`` (the probe could not run) is reported and otherwise ignored.
* Every failed probe yields an ``Unhealthy`` Warning event: ``Liveness probe failed: <output>``.

:class:`ContainerProbes` (all probes of one container) adds the startup gate: until the startup probe passes,
liveness and readiness do not run and the container is neither ``started`` nor ``ready``; once it passes the
startup probe stops.  ``ready`` needs ``started`` and a published readiness success (or no readiness probe).
While the pod is being deleted, liveness and startup probes stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
KINDS = (STARTUP, LIVENESS, READINESS)
SUCCESS, FAILURE, UNKNOWN, WARNING, ERROR = "success", "failure", "unknown", "warning", "error"
INITIAL_RESULT = {LIVENESS: SUCCESS, READINESS: FAILURE, STARTUP: UNKNOWN}
SPEC_FIELDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}

RESTART, READY, UNREADY, STARTED = "restart", "ready", "unready", "started"
UNHEALTHY = "Unhealthy"
PROBE_WARNING = "ProbeWarning"
KILLING = "Killing"


def http_failure_output(status_code: int) -> str:
    """What an HTTP probe reports for a status outside 200-399."""
    return f"HTTP probe failed with statuscode: {status_code}"


def kill_message(container: str, kind: str, restart_policy: str) -> str:
    """The ``Killing`` event of a container that failed its liveness or startup probe."""
    base = f"Container {container} failed {kind} probe"
    return base if restart_policy == "Never" else base + ", will be restarted"


@dataclass(frozen=True)
class ProbeSpec:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_probe(cls, probe: Mapping[str, Any]) -> ProbeSpec:
        """Upstream's defaults fill what the probe leaves out (0, 10 s, 1 s, 1, 3)."""
        return cls(float(probe.get("initialDelaySeconds") or 0), float(probe.get("periodSeconds") or 10),
                   float(probe.get("timeoutSeconds") or 1), int(probe.get("successThreshold") or 1),
                   int(probe.get("failureThreshold") or 3))


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Transition:
    """The outcome of one probe result: the published result, what changed, what to do and report."""

    kind: str
    result: str
    changed: bool = False
    action: str = ""  # restart | ready | unready | started | ""
    event: Event | None = None
    kill_message: str = ""


class ProbeState:
    """One probe of one container."""

    def __init__(self, kind: str, spec: ProbeSpec, container: str, restart_policy: str = "Always"):
        if kind not in KINDS:
            raise ValueError(f"unknown probe kind {kind!r}")
        self.kind, self.spec, self.container, self.restart_policy = kind, spec, container, restart_policy
        self.container_id = ""
        self.started_at = 0.0
        self.result = INITIAL_RESULT[kind]
        self.last_result = UNKNOWN
        self.run = 0
        self.on_hold = False
        self.last_probe_at: float | None = None

    def reset(self, container_id: str, started_at: float) -> None:
        """A new container: initial result, counters cleared, probing resumes."""
        self.container_id, self.started_at = container_id, started_at
        self.result = INITIAL_RESULT[self.kind]
        self.last_result, self.run, self.on_hold, self.last_probe_at = UNKNOWN, 0, False, None

    def due_at(self) -> float | None:
        """When the next probe should run, or None (no container, or on hold)."""
        if not self.container_id or self.on_hold:
            return None
        first = self.started_at + self.spec.initial_delay
        return first if self.last_probe_at is None else max(first, self.last_probe_at + self.spec.period)

    def next_due(self, now: float) -> float | None:
        """When to probe next, never before ``now`` (``== now``: probe now); None while nothing is to probe."""
        at = self.due_at()
        return None if at is None else max(at, now)

    def is_due(self, now: float) -> bool:
        at = self.due_at()
        return at is not None and at <= now

    def _label(self) -> str:
        return self.kind.capitalize()

    def record(self, result: str, now: float, output: str = "") -> Transition:
        """Take one probe result (``success``, ``warning``, ``failure`` or ``error``) observed at ``now``."""
        self.last_probe_at = now
        event = None
        if result == ERROR:
            event = Event("Warning", UNHEALTHY,
                          f"{self._label()} probe errored and resulted in {UNKNOWN} state: {output}")
            return Transition(self.kind, self.result, event=event)
        if result == WARNING:
            event = Event("Warning", PROBE_WARNING, f"{self._label()} probe warning: {output}")
            result = SUCCESS
        elif result == FAILURE:
            event = Event("Warning", UNHEALTHY, f"{self._label()} probe failed: {output}")
        elif result != SUCCESS:
            raise ValueError(f"unknown probe result {result!r}")
        if result == self.last_result:
            self.run += 1
        else:
            self.last_result, self.run = result, 1
        threshold = self.spec.failure_threshold if result == FAILURE else self.spec.success_threshold
        if self.run < threshold:
            return Transition(self.kind, self.result, event=event)
        changed = result != self.result
        self.result = result
        action, kill = "", ""
        if result == FAILURE and self.kind in (LIVENESS, STARTUP):
            self.on_hold, self.run = True, 0
            action, kill = RESTART, kill_message(self.container, self.kind, self.restart_policy)
        elif changed and self.kind == READINESS:
            action = READY if result == SUCCESS else UNREADY
        elif changed and self.kind == STARTUP:
            action = STARTED
        return Transition(self.kind, self.result, changed, action, event, kill)


class ContainerProbes:
    """All the probes of one container, with the startup gate."""

    def __init__(self, container: Mapping[str, Any], restart_policy: str = "Always"):
        self.name = str(container.get("name", ""))
        self.probes = {kind: ProbeState(kind, ProbeSpec.from_probe(container[field]), self.name, restart_policy)
                       for kind, field in SPEC_FIELDS.items() if container.get(field)}
        self.running = False

    def container_started(self, container_id: str, started_at: float) -> None:
        self.running = True
        for state in self.probes.values():
            state.reset(container_id, started_at)

    def container_exited(self) -> Transition | None:
        """The container is not running: not ready (an ``unready`` transition if it was), nothing to probe."""
        self.running = False
        readiness = self.probes.get(READINESS)
        for state in self.probes.values():
            state.on_hold = True
        if readiness is not None and readiness.result == SUCCESS:
            readiness.result = FAILURE
            return Transition(READINESS, FAILURE, True, UNREADY)
        return None

    @property
    def started(self) -> bool:
        startup = self.probes.get(STARTUP)
        return self.running and (startup is None or startup.result == SUCCESS)

    @property
    def ready(self) -> bool:
        readiness = self.probes.get(READINESS)
        return self.started and (readiness is None or readiness.result == SUCCESS)

    def _active(self, deleting: bool) -> list[ProbeState]:
        if not self.running:
            return []
        kinds = [LIVENESS, READINESS] if self.started else [STARTUP]
        if deleting:
            kinds = [k for k in kinds if k == READINESS]
        return [self.probes[k] for k in kinds if k in self.probes]

    def due(self, now: float, *, deleting: bool = False) -> list[str]:
        """The kinds to probe now, startup first."""
        return [s.kind for s in self._active(deleting) if s.is_due(now)]

    def next_due(self, now: float, *, deleting: bool = False) -> float | None:
        times = [t for s in self._active(deleting) if (t := s.next_due(now)) is not None]
        return min(times) if times else None

    def record(self, kind: str, result: str, now: float, output: str = "") -> Transition:
        return self.probes[kind].record(result, now, output)
