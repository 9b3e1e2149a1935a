"""Starting shims and telling, from ``/proc`` alone, whether a recorded process is still the one we started.

A pid is only an identity together with its start time (field 22 of ``/proc/<pid>/stat``): pids are reused, and a
restarted runtime must not mistake a stranger for its container. Zombies count as gone: the shim reaps its init
at once, while the shim itself, orphaned on purpose, is reaped by PID 1 whenever PID 1 gets round to it.

`spawn_shim` writes ``shim.conf`` (``marshal``: the shim is the same interpreter, and ``json`` costs it 12 ms of
imports), runs the shim with ``python -S`` (no ``site``: a smaller resident set; the
package is found through ``PYTHONPATH``) in a new session, and waits for its one status line. `spawn_spare`,
`claim_spare` and `hand_to_spare` do the same through a shim started ahead of time.
"""

from __future__ import annotations

import asyncio
import contextlib
import marshal
import os
import signal
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
    return _ready(line, container_dir)


def _ready(line: bytes, container_dir: Path) -> ShimReady:
    word, _, rest = line.decode(errors="replace").strip().partition(" ")
    if word == "error":
        raise RuntimeError_(rest or "container creation failed")
    if word != "ok":
        log = (container_dir / "shim.log").read_text(errors="replace").strip().splitlines()
        raise RuntimeError_(f"container shim failed: {log[-1] if log else 'no status'}")
    pid, shim_pid = (int(x) for x in rest.split())
    return ShimReady(pid, proc_start_time(pid) or 0, shim_pid, proc_start_time(shim_pid) or 0)


# --- spare shims -----------------------------------------------------------------------------------------------
# A spare is a shim started ahead of time (``shim --spare``): detached, in its own session, waiting on
# ``<shim_dir>/spare-<pid>-<start>.sock`` for a container directory, so that creating a container does not wait
# for an interpreter to start. It exits by itself when idle too long or when its directory goes away.


async def spawn_spare(shim_dir: Path, idle: float) -> None:
    """Start one spare shim under ``shim_dir``; return once it listens.

    ``posix_spawn`` rather than an asyncio subprocess: this runs in the background of other work, and asyncio's
    fork/exec holds the event loop for a few milliseconds where ``posix_spawn`` (vfork) takes a fraction of one.
    ``-P``: the interpreter starts in our working directory, which must not shadow the package.
    """
    shim_dir.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": PACKAGE_PARENT}
    argv = [sys.executable, "-S", "-P", "-m", "kybernetes.runtime.shim", "--spare", str(shim_dir), repr(float(idle))]
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(sys.executable, argv, env, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, w, 1),
            (os.POSIX_SPAWN_OPEN, 2, str(shim_dir / "spare.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)])
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    try:
        line = await asyncio.wait_for(_read_line(r), SHIM_START_TIMEOUT)
    except TimeoutError:
        raise RuntimeError_(f"spare shim did not report within {SHIM_START_TIMEOUT:.0f}s") from None
    finally:
        os.close(r)
        await _reap(pid)
    if not line.startswith(b"ready "):
        raise RuntimeError_(f"spare shim failed: {line.decode(errors='replace').strip() or 'no status'}")


async def wait_readable(fd: int, timeout: float | None = None) -> bool:
    """Wait until ``fd`` is readable (True) or ``timeout`` seconds passed (False), without blocking the loop."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await asyncio.wait_for(readable, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


async def _read_line(fd: int) -> bytes:
    """One line (or what came before EOF) from a pipe, without blocking the loop."""
    os.set_blocking(fd, False)
    data = b""
    while not data.endswith(b"\n"):
        await wait_readable(fd)
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not chunk:
            break
        data += chunk
    return data


async def _reap(pid: int) -> None:
    """Reap the spare's first process, which exits as soon as it has forked the spare."""
    reaped = False
    try:
        for _ in range(1000):
            if os.waitpid(pid, os.WNOHANG)[0] != 0:
                reaped = True
                return
            await asyncio.sleep(0.002)
    except ChildProcessError:
        reaped = True
    finally:  # cancelled, or unaccountably slow: it is about to exit, so wait for it rather than leave a zombie
        if not reaped:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _spares(shim_dir: Path, suffix: str) -> list[tuple[str, int, int]]:
    """(path, pid, start time) of the spare sockets in ``shim_dir`` ending in ``suffix``."""
    found = []
    try:
        names = os.listdir(shim_dir)
    except OSError:
        return []
    for name in names:
        if not (name.startswith("spare-") and name.endswith(suffix)):
            continue
        try:
            _, pid, start = name[:-len(suffix)].split("-")
            found.append((str(shim_dir / name), int(pid), int(start)))
        except ValueError:
            continue
    return found


def has_spare(shim_dir: Path) -> bool:
    return any(is_alive(pid, start) for _, pid, start in _spares(shim_dir, ".sock"))


def claim_spare(shim_dir: Path) -> str | None:
    """Take an idle spare for ourselves (the socket renamed to ``.claimed``); None when there is none."""
    for path, pid, start in _spares(shim_dir, ".sock"):
        if not is_alive(pid, start):
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        claimed = path[:-len(".sock")] + ".claimed"
        try:
            os.rename(path, claimed)
        except OSError:  # another claimant, or the spare retired
            continue
        return claimed
    return None


def release_spare(claimed: str) -> None:
    """Give back a claimed spare that was not handed a container (no-op once it was)."""
    with contextlib.suppress(OSError):
        os.rename(claimed, claimed[:-len(".claimed")] + ".sock")


async def hand_to_spare(claimed: str, container_dir: Path, shim_config: dict) -> ShimReady | None:
    """Give a claimed spare the container; None when the spare turned out to be gone (nothing was started)."""
    (container_dir / "shim.conf").write_bytes(marshal.dumps(shim_config))
    try:
        reader, writer = await asyncio.open_unix_connection(claimed)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(claimed)
        return None
    with contextlib.suppress(OSError):
        os.unlink(claimed)
    try:
        writer.write(str(container_dir).encode() + b"\n")
        await writer.drain()
        try:
            line = await asyncio.wait_for(reader.readline(), SHIM_START_TIMEOUT)
        except TimeoutError:
            raise RuntimeError_(f"container shim did not report within {SHIM_START_TIMEOUT:.0f}s") from None
    finally:
        writer.close()
    return _ready(line, container_dir)


def kill_spares(shim_dir: Path) -> None:
    """SIGKILL every spare, idle or claimed but not yet connected, under ``shim_dir``."""
    for path, pid, start in _spares(shim_dir, ".sock") + _spares(shim_dir, ".claimed"):
        if is_alive(pid, start):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.unlink(path)


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
