"""Workloads on a ``kyb up`` node with the real kubectl: built images, logs, port-forward, a zero-downtime rollout.

One cluster for the module (`conftest.up`). Each scenario has its own namespace; those where the client matters
(exec, logs streaming, port-forward) run with kubectl 1.27 and 1.33.

* An image built with ``kyb build`` into the cluster's data dir is used by the node at once (no load step):
  a 3-replica deployment with ``imagePullPolicy: Never`` gets 3 Ready pods, each with its own IP, each answering
  from the node and from the other pods.
* ``kubectl logs -f`` follows a running container; ``kubectl logs --previous`` reads the attempt before a
  restart (and is refused with upstream's message when there is none); ``kubectl port-forward`` reaches a pod
  over loopback.
* A rolling update with ``maxUnavailable: 0`` and an httpGet readiness probe, under a client that routes, as a
  load balancer following readiness would, to the pods currently Ready and not terminating: no request fails.
"""

from __future__ import annotations

import itertools
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.upcluster import (
    Obj,
    Up,
    apply,
    container_status,
    free_port,
    http_get,
    is_ready,
    namespace,
    needs_runc,
    pod_spec,
    wait_for,
)

pytestmark = [pytest.mark.kubectl, needs_runc]

DOCKERFILE = """\
FROM busybox
COPY index.html /www/index.html
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
"""


@pytest.fixture(scope="module")
def web_images(up: Up, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``web:v1`` and ``web:v2`` built by ``kyb build`` straight into the node's image store; tag -> index.html."""
    pages = {}
    for version in ("v1", "v2"):
        ctx = tmp_path_factory.mktemp(f"web-{version}")
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        pages[f"web:{version}"] = f"web {version}\n"
        (ctx / "index.html").write_text(pages[f"web:{version}"])
        up.kyb("build", "-q", "-t", f"web:{version}", str(ctx))
    return pages


def deployment(name: str, image: str, replicas: int, **pod: Any) -> Obj:
    container = {"name": "web", "image": image, "imagePullPolicy": "Never", **pod.pop("container", {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     **pod.pop("deployment", {}),
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 5, **pod, "containers": [container]}}}}


def ready_pods(up: Up, ns: str, selector: str, count: int) -> list[Obj] | None:
    pods = [p for p in up.pods(ns, selector) if is_ready(p)]
    return pods if len(pods) == count else None


# -- 1. an image built with kyb build, three replicas, pod to pod -----------------------------------------------


def test_built_image_replicas_answer_node_and_pods(kubectl: Kubectl, up: Up, web_images: dict[str, str]) -> None:
    ns = namespace(kubectl, "build")
    apply(kubectl, ns, deployment("web", "web:v1", 3))
    pods = wait_for(lambda: ready_pods(up, ns, "app=web", 3), "3 web pods Running and Ready", 30)
    for p in pods:
        assert p["status"]["phase"] == "Running"
        st = container_status(p, "web")
        assert st["ready"] is True and st["restartCount"] == 0 and "running" in st["state"], st
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == 3, ips
    assert all(ip.startswith(up.cidr.rsplit(".", 1)[0] + ".") for ip in ips), (ips, up.cidr)
    for ip in ips:  # from the node: the pod IPs are on this test's bridge
        assert http_get(f"http://{ip}/") == web_images["web:v1"]
    for i, p in enumerate(pods):  # from another pod, over the bridge
        other = ips[(i + 1) % 3]
        out = kubectl.ok("exec", p["metadata"]["name"], "-n", ns, "--", "wget", "-qO-", f"http://{other}/")
        assert out == web_images["web:v1"], out


# -- 2. logs -f, logs --previous, port-forward -------------------------------------------------------------------


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's stdout, line by line, read by a thread (None at EOF)."""
    q: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            q.put(line)
        q.put(None)

    threading.Thread(target=read, daemon=True).start()
    return q


def _next_line(q: queue.Queue[str | None], deadline: float, what: str) -> str:
    try:
        line = q.get(timeout=max(deadline - time.monotonic(), 0.01))
    except queue.Empty:
        raise AssertionError(f"timed out waiting for {what}") from None
    assert line is not None, f"the stream ended while waiting for {what}"
    return line


def _popen(kubectl: Kubectl, *args: str) -> subprocess.Popen[str]:
    env = {"HOME": str(kubectl.home), "PATH": "/usr/bin:/bin", "KUBECONFIG": str(kubectl.kubeconfig)}
    return subprocess.Popen([kubectl.path, "--kubeconfig", str(kubectl.kubeconfig), "--cache-dir",
                             str(kubectl.home / "cache"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """kubectl processes a test starts; killed (by their PID) and reaped when it ends, whatever happened."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=10)


TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"


def test_logs_follow(kubectl: Kubectl, up: Up, processes: list[subprocess.Popen[str]]) -> None:
    ns = namespace(kubectl, "follow")
    apply(kubectl, ns, pod_spec("ticker", TICKER))
    wait_for(lambda: is_ready(up.pod(ns, "ticker")), "ticker to run")
    wait_for(lambda: "tick 2" in kubectl.ok("logs", "ticker", "-n", ns), "ticker's first lines")
    already = len(kubectl.ok("logs", "ticker", "-n", ns).splitlines())
    follow = _popen(kubectl, "logs", "-f", "ticker", "-n", ns)
    processes.append(follow)
    lines = _lines(follow)
    deadline = time.monotonic() + 15
    seen: list[str] = []
    while len(seen) < already + 8:  # the lines there were, then lines written while we follow
        seen.append(_next_line(lines, deadline, f"line {len(seen)} of kubectl logs -f").rstrip("\n"))
    assert seen == [f"tick {i}" for i in range(len(seen))], seen
    assert follow.poll() is None, "kubectl logs -f ended while the container runs"
    follow.kill()
    follow.communicate(timeout=10)


def test_logs_previous(kubectl: Kubectl, up: Up) -> None:
    ns = namespace(kubectl, "previous")
    once = ("if [ -e /data/ran ]; then echo second run; exec sleep 3600; fi; "
            "touch /data/ran; echo first run; exit 1")
    pod = pod_spec("twice", once, volumeMounts=[{"name": "data", "mountPath": "/data"}])
    pod["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    apply(kubectl, ns, pod, pod_spec("once", "echo only run; exec sleep 3600"))

    def restarted() -> bool:
        st = container_status(up.pod(ns, "twice"), "c")
        return st.get("restartCount") == 1 and "running" in st.get("state", {})
    wait_for(restarted, "twice to run again after its first exit")
    wait_for(lambda: kubectl.ok("logs", "twice", "-n", ns) == "second run\n", "the second run's log")
    assert kubectl.ok("logs", "--previous", "twice", "-n", ns) == "first run\n"
    assert kubectl.ok("logs", "-p", "twice", "-c", "c", "-n", ns) == "first run\n"
    wait_for(lambda: is_ready(up.pod(ns, "once")), "once to run")
    r = kubectl("logs", "--previous", "once", "-n", ns)
    assert r.rc == 1 and r.err.strip() == (
        'Error from server (BadRequest): previous terminated container "c" in pod "once" not found'), r


def test_port_forward(kubectl: Kubectl, up: Up, web_images: dict[str, str],
                      processes: list[subprocess.Popen[str]]) -> None:
    ns = namespace(kubectl, "forward")
    apply(kubectl, ns, pod_spec("web", "exec httpd -f -p 80 -h /www", image="web:v1"))
    wait_for(lambda: is_ready(up.pod(ns, "web")), "web to run")
    port = free_port()
    fwd = _popen(kubectl, "port-forward", "-n", ns, "--address", "127.0.0.1", "pod/web", f"{port}:80")
    processes.append(fwd)
    lines = _lines(fwd)
    first = _next_line(lines, time.monotonic() + 15, "kubectl port-forward to listen")
    assert first.strip() == f"Forwarding from 127.0.0.1:{port} -> 80", first
    for _ in range(3):  # one tunnel stream per connection
        assert http_get(f"http://127.0.0.1:{port}/") == web_images["web:v1"]
    assert fwd.poll() is None
    fwd.kill()
    fwd.communicate(timeout=10)


# -- 4. a rolling update that no client notices ------------------------------------------------------------------


class ReadyRouter:
    """A load balancer that follows readiness: one thread lists the deployment's pods every 0.2 s and keeps the
    IPs of those Running, Ready and not terminating (what an EndpointSlice would hold as ready); another sends
    requests round-robin to the current set. Every request and its outcome is recorded."""

    def __init__(self, up: Up, ns: str, selector: str) -> None:
        self.up, self.ns, self.selector = up, ns, selector
        self.ready: list[str] = []
        self.results: list[tuple[float, str, str]] = []  # (time, ip, body or "FAILED: error")
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._watch, daemon=True),
                        threading.Thread(target=self._send, daemon=True)]

    def _watch(self) -> None:
        while not self.stopping.is_set():
            try:
                self.ready = sorted(p["status"]["podIP"] for p in self.up.pods(self.ns, self.selector) if is_ready(p))
            except OSError:
                pass
            time.sleep(0.2)

    def _send(self) -> None:
        for n in itertools.count():
            if self.stopping.is_set():
                return
            current = self.ready
            if not current:
                time.sleep(0.05)
                continue
            ip = current[n % len(current)]
            try:
                outcome = http_get(f"http://{ip}/", timeout=2)
            except OSError as e:
                outcome = f"FAILED: {e}"
            self.results.append((time.monotonic(), ip, outcome))
            time.sleep(0.02)

    def __enter__(self) -> ReadyRouter:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(10)


def test_rolling_update_loses_no_request(kubectl_latest: Kubectl, up: Up, web_images: dict[str, str]) -> None:
    kubectl = kubectl_latest
    ns = namespace(kubectl, "rollout")
    # On SIGTERM the shell keeps httpd serving 2 s more before it exits (as a preStop sleep would): the router
    # drops a terminating pod within 0.2 s, so requests already routed to it still get an answer. (With
    # `trap "exit 0" TERM` instead, a couple of requests per rollout are refused: the test does see a pod that
    # stops serving too early. A bare `httpd` as PID 1 would ignore SIGTERM and prove nothing.)
    serve = 'trap "sleep 2; exit 0" TERM; httpd -f -p 80 -h /www & wait'
    apply(kubectl, ns, deployment(
        "roll", "web:v1", 3,
        deployment={"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}},
        container={"command": ["sh", "-c", serve],
                   "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1,
                                      "failureThreshold": 1}}))
    kubectl.ok("rollout", "status", "deployment/roll", "-n", ns, "--timeout=60s", timeout=90)
    before = {p["metadata"]["name"] for p in up.pods(ns, "app=roll")}
    with ReadyRouter(up, ns, "app=roll") as router:
        wait_for(lambda: len(router.results) > 20, "the client to get going", 10)
        kubectl.ok("set", "image", "deployment/roll", "web=web:v2", "-n", ns)
        kubectl.ok("rollout", "status", "deployment/roll", "-n", ns, "--timeout=90s", timeout=120)
        wait_for(lambda: [p for p in up.pods(ns, "app=roll")
                          if p["metadata"]["name"] in before] == [], "the old pods to be gone", 30)
        done = time.monotonic()
        wait_for(lambda: router.results[-1][0] > done + 1, "a second more of requests", 10)
    failed = [r for r in router.results if r[2].startswith("FAILED")]
    assert failed == [], f"{len(failed)} of {len(router.results)} requests failed: {failed[:10]}"
    bodies = [body for _, _, body in router.results]
    assert web_images["web:v1"] in bodies and web_images["web:v2"] in bodies
    after = [body for t, _, body in router.results if t > done]
    assert after and set(after) == {web_images["web:v2"]}, set(after)
    pods = up.pods(ns, "app=roll")
    assert len(pods) == 3 and all(is_ready(p) and p["spec"]["containers"][0]["image"] == "web:v2" for p in pods)
