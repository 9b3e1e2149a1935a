"""The pod status the kubelet computes: container states, phase by restart policy and init containers, the five
kubelet conditions with upstream reasons and messages, transition times, IPs, start time and QoS class."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.kubelet.podstatus import (
    ContainerSnapshot,
    PodObservation,
    Terminated,
    container_statuses,
    pod_conditions,
    pod_phase,
    pod_status,
    qos_class,
    rfc3339,
)
from kybernetes.runtime.api import ContainerState, ContainerStatus

Obj = dict[str, Any]
T0 = 1704164645.0  # 2024-01-02T03:04:05Z
S0 = "2024-01-02T03:04:05Z"
RUNNING, EXITED, CREATED, UNKNOWN = (ContainerState.RUNNING, ContainerState.EXITED, ContainerState.CREATED,
                                     ContainerState.UNKNOWN)


def at(seconds: int) -> str:
    return rfc3339(T0 + seconds) or ""


def make_pod(containers: list[str] = ["a"], inits: list[str] = [], sidecars: list[str] = [],  # noqa: B006
             policy: str = "Always", status: Obj | None = None, **spec: Any) -> Obj:
    init = [{"name": n, "image": f"img-{n}"} for n in inits]
    init += [{"name": n, "image": f"img-{n}", "restartPolicy": "Always"} for n in sidecars]
    return {"metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": policy, "initContainers": init,
                     "containers": [{"name": n, "image": f"img-{n}"} for n in containers], **spec},
            "status": status or {}}


def run(name: str, **kw: Any) -> ContainerSnapshot:
    base: Obj = dict(state=RUNNING, started_at=T0, container_id=f"kyb://{name}1", image_id=f"sha256:{name}",
                     ready=True)
    return ContainerSnapshot(name, **{**base, **kw})


def done(name: str, code: int = 0, **kw: Any) -> ContainerSnapshot:
    base: Obj = dict(state=EXITED, exit_code=code, reason="Completed" if code == 0 else "Error", started_at=T0,
                     finished_at=T0 + 10, container_id=f"kyb://{name}1", image_id=f"sha256:{name}")
    return ContainerSnapshot(name, **{**base, **kw})


# -- phase on wire statuses --------------------------------------------------------------------------------


def w_run(name: str, started: bool = True) -> Obj:
    return {"name": name, "state": {"running": {}}, "lastState": {}, "started": started}


def w_term(name: str, code: int = 0) -> Obj:
    return {"name": name, "state": {"terminated": {"exitCode": code}}, "lastState": {}}


def w_wait(name: str, last_code: int | None = None) -> Obj:
    last = {} if last_code is None else {"terminated": {"exitCode": last_code}}
    return {"name": name, "state": {"waiting": {"reason": "X"}}, "lastState": last}


def w_empty(name: str) -> Obj:
    return {"name": name, "state": {}, "lastState": {}}


@pytest.mark.parametrize("pod,statuses,terminal,expected", [
    pytest.param(make_pod(["a"]), [], False, "Pending", id="no-statuses"),
    pytest.param(make_pod(["a", "b"]), [w_run("a"), w_run("b")], False, "Running", id="all-running"),
    pytest.param(make_pod(["a", "b"]), [w_run("a"), w_wait("b")], False, "Pending", id="one-waiting"),
    pytest.param(make_pod(["a", "b"]), [w_run("a")], False, "Pending", id="one-unknown"),
    pytest.param(make_pod(["a"]), [w_empty("a")], False, "Pending", id="empty-state"),
    pytest.param(make_pod(["a"]), [w_term("a", 0)], False, "Running", id="always-succeeded-restarts"),
    pytest.param(make_pod(["a"]), [w_term("a", 1)], False, "Running", id="always-failed-restarts"),
    pytest.param(make_pod(["a"]), [w_wait("a", 1)], False, "Running", id="always-crashloop-is-running"),
    pytest.param(make_pod(["a", "b"], policy="OnFailure"), [w_term("a"), w_term("b")], False, "Succeeded",
                 id="onfailure-all-succeeded"),
    pytest.param(make_pod(["a", "b"], policy="OnFailure"), [w_term("a"), w_term("b", 2)], False, "Running",
                 id="onfailure-one-failed-restarts"),
    pytest.param(make_pod(["a", "b"], policy="Never"), [w_term("a"), w_term("b", 2)], False, "Failed",
                 id="never-one-failed"),
    pytest.param(make_pod(["a"], policy="Never"), [w_term("a")], False, "Succeeded", id="never-succeeded"),
    pytest.param(make_pod(["a", "b"], policy="Never"), [w_term("a", 1), w_run("b")], False, "Running",
                 id="never-one-still-running"),
    pytest.param(make_pod(["a"]), [w_term("a", 0)], True, "Succeeded", id="terminal-succeeded"),
    pytest.param(make_pod(["a", "b"]), [w_term("a", 0), w_term("b", 137)], True, "Failed", id="terminal-failed"),
    pytest.param(make_pod(["a"]), [w_wait("a", 0)], True, "Failed", id="terminal-restarting-is-not-a-success"),
    pytest.param(make_pod(["a"], inits=["i"]), [w_wait("a")], False, "Pending", id="init-unknown"),
    pytest.param(make_pod(["a"], inits=["i"]), [w_run("i"), w_wait("a")], False, "Pending", id="init-running"),
    pytest.param(make_pod(["a"], inits=["i"], policy="Never"), [w_term("i", 1), w_wait("a")], False, "Failed",
                 id="init-failed-never"),
    pytest.param(make_pod(["a"], inits=["i"]), [w_wait("i", 1), w_wait("a")], False, "Pending",
                 id="init-crashloop-always"),
    pytest.param(make_pod(["a"], inits=["i"], policy="Never"), [w_wait("i", 1), w_wait("a")], False, "Failed",
                 id="init-failed-waiting-never"),
    pytest.param(make_pod(["a"], inits=["i", "j"]), [w_term("i"), w_run("j"), w_wait("a")], False, "Pending",
                 id="second-init-running"),
    pytest.param(make_pod(["a"], inits=["i"]), [w_term("i"), w_run("a")], False, "Running", id="init-done"),
    pytest.param(make_pod(["a"], sidecars=["s"]), [w_run("s"), w_run("a")], False, "Running",
                 id="sidecar-started"),
    pytest.param(make_pod(["a"], sidecars=["s"]), [w_run("s", started=False), w_wait("a")], False, "Pending",
                 id="sidecar-not-started"),
    pytest.param(make_pod(["a"], sidecars=["s"]), [w_run("s", started=False), w_term("a", 1)], False, "Running",
                 id="sidecar-restarting-after-init"),
    pytest.param(make_pod(["a"], sidecars=["s"]), [w_wait("s"), w_wait("a")], False, "Pending",
                 id="sidecar-waiting"),
    pytest.param(make_pod(["a"], sidecars=["s"], policy="OnFailure"), [w_term("s", 137), w_term("a")], False,
                 "Succeeded", id="terminated-sidecar-ignored"),
    pytest.param(make_pod(["a"], sidecars=["s"], policy="Never"), [w_run("s"), w_term("a")], False, "Running",
                 id="sidecar-outlives-main"),
    pytest.param(make_pod(["a"], sidecars=["s"]), [w_run("a")], False, "Pending", id="sidecar-unknown"),
])
def test_pod_phase(pod: Obj, statuses: list[Obj], terminal: bool, expected: str) -> None:
    assert pod_phase(pod, statuses, terminal=terminal) == expected


# -- container statuses ------------------------------------------------------------------------------------


def one(pod: Obj, *snaps: ContainerSnapshot, init: bool = False) -> Obj:
    return container_statuses(pod, PodObservation(containers=snaps), init=init)[0]


WAIT_CREATING = {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}, "ready": False,
                 "restartCount": 0, "image": "img-a", "imageID": "", "started": False}
TERM_A = {"exitCode": 1, "reason": "Error", "startedAt": S0, "finishedAt": at(10), "containerID": "kyb://a1"}


@pytest.mark.parametrize("pod,snaps,expected", [
    pytest.param(make_pod(), [], WAIT_CREATING, id="nothing-yet"),
    pytest.param(make_pod(inits=["i"]), [], {**WAIT_CREATING, "state": {"waiting": {"reason": "PodInitializing"}}},
                 id="waiting-for-init"),
    pytest.param(make_pod(), [run("a", restart_count=2, image="docker.io/library/img-a:latest")],
                 {"name": "a", "state": {"running": {"startedAt": S0}}, "lastState": {}, "ready": True,
                  "restartCount": 2, "image": "docker.io/library/img-a:latest", "imageID": "sha256:a",
                  "containerID": "kyb://a1", "started": True}, id="running-ready"),
    pytest.param(make_pod(), [run("a", ready=False)],
                 {"name": "a", "state": {"running": {"startedAt": S0}}, "lastState": {}, "ready": False,
                  "restartCount": 0, "image": "img-a", "imageID": "sha256:a", "containerID": "kyb://a1",
                  "started": True}, id="running-not-ready"),
    pytest.param(make_pod(), [run("a", started=False)],
                 {"name": "a", "state": {"running": {"startedAt": S0}}, "lastState": {}, "ready": False,
                  "restartCount": 0, "image": "img-a", "imageID": "sha256:a", "containerID": "kyb://a1",
                  "started": False}, id="startup-probe-pending"),
    pytest.param(make_pod(), [done("a", 1, message="boom")],
                 {"name": "a", "state": {"terminated": {**TERM_A, "message": "boom"}}, "lastState": {},
                  "ready": False, "restartCount": 0, "image": "img-a", "imageID": "sha256:a",
                  "containerID": "kyb://a1", "started": False}, id="exited"),
    pytest.param(make_pod(), [ContainerSnapshot("a", state=CREATED, container_id="kyb://a1")],
                 {"name": "a", "state": {"waiting": {}}, "lastState": {}, "ready": False, "restartCount": 0,
                  "image": "img-a", "imageID": "", "containerID": "kyb://a1", "started": False}, id="created"),
    pytest.param(make_pod(), [done("a", 1, restart_count=3, waiting_reason="CrashLoopBackOff",
                                   waiting_message="back-off 40s restarting failed container=a pod=web_default(u1)")],
                 {"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": (
                     "back-off 40s restarting failed container=a pod=web_default(u1)")}},
                  "lastState": {"terminated": TERM_A}, "ready": False, "restartCount": 3, "image": "img-a",
                  "imageID": "sha256:a", "containerID": "kyb://a1", "started": False}, id="crash-loop"),
    pytest.param(make_pod(), [ContainerSnapshot("a", waiting_reason="ErrImagePull", waiting_message="not found")],
                 {**WAIT_CREATING, "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}},
                 id="pull-error-before-any-container"),
    pytest.param(make_pod(), [ContainerSnapshot("a", waiting_reason="CreateContainerConfigError",
                                                waiting_message='configmap "cfg" not found')],
                 {**WAIT_CREATING, "state": {"waiting": {"reason": "CreateContainerConfigError",
                                                         "message": 'configmap "cfg" not found'}}},
                 id="config-error"),
    pytest.param(make_pod(), [run("a", restart_count=1, last_terminated=Terminated(2, "Error", "", T0 - 5, T0 - 1,
                                                                                      "kyb://a0"))],
                 {"name": "a", "state": {"running": {"startedAt": S0}}, "lastState": {"terminated": {
                     "exitCode": 2, "reason": "Error", "startedAt": at(-5), "finishedAt": at(-1),
                     "containerID": "kyb://a0"}}, "ready": True, "restartCount": 1, "image": "img-a",
                  "imageID": "sha256:a", "containerID": "kyb://a1", "started": True}, id="running-after-a-crash"),
    pytest.param(make_pod(), [run("a", waiting_reason="CrashLoopBackOff")],
                 {"name": "a", "state": {"running": {"startedAt": S0}}, "lastState": {}, "ready": True,
                  "restartCount": 0, "image": "img-a", "imageID": "sha256:a", "containerID": "kyb://a1",
                  "started": True}, id="waiting-reason-ignored-while-running"),
])
def test_container_status(pod: Obj, snaps: list[ContainerSnapshot], expected: Obj) -> None:
    assert one(pod, *snaps) == expected


OLD_RUNNING = {"name": "a", "state": {"running": {"startedAt": S0}}, "lastState": {}, "ready": True,
               "restartCount": 4, "image": "img-a", "imageID": "sha256:a", "containerID": "kyb://a1", "started": True}
VANISHED = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown", "message": (
    "The container could not be located when the pod was deleted.  The container used to be Running"),
    "startedAt": None, "finishedAt": None}}


@pytest.mark.parametrize("old,snaps,deleting,expected", [
    pytest.param({**OLD_RUNNING, "state": {"terminated": TERM_A}}, [], False,
                 {**OLD_RUNNING, "state": {"terminated": TERM_A}}, id="old-terminated-kept"),
    pytest.param(OLD_RUNNING, [], False, {**WAIT_CREATING, "lastState": VANISHED, "restartCount": 5},
                 id="vanished-counts-a-restart"),
    pytest.param(OLD_RUNNING, [], True, {**WAIT_CREATING, "lastState": VANISHED, "restartCount": 4},
                 id="vanished-while-deleting"),
    pytest.param({**OLD_RUNNING, "state": {"waiting": {}}, "lastState": {"terminated": TERM_A}}, [], False,
                 {**WAIT_CREATING, "lastState": {"terminated": TERM_A}, "restartCount": 4}, id="old-counters-kept"),
    pytest.param(OLD_RUNNING, [ContainerSnapshot("a", state=UNKNOWN, container_id="kyb://a1")], False,
                 {**OLD_RUNNING, "state": {"terminated": {
                     "exitCode": 137, "reason": "ContainerStatusUnknown",
                     "message": "The container could not be located when the pod was terminated",
                     "startedAt": None, "finishedAt": None}}, "ready": False, "restartCount": 5, "imageID": "",
                  "started": False}, id="unknown-after-running"),
    pytest.param(None, [ContainerSnapshot("a", state=UNKNOWN)], False,
                 {**WAIT_CREATING, "state": {"waiting": {}}}, id="unknown-is-waiting"),
])
def test_container_status_with_previous(old: Obj | None, snaps: list[ContainerSnapshot], deleting: bool,
                                        expected: Obj) -> None:
    pod = make_pod(status={"containerStatuses": [old]} if old else {})
    if deleting:
        pod["metadata"]["deletionTimestamp"] = S0
    assert one(pod, *snaps) == expected


@pytest.mark.parametrize("pod,snap,ready,started,state", [
    pytest.param(make_pod(inits=["a"]), done("a", 0), True, False, "terminated", id="init-completed-is-ready"),
    pytest.param(make_pod(inits=["a"]), done("a", 0, waiting_reason="CrashLoopBackOff"), True, False, "terminated",
                 id="init-completed-never-waits"),
    pytest.param(make_pod(inits=["a"]), done("a", 1, waiting_reason="CrashLoopBackOff"), False, False, "waiting",
                 id="init-failed-backs-off"),
    pytest.param(make_pod(inits=["a"]), run("a"), False, True, "running", id="init-running-not-ready"),
    pytest.param(make_pod(sidecars=["a"]), run("a"), True, True, "running", id="sidecar-ready"),
    pytest.param(make_pod(sidecars=["a"]), run("a", ready=False), False, True, "running", id="sidecar-unready"),
])
def test_init_container_readiness(pod: Obj, snap: ContainerSnapshot, ready: bool, started: bool, state: str) -> None:
    got = one(pod, snap, init=True)
    assert (got["ready"], got["started"], list(got["state"])) == (ready, started, [state])


def test_regular_statuses_sorted_by_name_init_in_spec_order() -> None:
    pod = make_pod(["c", "a", "b"], inits=["z", "y"])
    obs = PodObservation()
    assert [s["name"] for s in container_statuses(pod, obs, init=False)] == ["a", "b", "c"]
    assert [s["name"] for s in container_statuses(pod, obs, init=True)] == ["z", "y"]


def test_snapshot_from_runtime() -> None:
    rt = ContainerStatus(id="abc", sandbox_id="s", name="a", attempt=2, state=EXITED, created_at=T0 - 1,
                         started_at=T0, finished_at=T0 + 10, exit_code=1, reason="Error", image="img-a",
                         image_id="sha256:a")
    snap = ContainerSnapshot.from_runtime(rt, waiting_reason="CrashLoopBackOff")
    assert snap == done("a", 1, restart_count=2, image="img-a", container_id="kyb://abc",
                        waiting_reason="CrashLoopBackOff")


# -- conditions --------------------------------------------------------------------------------------------


def conds(pod: Obj, obs: PodObservation, now: float = T0) -> dict[str, tuple[str, str, str]]:
    status = pod_status(pod, obs, now)
    return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", "")) for c in status["conditions"]}


TRUE = ("True", "", "")


@pytest.mark.parametrize("pod,snaps,expected", [
    pytest.param(make_pod(["a", "b"]), [run("a"), run("b")],
                 {"PodReadyToStartContainers": TRUE, "Initialized": TRUE, "Ready": TRUE, "ContainersReady": TRUE,
                  "PodScheduled": TRUE}, id="all-ready"),
    pytest.param(make_pod(["a", "b"]), [run("a"), run("b", ready=False)],
                 {"Ready": ("False", "ContainersNotReady", "containers with unready status: [b]"),
                  "ContainersReady": ("False", "ContainersNotReady", "containers with unready status: [b]")},
                 id="one-unready"),
    pytest.param(make_pod(["a", "b", "c"]), [run("a", ready=False), run("c", started=False)],
                 {"ContainersReady": ("False", "ContainersNotReady", "containers with unready status: [a b c]")},
                 id="several-unready"),
    pytest.param(make_pod(["a"], policy="Never"), [done("a")],
                 {"Initialized": ("True", "PodCompleted", ""), "Ready": ("False", "PodCompleted", ""),
                  "ContainersReady": ("False", "PodCompleted", "")}, id="succeeded"),
    pytest.param(make_pod(["a"], policy="Never"), [done("a", 1)],
                 {"Initialized": TRUE, "Ready": ("False", "PodFailed", ""),
                  "ContainersReady": ("False", "PodFailed", "")}, id="failed"),
    pytest.param(make_pod(["a"], inits=["i", "j"]), [done("i"), run("j")],
                 {"Initialized": ("False", "ContainersNotInitialized", "containers with incomplete status: [j]"),
                  "Ready": ("False", "ContainersNotReady", "containers with unready status: [a]")},
                 id="init-in-progress"),
    pytest.param(make_pod(["a"], sidecars=["s"]), [run("s", started=False)],
                 {"Initialized": ("False", "ContainersNotInitialized", "containers with incomplete status: [s]"),
                  "ContainersReady": ("False", "ContainersNotReady", "containers with unready status: [s a]")},
                 id="sidecar-not-started"),
    pytest.param(make_pod(["a"], inits=["i"]), [done("i"), run("a")], {"Initialized": TRUE, "Ready": TRUE},
                 id="init-done"),
    pytest.param(make_pod(["a"], readinessGates=[{"conditionType": "example.com/lb"}]), [run("a")],
                 {"Ready": ("False", "ReadinessGatesNotReady",
                            'corresponding condition of pod readiness gate "example.com/lb" does not exist.'),
                  "ContainersReady": TRUE}, id="gate-missing"),
    pytest.param(make_pod(["a"], readinessGates=[{"conditionType": "example.com/lb"}],
                          status={"conditions": [{"type": "example.com/lb", "status": "False"}]}), [run("a")],
                 {"Ready": ("False", "ReadinessGatesNotReady",
                            'the status of pod readiness gate "example.com/lb" is not "True", but False'),
                  "example.com/lb": ("False", "", "")}, id="gate-false"),
    pytest.param(make_pod(["a"], readinessGates=[{"conditionType": "example.com/lb"}],
                          status={"conditions": [{"type": "example.com/lb", "status": "True"}]}), [run("a")],
                 {"Ready": TRUE}, id="gate-true"),
])
def test_conditions(pod: Obj, snaps: list[ContainerSnapshot], expected: dict[str, tuple[str, str, str]]) -> None:
    got = conds(pod, PodObservation(containers=snaps, sandbox_ready=True))
    assert {k: got[k] for k in expected} == expected


def test_unknown_containers_are_named_before_unready_ones() -> None:
    pod = make_pod(["a", "b", "c"], inits=["i"])
    statuses = [w_run("b") | {"ready": False}, w_term("i") | {"ready": True}]
    got = {c["type"]: c.get("message") for c in pod_conditions(pod, statuses, "Running", sandbox_ready=True, now=T0)}
    assert got["ContainersReady"] == "containers with unknown status: [a c], containers with unready status: [b]"
    assert got["Initialized"] is None  # b started: the pod initialized
    statuses = [w_wait("b") | {"ready": False}]
    got = {c["type"]: c.get("message") for c in pod_conditions(pod, statuses, "Pending", sandbox_ready=True, now=T0)}
    assert got["Initialized"] == "containers with unknown status: [i]"


def test_condition_order_transition_times_and_foreign_conditions() -> None:
    foreign = {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
    old = [foreign, {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
           {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2019-01-01T00:00:00Z"},
           {"type": "ContainersReady", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z"}]
    pod = make_pod(["a"], status={"conditions": old})
    got = pod_status(pod, PodObservation(containers=[run("a")], sandbox_ready=False), T0 + 60)["conditions"]
    assert [c["type"] for c in got] == ["DisruptionTarget", "PodReadyToStartContainers", "Initialized", "Ready",
                                        "ContainersReady", "PodScheduled"]
    assert got[0] == foreign
    times = {c["type"]: c["lastTransitionTime"] for c in got[1:]}
    assert times == {"PodReadyToStartContainers": at(60), "Initialized": at(60), "Ready": "2020-01-01T00:00:00Z",
                     "ContainersReady": at(60), "PodScheduled": "2019-01-01T00:00:00Z"}
    assert got[1] == {"type": "PodReadyToStartContainers", "status": "False", "lastProbeTime": None,
                      "lastTransitionTime": at(60)}


# -- QoS ---------------------------------------------------------------------------------------------------


def res(requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    return {"resources": {**({"requests": requests} if requests else {}), **({"limits": limits} if limits else {})}}


FULL = res({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})


@pytest.mark.parametrize("containers,inits,expected", [
    pytest.param([{}], [], "BestEffort", id="nothing-set"),
    pytest.param([res({"cpu": "100m"})], [], "Burstable", id="request-only"),
    pytest.param([FULL], [], "Guaranteed", id="requests-equal-limits"),
    pytest.param([res(None, {"cpu": "1", "memory": "1Gi"})], [], "Guaranteed", id="limits-only-default-requests"),
    pytest.param([res(None, {"cpu": "1"})], [], "Burstable", id="cpu-limit-only"),
    pytest.param([res({"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], [], "Burstable",
                 id="request-below-limit"),
    pytest.param([FULL, FULL], [], "Guaranteed", id="two-guaranteed"),
    pytest.param([FULL, {}], [], "Burstable", id="guaranteed-and-besteffort"),
    pytest.param([FULL], [{}], "Burstable", id="besteffort-init-container"),
    pytest.param([FULL], [FULL], "Guaranteed", id="guaranteed-init-container"),
    pytest.param([res({"cpu": "0", "memory": "0"})], [], "BestEffort", id="zero-requests"),
    pytest.param([res({"cpu": "1000m", "memory": "1024Mi"}, {"cpu": "1", "memory": "1Gi"})], [], "Guaranteed",
                 id="same-amount-other-units"),
    pytest.param([res({"ephemeral-storage": "1Gi"}, {"ephemeral-storage": "1Gi"})], [], "BestEffort",
                 id="storage-does-not-count"),
    pytest.param([res({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"})], [],
                 "Guaranteed", id="extended-resources-ignored"),
])
def test_qos_class(containers: list[Obj], inits: list[Obj], expected: str) -> None:
    spec = {"containers": [{"name": f"c{i}", **c} for i, c in enumerate(containers)],
            "initContainers": [{"name": f"i{i}", **c} for i, c in enumerate(inits)]}
    assert qos_class(spec) == expected


# -- the whole status --------------------------------------------------------------------------------------


def test_full_status_of_a_running_pod() -> None:
    pod = make_pod(["a"], status={"phase": "Pending", "qosClass": "BestEffort",
                                  "conditions": [{"type": "PodScheduled", "status": "True",
                                                  "lastTransitionTime": at(-10)}]})
    obs = PodObservation(containers=[run("a")], pod_ips=["10.244.0.5"], host_ips=["172.18.0.2"], sandbox_ready=True)
    got = pod_status(pod, obs, T0 + 1)
    assert list(got) == ["phase", "conditions", "hostIP", "hostIPs", "podIP", "podIPs", "startTime",
                         "containerStatuses", "qosClass"]
    assert (got["phase"], got["hostIP"], got["hostIPs"], got["podIP"], got["podIPs"], got["startTime"],
            got["qosClass"]) == ("Running", "172.18.0.2", [{"ip": "172.18.0.2"}], "10.244.0.5",
                                 [{"ip": "10.244.0.5"}], at(1), "BestEffort")
    assert got["conditions"][-1] == {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                     "lastTransitionTime": at(-10)}


@pytest.mark.parametrize("old,obs,spec,expected", [
    pytest.param({"startTime": "2023-01-01T00:00:00Z"}, PodObservation(), {}, {"startTime": "2023-01-01T00:00:00Z"},
                 id="start-time-kept"),
    pytest.param({}, PodObservation(), {}, {"startTime": S0}, id="start-time-set"),
    pytest.param({"podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}]}, PodObservation(), {},
                 {"podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}]}, id="pod-ips-kept-when-sandbox-gone"),
    pytest.param({}, PodObservation(host_ips=["172.18.0.2"]), {"hostNetwork": True},
                 {"podIP": "172.18.0.2", "podIPs": [{"ip": "172.18.0.2"}]}, id="host-network-uses-host-ip"),
    pytest.param({}, PodObservation(pod_ips=["10.0.0.1", "fd00::1"]), {},
                 {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}, id="dual-stack"),
    pytest.param({"phase": "Succeeded"}, PodObservation(containers=[run("a")]), {}, {"phase": "Succeeded"},
                 id="terminal-phase-never-changes"),
    pytest.param({"phase": "Running", "reason": "Foo", "message": "bar"}, PodObservation(containers=[run("a")]), {},
                 {"phase": "Running", "reason": "Foo", "message": "bar"}, id="reason-kept-with-phase"),
    pytest.param({"phase": "Pending", "reason": "Foo"}, PodObservation(containers=[run("a")]), {},
                 {"phase": "Running", "reason": None}, id="reason-dropped-with-phase-change"),
    pytest.param({}, PodObservation(containers=[done("a", 0)], terminal=True), {}, {"phase": "Succeeded"},
                 id="terminal-observation"),
    pytest.param({}, PodObservation(), {"initContainers": [{"name": "i", **FULL}]}, {"qosClass": "Burstable"},
                 id="qos-computed-when-absent"),
    pytest.param({"qosClass": "Guaranteed"}, PodObservation(), {}, {"qosClass": "Guaranteed"}, id="qos-kept"),
])
def test_status_fields(old: Obj, obs: PodObservation, spec: Obj, expected: Obj) -> None:
    pod = make_pod(["a"], status=old, **spec)
    got = pod_status(pod, obs, T0)
    assert {k: got.get(k) for k in expected} == expected


def test_init_container_statuses_only_with_init_containers() -> None:
    assert "initContainerStatuses" not in pod_status(make_pod(["a"]), PodObservation(), T0)
    got = pod_status(make_pod(["a"], inits=["i"]), PodObservation(containers=[run("i")]), T0)
    assert [s["name"] for s in got["initContainerStatuses"]] == ["i"]
    assert got["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


@pytest.mark.parametrize("t,expected", [
    pytest.param(T0, S0, id="whole-second"),
    pytest.param(T0 + 0.999, S0, id="fraction-dropped"),
    pytest.param(0, None, id="zero-is-null"),
])
def test_rfc3339(t: float, expected: str | None) -> None:
    assert rfc3339(t) == expected
