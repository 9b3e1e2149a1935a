"""Pure node-side builders: the registered Node, its conditions and their transitions, what counts as a
status change, the node Lease.  No server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.kubelet.node import (
    KUBELET_VERSION,
    NodeConfig,
    NodeReport,
    lease_object,
    node_conditions,
    node_object,
    node_status,
    reconcile_patch,
    renewed_lease,
    status_differs,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def cfg(**kw: Any) -> NodeConfig:
    return NodeConfig(name="n1", internal_ip="192.0.2.1", pod_cidrs=["10.244.1.0/24"], **kw)


def test_registered_node_carries_what_a_kubelet_reports() -> None:
    node = node_object(cfg(labels={"type": "kwok"}, taints=[{"key": "k", "effect": "NoSchedule"}]), at(0))
    meta, spec, status = node["metadata"], node["spec"], node["status"]
    assert meta["labels"] == {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                              "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "n1",
                              "kubernetes.io/os": "linux", "type": "kwok"}
    assert spec == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"],
                    "taints": [{"key": "k", "effect": "NoSchedule"}]}
    assert status["addresses"] == [{"type": "InternalIP", "address": "192.0.2.1"},
                                   {"type": "Hostname", "address": "n1"}]
    assert status["capacity"] == status["allocatable"] == {"cpu": "4", "memory": "16Gi", "pods": "110",
                                                          "ephemeral-storage": "100Gi"}
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"]["kubeletVersion"] == KUBELET_VERSION == "v1.33.0"
    assert set(status["nodeInfo"]) == {"machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
                                       "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
                                       "operatingSystem", "architecture"}
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in status["conditions"]] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status")]


def test_allocatable_may_differ_from_capacity() -> None:
    c = cfg(allocatable={"cpu": "3500m", "memory": "15Gi", "pods": "110", "ephemeral-storage": "90Gi"})
    status = node_status(c, None, NodeReport(), at(0))
    assert status["capacity"]["cpu"] == "4" and status["allocatable"]["cpu"] == "3500m"


@pytest.mark.parametrize("before,report,transition", [
    ("True", NodeReport(), 0),
    ("Unknown", NodeReport(), 60),
    ("False", NodeReport(), 60),
    ("True", NodeReport(ready=False), 60),
    (None, NodeReport(), 60),
], ids=["stays-ready", "back-from-unknown", "back-from-not-ready", "turns-not-ready", "first-report"])
def test_ready_transition_time_moves_only_on_a_change(before: str | None, report: NodeReport,
                                                      transition: int) -> None:
    previous = [] if before is None else [{"type": "Ready", "status": before, "lastHeartbeatTime": "x",
                                           "lastTransitionTime": at(0).strftime("%Y-%m-%dT%H:%M:%SZ")}]
    ready = node_conditions(previous, report, at(60))[-1]
    assert ready["lastHeartbeatTime"] == at(60).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ready["lastTransitionTime"] == at(transition).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_not_ready_and_pressure_reasons() -> None:
    report = NodeReport(ready=False, not_ready_reason="KubeletNotReady", not_ready_message="PLEG is not healthy",
                        memory_pressure=True, disk_pressure=True, pid_pressure=True)
    got = {c["type"]: (c["status"], c["reason"]) for c in node_conditions(None, report, at(0))}
    assert got == {"MemoryPressure": ("True", "KubeletHasInsufficientMemory"),
                   "DiskPressure": ("True", "KubeletHasDiskPressure"),
                   "PIDPressure": ("True", "KubeletHasInsufficientPID"), "Ready": ("False", "KubeletNotReady")}


def test_status_differs_ignores_heartbeats_and_foreign_conditions() -> None:
    c = cfg()
    posted = node_status(c, None, NodeReport(), at(0))
    posted["conditions"].append({"type": "NetworkUnavailable", "status": "False"})
    later = node_status(c, posted["conditions"], NodeReport(), at(10))
    assert not status_differs(posted, later)
    assert status_differs(posted, node_status(c, posted["conditions"], NodeReport(ready=False), at(10)))
    unknown = [dict(x, status="Unknown") if x["type"] == "Ready" else x for x in posted["conditions"]]
    assert status_differs(dict(posted, conditions=unknown), node_status(c, unknown, NodeReport(), at(10)))
    c.capacity = {**c.capacity, "cpu": "8"}
    assert status_differs(posted, node_status(c, posted["conditions"], NodeReport(), at(10)))


def test_reconcile_patch_adds_missing_labels_and_cidr_only() -> None:
    c = cfg(labels={"type": "kwok"})
    assert reconcile_patch(node_object(c, at(0)), c) is None
    existing = {"metadata": {"labels": {"kubernetes.io/hostname": "n1", "extra": "kept"}}, "spec": {}}
    patch = reconcile_patch(existing, c)
    assert patch is not None
    assert "extra" not in patch["metadata"]["labels"] and patch["metadata"]["labels"]["type"] == "kwok"
    assert patch["spec"] == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}


def test_lease_is_owned_by_the_node_and_renewed_in_place() -> None:
    lease = lease_object("n1", "uid-1", at(0))
    assert lease["metadata"] == {"name": "n1", "namespace": "kube-node-lease", "ownerReferences": [
        {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "uid-1"}]}
    assert lease["spec"] == {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                             "renewTime": "2026-01-01T00:00:00.000000Z"}
    stored = {**lease, "metadata": {"name": "n1", "namespace": "kube-node-lease", "resourceVersion": "7"}}
    renewed = renewed_lease(stored, "n1", "uid-1", at(10.5))
    assert renewed["spec"]["renewTime"] == "2026-01-01T00:00:10.500000Z"
    assert renewed["metadata"]["resourceVersion"] == "7"  # a compare-and-swap update
    assert renewed["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert stored["spec"]["renewTime"] == "2026-01-01T00:00:00.000000Z"  # input untouched
