"""The server process: clean shutdown on SIGTERM with watches open, refusal of non-loopback addresses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.serverproc import ServerProc


def test_sigterm_exits_zero_promptly_with_open_watches(tmp_path: Path) -> None:
    proc = ServerProc(tmp_path / "data", tmp_path / "kubeconfig")
    proc.start()
    sessions: list[requests.Session] = []
    ended: list[str] = []
    threads: list[threading.Thread] = []
    try:
        opened = threading.Barrier(6)

        def watch(path: str) -> None:
            s = requests.Session()
            sessions.append(s)
            with s.get(proc.url + path, params={"watch": "true", "timeoutSeconds": "600"}, stream=True,
                       timeout=30) as r:
                assert r.status_code == 200
                opened.wait(10)
                try:
                    for _ in r.iter_lines():
                        pass
                except requests.RequestException:
                    pass
            ended.append(path)

        paths = ["/api/v1/namespaces", "/api/v1/pods", "/apis/apps/v1/deployments",
                 "/api/v1/namespaces/default/configmaps", "/apis/coordination.k8s.io/v1/leases"]
        for p in paths:
            t = threading.Thread(target=watch, args=(p,), daemon=True)
            t.start()
            threads.append(t)
        opened.wait(10)

        assert proc.proc is not None
        pid_proc = proc.proc
        started = time.monotonic()
        pid_proc.send_signal(signal.SIGTERM)
        rc = pid_proc.wait(timeout=10)
        elapsed = time.monotonic() - started
        assert rc == 0, proc.log()
        assert elapsed < 5, f"shutdown took {elapsed:.1f}s with open watches"
        for t in threads:
            t.join(5)
        assert sorted(ended) == sorted(paths), "every watch stream ended with the server"
        log = proc.log()
        assert "Traceback" not in log, log
    finally:
        proc.stop()
        for s in sessions:
            s.close()


def test_restart_on_the_same_data_dir_keeps_objects(tmp_path: Path) -> None:
    proc = ServerProc(tmp_path / "data", tmp_path / "kubeconfig", extra_args=["--no-controllers"])
    proc.start()
    try:
        r = requests.post(proc.url + "/api/v1/namespaces/default/configmaps",
                          json={"metadata": {"name": "survivor"}, "data": {"k": "v"}}, timeout=10)
        assert r.status_code == 201
        rv = int(r.json()["metadata"]["resourceVersion"])
        assert proc.stop() == 0
        proc.start()
        got = requests.get(proc.url + "/api/v1/namespaces/default/configmaps/survivor", timeout=10)
        assert got.status_code == 200 and got.json()["data"] == {"k": "v"}
        r = requests.post(proc.url + "/api/v1/namespaces/default/configmaps",
                          json={"metadata": {"name": "after"}}, timeout=10)
        assert int(r.json()["metadata"]["resourceVersion"]) > rv, "revisions keep increasing over restarts"
        svc = requests.get(proc.url + "/api/v1/namespaces/default/services/kubernetes", timeout=10).json()
        assert svc["spec"]["clusterIP"]
        again = requests.get(proc.url + "/api/v1/services", timeout=10).json()["items"]
        assert [s["metadata"]["name"] for s in again].count("kubernetes") == 1
    finally:
        proc.stop()


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "[::]:0", "10.1.2.3:6443", "example.com:6443"])
def test_refuses_non_loopback_listen_address(tmp_path: Path, listen: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    p = subprocess.run([sys.executable, "-m", "kybernetes", "server", "--listen", listen,
                        "--data-dir", str(tmp_path / "data"), "--kubeconfig", str(kubeconfig)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in p.stderr
    assert not kubeconfig.exists()


def test_health_answers_immediately_after_ready(tmp_path: Path) -> None:
    proc = ServerProc(tmp_path / "data", tmp_path / "kubeconfig")
    proc.start()
    try:
        for path in ("/healthz", "/readyz", "/livez"):
            r = requests.get(proc.url + path, timeout=5)
            assert (r.status_code, r.text) == (200, "ok")
        body = requests.get(proc.url + "/api/v1/namespaces", timeout=5).json()
        names = {n["metadata"]["name"] for n in body["items"]}
        assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
        assert json.loads(requests.get(proc.url + "/version", timeout=5).text)["major"]
    finally:
        proc.stop()
