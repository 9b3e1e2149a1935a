"""Pure pod-side decisions of the simulated agent: what to do with a pod, the statuses it posts, image
ids, pod IP allocation and node numbering.  No server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kybernetes.kubelet.simulated import (
    DELETE,
    NOTHING,
    REFRESH,
    RELEASE,
    START,
    TERMINATE,
    PodIPs,
    image_id,
    pod_action,
    running_status,
    simulated_node_configs,
    terminated_status,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
Obj = dict[str, Any]


def pod(phase: str = "Pending", *, ip: str = "", deleting: bool = False, ready: str | None = None,
        containers: list[Obj] | None = None) -> Obj:
    status: Obj = {"phase": phase}
    if ip:
        status["podIP"] = ip
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    if containers is not None:
        status["containerStatuses"] = containers
    meta: Obj = {"name": "p", "namespace": "ns", "uid": "u1"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:30Z"
    return {"metadata": meta, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}, "status": status}


RUNNING = {"name": "app", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}
TERMINATED = {"name": "app", "state": {"terminated": {"exitCode": 0}}}


@pytest.mark.parametrize("p,action", [
    (pod(), START),
    (pod("Running"), START),  # running without an IP: not ours yet
    (pod("Running", ip="10.244.0.2", ready="True"), NOTHING),
    (pod("Running", ip="10.244.0.2", ready="False"), REFRESH),
    (pod("Succeeded"), RELEASE),
    (pod("Failed"), RELEASE),
    (pod("Running", ip="10.244.0.2", deleting=True, containers=[RUNNING]), TERMINATE),
    (pod("Succeeded", deleting=True, containers=[TERMINATED]), DELETE),
    (pod(deleting=True), DELETE),
], ids=["pending", "running-no-ip", "running", "marked-not-ready", "succeeded", "failed", "deleting-running",
        "deleting-terminated", "deleting-pending"])
def test_pod_action(p: Obj, action: str) -> None:
    assert pod_action(p) == action


def test_running_status() -> None:
    p = pod()
    p["spec"]["initContainers"] = [{"name": "init", "image": "busybox"},
                                   {"name": "sidecar", "image": "envoy", "restartPolicy": "Always"}]
    p["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]
    s = running_status(p, "172.18.0.2", "10.244.0.5", NOW)
    assert (s["phase"], s["hostIP"], s["podIP"], s["startTime"]) == ("Running", "172.18.0.2", "10.244.0.5",
                                                                     "2026-01-01T12:00:00Z")
    assert s["hostIPs"] == [{"ip": "172.18.0.2"}] and s["podIPs"] == [{"ip": "10.244.0.5"}]
    assert [(c["type"], c["status"]) for c in s["conditions"]] == [
        ("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", "True"),
        ("ContainersReady", "True")]  # PodScheduled is already there
    (cs,) = s["containerStatuses"]
    assert (cs["name"], cs["ready"], cs["started"], cs["restartCount"], cs["image"]) == \
        ("app", True, True, 0, "nginx:1.27")
    assert cs["state"] == {"running": {"startedAt": "2026-01-01T12:00:00Z"}}
    assert cs["containerID"].startswith("kwok://") and len(cs["containerID"]) == len("kwok://") + 64
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    init, sidecar = s["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed" and init["state"]["terminated"]["exitCode"] == 0
    assert (init["ready"], init["started"]) == (True, False)
    assert "running" in sidecar["state"] and sidecar["started"]


def test_running_status_adds_pod_scheduled_when_missing_and_keeps_start_time() -> None:
    p = pod()
    p["status"]["startTime"] = "2026-01-01T11:00:00Z"
    s = running_status(p, "172.18.0.2", "10.244.0.5", NOW)
    assert s["conditions"][-1]["type"] == "PodScheduled"
    assert s["startTime"] == "2026-01-01T11:00:00Z"


def test_terminated_status() -> None:
    s = terminated_status(pod("Running", ip="10.244.0.2", containers=[RUNNING]), NOW)
    assert s["phase"] == "Succeeded"
    (cs,) = s["containerStatuses"]
    assert cs["state"]["terminated"] == {"exitCode": 0, "reason": "Completed", "startedAt": "2026-01-01T00:00:00Z",
                                         "finishedAt": "2026-01-01T12:00:00Z", "containerID": cs["containerID"]}
    assert (cs["ready"], cs["started"]) == (False, False)
    assert {c["type"]: c["status"] for c in s["conditions"]} == {
        "PodReadyToStartContainers": "False", "Ready": "False", "ContainersReady": "False"}


@pytest.mark.parametrize("image,repo", [
    ("nginx", "docker.io/library/nginx"),
    ("nginx:1.27", "docker.io/library/nginx"),
    ("bitnami/redis:7", "docker.io/bitnami/redis"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause"),
    ("localhost:5000/app:dev", "localhost:5000/app"),
    ("ghcr.io/o/a@sha256:" + "0" * 64, "ghcr.io/o/a"),
])
def test_image_id(image: str, repo: str) -> None:
    got = image_id(image)
    assert got.startswith(repo + "@sha256:") and len(got) == len(repo) + len("@sha256:") + 64


def test_pod_ips_allocate_reuse_and_restore() -> None:
    ips = PodIPs("10.244.3.0/30")  # room for .2 only
    assert ips.allocate("a") == "10.244.3.2"
    assert ips.allocate("a") == "10.244.3.2"  # idempotent per pod
    assert ips.allocate("b") is None
    ips.release("a")
    assert ips.allocate("b") == "10.244.3.2"
    big = PodIPs("10.244.4.0/24")
    big.restore("x", "10.244.4.2")
    big.restore("y", "10.9.9.9")  # not ours: ignored
    assert big.allocate("z") == "10.244.4.3"
    assert len(big) == 2


def test_simulated_node_configs_number_cidrs_and_ips() -> None:
    nodes = simulated_node_configs(3, name_prefix="sim", start_index=255, labels={"tier": "x"},
                                   capacity={"cpu": "32"})
    assert [n.name for n in nodes] == ["sim-255", "sim-256", "sim-257"]
    assert [n.pod_cidrs for n in nodes] == [["10.244.255.0/24"], ["10.245.0.0/24"], ["10.245.1.0/24"]]
    assert [n.internal_ip for n in nodes] == ["172.18.1.1", "172.18.1.2", "172.18.1.3"]
    assert nodes[0].labels == {"type": "kwok", "tier": "x"}
    assert nodes[0].annotations == {"kwok.x-k8s.io/node": "fake"}
    assert nodes[0].capacity["cpu"] == "32" and nodes[0].capacity["pods"] == "110"
    assert nodes[0].system_info()["containerRuntimeVersion"].startswith("kwok://")
    with pytest.raises(ValueError):
        simulated_node_configs(1, start_index=1024)
