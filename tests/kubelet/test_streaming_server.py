"""kubectl logs / exec / attach / port-forward through the real API server to a streaming server over real runc
containers.

One module-wide node (`streaming_env.StreamingNode`) runs pod ``p`` in namespace ``ns-<hex>``: its container
prints ``hello`` and then a numbered line every 0.2 s, and serves ``pong`` over busybox httpd on port 8080
inside the pod's network namespace (there is no pod network: port-forward must dial inside the namespace).
Attach tests add pods of their own (one per kubectl version: a container whose stdin closed stays closed).
Every test runs the real kubectl binaries (1.27: SPDY; 1.30: WebSocket exec and attach; 1.31 and 1.33: also SPDY
tunnelled in a WebSocket for port-forward); the Python client uses plain WebSocket channels. Terminal tests run
kubectl on a pseudo-terminal of our own, so that it goes raw and sends its window size.

``kubectl run -i`` needs pods created from the API to run: `streaming_env.AgentNode`, the real node agent, does
that for the tests that use the ``agent`` fixture (pods are bound to it with ``--overrides``: no scheduler).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Kubectl
from tests.kubelet.streaming_env import AgentNode, ApiObjects, StreamingNode
from tests.runtime.conftest import build_busybox_rootfs, runc_unavailable
from tests.serverproc import ServerProc

pytestmark = pytest.mark.skipif(bool(runc_unavailable()), reason=runc_unavailable() or "runc available")

VERSIONS = ["1.27", "1.30", "1.31", "1.33"]
MAIN = ("mkdir -p /tmp/www && echo pong > /tmp/www/index.html && httpd -p 8080 -h /tmp/www; "
        "echo hello; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done")


class Env:
    def __init__(self, node: StreamingNode, ns: str, api: ApiObjects, node_name: str) -> None:
        self.node = node
        self.ns = ns
        self.api = api
        self.node_name = node_name

    def pod(self, name: str, command: list[str], **stdio: bool) -> None:
        """Run a one-container pod (container ``c``) with ``stdin``, ``stdin_once`` and ``tty`` as given."""
        self.node.add_pod(self.ns, name, {"c": command}, **stdio)
        self.api.pod(self.ns, name, ["c"], self.node_name, stdin=stdio.get("stdin", False),
                     stdinOnce=stdio.get("stdin_once", False), tty=stdio.get("tty", False))

    def shim_fds(self, pod: str) -> int:
        """How many descriptors the shim of the pod's container ``c`` holds (one more per attach client)."""
        rec = self.node.rt.store.load_container(self.node.lookup.containers[(self.ns, pod, "c")])
        return len(os.listdir(f"/proc/{rec.shim_pid}/fd"))


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
        yield Env(node, ns, api, node_name)
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


def pod_name(prefix: str, kubectl: Kubectl) -> str:
    return f"{prefix}-{kubectl.version.replace('.', '')}"


def test_attach_stdin_reaches_the_container_and_stdin_once_ends_it(env: Env, kubectl: Kubectl) -> None:
    name = pod_name("once", kubectl)
    env.pod(name, ["sh", "-c", "while read x; do echo got $x; echo err $x >&2; done; echo bye; exit 3"],
            stdin=True, stdin_once=True)
    r = kubectl("attach", "-i", "-n", env.ns, name, "-c", "c", stdin="one\ntwo\n", timeout=30)
    # kubectl's stdin ended -> stdinOnce closed the container's -> the loop ended; attach reports Success (the
    # exit code is the pod status's business, as upstream)
    assert r.rc == 0, r
    assert r.out == "got one\ngot two\nbye\n"
    assert "err one\nerr two\n" in r.err


def test_attach_follows_output_and_leaves_no_trace(env: Env, kubectl: Kubectl) -> None:
    baseline = env.shim_fds("p")
    proc = subprocess.Popen([kubectl.path, "--kubeconfig", str(kubectl.kubeconfig), "--cache-dir",
                             str(kubectl.home / "cache"), "attach", "-n", env.ns, "p"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"HOME": str(kubectl.home)})
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        numbers = [int(line.split()[1]) for line in lines]
        assert numbers == list(range(numbers[0], numbers[0] + 3)), lines
        assert env.shim_fds("p") == baseline + 1
    finally:
        proc.kill()  # the client vanishes: the session must be torn down on the node's side
        proc.wait(10)
    deadline = time.monotonic() + 10
    while env.shim_fds("p") != baseline:
        assert time.monotonic() < deadline, "the shim still holds the dead client's connection"
        time.sleep(0.05)
    cid = env.node.lookup.containers[(env.ns, "p", "c")]
    assert env.node.call(env.node.rt.container_status(cid)).state.value == "running"


def test_attach_refusals(env: Env, kubectl: Kubectl) -> None:
    r = kubectl("attach", "-i", "-n", env.ns, "p", stdin="x\n", timeout=30)
    assert r.rc != 0, r
    assert 'unable to attach stdin: container "c" in pod "p" was not created with stdin: true' in r.err, r
    name = pod_name("done", kubectl)
    env.pod(name, ["true"])
    cid = env.node.lookup.containers[(env.ns, name, "c")]
    deadline = time.monotonic() + 10
    while env.node.call(env.node.rt.container_status(cid)).state.value != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = kubectl("attach", "-n", env.ns, name, timeout=30)
    assert r.rc != 0 and f'container "c" in pod "{name}" is not running' in r.err, r


def read_until(fd: int, needle: bytes, timeout: float = 15.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} never came; got {got!r}"
        if select.select([fd], [], [], min(left, 0.2))[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: kubectl closed the terminal
                chunk = b""
            assert chunk, f"{needle!r} never came; got {got!r}"
            got += chunk
    return got


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def wait_for_size(master: int, size: bytes, timeout: float = 15.0) -> None:
    """Run ``stty size`` in the attached shell until it prints ``size``."""
    deadline = time.monotonic() + timeout
    while True:
        os.write(master, b"stty size\n")
        got = read_until(master, b"# ", max(0.1, deadline - time.monotonic()))
        if size + b"\r\n" in got:
            return
        assert time.monotonic() < deadline, f"the terminal never became {size!r}; last {got!r}"
        time.sleep(0.1)


def test_attach_with_a_terminal(env: Env, kubectl: Kubectl) -> None:
    name = pod_name("tty", kubectl)
    env.pod(name, ["sh"], stdin=True, stdin_once=True, tty=True)
    master, slave = os.openpty()
    set_size(slave, 30, 90)
    proc = subprocess.Popen([kubectl.path, "--kubeconfig", str(kubectl.kubeconfig), "--cache-dir",
                             str(kubectl.home / "cache"), "attach", "-it", "-n", env.ns, name],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            env={"HOME": str(kubectl.home), "TERM": "xterm"})
    os.close(slave)
    try:
        read_until(master, b"try pressing enter")
        # kubectl attach first sends one more row and column than it has (to make the program redraw), then its
        # real size; ask until the real one has arrived
        wait_for_size(master, b"30 90")  # kubectl sent its terminal's size
        set_size(master, 20, 70)
        proc.send_signal(signal.SIGWINCH)  # what the kernel tells the terminal's foreground process
        wait_for_size(master, b"20 70")
        os.write(master, b"exit 4\n")
        assert proc.wait(15) == 0  # the session ended with the container: Success
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        os.close(master)


@pytest.fixture(scope="module")
def agent(server: ServerProc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentNode, str]]:
    node = AgentNode(server.url, tmp_path_factory.mktemp("agent"))
    ns = "run-" + uuid.uuid4().hex[:8]
    api = ApiObjects(server.url)
    api.send("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    try:
        node.start()
        yield node, ns
    finally:
        node.stop()
        with open("/proc/self/mounts") as f:
            assert str(node.cfg.data_dir) not in f.read()


@pytest.mark.parametrize(("script", "rc", "out"), [
    ("read x; echo got $x", 0, "got hello\n"),
    ("read x; echo got $x; cat; exit 3", 3, "got hello\nrest\n"),  # cat ends only when stdinOnce closes stdin
], ids=["succeeds", "fails"])
def test_kubectl_run_interactive(agent: tuple[AgentNode, str], kubectl: Kubectl, script: str, rc: int,
                                 out: str) -> None:
    node, ns = agent
    name = f"run-{rc}-{kubectl.version.replace('.', '')}"
    overrides = json.dumps({"apiVersion": "v1", "spec": {"nodeName": node.node_name}})
    r = kubectl("run", name, "-n", ns, "-i", "--rm", "--restart=Never", "--image=busybox",
                f"--overrides={overrides}", "--command", "--", "sh", "-c", script, stdin="hello\nrest\n",
                timeout=120)
    assert r.rc == rc, r
    assert r.out.startswith(out), r
    if rc:
        assert f"pod {ns}/{name} terminated (Error)" in r.err, r


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


def test_python_client_attach(env: Env, server: ServerProc) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import stream

    env.pod("py-attach", ["cat"], stdin=True, stdin_once=True)
    cid = env.node.lookup.containers[(env.ns, "py-attach", "c")]
    api_client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    try:
        core = kubernetes.client.CoreV1Api(api_client)
        resp = stream(core.connect_get_namespaced_pod_attach, "py-attach", env.ns, container="c", stdin=True,
                      stdout=True, stderr=True, tty=False, _preload_content=False)
        try:
            resp.write_stdin("from-python\n")  # str: a text frame, raw bytes on a binary protocol (as upstream)
            got = ""
            deadline = time.monotonic() + 10
            while "from-python\n" not in got:
                assert time.monotonic() < deadline, got
                resp.update(timeout=0.5)
                got += resp.read_stdout() if resp.peek_stdout() else ""
            assert got == "from-python\n"
        finally:
            resp.close()  # a v4 WebSocket has no half-close: leaving ends this stdin, and stdinOnce closes it
    finally:
        api_client.close()
    deadline = time.monotonic() + 10
    while (st := env.node.call(env.node.rt.container_status(cid))).state.value != "exited":
        assert time.monotonic() < deadline, "stdinOnce did not close the container's stdin"
        time.sleep(0.05)
    assert st.exit_code == 0
