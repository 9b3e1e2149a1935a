"""Containers failing on a ``kyb up`` node, as the kubelet reports them (upstream's reasons, counts and events).

One cluster for the module; all the failing pods are created together at the start (namespace ``failures``)
and a `Timeline` records every pod's status four times a second, so each test waits only for its own pod and
can check states that come and go (``ErrImagePull`` before ``ImagePullBackOff``, the restart times of a crash
loop). The whole module takes about as long as the slowest pod: the crash loop's two back-offs (10 s, 20 s).

The client does not matter here (the kubelet decides everything), so kubectl runs once, the newest.

* a container's process killed (from inside with ``kill 1`` on a shell that traps TERM; from the host with
  SIGKILL) -> restarted, ``restartCount`` 1, ``lastState.terminated`` with the exit code (7; 137) and ``Error``;
* a failing liveness probe -> ``Unhealthy`` and ``Killing`` events, a restart;
* a failing readiness probe -> Running but Ready=False (until the probe passes);
* a memory hog over its 32Mi limit -> ``OOMKilled`` (exit code 137);
* an image the node does not have and cannot pull -> ``ErrImagePull``, then ``ImagePullBackOff``;
* a container that keeps exiting -> ``CrashLoopBackOff`` with back-offs of 10 s then 20 s, ``BackOff`` events.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.upcluster import Obj, Up, apply, condition, container_status, needs_runc, pod_spec, wait_for

pytestmark = [pytest.mark.kubectl, needs_runc]

NS = "failures"
BAD_IMAGE = "kyb-test.invalid/no-such-image:v1"


def failing_pods() -> list[Obj]:
    liveness = pod_spec("liveness", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600", grace=1,
                        livenessProbe={"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1,
                                       "failureThreshold": 1})
    unready = pod_spec("unready", "exec sleep 3600",
                       readinessProbe={"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1})
    oom = pod_spec("oom", "head -c 300m /dev/zero | tail", restart="Never",
                   resources={"limits": {"memory": "32Mi"}, "requests": {"memory": "32Mi"}})
    return [
        pod_spec("killed-inside", 'trap "exit 7" TERM; sleep 3600 & wait'),
        pod_spec("killed-host", "exec sleep 3600"),
        liveness,
        unready,
        oom,
        pod_spec("bad-image", "true", image=BAD_IMAGE),
        pod_spec("crashloop", "echo crashing; exit 3"),
    ]


class Timeline:
    """Every pod of a namespace, listed every 0.25 s by a thread: ``snapshots`` is [(monotonic time, {name: pod})]."""

    def __init__(self, up: Up, ns: str) -> None:
        self.up, self.ns = up, ns
        self.snapshots: list[tuple[float, dict[str, Obj]]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.stopping.is_set():
            try:
                pods = {p["metadata"]["name"]: p for p in self.up.pods(self.ns)}
                self.snapshots.append((time.monotonic(), pods))
            except OSError:
                pass
            self.stopping.wait(0.25)

    def history(self, name: str) -> list[tuple[float, Obj]]:
        return [(t, pods[name]) for t, pods in list(self.snapshots) if name in pods]

    def wait(self, name: str, check: Callable[[Obj], Any], what: str, timeout: float = 30) -> Obj:
        """The pod, once a snapshot of it satisfies ``check`` (snapshots from before the call count too)."""
        def seen() -> Obj | None:
            return next((p for _, p in self.history(name) if check(p)), None)
        found: Obj = wait_for(seen, f"{name}: {what}", timeout, 0.1)
        return found

    def latest(self, name: str) -> Obj:
        return self.history(name)[-1][1]


@pytest.fixture(scope="module")
def timeline(up: Up, kubectl_latest: Kubectl) -> Iterator[Timeline]:
    wait_for(up.node_ready, "the node to be Ready", 20)
    kubectl_latest.ok("create", "namespace", NS)
    apply(kubectl_latest, NS, *failing_pods())
    tl = Timeline(up, NS)
    tl.thread.start()
    try:
        yield tl
    finally:
        tl.stopping.set()
        tl.thread.join(10)


def events(up: Up, pod: str, reason: str) -> list[Obj]:
    return [e for e in up.events(NS) if e["involvedObject"].get("name") == pod and e.get("reason") == reason]


def kubectl_status(kubectl: Kubectl, pod: str) -> str:
    """The STATUS column of ``kubectl get pod`` (what a user sees)."""
    return kubectl.ok("get", "pod", pod, "-n", NS, "--no-headers").split()[2]


def running(st: Obj) -> bool:
    return "running" in (st.get("state") or {})


def restarted(pod: Obj, count: int = 1) -> bool:
    st = container_status(pod, "c")
    return st.get("restartCount", 0) >= count and running(st)


def check_restart(pod: Obj, exit_code: int) -> None:
    st = container_status(pod, "c")
    assert st["restartCount"] == 1, st
    last = st["lastState"]["terminated"]
    assert last["exitCode"] == exit_code and last["reason"] == "Error", st
    assert last["containerID"] != st["containerID"], "the restart is a new container"
    assert last["finishedAt"] <= st["state"]["running"]["startedAt"], st


def test_process_killed_inside_is_restarted(up: Up, timeline: Timeline, kubectl_latest: Kubectl) -> None:
    timeline.wait("killed-inside", lambda p: running(container_status(p, "c")), "running")
    # PID 1 of a PID namespace only gets signals it handles: the shell traps TERM and exits 7. The exec'd `kill`
    # may die with the namespace it brought down before it reports (exit 137), so its own exit code is no verdict.
    r = kubectl_latest("exec", "killed-inside", "-n", NS, "--", "kill", "1")
    assert r.rc in (0, 137), r
    pod = timeline.wait("killed-inside", restarted, "restarted after kill 1", 15)
    check_restart(pod, 7)


def test_process_killed_from_host_is_restarted(up: Up, timeline: Timeline) -> None:
    pod = timeline.wait("killed-host", lambda p: running(container_status(p, "c")), "running")
    cid = container_status(pod, "c")["containerID"].split("://", 1)[1]
    pid = next(c["pid"] for c in up.runc_containers() if c["id"] == cid)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep", "runc's PID is the container's process"
    os.kill(pid, signal.SIGKILL)
    pod = timeline.wait("killed-host", restarted, "restarted after SIGKILL", 15)
    check_restart(pod, 137)


def test_failing_liveness_probe_restarts(up: Up, timeline: Timeline) -> None:
    timeline.wait("liveness", restarted, "restarted by its liveness probe", 20)
    unhealthy = wait_for(lambda: events(up, "liveness", "Unhealthy"), "an Unhealthy event")
    assert unhealthy[0]["type"] == "Warning"
    assert unhealthy[0]["message"].startswith("Liveness probe failed: "), unhealthy[0]
    killing = [e["message"] for e in events(up, "liveness", "Killing")]
    assert "Container c failed liveness probe, will be restarted" in killing, killing
    st = container_status(timeline.latest("liveness"), "c")
    assert st["lastState"]["terminated"]["reason"] == "Error", st


def test_failing_readiness_probe_keeps_pod_unready(up: Up, timeline: Timeline, kubectl_latest: Kubectl) -> None:
    def unready(p: Obj) -> bool:
        st = container_status(p, "c")
        return running(st) and st.get("ready") is False and condition(p, "Ready") == "False"
    first = timeline.wait("unready", unready, "Running and not Ready")
    assert first["status"]["phase"] == "Running" and condition(first, "ContainersReady") == "False"
    ready = next(c for c in first["status"]["conditions"] if c["type"] == "Ready")
    assert ready.get("reason") == "ContainersNotReady", ready
    unhealthy = wait_for(lambda: events(up, "unready", "Unhealthy"), "an Unhealthy event")
    assert unhealthy[0]["message"].startswith("Readiness probe failed: "), unhealthy[0]
    time.sleep(2)  # still not Ready, and a failing readiness probe restarts nothing
    pod = timeline.latest("unready")
    assert unready(pod) and container_status(pod, "c")["restartCount"] == 0, pod["status"]
    kubectl_latest.ok("exec", "unready", "-n", NS, "--", "touch", "/tmp/ready")
    timeline.wait("unready", lambda p: condition(p, "Ready") == "True", "Ready once the probe passes", 10)


def test_memory_hog_is_oom_killed(up: Up, timeline: Timeline, kubectl_latest: Kubectl) -> None:
    pod = timeline.wait("oom", lambda p: "terminated" in (container_status(p, "c").get("state") or {}),
                        "the memory hog to end", 30)
    term = container_status(pod, "c")["state"]["terminated"]
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137, term
    timeline.wait("oom", lambda p: p["status"].get("phase") == "Failed", "phase Failed", 10)
    assert kubectl_status(kubectl_latest, "oom") == "OOMKilled"


def test_missing_image_backs_off(up: Up, timeline: Timeline, kubectl_latest: Kubectl) -> None:
    def waiting(reason: str) -> Callable[[Obj], bool]:
        return lambda p: (container_status(p, "c").get("state") or {}).get("waiting", {}).get("reason") == reason
    pulling = timeline.wait("bad-image", waiting("ErrImagePull"), "ErrImagePull")
    assert pulling["status"]["phase"] == "Pending"
    backoff = timeline.wait("bad-image", waiting("ImagePullBackOff"), "ImagePullBackOff", 25)
    assert backoff["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == (
        f'Back-off pulling image "{BAD_IMAGE}"')
    messages = [e["message"] for e in events(up, "bad-image", "BackOff")]
    assert f'Back-off pulling image "{BAD_IMAGE}"' in messages, messages
    failed = [e["message"] for e in events(up, "bad-image", "Failed")]
    assert any(m.startswith(f'Failed to pull image "{BAD_IMAGE}"') for m in failed), failed
    assert "Error: ErrImagePull" in failed and "Error: ImagePullBackOff" in failed, failed
    wait_for(lambda: kubectl_status(kubectl_latest, "bad-image") == "ImagePullBackOff", "kubectl to say so", 10)


def test_crash_loop_backs_off_10s_then_20s(up: Up, timeline: Timeline, kubectl_latest: Kubectl) -> None:
    timeline.wait("crashloop", lambda p: container_status(p, "c").get("restartCount", 0) >= 3,
                  "the third restart", 60)
    # When restartCount went up: the first restart is at once, then 10 s and 20 s after the exits.
    changes: dict[int, float] = {}
    for t, p in timeline.history("crashloop"):
        changes.setdefault(container_status(p, "c").get("restartCount", 0), t)
    first, second = changes[2] - changes[1], changes[3] - changes[2]
    assert 9.5 <= first <= 16 and 19.5 <= second <= 30 and second > first, (first, second)
    pod = timeline.latest("crashloop")
    uid = pod["metadata"]["uid"]
    waits = {(container_status(p, "c").get("state") or {}).get("waiting", {}).get("message")
             for _, p in timeline.history("crashloop")
             if (container_status(p, "c").get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"}
    for delay in ("10s", "20s"):
        assert f"back-off {delay} restarting failed container=c pod=crashloop_{NS}({uid})" in waits, waits
    st = container_status(pod, "c")
    assert st["lastState"]["terminated"]["exitCode"] == 3 and st["lastState"]["terminated"]["reason"] == "Error"
    backoff = events(up, "crashloop", "BackOff")
    assert backoff and backoff[0]["message"] == f"Back-off restarting failed container c in pod crashloop_{NS}({uid})"
    assert backoff[0]["type"] == "Warning"
    wait_for(lambda: kubectl_status(kubectl_latest, "crashloop") == "CrashLoopBackOff", "kubectl to say so", 10)
