"""The whole control plane as a user runs it: ``kyb server`` + ``kyb agent --simulate 3`` + real kubectl.

Everything here goes through the real processes and the CLI: the server runs its controller manager and
scheduler, the agent registers simulated nodes.  Node failure uses short timings
(``--node-monitor-grace-period 3 --pod-eviction-timeout 2``, Leases renewed every 0.5 s) so it takes
seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.serverproc import ServerProc

pytestmark = pytest.mark.kubectl


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    base = tmp_path_factory.mktemp("cluster")
    server = ServerProc(base / "data", base / "kubeconfig",
                        extra_args=["--node-monitor-grace-period", "3", "--pod-eviction-timeout", "2"]).start()
    agent = subprocess.Popen(
        [sys.executable, "-m", "kybernetes", "agent", "--simulate", "3", "--kubeconfig", str(server.kubeconfig),
         "--cpu", "2", "--lease-renew-interval", "0.5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        yield server
    finally:
        agent.terminate()
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        server.stop()


@pytest.fixture(params=["1.27", "1.33"], ids=lambda v: f"kubectl-{v}")
def kubectl(request: pytest.FixtureRequest, cluster: ServerProc, kubectls: dict[str, str],
            tmp_path: Path) -> Kubectl:
    if request.param not in kubectls:
        pytest.skip(f"kubectl {request.param} is not available")
    return Kubectl(kubectls[request.param], request.param, cluster.kubeconfig, tmp_path)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def pods(kubectl: Kubectl, ns: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kubectl.ok("get", "pods", "-n", ns, "-l", selector, "-o", "json"))["items"]
    return items


def running(kubectl: Kubectl, ns: str, selector: str, n: int) -> bool:
    live = [p for p in pods(kubectl, ns, selector) if not p["metadata"].get("deletionTimestamp")]
    return len(live) == n and all(p["status"].get("phase") == "Running" for p in live)


def test_nodes_register_ready(kubectl: Kubectl) -> None:
    def ready() -> bool:
        out = kubectl.ok("get", "nodes")
        return out.count(" Ready ") >= 3
    wait_for(ready, "3 Ready nodes")


def test_deployment_scale_rollout_and_undo(kubectl: Kubectl, unique: str) -> None:
    ns = unique
    kubectl.ok("create", "namespace", ns)
    kubectl.ok("create", "deployment", "web", "-n", ns, "--image=nginx:1.25", "--replicas=3")
    wait_for(lambda: running(kubectl, ns, "app=web", 3), "3 running pods")
    wide = kubectl.ok("get", "pods", "-n", ns, "-o", "wide")
    assert "kwok-node-" in wide and "10.244." in wide

    kubectl.ok("scale", "deployment", "web", "-n", ns, "--replicas=5")
    wait_for(lambda: running(kubectl, ns, "app=web", 5), "5 running pods")
    kubectl.ok("scale", "deployment", "web", "-n", ns, "--replicas=2")
    wait_for(lambda: running(kubectl, ns, "app=web", 2), "2 running pods")

    kubectl.ok("set", "image", "deployment/web", "-n", ns, "nginx=nginx:1.26")
    out = kubectl.ok("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=90)
    assert 'deployment "web" successfully rolled out' in out
    history = kubectl.ok("rollout", "history", "deployment/web", "-n", ns)
    assert "REVISION" in history and "\n1 " in history and "\n2 " in history
    images = {p["spec"]["containers"][0]["image"] for p in pods(kubectl, ns, "app=web")
              if not p["metadata"].get("deletionTimestamp")}
    assert images == {"nginx:1.26"}

    kubectl.ok("rollout", "undo", "deployment/web", "-n", ns)
    kubectl.ok("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=90)
    wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in pods(kubectl, ns, "app=web")
                      if not p["metadata"].get("deletionTimestamp")} == {"nginx:1.25"}, "the undo")
    rs = kubectl.ok("get", "rs", "-n", ns)
    assert rs.count("web-") == 2  # one ReplicaSet per template, reused by the undo
    events = kubectl.ok("get", "events", "-n", ns)
    assert "ScalingReplicaSet" in events and "Scheduled" in events and "SuccessfulCreate" in events
    kubectl.ok("delete", "namespace", ns, "--timeout=60s", timeout=90)


def test_unschedulable_pod_reports_why(kubectl: Kubectl, unique: str) -> None:
    ns = unique
    kubectl.ok("create", "namespace", ns)
    kubectl.ok("run", "huge", "-n", ns, "--image=busybox", "--restart=Never",
               "--overrides", json.dumps({"spec": {"containers": [{"name": "huge", "image": "busybox",
                                                                    "resources": {"requests": {"cpu": "64"}}}]}}))

    def failed_event() -> str:
        out = kubectl.ok("get", "events", "-n", ns, "--field-selector", "reason=FailedScheduling")
        return out if "FailedScheduling" in out else ""
    out = wait_for(failed_event, "a FailedScheduling event")
    assert "0/3 nodes are available: 3 Insufficient cpu." in out
    pod = json.loads(kubectl.ok("get", "pod", "huge", "-n", ns, "-o", "json"))
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    kubectl.ok("delete", "namespace", ns, "--timeout=60s", timeout=90)


@pytest.mark.parametrize("version", ["1.33"])
def test_failed_node_pods_move_elsewhere(cluster: ServerProc, kubectls: dict[str, str], tmp_path: Path,
                                         unique: str, version: str) -> None:
    if version not in kubectls:
        pytest.skip(f"kubectl {version} is not available")
    kubectl = Kubectl(kubectls[version], version, cluster.kubeconfig, tmp_path)
    ns = unique
    kubectl.ok("create", "namespace", ns)
    kubectl.ok("create", "deployment", "spread", "-n", ns, "--image=nginx", "--replicas=6")
    wait_for(lambda: running(kubectl, ns, "app=spread", 6), "6 running pods")
    victim = pods(kubectl, ns, "app=spread")[0]["spec"]["nodeName"]
    kubectl.ok("annotate", "node", victim, "kyb.io/simulate-failure=true")
    try:
        def node_unknown() -> bool:
            node = json.loads(kubectl.ok("get", "node", victim, "-o", "json"))
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            taints = {t["key"] for t in node["spec"].get("taints") or []}
            return ready["status"] == "Unknown" and "node.kubernetes.io/unreachable" in taints
        wait_for(node_unknown, f"{victim} to become Unknown and tainted")
        assert "NotReady" in kubectl.ok("get", "node", victim)

        def replaced() -> bool:
            live = [p for p in pods(kubectl, ns, "app=spread") if not p["metadata"].get("deletionTimestamp")]
            return len(live) == 6 and all(p["spec"].get("nodeName") not in (None, victim) for p in live) and \
                all(p["status"].get("phase") == "Running" for p in live)
        wait_for(replaced, "the pods to be replaced on healthy nodes", timeout=90)
    finally:
        kubectl("annotate", "node", victim, "kyb.io/simulate-failure-")
    kubectl.ok("delete", "namespace", ns, "--timeout=60s", timeout=90)
