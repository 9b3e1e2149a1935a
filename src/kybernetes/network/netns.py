"""Running iproute2 and nftables from async code, on the host or inside a network namespace file.

Everything that changes links, addresses and routes goes through `ip -batch -` (one process for several
commands) and nftables through `nft -f -` (one atomic transaction).  A namespace is always named by the *path*
of a namespace file (a bind mount such as ``/run/netns/x`` or a runtime's own pinned file), never by a name
under ``/run/netns``:

* ``ip link add H ... type veth peer name eth0 netns PATH`` accepts a path (iproute2 opens any argument that
  contains a ``/``), so the pair is created with its peer already inside the namespace, in one netlink message;
* commands that must run *inside* the namespace are run as ``nsenter --net=PATH ip -batch -`` (``ip -n`` only
  takes names under /run/netns).

Failures raise `NetworkError` (a `RuntimeError_`, so a runtime shows its one-line message to the user).
Link existence checks use ``if_nametoindex`` (an ioctl in our own namespace: microseconds, no process).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Sequence

from kybernetes.runtime.api import RuntimeError_


class NetworkError(RuntimeError_):
    """A network setup or teardown failure, with a one-line message."""


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if not found:
        raise NetworkError(f"{name}: command not found (install iproute2, nftables and util-linux)")
    return found


_tools: dict[str, str] = {}


def tool(name: str) -> str:
    """The absolute path of ``ip``, ``nft`` or ``nsenter`` (looked up once)."""
    if name not in _tools:
        _tools[name] = _tool(name)
    return _tools[name]


async def run(argv: Sequence[str], stdin: str | None = None) -> tuple[int, str]:
    """Run a command to completion; return (exit status, stderr text). Stdout is discarded."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    return proc.returncode or 0, err.decode(errors="replace").strip()


async def output(argv: Sequence[str]) -> str:
    """Run a command and return its stdout; raise `NetworkError` on failure."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode:
        raise NetworkError(f"{os.path.basename(argv[0])} failed: {_last_line(err.decode(errors='replace'))}")
    return out.decode(errors="replace")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "unknown error"


async def ip_batch(lines: Sequence[str], netns: str | None = None, force: bool = False) -> str:
    """Run ``ip -batch -`` with `lines` on the host (or inside the namespace file `netns`).

    Without `force` the first failing line stops the batch and raises `NetworkError`; with `force` every line
    runs and the stderr text is returned for the caller to judge.
    """
    argv = [tool("ip"), *(["-force"] if force else []), "-batch", "-"]
    if netns is not None:
        argv = [tool("nsenter"), f"--net={netns}", *argv]
    rc, err = await run(argv, "\n".join(lines) + "\n")
    if rc and not force:
        raise NetworkError(f"ip: {_last_line(err)}")
    return err


async def nft(script: str) -> tuple[int, str]:
    """Apply an nftables script as one transaction (``nft -f -``); return (status, stderr)."""
    return await run([tool("nft"), "-f", "-"], script)


def link_exists(name: str) -> bool:
    """Whether a link called `name` exists in our own network namespace."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def check_netns_path(path: str) -> str:
    """The absolute form of a namespace file path, refused if ``ip -batch`` could not carry it."""
    if not path or any(c.isspace() for c in path) or '"' in path or "\\" in path:
        raise NetworkError(f"unsupported network namespace path {path!r}")
    absolute = os.path.abspath(path)
    if not os.path.exists(absolute):
        raise NetworkError(f"network namespace {path} does not exist")
    return absolute
