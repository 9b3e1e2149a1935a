"""Start a real ``kyb server`` process on a loopback port for tests.

The server writes its kubeconfig once ready; we read the URL from it.  Stop
sends SIGTERM to the one process we started (by PID) and waits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class ServerProc:
    data_dir: Path
    kubeconfig: Path
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    log_path: Path = field(default_factory=lambda: Path("/dev/null"))
    extra_args: list[str] = field(default_factory=list)

    def start(self, timeout: float = 30.0) -> ServerProc:
        if self.kubeconfig.exists():
            self.kubeconfig.unlink()
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kybernetes", "server", "--data-dir", str(self.data_dir),
                 "--listen", "127.0.0.1:0", "--kubeconfig", str(self.kubeconfig), *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            if self.kubeconfig.exists():
                try:
                    cfg = yaml.safe_load(self.kubeconfig.read_text())
                    self.url = cfg["clusters"][0]["cluster"]["server"]
                    return self
                except (yaml.YAMLError, KeyError, IndexError, TypeError):
                    pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
