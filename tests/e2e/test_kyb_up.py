"""``kyb up`` as a user runs it: one command gives a one-node cluster that runs pods in runc containers.

Real processes and the real kubectl (1.27 and 1.33): the node registers Ready, ``kubectl run`` completes,
a deployment's pods each get their own IP on the pod bridge and answer HTTP from the node, and SIGTERM stops
everything leaving no bridge, nftables table, mounts or shims behind. The test uses its own data dir, bridge,
pod CIDR and cgroup root, and sends traffic only to the pods on the bridge it made.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kubectl

pytestmark = [pytest.mark.kubectl,
              pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runc") or not Path("/bin/busybox").exists(),
                                 reason="needs root, runc and busybox-static")]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class Up:
    def __init__(self, base: Path) -> None:
        tag = secrets.token_hex(3)
        self.data = base / "data"
        self.kubeconfig = base / "kubeconfig"
        self.bridge = f"kybu{tag}"
        self.cgroup = f"/kyb-test-{tag}"
        self.cidr = f"10.254.{secrets.randbelow(250) + 1}.0/24"
        env = dict(os.environ, KYB_DATA_DIR=str(self.data))
        subprocess.run([sys.executable, "-m", "kybernetes", "image", "bootstrap", "busybox"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kybernetes", "up", "--data-dir", str(self.data), "--listen", "127.0.0.1:0",
             "--kubeconfig", str(self.kubeconfig), "--pod-cidr", self.cidr, "--cluster-cidr", "10.254.0.0/16",
             "--pod-bridge", self.bridge, "--cgroup-root", self.cgroup, "--node-name", f"up-{tag}", "--kubelet-port", "0"],
            stdout=subprocess.DEVNULL, stderr=open(base / "up.log", "wb"), env=env)  # noqa: SIM115
        wait_for(self.kubeconfig.exists, "the kubeconfig", 20)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def leftovers(self) -> list[str]:
        found = []
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode == 0:
            found.append(f"bridge {self.bridge}")
        if subprocess.run(["nft", "list", "table", "inet", self.bridge], capture_output=True).returncode == 0:
            found.append(f"nft table {self.bridge}")
        with open("/proc/self/mountinfo") as f:
            found += [f"mount {line.split()[4]}" for line in f if str(self.data) in line]
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if str(self.data).encode() in cmd and int(pid) != self.proc.pid:
                    found.append(f"process {pid} {cmd[:80]!r}")
        return found


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    u = Up(tmp_path_factory.mktemp("up"))
    try:
        yield u
    finally:
        u.stop()
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            root = hierarchy / u.cgroup.strip("/")
            if root.is_dir():
                for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    d.rmdir()
                root.rmdir()


@pytest.fixture(params=["1.27", "1.33"], ids=lambda v: f"kubectl-{v}")
def kubectl(request: pytest.FixtureRequest, up: Up, kubectls: dict[str, str], tmp_path: Path) -> Kubectl:
    if request.param not in kubectls:
        pytest.skip(f"kubectl {request.param} is not available")
    return Kubectl(kubectls[request.param], request.param, up.kubeconfig, tmp_path)


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
