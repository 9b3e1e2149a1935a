"""``kill -9`` of the node agent, and of all of ``kyb up``, while pods run.

``kyb up`` runs the node agent as a supervised child process: ``kill -9`` of that child alone is a kubelet crash;
``kyb up`` starts it again and it adopts its containers (same IDs, IPs and restart counts, nothing duplicated).

``kill -9`` of ``kyb up`` itself kills the API server, the controllers and the scheduler at once, with no chance
to clean up (the agent child gets SIGHUP from the kernel and exits without touching its containers). The containers live on in their shims (they
keep answering while nothing else runs); the next ``kyb up`` finds the cluster's objects in its store and the
agent adopts the running containers: same container IDs and processes, same pod IPs, restart counts unchanged,
no second copy of any container, and a new pod gets a fresh IP. Logs (also of the previous attempt) and exec go
through the new agent's port. SIGTERM at the end still leaves nothing behind.

The client does not matter here: kubectl runs once, the newest.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.upcluster import (
    Obj,
    Up,
    apply,
    container_status,
    http_get,
    is_ready,
    needs_runc,
    pod_spec,
    wait_for,
)

pytestmark = [pytest.mark.kubectl, needs_runc]

NS = "survive"
SERVE = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"
TWICE = ("if [ -e /data/ran ]; then echo second run; exec sleep 3600; fi; "
         "touch /data/ran; echo first run; exit 1")


def workload() -> list[Obj]:
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"terminationGracePeriodSeconds": 2,
                                          "containers": [{"name": "web", "image": "busybox",
                                                          "imagePullPolicy": "IfNotPresent",
                                                          "command": ["sh", "-c", SERVE]}]}}}}
    twice = pod_spec("twice", TWICE, volumeMounts=[{"name": "data", "mountPath": "/data"}])
    twice["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    return [web, twice]


def observed(up: Up) -> dict[str, tuple[Any, ...]]:
    """Per pod: what must not change across the restart."""
    out = {}
    for p in up.pods(NS):
        st = container_status(p)
        out[p["metadata"]["name"]] = (p["metadata"]["uid"], p["status"].get("podIP"), st.get("containerID"),
                                      st.get("restartCount"), (st.get("state") or {}).get("running", {}).get("startedAt"),
                                      is_ready(p))
    return out


def runc_running(up: Up) -> dict[str, int]:
    """Running containers as runc knows them: id -> the PID of the container's process."""
    return {c["id"]: c["pid"] for c in up.runc_containers() if c["status"] == "running"}


def kubelet_port(up: Up) -> int:
    node = up.get(f"/api/v1/nodes/{up.node}")
    port: int = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    return port


def agent_pid(up: Up) -> int | None:
    """The PID of ``kyb up``'s node agent child, if one runs."""
    for pid, cmd in up.processes().items():
        args = cmd.split(b"\0")
        if b"agent" in args and b"--cleanup-on-exit" in args and Path(f"/proc/{pid}/stat").exists():
            try:
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == up.proc.pid:
                return pid
    return None


def test_kill_9_of_the_agent_alone(up: Up, kubectl_latest: Kubectl) -> None:
    kubectl = kubectl_latest
    ns = "agentkill"
    wait_for(up.node_ready, "the node to be Ready", 20)
    kubectl.ok("create", "namespace", ns)
    apply(kubectl, ns, pod_spec("steady", "exec sleep 3600"))
    before = wait_for(lambda: is_ready(p := up.pod(ns, "steady")) and p, "steady to run", 20)
    first = agent_pid(up)
    assert first is not None
    old_port = kubelet_port(up)
    running = runc_running(up)

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: (pid := agent_pid(up)) is not None and pid != first, "kyb up to start the agent again", 20)
    wait_for(lambda: up.node_ready() and kubelet_port(up) != old_port, "the new agent to register", 20)
    apply(kubectl, ns, pod_spec("later", "exec sleep 3600"))
    wait_for(lambda: is_ready(up.pod(ns, "later")), "a new pod to run", 20)
    now = up.pod(ns, "steady")
    keep = ("containerID", "restartCount")
    assert {k: container_status(now)[k] for k in keep} == {k: container_status(before)[k] for k in keep}
    assert now["status"]["podIP"] == before["status"]["podIP"]
    after = runc_running(up)
    assert {k: v for k, v in after.items() if k in running} == running and len(after) == len(running) + 1
    assert kubectl.ok("exec", "steady", "-n", ns, "--", "echo", "hi") == "hi\n"
    kubectl.ok("delete", "namespace", ns, "--wait=true", "--timeout=60s")
    wait_for(lambda: not up.runc_containers(), "its containers to be removed", 30)


def test_kill_9_and_up_again_adopts_running_pods(up: Up, kubectl_latest: Kubectl) -> None:
    kubectl = kubectl_latest
    wait_for(up.node_ready, "the node to be Ready", 20)
    kubectl.ok("create", "namespace", NS)
    apply(kubectl, NS, *workload())

    def settled() -> dict[str, tuple[Any, ...]] | None:
        now = observed(up)
        twice = now.get("twice")
        web = [v for k, v in now.items() if k.startswith("web-")]
        if len(now) == 3 and all(v[-1] for v in now.values()) and twice and twice[3] == 1 and len(web) == 2:
            return now
        return None
    before = wait_for(settled, "2 web pods and twice (restarted once) Running and Ready")
    ids = {v[2].split("://", 1)[1] for v in before.values()}
    processes = runc_running(up)
    assert set(processes) == ids, (processes, before)
    all_containers = {c["id"] for c in up.runc_containers()}  # twice's first attempt is kept, exited
    ips = {name: v[1] for name, v in before.items()}
    old_port = kubelet_port(up)

    up.kill()
    # Nothing of the control plane or the agent runs, the containers do: same processes, still answering.
    assert runc_running(up) == processes
    for name, ip in ips.items():
        if name.startswith("web-"):
            assert http_get(f"http://{ip}/") == name + "\n"

    up.restart()
    wait_for(lambda: up.node_ready() and kubelet_port(up) != old_port, "the agent to register again", 20)
    # A new pod runs: the agent's workers go (the existing pods were queued first, at the informer's sync),
    # and the pod IPs handed out before the kill are still taken.
    apply(kubectl, NS, pod_spec("after", "exec sleep 3600"))
    after = wait_for(lambda: is_ready(pod := up.pod(NS, "after")) and pod, "a new pod to run", 20)
    assert after["status"]["podIP"] not in ips.values(), (after["status"]["podIP"], ips)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # and nothing changes for the old pods for a while
        now = observed(up)
        now.pop("after", None)
        assert now == before, f"pods changed across the restart:\nbefore {before}\nafter  {now}"
        time.sleep(0.25)
    after_id = container_status(after)["containerID"].split("://", 1)[1]
    assert runc_running(up) == {**processes, after_id: runc_running(up)[after_id]}, "containers were duplicated"
    assert {c["id"] for c in up.runc_containers()} == all_containers | {after_id}

    # The new agent serves logs and exec for the adopted containers.
    assert kubectl.ok("logs", "twice", "-n", NS) == "second run\n"
    assert kubectl.ok("logs", "--previous", "twice", "-n", NS) == "first run\n"
    for name, ip in ips.items():
        if name.startswith("web-"):
            assert kubectl.ok("exec", name, "-n", NS, "--", "cat", "/www/index.html") == name + "\n"
            assert http_get(f"http://{ip}/") == name + "\n"
    assert len(up.pods(NS, "app=web")) == 2, "the ReplicaSet made no new pods"

    up.stop()
    assert up.proc.returncode == 0, up.log_tail()
    assert up.leftovers() == []
