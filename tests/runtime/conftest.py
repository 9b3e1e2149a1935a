"""Fixtures for the runtime contract suite: one runtime per test under its own root, always cleaned up.

``rt_env`` is parametrized over the backends (``runc``, ``process``, ``simulated``). Each test gets a fresh root
directory and, for runc, its own cgroup root ``/kyb-test-<random>``; the finalizer runs the runtime's
``cleanup_all`` and then checks, independently of the runtime's own bookkeeping, that no mount is left under
the root, no cgroup directory under the cgroup root and no process the test started (the pids recorded under
the root) is alive, removing whatever it finds so that a failing test never leaks into the next one.

Marks: ``needs_runc`` skips with a reason where the runc backend cannot run (not root, no runc, no busybox);
tests that look at processes' output or exec into them use ``real_only`` to skip the simulated backend.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kybernetes.runtime.api import ContainerConfig, SandboxConfig
from kybernetes.runtime.cgroups import Hierarchies
from kybernetes.runtime.mounts import mounts_under, unmount
from kybernetes.runtime.process import ProcessRuntime
from kybernetes.runtime.runc import RuncRuntime
from kybernetes.runtime.shimctl import is_alive
from kybernetes.runtime.simulated import SimulatedRuntime

BUSYBOX = "/bin/busybox"


def runc_unavailable() -> str:
    if os.geteuid() != 0:
        return "the runc backend needs root"
    if shutil.which("runc") is None:
        return "runc is not installed"
    if not os.path.exists(BUSYBOX):
        return "busybox-static is not installed (the test rootfs is made from it)"
    return ""


needs_runc = pytest.mark.skipif(bool(runc_unavailable()), reason=runc_unavailable() or "runc available")
BACKENDS = [pytest.param("runc", marks=needs_runc), "process", "simulated"]
REAL_BACKENDS = [pytest.param("runc", marks=needs_runc), "process"]

PASSWD = """root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
"""
GROUP = """root:x:0:
nogroup:x:65534:
app:x:1000:
staff:x:50:app
"""


def build_busybox_rootfs(target: Path) -> Path:
    """A minimal root filesystem: busybox with its applet links, /etc/passwd, /etc/group, /tmp."""
    (target / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, target / "bin" / "busybox")
    applets = os.popen(f"{BUSYBOX} --list").read().split()
    for applet in applets:
        if applet != "busybox":
            (target / "bin" / applet).symlink_to("busybox")
    for d in ("etc", "tmp", "root", "home/app", "proc", "sys", "dev"):
        (target / d).mkdir(parents=True, exist_ok=True)
    (target / "tmp").chmod(0o1777)
    (target / "etc" / "passwd").write_text(PASSWD)
    (target / "etc" / "group").write_text(GROUP)
    os.chown(target / "home" / "app", 1000, 1000)
    return target


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static is not installed")
    return build_busybox_rootfs(tmp_path_factory.mktemp("rootfs") / "busybox")


@dataclass
class RuntimeEnv:
    """One backend under test, with helpers that give each backend the commands it understands."""

    kind: str
    root: Path
    rootfs: Path | None
    cgroup_root: str
    logs: Path
    make: Callable[[], Any]
    rt: Any = None
    others: list[Any] = field(default_factory=list)

    def new_runtime(self) -> Any:
        """Another runtime object over the same root (what a restarted node agent would build)."""
        rt = self.make()
        self.others.append(rt)
        return rt

    def sandbox(self, name: str = "pod", **kw: Any) -> SandboxConfig:
        return SandboxConfig(name=name, namespace="default", uid=f"uid-{name}", **kw)

    def container(self, name: str, command: list[str], **kw: Any) -> ContainerConfig:
        kw.setdefault("env", ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        kw.setdefault("log_path", str(self.logs / f"{name}.log"))
        kw.setdefault("rootfs_layers", [self.rootfs] if self.rootfs is not None else [])
        return ContainerConfig(name=name, command=command, **kw)

    def exit_cmd(self, code: int) -> list[str]:
        return ["exit", str(code)] if self.kind == "simulated" else ["sh", "-c", f"exit {code}"]

    def forever_cmd(self) -> list[str]:
        """Runs until stopped, and stops at once on SIGTERM."""
        return ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"]


def _recorded_pids(root: Path) -> list[tuple[int, int]]:
    pids = []
    for f in root.glob("containers/*/container.json"):
        with contextlib.suppress(OSError, ValueError):
            rec = json.loads(f.read_text())
            pids += [(rec["pid"], rec["pid_start"]), (rec["shim_pid"], rec["shim_start"])]
    return pids


def force_cleanup(root: Path, cgroup_root: str, pids: list[tuple[int, int]]) -> list[str]:
    """Remove what a runtime may have left; return a description of each leftover found."""
    found = []
    for pid, start in pids:
        if is_alive(pid, start):
            found.append(f"process {pid}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if cgroup_root:
        h = Hierarchies()
        if any(d.exists() for d in h.dirs(cgroup_root)):
            found.append(f"cgroup {cgroup_root}")
            h.remove_tree(cgroup_root)
    for point in mounts_under(root):
        found.append(f"mount {point}")
        unmount(point, lazy=True)
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
    return found


@pytest.fixture(params=BACKENDS)
async def rt_env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RuntimeEnv]:
    kind: str = request.param
    root = tmp_path / "rt"
    cgroup_root = f"/kyb-test-{secrets.token_hex(4)}" if kind == "runc" else ""
    rootfs = None
    make: Callable[[], Any]
    if kind == "runc":
        rootfs = request.getfixturevalue("busybox_rootfs")
        make = lambda: RuncRuntime(root, cgroup_root=cgroup_root)  # noqa: E731
    elif kind == "process":
        make = lambda: ProcessRuntime(root)  # noqa: E731
    else:
        make = SimulatedRuntime
    env = RuntimeEnv(kind, root, rootfs, cgroup_root, tmp_path / "logs", make)
    env.rt = make()
    try:
        yield env
    finally:
        if kind != "simulated":
            pids = _recorded_pids(root)
            with contextlib.suppress(Exception):
                await env.rt.cleanup_all()
            leftovers = force_cleanup(root, cgroup_root, pids)
            assert not leftovers, f"cleanup_all left {leftovers}"

