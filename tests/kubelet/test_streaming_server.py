"""kubectl logs / exec / port-forward through the real API server to a streaming server over real runc containers.

One module-wide node (`streaming_env.StreamingNode`) runs pod ``p`` in namespace ``ns-<hex>``: its container
prints ``hello`` and then a numbered line every 0.2 s, and serves ``pong`` over busybox httpd on port 8080
inside the pod's network namespace (there is no pod network: port-forward must dial inside the namespace).
Every test runs the real kubectl binaries (1.27: SPDY; 1.30: WebSocket exec; 1.31 and 1.33: also SPDY
tunnelled in a WebSocket for port-forward); the Python client uses plain WebSocket channels.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Kubectl
from tests.kubelet.streaming_env import ApiObjects, StreamingNode
from tests.runtime.conftest import build_busybox_rootfs, runc_unavailable
from tests.serverproc import ServerProc

pytestmark = pytest.mark.skipif(bool(runc_unavailable()), reason=runc_unavailable() or "runc available")

VERSIONS = ["1.27", "1.30", "1.31", "1.33"]
MAIN = ("mkdir -p /tmp/www && echo pong > /tmp/www/index.html && httpd -p 8080 -h /tmp/www; "
        "echo hello; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done")


class Env:
    def __init__(self, node: StreamingNode, ns: str) -> None:
        self.node = node
        self.ns = ns


@pytest.fixture(scope="module")
def env(server: ServerProc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("streaming")
    node = StreamingNode(base, build_busybox_rootfs(base / "rootfs")).start()
    ns = "ns-" + uuid.uuid4().hex[:8]
    try:
        api = ApiObjects(server.url)
        api.send("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        node_name = f"node-{ns}"
        api.node(node_name, node.port)
        node.add_pod(ns, "p", {"c": ["sh", "-c", MAIN]})
        api.pod(ns, "p", ["c"], node_name)
        deadline = time.monotonic() + 10
        while "line 3" not in (Path(node.root / "logs" / ns / "p" / "c.log").read_text(errors="replace")
                               if (node.root / "logs" / ns / "p" / "c.log").exists() else ""):
            assert time.monotonic() < deadline, "the container never logged"
            time.sleep(0.1)
        yield Env(node, ns)
    finally:
        node.stop()


@pytest.fixture(params=VERSIONS)
def kubectl(request: pytest.FixtureRequest, kubectl_factory: Callable[[str], Kubectl],
            kubectls: dict[str, str]) -> Kubectl:
    if request.param not in kubectls:
        pytest.skip(f"kubectl {request.param} is not installed")
    return kubectl_factory(request.param)


def test_logs(env: Env, kubectl: Kubectl) -> None:
    out = kubectl.ok("logs", "-n", env.ns, "p")
    assert out.startswith("hello\nline 0\nline 1\n")
    tail = kubectl.ok("logs", "-n", env.ns, "p", "-c", "c", "--tail=2").splitlines()
    assert len(tail) == 2 and all(t.startswith("line ") for t in tail)
    stamped = kubectl.ok("logs", "-n", env.ns, "pod/p", "--timestamps", "--tail=1")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line \d+\n$", stamped), stamped
    limited = kubectl.ok("logs", "-n", env.ns, "p", "--limit-bytes=8")
    assert limited == "hello\nli"


def test_logs_follow(env: Env, kubectl: Kubectl) -> None:
    proc = subprocess.Popen([kubectl.path, "--kubeconfig", str(kubectl.kubeconfig), "--cache-dir",
                             str(kubectl.home / "cache"), "logs", "-f", "--tail=1", "-n", env.ns, "p"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"HOME": str(kubectl.home)})
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        numbers = [int(line.split()[1]) for line in lines]
        assert numbers == list(range(numbers[0], numbers[0] + 4)), lines
    finally:
        proc.terminate()
        proc.wait(10)


def test_exec(env: Env, kubectl: Kubectl) -> None:
    assert kubectl.ok("exec", "-n", env.ns, "p", "--", "echo", "hi") == "hi\n"
    r = kubectl("exec", "-n", env.ns, "p", "-c", "c", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.rc == 3, r
    assert r.out == "out\n" and "err" in r.err
    assert kubectl.ok("exec", "-i", "-n", env.ns, "p", "--", "cat", stdin="data\nmore\n") == "data\nmore\n"


def test_attach_is_refused(env: Env, kubectl: Kubectl) -> None:
    r = kubectl("attach", "-n", env.ns, "p", "-c", "c", timeout=30)
    assert r.rc != 0 and "attach is not supported" in r.err, r


def test_port_forward(env: Env, kubectl: Kubectl) -> None:
    proc = subprocess.Popen([kubectl.path, "--kubeconfig", str(kubectl.kubeconfig), "--cache-dir",
                             str(kubectl.home / "cache"), "port-forward", "-n", env.ns, "pod/p", ":8080"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"HOME": str(kubectl.home)})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", line)
        assert m, line
        for _ in range(2):  # two connections over one forwarding session
            with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/index.html", timeout=10) as resp:
                assert resp.read() == b"pong\n"
    finally:
        proc.terminate()
        proc.wait(10)


def test_python_client_logs(env: Env, server: ServerProc) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    api_client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    try:
        core = kubernetes.client.CoreV1Api(api_client)
        text = core.read_namespaced_pod_log("p", env.ns, container="c", tail_lines=3)
        assert len(text.splitlines()) == 3 and text.startswith("line ")
        assert core.read_namespaced_pod_log("p", env.ns).startswith("hello\n")
    finally:
        api_client.close()


def test_python_client_exec_and_port_forward(env: Env, server: ServerProc) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import portforward, stream

    api_client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    try:
        core = kubernetes.client.CoreV1Api(api_client)
        out = stream(core.connect_get_namespaced_pod_exec, "p", env.ns, command=["echo", "from-python"],
                     stderr=True, stdin=False, stdout=True, tty=False)
        assert out == "from-python\n"
        pf = portforward(core.connect_get_namespaced_pod_portforward, "p", env.ns, ports="8080")
        sock = pf.socket(8080)
        sock.setblocking(True)
        sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        sock.close()
        assert received.startswith(b"HTTP/1.") and received.endswith(b"pong\n"), received
        assert pf.error(8080) is None
        pf.close()
    finally:
        api_client.close()
