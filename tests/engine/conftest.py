"""Fixtures for the ``kyb`` container and image commands, run end to end as the user runs them.

Every test module gets its own engine (`engine`, module scope): a data dir whose ``engine.json`` names a bridge
``kybe<hex>``, a random free subnet ``10.253.X.0/24``, a cgroup root ``/kyb-test-<hex>`` and an nftables table
``kybe<hex>``, with busybox bootstrapped into its image store. Tests drive it with `Kyb`, which runs the real
``kyb`` console script as a subprocess with ``KYB_DATA_DIR`` set. After each test every container is removed
(`kyb` fixture); after the module everything is taken down and checked gone (`teardown_engine`): containers
(``kyb rm -f``), runtimes (``cleanup_all``), the bridge and its table, cgroups in every hierarchy, mounts under
the data dir, port forwarders, shims and container processes. Anything found left over fails the module.
Traffic goes only to loopback and to the containers' addresses on the test's own bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import json
import os
import pty
import random
import re
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kybernetes.network.bridge import BridgeNetwork
from kybernetes.network.netns import link_exists
from kybernetes.runtime.mounts import mounts_under, unmount
from kybernetes.runtime.process import ProcessRuntime
from kybernetes.runtime.runc import RuncRuntime
from kybernetes.runtime.shimctl import is_alive

KYB = str(Path(sys.executable).with_name("kyb"))
CGROUP_FS = Path("/sys/fs/cgroup")

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("runc", "ip", "nft", "nsenter"))
    or not os.path.exists("/bin/busybox"),
    reason="needs root, runc, iproute2, nftables and busybox-static")


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


@dataclass
class EngineSettings:
    data: Path
    bridge: str
    subnet: str
    cgroup_root: str
    nft_table: str

    def network(self) -> BridgeNetwork:
        return BridgeNetwork(bridge=self.bridge, subnet=self.subnet, state_dir=self.data / "network",
                             nft_table=self.nft_table)


@dataclass
class Kyb:
    """Runs ``kyb`` against one engine's data dir; ``kyb("ps", "-a")`` gives a `Result`."""

    settings: EngineSettings
    env: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.settings.data

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "KYB_DATA_DIR": str(self.data), **self.env, **(extra or {})}

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
                 timeout: float = 60) -> Result:
        p = subprocess.run([KYB, *args], input=stdin if stdin is not None else "", capture_output=True, text=True,
                           timeout=timeout, env=self.environ(env))
        return Result(p.returncode, p.stdout, p.stderr)

    def many(self, *commands: list[str] | tuple[str, ...]) -> list[Result]:
        """Run several independent commands at once (results in order): quicker, and concurrent use of one
        engine is part of what is tested."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(lambda c: self(*c), commands))

    def ok(self, *args: str, **kw: object) -> str:
        r = self(*args, **kw)  # type: ignore[arg-type]
        assert r.rc == 0, f"kyb {' '.join(args)} failed:\n{r}"
        return r.out

    def records(self) -> list[dict[str, object]]:
        out = []
        for p in (self.data / "containers").glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                out.append(json.loads(p.read_text()))
        return out

    def ps_rows(self, *args: str) -> list[list[str]]:
        """``kyb ps`` rows (header dropped) split on runs of 2+ spaces."""
        lines = self.ok("ps", *args).splitlines()
        return [re.split(r" {2,}", line.rstrip()) for line in lines[1:]]

    def remove_all(self) -> None:
        ids = [str(r["id"]) for r in self.records()]
        if ids:
            self("rm", "-f", *ids)


def _host_routes() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-j", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    nets = []
    for r in json.loads(out or "[]"):
        dst = r.get("dst", "")
        if dst and dst != "default" and ":" not in dst and r.get("type") not in ("blackhole", "unreachable"):
            with contextlib.suppress(ValueError):
                nets.append(ipaddress.IPv4Network(dst if "/" in dst else dst + "/32", strict=False))
    return nets


def free_subnet() -> str:
    """A random ``10.253.X.0/24`` that no host route overlaps."""
    used = _host_routes()
    candidates = list(range(1, 255))
    random.shuffle(candidates)
    for x in candidates:
        net = ipaddress.IPv4Network(f"10.253.{x}.0/24")
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise AssertionError("no free subnet in 10.253.0.0/16")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leftovers_of_failed_run(data: Path) -> list[str]:
    """What a ``kyb run`` that failed may have left: records, container dirs, image leases, runtime sandboxes
    and containers, addresses, forwarders, mounts (with no container alive, all of these must be empty)."""
    found = [str(p.relative_to(data)) for pattern in (
        "containers/*", "images/leases/*", "runtime/*/containers/*", "runtime/*/sandboxes/*",
        "network/ipam/*.*.*.*", "network/proxies/*.pid") for p in data.glob(pattern) if not p.name.startswith(".")]
    return found + [f"mount {m}" for m in mounts_under(data)]


def run_in_pty(argv: list[str], env: dict[str, str], rows: int = 0, cols: int = 0,
               timeout: float = 20) -> tuple[int, bytes]:
    """Run `argv` with a new pseudo-terminal as its stdin, stdout and stderr (and controlling terminal);
    return its exit code and everything it wrote."""
    master, slave = pty.openpty()
    if rows:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave end is closed
                break
            if not chunk:
                break
            out += chunk
        return proc.wait(max(0.1, deadline - time.monotonic())), out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


# --- teardown ------------------------------------------------------------------------------------------------


def _runtime_pids(root: Path) -> list[tuple[int, int]]:
    pids = []
    for f in root.glob("*/containers/*/container.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            rec = json.loads(f.read_text())
            pids += [(int(rec["pid"]), int(rec["pid_start"])), (int(rec["shim_pid"]), int(rec["shim_start"]))]
    return [(p, s) for p, s in pids if p > 0]


def _proxy_pids(settings: EngineSettings) -> list[int]:
    """Forwarders recorded under ``<data>/network`` plus any process still marked with the test's bridge."""
    pids = set()
    for f in (settings.data / "network").glob("proxies/*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids.add(int(f.read_text().strip()))
    mark = f"--bridge={settings.bridge}".encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if mark in (proc / "cmdline").read_bytes().split(b"\0"):
                    pids.add(int(proc.name))
    return sorted(pids)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    return ""


def _processes_naming(data: Path) -> list[int]:
    """Live processes whose command line mentions the data dir."""
    found = []
    for proc in Path("/proc").iterdir():
        if (proc.name.isdigit() and int(proc.name) != os.getpid() and str(data) in _cmdline(int(proc.name))
                and _alive(int(proc.name))):
            found.append(int(proc.name))
    return found


def _cgroup_dirs(cgroup_root: str) -> list[Path]:
    return [d / cgroup_root.strip("/") for d in CGROUP_FS.iterdir() if (d / cgroup_root.strip("/")).is_dir()]


def _remove_cgroups(cgroup_root: str) -> None:
    for top in _cgroup_dirs(cgroup_root):
        for parent, _, _ in os.walk(top, topdown=False):
            for _ in range(200):
                with contextlib.suppress(OSError):
                    for pid in (Path(parent) / "cgroup.procs").read_text().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
                try:
                    os.rmdir(parent)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def teardown_engine(settings: EngineSettings) -> list[str]:
    """Take everything of the engine down, whatever state it is in; return what was found left over by the
    product's own cleanup (an empty list is a clean teardown)."""
    data = settings.data
    leftovers: list[str] = []
    kyb = Kyb(settings)
    with contextlib.suppress(Exception):
        kyb.remove_all()
    if kyb.records():
        leftovers.append(f"container records after kyb rm -f: {[r['name'] for r in kyb.records()]}")
    runtime_pids = _runtime_pids(data / "runtime")
    proxy_pids = _proxy_pids(settings)
    for pid in proxy_pids:
        if _alive(pid):
            leftovers.append(f"port forwarder {pid} after kyb rm -f")
    net = settings.network()

    async def down() -> None:
        for name in ("runc", "build"):
            root = data / "runtime" / name
            if root.exists():
                with contextlib.suppress(Exception):
                    await RuncRuntime(root, network=net if name == "runc" else None,
                                      cgroup_root=settings.cgroup_root).cleanup_all()
        if (data / "runtime" / "process").exists():
            with contextlib.suppress(Exception):
                await ProcessRuntime(data / "runtime" / "process").cleanup_all()
        await net.destroy()

    try:
        asyncio.run(down())
    except Exception as e:  # reported below, then forced
        leftovers.append(f"network destroy failed: {e}")
    for pid, start in runtime_pids:
        if is_alive(pid, start):
            leftovers.append(f"process {pid} after cleanup_all")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for pid in _proxy_pids(settings):
        if _alive(pid):
            leftovers.append(f"port forwarder {pid} after destroy")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for pid in _processes_naming(data):  # shims (spare ones too), forwarders, anything else of this engine
        leftovers.append(f"process {pid}: {_cmdline(pid)}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _remove_cgroups(settings.cgroup_root)
    if _cgroup_dirs(settings.cgroup_root):
        leftovers.append(f"cgroups {_cgroup_dirs(settings.cgroup_root)}")
    for point in mounts_under(data):
        leftovers.append(f"mount {point}")
        unmount(point, lazy=True)
    if link_exists(settings.bridge):
        leftovers.append(f"bridge {settings.bridge}")
        subprocess.run(["ip", "link", "del", settings.bridge], capture_output=True)
    if subprocess.run(["nft", "list", "table", "inet", settings.nft_table], capture_output=True).returncode == 0:
        leftovers.append(f"nftables table {settings.nft_table}")
        subprocess.run(["nft", "delete", "table", "inet", settings.nft_table], capture_output=True)
    return leftovers


# --- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineSettings]:
    if os.geteuid() != 0 or not shutil.which("runc"):
        pytest.skip("needs root and runc")
    suffix = secrets.token_hex(2)
    data = tmp_path_factory.mktemp("engine") / "data"
    data.mkdir()
    settings = EngineSettings(data=data, bridge=f"kybe{suffix}", subnet=free_subnet(),
                              cgroup_root=f"/kyb-test-{secrets.token_hex(4)}", nft_table=f"kybe{suffix}")
    (data / "engine.json").write_text(json.dumps({
        "bridge": settings.bridge, "subnet": settings.subnet, "cgroup_root": settings.cgroup_root,
        "nft_table": settings.nft_table, "runtime": ""}))
    try:
        out = Kyb(settings).ok("image", "bootstrap", "busybox")
        assert out.startswith("busybox:latest: sha256:"), out
        yield settings
    finally:
        leftovers = teardown_engine(settings)
        shutil.rmtree(data, ignore_errors=True)
        assert not leftovers, f"left behind: {leftovers}"


@pytest.fixture
def kyb(engine: EngineSettings) -> Iterator[Kyb]:
    """The CLI on the module's engine; every container is removed after the test (then none may be left)."""
    k = Kyb(engine)
    try:
        yield k
    finally:
        k.remove_all()
    left = leftovers_of_failed_run(engine.data)
    assert not left, f"left after kyb rm -f of every container: {left}"
