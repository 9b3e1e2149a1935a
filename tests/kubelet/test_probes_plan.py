"""Probe timing and verdicts: initial delay and period on an injected clock, success and failure thresholds,
startup gating, restarts on liveness/startup failure, readiness flips, and upstream's event texts."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.kubelet.probes_plan import (
    ERROR,
    FAILURE,
    LIVENESS,
    READINESS,
    STARTUP,
    SUCCESS,
    WARNING,
    ContainerProbes,
    Event,
    ProbeSpec,
    ProbeState,
    Transition,
    http_failure_output,
    kill_message,
)

Obj = dict[str, Any]
HTTP500 = http_failure_output(500)


@pytest.mark.parametrize("probe,expected", [
    pytest.param({}, ProbeSpec(0, 10, 1, 1, 3), id="defaults"),
    pytest.param({"initialDelaySeconds": 5, "periodSeconds": 2, "timeoutSeconds": 3, "successThreshold": 2,
                  "failureThreshold": 1}, ProbeSpec(5, 2, 3, 2, 1), id="all-set"),
    pytest.param({"httpGet": {"port": 80}, "periodSeconds": 0}, ProbeSpec(0, 10, 1, 1, 3), id="zero-means-default"),
])
def test_probe_spec(probe: Obj, expected: ProbeSpec) -> None:
    assert ProbeSpec.from_probe(probe) == expected


def test_messages() -> None:
    assert HTTP500 == "HTTP probe failed with statuscode: 500"
    assert kill_message("app", "liveness", "Always") == "Container app failed liveness probe, will be restarted"
    assert kill_message("app", "startup", "OnFailure") == "Container app failed startup probe, will be restarted"
    assert kill_message("app", "liveness", "Never") == "Container app failed liveness probe"


def unhealthy(kind: str) -> Event:
    return Event("Warning", "Unhealthy", f"{kind} probe failed: {HTTP500}")


# (result fed, expected Transition)
Step = tuple[str, Transition]
LIVE_FAIL = Transition(LIVENESS, SUCCESS, event=unhealthy("Liveness"))
RESTART = Transition(LIVENESS, FAILURE, True, "restart", unhealthy("Liveness"),
                     "Container app failed liveness probe, will be restarted")


@pytest.mark.parametrize("kind,spec,policy,steps", [
    pytest.param(LIVENESS, ProbeSpec(), "Always",
                 [(FAILURE, LIVE_FAIL), (FAILURE, LIVE_FAIL), (FAILURE, RESTART)], id="liveness-restart-at-threshold"),
    pytest.param(LIVENESS, ProbeSpec(), "Always",
                 [(FAILURE, LIVE_FAIL), (FAILURE, LIVE_FAIL), (SUCCESS, Transition(LIVENESS, SUCCESS)),
                  (FAILURE, LIVE_FAIL), (FAILURE, LIVE_FAIL)], id="success-resets-the-count"),
    pytest.param(LIVENESS, ProbeSpec(failure_threshold=1), "Never",
                 [(FAILURE, Transition(LIVENESS, FAILURE, True, "restart", unhealthy("Liveness"),
                                       "Container app failed liveness probe"))], id="liveness-never-restart-policy"),
    pytest.param(READINESS, ProbeSpec(success_threshold=2, failure_threshold=2), "Always",
                 [(SUCCESS, Transition(READINESS, FAILURE)), (SUCCESS, Transition(READINESS, SUCCESS, True, "ready")),
                  (SUCCESS, Transition(READINESS, SUCCESS)),
                  (FAILURE, Transition(READINESS, SUCCESS, event=unhealthy("Readiness"))),
                  (FAILURE, Transition(READINESS, FAILURE, True, "unready", unhealthy("Readiness"))),
                  (FAILURE, Transition(READINESS, FAILURE, False, "", unhealthy("Readiness")))],
                 id="readiness-thresholds"),
    pytest.param(READINESS, ProbeSpec(), "Always",
                 [(FAILURE, Transition(READINESS, FAILURE, event=unhealthy("Readiness"))),
                  (SUCCESS, Transition(READINESS, SUCCESS, True, "ready"))], id="readiness-first-success"),
    pytest.param(READINESS, ProbeSpec(), "Always",
                 [(WARNING, Transition(READINESS, SUCCESS, True, "ready",
                                       Event("Warning", "ProbeWarning", f"Readiness probe warning: {HTTP500}")))],
                 id="warning-counts-as-success"),
    pytest.param(READINESS, ProbeSpec(failure_threshold=1), "Always",
                 [(ERROR, Transition(READINESS, FAILURE, event=Event(
                     "Warning", "Unhealthy", f"Readiness probe errored and resulted in unknown state: {HTTP500}"))),
                  (SUCCESS, Transition(READINESS, SUCCESS, True, "ready")),
                  (ERROR, Transition(READINESS, SUCCESS, event=Event(
                      "Warning", "Unhealthy", f"Readiness probe errored and resulted in unknown state: {HTTP500}")))],
                 id="errors-are-ignored"),
    pytest.param(STARTUP, ProbeSpec(failure_threshold=2), "Always",
                 [(FAILURE, Transition(STARTUP, "unknown", event=unhealthy("Startup"))),
                  (FAILURE, Transition(STARTUP, FAILURE, True, "restart", unhealthy("Startup"),
                                       "Container app failed startup probe, will be restarted"))],
                 id="startup-failure-restarts"),
    pytest.param(STARTUP, ProbeSpec(), "Always",
                 [(FAILURE, Transition(STARTUP, "unknown", event=unhealthy("Startup"))),
                  (SUCCESS, Transition(STARTUP, SUCCESS, True, "started"))], id="startup-success"),
])
def test_probe_state_steps(kind: str, spec: ProbeSpec, policy: str, steps: list[Step]) -> None:
    state = ProbeState(kind, spec, "app", policy)
    state.reset("kyb://c1", 100)
    for i, (result, expected) in enumerate(steps):
        assert state.record(result, 100 + 10 * i, HTTP500) == expected, i


def test_restart_puts_the_probe_on_hold_until_the_next_container() -> None:
    state = ProbeState(LIVENESS, ProbeSpec(failure_threshold=1), "app")
    state.reset("kyb://c1", 100)
    assert state.record(FAILURE, 100).action == "restart"
    assert (state.due_at(), state.next_due(200), state.is_due(200)) == (None, None, False)
    state.reset("kyb://c2", 300)
    assert (state.result, state.due_at()) == (SUCCESS, 300)


@pytest.mark.parametrize("spec,probed_at,now,due_at,next_due,is_due", [
    pytest.param(ProbeSpec(initial_delay=5), None, 100, 105, 105, False, id="waits-initial-delay"),
    pytest.param(ProbeSpec(initial_delay=5), None, 105, 105, 105, True, id="initial-delay-over"),
    pytest.param(ProbeSpec(initial_delay=5), None, 150, 105, 150, True, id="overdue-is-now"),
    pytest.param(ProbeSpec(period=10), 100, 105, 110, 110, False, id="period-after-probe"),
    pytest.param(ProbeSpec(period=10), 100, 110, 110, 110, True, id="period-over"),
    pytest.param(ProbeSpec(initial_delay=30, period=10), 101, 115, 130, 130, False,
                 id="initial-delay-still-counts"),
])
def test_probe_timing(spec: ProbeSpec, probed_at: float | None, now: float, due_at: float, next_due: float,
                      is_due: bool) -> None:
    state = ProbeState(READINESS, spec, "app")
    state.reset("kyb://c1", 100)
    if probed_at is not None:
        state.record(SUCCESS, probed_at)
    assert (state.due_at(), state.next_due(now), state.is_due(now)) == (due_at, next_due, is_due)


def test_no_container_nothing_due_and_unknown_kinds() -> None:
    state = ProbeState(LIVENESS, ProbeSpec(), "app")
    assert (state.due_at(), state.is_due(1e9)) == (None, False)
    with pytest.raises(ValueError):
        ProbeState("sideways", ProbeSpec(), "app")
    state.reset("kyb://c1", 0)
    with pytest.raises(ValueError):
        state.record("maybe", 0)


PROBE: Obj = {"httpGet": {"path": "/healthz", "port": 8080}}


def probes(*kinds: str, **spec: Any) -> ContainerProbes:
    fields = {STARTUP: "startupProbe", LIVENESS: "livenessProbe", READINESS: "readinessProbe"}
    return ContainerProbes({"name": "app", **{fields[k]: {**PROBE, **spec} for k in kinds}})


@pytest.mark.parametrize("kinds,running,started,ready,due", [
    pytest.param((), False, False, False, [], id="no-probes-not-running"),
    pytest.param((), True, True, True, [], id="no-probes-running"),
    pytest.param((LIVENESS,), True, True, True, [LIVENESS], id="liveness-only-ready-at-once"),
    pytest.param((READINESS,), True, True, False, [READINESS], id="readiness-starts-unready"),
    pytest.param((STARTUP, LIVENESS, READINESS), True, False, False, [STARTUP], id="startup-gates-the-rest"),
    pytest.param((STARTUP, LIVENESS), False, False, False, [], id="not-running-no-probes"),
])
def test_container_probes_initial(kinds: tuple[str, ...], running: bool, started: bool, ready: bool,
                                  due: list[str]) -> None:
    cp = probes(*kinds)
    if running:
        cp.container_started("kyb://c1", 100)
    assert (cp.started, cp.ready, cp.due(100)) == (started, ready, due)


def test_startup_then_liveness_and_readiness() -> None:
    cp = probes(STARTUP, LIVENESS, READINESS, periodSeconds=5)
    cp.container_started("kyb://c1", 100)
    assert cp.next_due(90) == 100
    assert cp.record(STARTUP, SUCCESS, 100).action == "started"
    assert (cp.started, cp.ready) == (True, False)
    assert cp.due(100) == [LIVENESS, READINESS]  # first probes of both are due at the start
    assert cp.record(READINESS, SUCCESS, 100).action == "ready"
    cp.record(LIVENESS, SUCCESS, 100)
    assert (cp.ready, cp.due(104), cp.next_due(104), cp.due(105)) == (True, [], 105, [LIVENESS, READINESS])
    assert cp.due(105, deleting=True) == [READINESS]  # liveness stops while the pod is deleted
    assert cp.container_exited() == Transition(READINESS, FAILURE, True, "unready")
    assert (cp.started, cp.ready, cp.due(200), cp.next_due(200)) == (False, False, [], None)
    assert cp.container_exited() is None
    cp.container_started("kyb://c2", 300)
    assert (cp.started, cp.due(300)) == (False, [STARTUP])


def test_liveness_failure_restart_then_new_container() -> None:
    cp = probes(LIVENESS, failureThreshold=2)
    cp.container_started("kyb://c1", 0)
    assert cp.record(LIVENESS, FAILURE, 0, "timeout").action == ""
    got = cp.record(LIVENESS, FAILURE, 10, "timeout")
    assert (got.action, got.kill_message, got.event) == (
        "restart", "Container app failed liveness probe, will be restarted",
        Event("Warning", "Unhealthy", "Liveness probe failed: timeout"))
    assert (cp.due(100), cp.next_due(100)) == ([], None)
    cp.container_started("kyb://c2", 100)
    assert cp.due(100) == [LIVENESS]
