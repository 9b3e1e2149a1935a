"""Fixtures shared by the suites: a real API server process and the real kubectl binaries."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kubectl_bins import find_kubectls
from tests.serverproc import ServerProc

# Network safety: every node agent the suites start (in this process or as `kyb up`/`kyb agent` children) contacts
# no image registry beyond this machine; pods whose images default to imagePullPolicy Always use the local store.
os.environ["KYB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def kubectls() -> dict[str, str]:
    found = find_kubectls()
    if not found:
        pytest.fail("no kubectl binary available (neither the Debian package nor the PyPI wheel)")
    return found


# The API suites test the API server's own semantics, so the controllers that would act on their
# objects (creating pods for their deployments, tainting their hand-made nodes, adding ServiceAccounts)
# stay off; the namespace controller and the garbage collector stay on (namespace deletion and
# --cascade are part of what those suites check).  The control-loop suites start what they test.
API_SUITE_DISABLED = ("replicaset,replicationcontroller,deployment,nodelifecycle,podgc,serviceaccount,"
                      "root-ca-cert-publisher,scheduler")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    base = tmp_path_factory.mktemp("kyb")
    proc = ServerProc(base / "data", base / "kubeconfig",
                      extra_args=[f"--disable-controllers={API_SUITE_DISABLED}"]).start()
    yield proc
    rc = proc.stop()
    assert rc == 0, f"server exited with {rc} on SIGTERM:\n{proc.log()}"


@dataclass
class CmdResult:
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


class Kubectl:
    """Runs one kubectl binary against the test server, in a private HOME and cache dir."""

    def __init__(self, path: str, version: str, kubeconfig: Path, home: Path):
        self.path = path
        self.version = version
        self.kubeconfig = kubeconfig
        self.home = home

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 60,
                 env: dict[str, str] | None = None) -> CmdResult:
        full_env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "KUBECONFIG": str(self.kubeconfig), **(env or {})}
        p = subprocess.run([self.path, "--kubeconfig", str(self.kubeconfig),
                            "--cache-dir", str(self.home / "cache"), *args],
                           input=stdin, capture_output=True, text=True, timeout=timeout, env=full_env)
        return CmdResult(p.returncode, p.stdout, p.stderr)

    def ok(self, *args: str, **kw: object) -> str:
        r = self(*args, **kw)  # type: ignore[arg-type]
        assert r.rc == 0, f"kubectl {' '.join(args)} failed:\n{r}"
        return r.out


@pytest.fixture
def unique() -> str:
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def kubectl_factory(server: ServerProc, kubectls: dict[str, str],
                    tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    def make(version: str) -> Kubectl:
        home = tmp_path_factory.mktemp(f"home-{version}")
        return Kubectl(kubectls[version], version, server.kubeconfig, home)

    return make
