"""Kill -9 the controller manager and the scheduler mid-rollout, start them again: the rollout finishes
with the right counts and no duplicate pods.  Each component is its own process here
(``kyb controller-manager`` / ``kyb scheduler`` / ``kyb agent``), as on a multi-process control plane.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Kubectl
from tests.e2e.test_cluster_kubectl import pods, running, wait_for
from tests.serverproc import ServerProc

pytestmark = pytest.mark.kubectl


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "kybernetes", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ))


def stop(p: subprocess.Popen[bytes], kill: bool = False) -> None:
    if p.poll() is None:
        p.kill() if kill else p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


@pytest.fixture
def split_cluster(tmp_path: Path) -> Iterator[ServerProc]:
    server = ServerProc(tmp_path / "data", tmp_path / "kubeconfig",
                        extra_args=["--disable-controllers=replicaset,replicationcontroller,deployment,scheduler"]
                        ).start()
    agent = start("agent", "--simulate", "3", "--kubeconfig", str(server.kubeconfig))
    try:
        yield server
    finally:
        stop(agent)
        server.stop()


def test_kill_controller_manager_and_scheduler_mid_rollout(split_cluster: ServerProc, kubectls: dict[str, str],
                                                           tmp_path: Path) -> None:
    version = "1.33" if "1.33" in kubectls else sorted(kubectls)[-1]
    kubectl = Kubectl(kubectls[version], version, split_cluster.kubeconfig, tmp_path)
    kc = str(split_cluster.kubeconfig)
    workload = "--disable-controllers=namespace,garbagecollector,nodelifecycle,podgc,serviceaccount"
    cm = start("controller-manager", "--kubeconfig", kc, workload)
    sched = start("scheduler", "--kubeconfig", kc)
    try:
        kubectl.ok("create", "deployment", "web", "--image=nginx:1.25", "--replicas=10")
        kubectl.ok("patch", "deployment", "web", "--type=merge", "-p", json.dumps(
            {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}))
        wait_for(lambda: running(kubectl, "default", "app=web", 10), "10 running pods", timeout=60)

        kubectl.ok("set", "image", "deployment/web", "nginx=nginx:1.26")

        def rollout_started() -> bool:
            return any(p["spec"]["containers"][0]["image"] == "nginx:1.26" for p in pods(kubectl, "default", "app=web"))
        wait_for(rollout_started, "the rollout to start")
        stop(cm, kill=True)
        stop(sched, kill=True)
        mid = [p["spec"]["containers"][0]["image"] for p in pods(kubectl, "default", "app=web")
               if not p["metadata"].get("deletionTimestamp")]
        assert "nginx:1.25" in mid, "the rollout was not interrupted midway; the test proves nothing"

        cm = start("controller-manager", "--kubeconfig", kc, workload)
        sched = start("scheduler", "--kubeconfig", kc)
        out = kubectl.ok("rollout", "status", "deployment/web", "--timeout=90s", timeout=120)
        assert 'deployment "web" successfully rolled out' in out

        def settled() -> bool:
            live = [p for p in pods(kubectl, "default", "app=web") if not p["metadata"].get("deletionTimestamp")]
            return len(live) == 10 and all(p["status"].get("phase") == "Running" for p in live)
        wait_for(settled, "10 running pods after the rollout")
        live = [p for p in pods(kubectl, "default", "app=web") if not p["metadata"].get("deletionTimestamp")]
        assert {p["spec"]["containers"][0]["image"] for p in live} == {"nginx:1.26"}
        assert len({p["metadata"]["name"] for p in live}) == 10
        rs = json.loads(kubectl.ok("get", "rs", "-l", "app=web", "-o", "json"))["items"]
        assert sorted(r["spec"]["replicas"] for r in rs) == [0, 10]
        deploy = json.loads(kubectl.ok("get", "deployment", "web", "-o", "json"))
        st = deploy["status"]
        assert (st.get("replicas"), st.get("updatedReplicas"), st.get("availableReplicas")) == (10, 10, 10)
    finally:
        stop(cm)
        stop(sched)
