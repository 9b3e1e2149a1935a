"""``kyb up`` as a user runs it: one command gives a one-node cluster that runs pods in runc containers.

Real processes and the real kubectl (1.27 and 1.33): the node registers Ready, ``kubectl run`` completes,
a deployment's pods each get their own IP on the pod bridge and answer HTTP from the node, and SIGTERM stops
everything leaving no bridge, nftables table, mounts or shims behind. The test uses its own data dir, bridge,
pod CIDR and cgroup root, and sends traffic only to the pods on the bridge it made.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.upcluster import Up, needs_runc, wait_for

pytestmark = [pytest.mark.kubectl, needs_runc]


def test_node_ready_and_pods_run(kubectl: Kubectl, up: Up) -> None:
    wait_for(lambda: " Ready " in kubectl.ok("get", "nodes"), "the node to be Ready", 20)
    ns = f"up-{kubectl.version.replace('.', '-')}"
    kubectl.ok("create", "namespace", ns)
    kubectl.ok("run", "hello", "-n", ns, "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello")
    wait_for(lambda: json.loads(kubectl.ok("get", "pod", "hello", "-n", ns, "-o", "json"))["status"].get("phase")
             == "Succeeded", "hello to complete")
    kubectl.ok("create", "deployment", "web", "-n", ns, "--image=busybox", "--replicas=3", "--", "sh", "-c",
               "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www")

    def running() -> list[dict[str, Any]] | None:
        items = json.loads(kubectl.ok("get", "pods", "-n", ns, "-l", "app=web", "-o", "json"))["items"]
        ok = [p for p in items if p["status"].get("phase") == "Running" and p["status"].get("podIP")]
        return ok if len(ok) == 3 else None

    pods = wait_for(running, "3 web pods Running")
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 3 and all(ip.startswith(up.cidr.rsplit(".", 1)[0] + ".") for ip in ips)
    for p in pods:  # each pod answers from the node, with its own hostname (the pod name)
        body = urllib.request.urlopen(f"http://{p['status']['podIP']}/", timeout=5).read().decode().strip()
        assert body == p["metadata"]["name"]
    assert kubectl.ok("logs", "hello", "-n", ns).strip() == "hello"
    name = pods[0]["metadata"]["name"]
    assert kubectl.ok("exec", name, "-n", ns, "--", "cat", "/www/index.html").strip() == name
    failed = kubectl("exec", name, "-n", ns, "--", "sh", "-c", "exit 3")
    assert failed.rc == 3, failed
    assert kubectl.ok("exec", "-i", name, "-n", ns, "--", "cat", stdin="piped\n").strip() == "piped"
    kubectl.ok("delete", "namespace", ns, "--wait=false")


def test_sigterm_leaves_nothing(up: Up, kubectls: dict[str, str]) -> None:
    up.stop()
    assert up.proc.returncode == 0
    assert up.leftovers() == []
