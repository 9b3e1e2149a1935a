"""Calling the ``runc`` binary: plain commands, and execs with pipes or with a terminal.

Every call names the runtime's own state directory (``runc --root <root>/runc``), so runtimes with different
roots never see each other's containers. runc's error lines (``time=... level=error msg="..."``) are turned into
their message for `RuntimeError_`.

An exec runs ``runc exec --process FILE`` with the container's own process spec (user, env, capabilities, cwd)
and the new argv, so it runs as the container does. With a terminal, runc relays between the container's pty and
its own stdio, which is a pty of ours (runc accepts a console socket only when it detaches, and then nobody would
learn the exit status). ``--pid-file`` tells who to SIGKILL, since runc only forwards signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .api import ExecProcess, RuntimeError_
from .execproc import PipeExec, PtyExec, spawn_on_pty
from .shim import runc_error
from .shimctl import is_alive, wait_readable


def _read_some(fd: int) -> bytes | None:
    """Whatever the FIFO holds (b"" at EOF), or None when it would block."""
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return None


class Runc:
    def __init__(self, binary: str, state_dir: Path) -> None:
        self.binary = binary
        self.state_dir = state_dir

    def argv(self) -> list[str]:
        return [self.binary, "--root", str(self.state_dir)]

    async def run(self, *args: str, check: bool = True) -> tuple[int, str]:
        """Run ``runc <args>``; return (exit status, stdout), raising `RuntimeError_` on failure if ``check``."""
        proc = await asyncio.create_subprocess_exec(
            *self.argv(), *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        rc = proc.returncode or 0
        if check and rc != 0:
            raise RuntimeError_(f"runc {args[0]}: {runc_error(err)}")
        return rc, out.decode(errors="replace")

    async def start(self, container_id: str, init_pid: int, init_start: int) -> None:
        """What ``runc start`` does, without a runc process: read the init's exec FIFO to EOF, then remove it.

        runc's init opens ``<state>/<id>/exec.fifo`` for writing, writes one byte and blocks until a reader
        comes; its exec closes the FIFO (close-on-exec), so EOF means the container's process now runs. runc
        tells "created" from "running" by the FIFO's existence, hence the removal. Opened without blocking and
        polled: a FIFO only reports hang-up after a writer has come and gone, and the init is watched meanwhile.
        """
        path = self.state_dir / container_id / "exec.fifo"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise RuntimeError_("runc start: cannot start an already running container") from None
        data = b""
        try:
            while True:
                if not await wait_readable(fd, 0.1):
                    if not is_alive(init_pid, init_start):
                        chunk = _read_some(fd)
                        if not (data or chunk):
                            raise RuntimeError_("runc start: container process is already dead")
                        break
                    continue
                chunk = _read_some(fd)
                if chunk is None:
                    continue
                if not chunk:
                    break
                data += chunk
            if not data:
                raise RuntimeError_("runc start: cannot start an already running container")
        finally:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    async def kill(self, container_id: str, sig: int) -> None:
        await self.run("kill", container_id, str(sig), check=False)

    async def delete(self, container_id: str) -> None:
        await self.run("delete", "--force", container_id, check=False)

    async def list_ids(self) -> list[str]:
        if not self.state_dir.is_dir():
            return []
        _, out = await self.run("list", "--format", "json", check=False)
        try:
            return [c["id"] for c in json.loads(out or "null") or []]
        except ValueError:
            return []

    async def exec(self, container_id: str, container_dir: Path, process: dict[str, Any], cmd: Sequence[str],
                   tty: bool, stdin: bool) -> ExecProcess:
        tag = secrets.token_hex(8)
        process = dict(process, args=list(cmd), terminal=tty)
        if tty and not any(e.startswith("TERM=") for e in process.get("env", [])):
            process["env"] = [*process.get("env", []), "TERM=xterm"]
        process_file = container_dir / f"exec-{tag}.json"
        pid_file = container_dir / f"exec-{tag}.pid"
        process_file.write_text(json.dumps(process))

        def target_pid() -> int:
            try:
                return int(pid_file.read_text().strip())
            except (OSError, ValueError):
                return 0

        def cleanup() -> None:
            for f in (process_file, pid_file):
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()

        args = [*self.argv(), "exec", "--process", str(process_file), "--pid-file", str(pid_file)]
        try:
            if not tty:
                proc = await asyncio.create_subprocess_exec(
                    *args, container_id, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                    stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL)
                return PipeExec(proc, target_pid, on_exit=cleanup)
            return await self._exec_tty(args, container_id, target_pid, cleanup)
        except BaseException:
            cleanup()
            raise

    async def _exec_tty(self, args: list[str], container_id: str, target_pid: Callable[[], int],
                        cleanup: Callable[[], None]) -> ExecProcess:
        # runc takes a console socket only when it detaches, and a detached exec's exit status would be lost.
        # So runc stays attached and relays between the container's terminal and a pty of ours: its stdio is
        # our slave; we keep the master, and a resize is TIOCSWINSZ on it plus SIGWINCH to runc, which copies
        # the size onto the container's terminal.
        proc, master = await spawn_on_pty([*args, container_id], raw=True)
        return PtyExec(proc, master, target_pid, on_exit=cleanup, notify_resize=True)
