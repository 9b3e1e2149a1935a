"""Fixtures for the kubectl compatibility suite.

Every test runs once per kubectl version (1.27 ... 1.33, ids ``kubectl-1.27`` ...)
against the one session server.  A version's ``Kubectl`` runner is built once
per session, so its discovery cache is warm after the first command.  Each test
gets its own namespace (``ns``), created over plain HTTP before the test and
deleted after it (the namespace controller removes what is left inside), so
tests never see each other's objects.

Helpers:

* ``http`` -- a tiny JSON client for the server, for setup and for checking what
  is stored independently of kubectl.
* ``KubectlStream`` -- a long-running kubectl (``get -w``, ``delete --wait``)
  whose output lines are read with a timeout; always killed by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import CmdResult, Kubectl
from tests.kubectl_bins import VERSIONS
from tests.serverproc import ServerProc

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


# --------------------------------------------------------------------------------------------------- kubectl


@pytest.fixture(scope="session", params=VERSIONS, ids=[f"kubectl-{v}" for v in VERSIONS])
def kubectl(request: pytest.FixtureRequest, kubectls: dict[str, str], kubectl_factory: Any) -> Kubectl:
    version: str = request.param
    if version not in kubectls:
        pytest.skip(f"kubectl {version} is not installed")
    return kubectl_factory(version)


def kubectl_argv(kubectl: Kubectl, *args: str) -> tuple[list[str], dict[str, str]]:
    argv = [kubectl.path, "--kubeconfig", str(kubectl.kubeconfig), "--cache-dir", str(kubectl.home / "cache"),
            *args]
    env = {"HOME": str(kubectl.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "KUBECONFIG": str(kubectl.kubeconfig)}
    return argv, env


class KubectlStream:
    """A kubectl process left running (``get -w``, ``delete --wait``); stdout lines arrive in a queue."""

    def __init__(self, kubectl: Kubectl, *args: str):
        argv, env = kubectl_argv(kubectl, *args)
        self.args = args
        # stderr goes to a file, not a pipe: a chatty stderr can never block kubectl
        fd, self._stderr_path = tempfile.mkstemp(prefix="kubectl-stderr-")
        with os.fdopen(fd, "ab") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The next line satisfying ``predicate`` (earlier lines are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(f"kubectl {' '.join(self.args)}: no matching line in {timeout}s; "
                                     f"saw {self.seen!r}; stderr: {self.stderr_nowait()!r}") from None
            if line is None:
                raise AssertionError(f"kubectl {' '.join(self.args)} ended (rc={self.proc.wait()}); "
                                     f"saw {self.seen!r}; stderr: {self.stderr_nowait()!r}")
            self.seen.append(line)
            if predicate(line):
                return line

    def wait(self, timeout: float = 15.0) -> CmdResult:
        """Wait for the process to end on its own; returns its result (all stdout lines, stderr)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"kubectl {' '.join(self.args)} still running after {timeout}s; "
                                 f"saw {self.seen!r}") from None
        self._reader.join(5)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.seen.append(line)
        return CmdResult(self.proc.returncode, "\n".join(self.seen), self.stderr_nowait())

    def stderr_nowait(self) -> str:
        """What kubectl wrote to stderr so far."""
        with open(self._stderr_path, errors="replace") as err:
            return err.read()

    def kill(self) -> None:
        """Stop the process by its PID (idempotent)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._stderr_path)


@contextlib.contextmanager
def kubectl_stream(kubectl: Kubectl, *args: str) -> Iterator[KubectlStream]:
    stream = KubectlStream(kubectl, *args)
    try:
        yield stream
    finally:
        stream.kill()


# --------------------------------------------------------------------------------------------------- HTTP


class Http:
    """Minimal JSON client for the test server (setup, teardown and independent checks)."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        code, body = self.request("GET", path)
        assert code == 200, f"GET {path} -> {code}: {body}"
        return body

    def exists(self, path: str) -> bool:
        code, body = self.request("GET", path)
        assert code in (200, 404), f"GET {path} -> {code}: {body}"
        return code == 200

    def post(self, path: str, body: Any) -> Any:
        code, out = self.request("POST", path, body)
        assert code == 201, f"POST {path} -> {code}: {out}"
        return out

    def patch(self, path: str, body: Any, kind: str = "merge") -> Any:
        ctype = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                 "strategic": "application/strategic-merge-patch+json"}[kind]
        code, out = self.request("PATCH", path, body, ctype)
        assert code == 200, f"PATCH {path} -> {code}: {out}"
        return out


@pytest.fixture(scope="session")
def http(server: ServerProc) -> Http:
    return Http(server.url)


def wait_until(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------- namespaces


def namespace_name(request: pytest.FixtureRequest, version: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.removeprefix("test_").lower()).strip("-")
    suffix = f"-{version.replace('.', '')}-{uuid.uuid4().hex[:5]}"
    return base[: 63 - len(suffix)].rstrip("-") + suffix


@pytest.fixture
def ns(request: pytest.FixtureRequest, kubectl: Kubectl, http: Http) -> Iterator[str]:
    """A fresh namespace for this test and kubectl version; deleted afterwards (without waiting)."""
    name = namespace_name(request, kubectl.version)
    http.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    code, body = http.request("DELETE", f"/api/v1/namespaces/{name}")
    assert code in (200, 202, 404), f"deleting namespace {name} -> {code}: {body}"


@pytest.fixture
def fresh_name(request: pytest.FixtureRequest, kubectl: Kubectl) -> str:
    """A unique cluster-wide name for tests that create namespaces themselves."""
    return namespace_name(request, kubectl.version)


# --------------------------------------------------------------------------------------------------- output


def table(out: str) -> tuple[list[str], list[list[str]]]:
    """Split kubectl's aligned column output into (header cells, rows of cells).

    Columns start where the header has a word after two or more spaces, so headers with one space
    (``NOMINATED NODE``) and empty cells (a resource without short names) are handled.
    """
    lines = [line.rstrip() for line in out.splitlines() if line.strip()]
    assert lines, f"no table in output: {out!r}"
    starts = [0] + [m.end() for m in re.finditer(r"\s{2,}(?=\S)", lines[0])]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in bounds]

    return cells(lines[0]), [cells(line) for line in lines[1:]]


def rows(out: str) -> list[dict[str, str]]:
    """Every row as header -> cell."""
    header, body = table(out)
    return [dict(zip(header, cells, strict=True)) for cells in body]


def row(out: str, name: str, column: str = "NAME") -> dict[str, str]:
    """The row whose ``column`` equals ``name``, as header -> cell."""
    for r in rows(out):
        if r.get(column) == name:
            return r
    raise AssertionError(f"no row with {column}={name!r} in:\n{out}")
