"""The process backend: containers as plain host processes, for machines without root or runc.

No isolation at all: the argv runs on the host with exactly the given environment, in ``working_dir`` when that
directory exists on the host and in a private directory of the container otherwise; ``user``, ``mounts``,
resources and the root filesystem are ignored. What it keeps from the real thing is the lifecycle: the same shim
(in ``process`` mode) owns the process, writes its output as a CRI log and its exit record, and outlives this
object, so a restarted runtime over the same root finds everything again. The process gets its own session and
process group, which stands in for a PID namespace: stop signals go to the group, and when the main process
exits the shim kills what is left of the group.

Sandboxes are records only; their IP is ``127.0.0.1`` (empty with ``host_network``, where the node's IP applies).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from .api import (
    ContainerConfig,
    ContainerStats,
    ExecProcess,
    RuntimeError_,
    SandboxConfig,
)
from .execproc import PipeExec, PtyExec, spawn_on_pty
from .shimbase import KILL_WAIT, ShimRuntime
from .shimctl import is_alive, spawn_shim, wait_gone
from .store import ContainerRecord, SandboxRecord

START_TIMEOUT = 10.0


class ProcessRuntime(ShimRuntime):
    name = "process"

    def __init__(self, root: Path) -> None:
        super().__init__(root)

    # --- sandboxes ---------------------------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: SandboxConfig) -> str:
        rec = SandboxRecord(id=secrets.token_hex(32), config=config, created_at=time.time(), ready=True,
                            ip="" if config.host_network else "127.0.0.1")
        self.store.reserve_sandbox(rec)
        return rec.id

    # --- containers --------------------------------------------------------------------------------------------

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        self._ready_sandbox(sandbox_id)
        if not config.command:
            raise RuntimeError_(f"container {config.name}: no command given")
        rec = ContainerRecord(id=secrets.token_hex(32), sandbox_id=sandbox_id, config=config,
                              created_at=time.time())
        self.store.reserve_container(rec)
        cdir = self.store.container_dir(rec.id)
        try:
            cwd = config.working_dir if config.working_dir and os.path.isdir(config.working_dir) else ""
            if not cwd:
                (cdir / "work").mkdir()
                cwd = str(cdir / "work")
            os.mkfifo(cdir / "start", 0o600)
            if config.log_path:
                Path(config.log_path).parent.mkdir(parents=True, exist_ok=True)
            ready = await spawn_shim(cdir, {
                "mode": "process", "id": rec.id, "tty": config.tty, "stdin": config.stdin,
                "stdin_once": config.stdin_once, "exit_path": str(cdir / "exit.json"),
                "log_path": config.log_path, "log_max_bytes": config.log_max_bytes,
                "log_max_files": config.log_max_files, "argv": list(config.command), "env": list(config.env),
                "cwd": cwd, "start_fifo": str(cdir / "start")})
        except BaseException:
            self.store.forget_container(rec.id)
            raise
        rec.pid, rec.pid_start = ready.pid, ready.pid_start
        rec.shim_pid, rec.shim_start = ready.shim_pid, ready.shim_start
        rec.extra["cwd"] = cwd
        self.store.save_container(rec)
        return rec.id

    async def _release(self, rec: ContainerRecord) -> None:
        """What ``runc start`` does with its exec FIFO: read the byte the waiting child writes."""
        fd = os.open(self.store.container_dir(rec.id) / "start", os.O_RDONLY | os.O_NONBLOCK)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + START_TIMEOUT
            while True:
                try:
                    if os.read(fd, 1):
                        return
                except BlockingIOError:
                    pass
                if not is_alive(rec.pid, rec.pid_start) or loop.time() > deadline:
                    raise RuntimeError_(f"container {rec.id} could not be started: its process is gone")
                await asyncio.sleep(0.002)
        finally:
            os.close(fd)

    async def _signal(self, rec: ContainerRecord, sig: int) -> None:
        if not is_alive(rec.pid, rec.pid_start):
            return
        try:
            os.killpg(rec.pid, sig)
        except ProcessLookupError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rec.pid, sig)

    async def container_stats(self, container_id: str) -> ContainerStats:
        rec = self.store.load_container(container_id)
        now = time.time()
        try:
            with open(f"/proc/{rec.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{rec.pid}/status") as f:
                rss = next((int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmRSS:")), 0)
        except (OSError, IndexError):
            return ContainerStats(0, 0, 0, now)
        if not is_alive(rec.pid, rec.pid_start):
            return ContainerStats(0, 0, 0, now)
        ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        cpu_ns = ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        return ContainerStats(cpu_ns, rss, rss, now)

    # --- exec --------------------------------------------------------------------------------------------------

    async def exec(self, container_id: str, cmd: Sequence[str], tty: bool = False,
                   stdin: bool = False) -> ExecProcess:
        rec = self._running(container_id)
        if not cmd:
            raise RuntimeError_("exec: no command given")
        env = dict(kv.partition("=")[::2] for kv in rec.config.env)
        cwd = rec.extra.get("cwd") or "/"
        if shutil.which(cmd[0], path=env.get("PATH", os.defpath)) is None and "/" not in cmd[0]:
            raise RuntimeError_(f'exec: "{cmd[0]}": executable file not found in $PATH')
        if not tty:
            proc = await asyncio.create_subprocess_exec(
                *cmd, env=env, cwd=cwd, start_new_session=True,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            return PipeExec(proc)
        proc, master = await spawn_on_pty(cmd, env=env, cwd=cwd)
        return PtyExec(proc, master)

    # --- tests and teardown ------------------------------------------------------------------------------------

    async def cleanup_all(self) -> None:
        """Kill every container process and shim under this root and delete the root (tests use this)."""
        for rec in self.store.containers():
            await self._signal(rec, signal.SIGKILL)
            await wait_gone(rec.pid, rec.pid_start, KILL_WAIT)
            await self._reap_shim(rec)
        shutil.rmtree(self.root, ignore_errors=True)
