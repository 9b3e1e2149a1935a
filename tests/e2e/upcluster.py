"""A real ``kyb up`` cluster for end-to-end tests, shared by the ``test_up_*`` modules (fixtures in conftest.py).

`Up` starts ``python -m kybernetes up`` as a user runs it, with everything private to the test: its own data dir,
pod bridge ``kybu<hex>`` (also the nftables table's name), pod CIDR ``10.254.x.0/24`` and cgroup root
``/kyb-test-<hex>``. Traffic goes only to loopback (the API server, kubectl port-forward) and to pod IPs on that
bridge. `Up.leftovers` lists what a stopped cluster left on the machine (bridge, nftables table, mounts under the
data dir, processes naming it); every module ends by checking it is empty.

The helpers read the API directly over loopback HTTP (`Up.get`) where the client does not matter (polling pod
status many times a second), and go through the real kubectl where it does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Kubectl

Obj = dict[str, Any]

needs_runc = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not Path("/bin/busybox").exists(),
    reason="needs root, runc and busybox-static")


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(url: str, timeout: float = 3.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body: bytes = r.read()
        return body.decode()


class Up:
    """One ``kyb up`` process (started again by `restart`, with the same data dir, bridge and cgroup root)."""

    def __init__(self, base: Path) -> None:
        tag = secrets.token_hex(3)
        self.base = base
        self.data = base / "data"
        self.kubeconfig = base / "kubeconfig"
        self.log_path = base / "up.log"
        self.bridge = f"kybu{tag}"
        self.cgroup = f"/kyb-test-{tag}"
        self.cidr = f"10.254.{secrets.randbelow(250) + 1}.0/24"
        self.node = f"up-{tag}"
        # KYB_OFFLINE: the node contacts no image registry beyond this machine (tests/conftest.py sets it too).
        self.env = dict(os.environ, KYB_DATA_DIR=str(self.data), KYB_OFFLINE="1")
        self.url = ""
        self.kyb("image", "bootstrap", "busybox")
        self._start()

    def kyb(self, *args: str) -> str:
        """``python -m kybernetes ARGS`` against this cluster's data dir (where the node's image store is)."""
        p = subprocess.run([sys.executable, "-m", "kybernetes", *args], env=self.env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, f"kyb {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
        return p.stdout

    def _start(self) -> None:
        """Start ``kyb up``; return once it wrote its kubeconfig. On failure nothing of it is left running."""
        if self.kubeconfig.exists():
            self.kubeconfig.unlink()
        with open(self.log_path, "ab") as log:
            self.proc = proc = subprocess.Popen(
                [sys.executable, "-m", "kybernetes", "up", "--data-dir", str(self.data), "--listen", "127.0.0.1:0",
                 "--kubeconfig", str(self.kubeconfig), "--pod-cidr", self.cidr, "--cluster-cidr", "10.254.0.0/16",
                 "--pod-bridge", self.bridge, "--cgroup-root", self.cgroup, "--node-name", self.node,
                 "--kubelet-port", "0"],
                stdout=subprocess.DEVNULL, stderr=log, env=self.env)

        def url() -> str:
            if proc.poll() is not None:
                raise AssertionError(f"kyb up exited with {proc.returncode}:\n{self.log_tail()}")
            try:
                cfg = yaml.safe_load(self.kubeconfig.read_text())
                return str(cfg["clusters"][0]["cluster"]["server"])
            except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
                return ""

        try:
            self.url = wait_for(url, "the kubeconfig", 20, 0.05)
        except BaseException:
            self.stop()
            left = self.leftovers()
            self.scrub()
            raise AssertionError(f"kyb up did not start (it left {left}):\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C: ``kyb up`` stops its pods and removes its network."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """``kill -9``: nothing of ``kyb up`` gets to clean up."""
        self.proc.kill()
        self.proc.wait()

    def restart(self) -> None:
        assert self.proc.poll() is not None, "restart a stopped cluster only"
        self._start()

    # -- reading the cluster -------------------------------------------------------------------------------

    def get(self, path: str, **query: str) -> Obj:
        """GET an API path (JSON) over loopback, without kubectl: for polling many times a second."""
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        with urllib.request.urlopen(url, timeout=10) as r:
            obj: Obj = json.loads(r.read())
            return obj

    def pod(self, ns: str, name: str) -> Obj:
        return self.get(f"/api/v1/namespaces/{ns}/pods/{name}")

    def pods(self, ns: str, selector: str = "") -> list[Obj]:
        items: list[Obj] = self.get(f"/api/v1/namespaces/{ns}/pods",
                                    **({"labelSelector": selector} if selector else {}))["items"]
        return items

    def events(self, ns: str, pod: str = "") -> list[Obj]:
        q = {"fieldSelector": f"involvedObject.name={pod}"} if pod else {}
        items: list[Obj] = self.get(f"/api/v1/namespaces/{ns}/events", **q)["items"]
        return items

    def node_ready(self) -> bool:
        try:
            node = self.get(f"/api/v1/nodes/{self.node}")
        except OSError:
            return False
        return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions") or [])

    # -- the machine ---------------------------------------------------------------------------------------

    def runc_containers(self) -> list[Obj]:
        """What runc itself knows of the node's containers (``runc list`` over the agent's state dir)."""
        p = subprocess.run(["runc", "--root", str(self.data / "runtime" / "runc" / "runc"), "list", "--format",
                            "json"], capture_output=True, text=True, check=True)
        found: list[Obj] = json.loads(p.stdout or "null") or []
        return found

    def cgroup_pids(self) -> set[int]:
        """Processes in the cluster's cgroups (containers), in any hierarchy."""
        pids = set()
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            root = hierarchy / self.cgroup.strip("/")
            if root.is_dir():
                for procs in root.rglob("cgroup.procs"):
                    with contextlib.suppress(OSError):
                        pids |= {int(x) for x in procs.read_text().split()}
        return pids

    def processes(self) -> dict[int, bytes]:
        """Processes (other than ``kyb up`` itself) whose command line names the data dir (shims, forwarders)
        or that run in the cluster's cgroups (containers)."""
        found = {}
        cgroup = self.cgroup_pids()
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != self.proc.pid:
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if str(self.data).encode() in cmd or int(pid) in cgroup:
                    found[int(pid)] = cmd
        return found

    def leftovers(self) -> list[str]:
        found = []
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode == 0:
            found.append(f"bridge {self.bridge}")
        if subprocess.run(["nft", "list", "table", "inet", self.bridge], capture_output=True).returncode == 0:
            found.append(f"nft table {self.bridge}")
        with open("/proc/self/mountinfo") as f:
            found += [f"mount {line.split()[4]}" for line in f if str(self.data) in line]
        found += [f"process {pid} {cmd[:80]!r}" for pid, cmd in self.processes().items()]
        return found

    def scrub(self) -> None:
        """Best-effort removal of what `leftovers` found (after it was recorded as a failure): this test's
        processes by PID, its mounts, bridge and nftables table, and its cgroups."""
        for pid in self.processes():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if str(self.data) in line]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        subprocess.run(["nft", "delete", "table", "inet", self.bridge], capture_output=True)
        time.sleep(0.2)
        self.remove_cgroups()

    def remove_cgroups(self) -> None:
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            root = hierarchy / self.cgroup.strip("/")
            if root.is_dir():
                for d in [*sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)), root]:
                    with contextlib.suppress(OSError):
                        d.rmdir()


# -- helpers over kubectl ------------------------------------------------------------------------------------


def apply(kubectl: Kubectl, ns: str, *objs: Obj) -> str:
    """``kubectl apply -n NS -f -`` of the objects, as a List (JSON)."""
    return kubectl.ok("apply", "-n", ns, "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def namespace(kubectl: Kubectl, prefix: str) -> str:
    """A fresh namespace named after the scenario and the kubectl version (``logs-1-27``)."""
    ns = f"{prefix}-{kubectl.version.replace('.', '-')}"
    kubectl.ok("create", "namespace", ns)
    return ns


def condition(pod: Obj, type_: str) -> str:
    for c in pod.get("status", {}).get("conditions") or []:
        if c["type"] == type_:
            return str(c["status"])
    return ""


def container_status(pod: Obj, name: str | None = None) -> Obj:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    for s in statuses:
        if name is None or s["name"] == name:
            return dict(s)
    return {}


def is_ready(pod: Obj) -> bool:
    """Running, Ready and not being deleted: what an endpoints controller would route to."""
    return (pod.get("status", {}).get("phase") == "Running" and condition(pod, "Ready") == "True"
            and not pod["metadata"].get("deletionTimestamp") and bool(pod["status"].get("podIP")))


def pod_spec(name: str, command: str, *, image: str = "busybox", labels: dict[str, str] | None = None,
             restart: str = "Always", grace: int = 2, **container: Any) -> Obj:
    """A one-container pod running ``sh -c COMMAND``; extra keyword arguments go into the container."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": grace,
                     "containers": [{"name": "c", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "command": ["sh", "-c", command], **container}]}}
