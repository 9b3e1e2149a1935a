"""Publishing container ports on the host: binding, starting and stopping the `portproxy` process of a sandbox.

`start_proxy` binds every requested host address itself (TCP sockets also listen), so a port that is taken
fails right here with Docker's message (``Bind for 127.0.0.1:8080 failed: port is already allocated``) and
nothing is left behind.  It then starts one detached forwarder for the sandbox (own session, stdio detached,
stderr to ``<dir>/<sandbox>.log``), passes it the sockets and records its PID in ``<dir>/<sandbox>.pid``.
The forwarder outlives the caller (a ``kyb run -d`` that exits) and survives restarts of the runtime.

`stop_proxy` kills by recorded PID only after checking ``/proc/PID/cmdline`` still names *our* forwarder for
that bridge and sandbox (a recycled PID is never killed), then waits for it to go (reaping it when it is our
child) and removes the record.  Both are idempotent.

Host addresses default to loopback: an empty ``host_ip`` means 127.0.0.1, never "all interfaces"; 0.0.0.0
or another address must be asked for explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kybernetes.network import portproxy
from kybernetes.network.ipam import owner_key
from kybernetes.network.netns import NetworkError
from kybernetes.runtime.api import PortMapping

PROXY_SCRIPT = portproxy.__file__
_children: dict[int, subprocess.Popen[bytes]] = {}  # forwarders started by this process, reaped on stop


def _check(m: PortMapping) -> tuple[str, str]:
    proto = (m.protocol or "tcp").lower()
    if proto not in ("tcp", "udp"):
        raise NetworkError(f"unsupported protocol {m.protocol!r} for port {m.host_port} (tcp or udp)")
    for port in (m.host_port, m.container_port):
        if not 0 < port < 65536:
            raise NetworkError(f"invalid port {port}")
    host_ip = m.host_ip or "127.0.0.1"
    try:
        ipaddress.ip_address(host_ip)
    except ValueError:
        raise NetworkError(f"invalid host IP {host_ip!r} for port {m.host_port}") from None
    return proto, host_ip


def bind(mappings: Sequence[PortMapping]) -> list[tuple[str, socket.socket, int]]:
    """Bind (and for TCP listen on) every host address; return (proto, socket, container port) triples.

    Raises `NetworkError` with Docker's one-line message when a port is taken; nothing stays open then.
    """
    bound: list[tuple[str, socket.socket, int]] = []
    try:
        for m in mappings:
            proto, host_ip = _check(m)
            family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
            bound.append((proto, sock, m.container_port))
            if proto == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host_ip, m.host_port))
                if proto == "tcp":
                    sock.listen(1024)
            except OSError as e:
                where = f"[{host_ip}]:{m.host_port}" if family == socket.AF_INET6 else f"{host_ip}:{m.host_port}"
                why = "port is already allocated" if e.errno == 98 else (e.strerror or str(e))
                raise NetworkError(f"Bind for {where} failed: {why}") from None
    except BaseException:
        for _, sock, _ in bound:
            sock.close()
        raise
    return bound


def _files(directory: Path, sandbox_id: str) -> tuple[Path, Path]:
    key = owner_key(sandbox_id)
    return directory / f"{key}.pid", directory / f"{key}.log"


def _argv_marks(bridge: str, sandbox_id: str) -> list[str]:
    return [f"--bridge={bridge}", f"--sandbox={owner_key(sandbox_id)}"]


def start_proxy(directory: Path, bridge: str, sandbox_id: str, container_ip: str,
                mappings: Sequence[PortMapping]) -> int | None:
    """Publish `mappings` for the sandbox; return the forwarder's PID (None when there is nothing to publish)."""
    if not mappings:
        return None
    bound = bind(mappings)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        pid_file, log_file = _files(directory, sandbox_id)
        specs = [f"{proto}:{sock.fileno()}:{container_ip}:{port}" for proto, sock, port in bound]
        with open(log_file, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", PROXY_SCRIPT, *_argv_marks(bridge, sandbox_id), *specs],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                pass_fds=[sock.fileno() for _, sock, _ in bound], start_new_session=True, cwd="/",
            )
        _children[proc.pid] = proc
        tmp = pid_file.with_name(pid_file.name + ".tmp")
        tmp.write_text(f"{proc.pid}\n")
        tmp.replace(pid_file)
        return proc.pid
    finally:
        for _, sock, _ in bound:
            sock.close()


def is_our_proxy(pid: int, bridge: str, sandbox_id: str) -> bool:
    """Whether process `pid` is the forwarder of this bridge and sandbox, and alive (not a zombie)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    args = [a.decode(errors="replace") for a in argv]
    return any(a.endswith("portproxy.py") for a in args) and all(m in args for m in _argv_marks(bridge, sandbox_id))


def recorded_pid(directory: Path, bridge: str, sandbox_id: str) -> int | None:
    """The PID recorded for the sandbox's forwarder, if any."""
    try:
        return int(_files(directory, sandbox_id)[0].read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _gone(pid: int, bridge: str, sandbox_id: str) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return False
        del _children[pid]
        return True
    return not is_our_proxy(pid, bridge, sandbox_id)


async def stop_proxy(directory: Path, bridge: str, sandbox_id: str, timeout: float = 2.0) -> None:
    """Stop the sandbox's forwarder (SIGTERM, then SIGKILL after `timeout`) and forget it."""
    pid_file, log_file = _files(directory, sandbox_id)
    pid = recorded_pid(directory, bridge, sandbox_id)
    # A child this process started and has not reaped is ours whatever /proc says at this instant; anything else
    # must prove it is our forwarder (the PID file may outlive the process, and PIDs are reused).
    child = _children.get(pid) if pid is not None else None
    ours = child is not None and child.poll() is None
    if pid is not None and (ours or is_our_proxy(pid, bridge, sandbox_id)):
        sig = signal.SIGTERM
        deadline = time.monotonic() + timeout
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        delay = 0.001
        while not _gone(pid, bridge, sandbox_id):
            if time.monotonic() > deadline:
                if sig == signal.SIGKILL:
                    raise NetworkError(f"port proxy {pid} of sandbox {sandbox_id} does not exit")
                sig, deadline = signal.SIGKILL, deadline + 5.0
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
    elif pid is not None:
        _gone(pid, bridge, sandbox_id)  # reap it if it was our child and already exited
    pid_file.unlink(missing_ok=True)
    log_file.unlink(missing_ok=True)


def recorded_sandboxes(directory: Path) -> list[str]:
    """The sandbox keys that have a recorded forwarder (for a full cleanup)."""
    if not directory.is_dir():
        return []
    return [p.name[: -len(".pid")] for p in directory.iterdir() if p.name.endswith(".pid")]
