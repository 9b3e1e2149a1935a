"""Cluster-scoped nodes: ``get nodes`` columns, ``cordon``/``uncordon``/``drain`` and ``describe node``.

Nothing registers nodes yet, so each test creates one (a node may carry status on create, as a kubelet's
registration does) and deletes it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat import manifests as m
from tests.compat.conftest import Http, row, table
from tests.conftest import Kubectl

pytestmark = pytest.mark.kubectl


@pytest.fixture
def node(kubectl: Kubectl, fresh_name: str, http: Http, tmp_path: Path) -> Iterator[str]:
    name = fresh_name
    manifest = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "node-role.kubernetes.io/worker": ""}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is ready",
                            "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "addresses": [{"type": "InternalIP", "address": "192.0.2.10"}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0",
                         "containerRuntimeVersion": "kyb://0.1.0", "operatingSystem": "linux",
                         "architecture": "amd64", "machineID": "", "systemUUID": "", "bootID": "",
                         "kubeProxyVersion": ""},
        },
    }
    try:
        out = kubectl.ok("create", "-f", m.write(tmp_path / "node.yaml", manifest))
        assert out.strip() == f"node/{name} created"
        yield name
    finally:
        http.request("DELETE", f"/api/v1/nodes/{name}")


def test_get_nodes_columns(kubectl: Kubectl, node: str) -> None:
    out = kubectl.ok("get", "nodes")
    assert table(out)[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    got = row(out, node)
    assert (got["STATUS"], got["ROLES"], got["VERSION"]) == ("Ready", "worker", "v1.33.0"), got

    out = kubectl.ok("get", "node", node, "-o", "wide")
    assert table(out)[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                             "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    got = row(out, node)
    assert (got["INTERNAL-IP"], got["EXTERNAL-IP"], got["OS-IMAGE"], got["KERNEL-VERSION"],
            got["CONTAINER-RUNTIME"]) == ("192.0.2.10", "<none>", "Debian GNU/Linux 12", "6.1.0", "kyb://0.1.0"), got


def test_cordon_drain_uncordon(kubectl: Kubectl, node: str) -> None:
    assert kubectl.ok("cordon", node).strip() == f"node/{node} cordoned"
    assert row(kubectl.ok("get", "node", node), node)["STATUS"] == "Ready,SchedulingDisabled"
    assert kubectl.ok("get", "node", node, "-o", "jsonpath={.spec.unschedulable}") == "true"

    out = kubectl.ok("drain", node, "--ignore-daemonsets", "--timeout=20s")
    assert out.splitlines() == [f"node/{node} already cordoned", f"node/{node} drained"], out

    assert kubectl.ok("uncordon", node).strip() == f"node/{node} uncordoned"
    assert row(kubectl.ok("get", "node", node), node)["STATUS"] == "Ready"


def test_describe_node(kubectl: Kubectl, node: str) -> None:
    out = kubectl.ok("describe", "node", node)
    lines = out.splitlines()
    assert lines[0].split() == ["Name:", node]
    assert "Roles:              worker" in lines, out
    assert "Unschedulable:      false" in lines, out
    assert any(line.split()[:4] == ["Ready", "True", "Thu,", "01"] and "KubeletReady" in line for line in lines), out
    assert "  InternalIP:  192.0.2.10" in lines, out
    assert any(line.split() == ["Kubelet", "Version:", "v1.33.0"] for line in lines), out
    assert any(line.split()[:3] == ["Non-terminated", "Pods:", "(0"] for line in lines), out
