"""``kyb server`` / ``kyb up`` refuse a bad or busy ``--listen`` with one line and a non-zero exit, and ``kyb up``
leaves no node agent behind when its server cannot start (the agent process is started before the server)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def kyb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kybernetes", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_non_loopback_listen_is_refused() -> None:
    r = kyb("server", "--listen", "192.0.2.1:6443")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["error: refusing to listen on 192.0.2.1: without authentication and "
                                             "TLS the API server serves only loopback addresses (127.0.0.0/8, ::1)"]


def test_busy_port_stops_kyb_up_and_its_agent(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        data = tmp_path / "data"
        r = kyb("up", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data), "--runtime", "process",
                env={**os.environ, "HOME": str(tmp_path)})
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines()[-1] == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert str(data).encode() not in cmd, f"left running: {cmd!r}"
