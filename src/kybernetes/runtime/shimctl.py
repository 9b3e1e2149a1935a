"""Starting shims and telling, from ``/proc`` alone, whether a recorded process is still the one we started.

A pid is only an identity together with its start time (field 22 of ``/proc/<pid>/stat``): pids are reused, and a
restarted runtime must not mistake a stranger for its container. Zombies count as gone: the shim reaps its init
at once, while the shim itself, orphaned on purpose, is reaped by PID 1 whenever PID 1 gets round to it.

`spawn_shim` writes ``shim.conf`` (``marshal``: the shim is the same interpreter, and ``json`` costs it 12 ms of
imports), runs the shim with ``python -S`` (no ``site``: a smaller resident set; the
package is found through ``PYTHONPATH``) in a new session, and waits for its one status line.
"""

from __future__ import annotations

import asyncio
import marshal
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import kybernetes

from .api import RuntimeError_

SHIM_START_TIMEOUT = 60.0
PACKAGE_PARENT = str(Path(kybernetes.__file__).resolve().parent.parent)


def proc_start_time(pid: int) -> int | None:
    """The start time of a live (not zombie) process, in clock ticks since boot; None when it is gone."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def is_alive(pid: int, start_time: int) -> bool:
    return start_time != 0 and proc_start_time(pid) == start_time


def proc_comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


@dataclass
class ShimReady:
    pid: int  # the container's init
    pid_start: int
    shim_pid: int
    shim_start: int


async def spawn_shim(container_dir: Path, shim_config: dict) -> ShimReady:
    """Start the shim for ``container_dir``; raise `RuntimeError_` with its message when creation failed."""
    (container_dir / "shim.conf").write_bytes(marshal.dumps(shim_config))
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": PACKAGE_PARENT}
    with open(container_dir / "shim.log", "ab") as shim_log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-S", "-m", "kybernetes.runtime.shim", str(container_dir),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=shim_log,
            env=env, cwd="/", start_new_session=True)
    assert proc.stdout is not None
    try:
        # One line, not read-to-EOF: under uvloop the shim inherits a stray pipe end, so EOF may never come.
        line = await asyncio.wait_for(proc.stdout.readline(), SHIM_START_TIMEOUT)
    except TimeoutError:
        raise RuntimeError_(f"container shim did not report within {SHIM_START_TIMEOUT:.0f}s") from None
    finally:
        await proc.wait()
    word, _, rest = line.decode(errors="replace").strip().partition(" ")
    if word == "error":
        raise RuntimeError_(rest or "container creation failed")
    if word != "ok":
        log = (container_dir / "shim.log").read_text(errors="replace").strip().splitlines()
        raise RuntimeError_(f"container shim failed: {log[-1] if log else 'no status'}")
    pid, shim_pid = (int(x) for x in rest.split())
    return ShimReady(pid, proc_start_time(pid) or 0, shim_pid, proc_start_time(shim_pid) or 0)


async def wait_gone(pid: int, start_time: int, timeout: float) -> bool:
    """Wait until the process is gone (or a zombie); False when it still lives after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.005
    while is_alive(pid, start_time):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True
