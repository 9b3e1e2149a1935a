"""What the runc and process backends share: state read from records, ``/proc`` and the shim's exit file.

A container's state is never kept in memory; it is derived on every call, so a restarted runtime (or a second
runtime object over the same root) answers exactly as the first one would:

* ``exit.json`` present -> EXITED with its code (reason ``OOMKilled``, ``Completed`` or ``Error``);
* the recorded init (pid + start time) alive -> CREATED until started, then RUNNING;
* init gone but the shim alive -> RUNNING (the shim is draining output and about to write ``exit.json``);
* both gone without ``exit.json`` -> EXITED 255 with a message saying the status was lost.

Stopping sends the stop signal, waits for ``exit.json`` up to the timeout, then SIGKILL (with timeout 0 it goes
straight to SIGKILL, as containerd does). Each container and sandbox has an asyncio lock in this process so that,
say, a stop and a remove of one container do not interleave; across processes the on-disk lock of `store`
guards only what must be unique.

Attaching (`attach`) talks to the container's shim over its attach socket; the shim owns the container's stdio,
so attachments come and go without the container noticing, and survive nothing but the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from .api import (
    AttachedIO,
    ContainerState,
    ContainerStatus,
    ExecProcess,
    ExecResult,
    InvalidState,
    NoStdin,
    NotFound,
    RuntimeError_,
    SandboxState,
    SandboxStatus,
    Timeout,
)
from .attach import connect as connect_attach
from .shimctl import is_alive, proc_start_time, wait_gone
from .store import ContainerRecord, ExitRecord, SandboxRecord, Store

KILL_WAIT = 10.0
LOST_STATUS = "container exit status was lost: its shim exited without reporting"


def parse_signal(name: str) -> int:
    """``SIGTERM``, ``TERM`` or ``15`` -> 15. No side effects."""
    name = name.strip().upper() or "SIGTERM"
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise RuntimeError_(f"unknown stop signal {name!r}") from None


def reason_for(rec: ExitRecord) -> str:
    if rec.oom_killed:
        return "OOMKilled"
    return "Completed" if rec.exit_code == 0 else "Error"


class ShimRuntime:
    """Base of the shim-backed runtimes; subclasses provide sandboxes, create/start/remove and exec."""

    name = "shim"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.root)
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _drop_lock(self, key: str) -> None:
        lock = self._locks.get(key)
        if lock is not None and not lock.locked():
            del self._locks[key]

    # --- state -------------------------------------------------------------------------------------------------

    def _created_not_started(self, rec: ContainerRecord) -> bool:
        return rec.started_at == 0.0

    def _state(self, rec: ContainerRecord) -> tuple[ContainerState, ExitRecord | None]:
        exited = self.store.read_exit(rec.id)
        if exited is not None:
            return ContainerState.EXITED, exited
        if is_alive(rec.pid, rec.pid_start) or is_alive(rec.shim_pid, rec.shim_start):
            return (ContainerState.CREATED if self._created_not_started(rec) else ContainerState.RUNNING), None
        exited = self.store.read_exit(rec.id)
        if exited is not None:
            return ContainerState.EXITED, exited
        if rec.shim_pid == 0:  # creation never finished
            return ContainerState.UNKNOWN, None
        return ContainerState.EXITED, ExitRecord(255, 0.0, message=LOST_STATUS)

    def _status(self, rec: ContainerRecord) -> ContainerStatus:
        state, exited = self._state(rec)
        c = rec.config
        st = ContainerStatus(
            id=rec.id, sandbox_id=rec.sandbox_id, name=c.name, attempt=c.attempt, state=state,
            created_at=rec.created_at, started_at=rec.started_at, image=c.image, image_id=c.image_id,
            log_path=c.log_path, labels=dict(c.labels), annotations=dict(c.annotations))
        if state in (ContainerState.CREATED, ContainerState.RUNNING):
            st.pid = rec.pid
        if exited is not None:
            st.exit_code = exited.exit_code
            st.finished_at = exited.finished_at
            st.reason = reason_for(exited)
            st.message = exited.message
        return st

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._status(self.store.load_container(container_id))

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [self._status(rec) for rec in self.store.containers(sandbox_id)]

    def _sandbox_ready(self, rec: SandboxRecord) -> bool:
        return rec.ready

    def _sandbox_status(self, rec: SandboxRecord) -> SandboxStatus:
        ready = self._sandbox_ready(rec)
        return SandboxStatus(id=rec.id, config=rec.config, created_at=rec.created_at, ip=rec.ip,
                             netns_path=rec.netns_path,
                             state=SandboxState.READY if ready else SandboxState.NOTREADY)

    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        return self._sandbox_status(self.store.load_sandbox(sandbox_id))

    async def list_pod_sandboxes(self) -> list[SandboxStatus]:
        return [self._sandbox_status(rec) for rec in self.store.sandboxes()]

    def _ready_sandbox(self, sandbox_id: str) -> SandboxRecord:
        rec = self.store.load_sandbox(sandbox_id)
        if not self._sandbox_ready(rec):
            raise InvalidState(f"pod sandbox {sandbox_id} is not ready")
        return rec

    # --- starting ----------------------------------------------------------------------------------------------

    async def start_container(self, container_id: str) -> None:
        async with self._lock(container_id):
            rec = self.store.load_container(container_id)
            state, _ = self._state(rec)
            if state is not ContainerState.CREATED:
                raise InvalidState(f"container {container_id} is {state.value}, not created")
            rec.started_at = time.time()
            self.store.save_container(rec)
            try:
                await self._release(rec)
            except BaseException:
                rec.started_at = 0.0
                self.store.save_container(rec)
                raise

    async def _release(self, rec: ContainerRecord) -> None:
        """Let the created container's process go on into its command (the backend's start FIFO)."""
        raise NotImplementedError

    # --- stopping ----------------------------------------------------------------------------------------------

    async def _signal(self, rec: ContainerRecord, sig: int) -> None:
        """Send ``sig`` to the container's process (and what it started)."""
        raise NotImplementedError

    async def _wait_exited(self, rec: ContainerRecord, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.005
        while True:
            state, _ = self._state(rec)
            if state in (ContainerState.EXITED, ContainerState.UNKNOWN):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _stop(self, rec: ContainerRecord, timeout: float) -> None:
        state, _ = self._state(rec)
        if state in (ContainerState.EXITED, ContainerState.UNKNOWN):
            return
        if timeout > 0 and state is ContainerState.RUNNING:
            await self._signal(rec, parse_signal(rec.config.stop_signal))
            if await self._wait_exited(rec, timeout):
                return
        await self._signal(rec, signal.SIGKILL)
        if not await self._wait_exited(rec, KILL_WAIT):
            raise RuntimeError_(f"container {rec.id} did not exit {KILL_WAIT:.0f}s after SIGKILL")

    async def stop_container(self, container_id: str, timeout: float) -> None:
        async with self._lock(container_id):
            await self._stop(self.store.load_container(container_id), timeout)

    async def remove_container(self, container_id: str) -> None:
        try:
            rec = self.store.load_container(container_id)
        except NotFound:
            return
        async with self._lock(container_id):
            await self._stop(rec, 0)
            await self._destroy_container(rec)
        self._drop_lock(container_id)

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        try:
            rec = self.store.load_sandbox(sandbox_id)
        except NotFound:
            return
        async with self._lock(sandbox_id):
            for c in self.store.containers(sandbox_id):
                async with self._lock(c.id):
                    await self._stop(c, 0)
            await self._teardown_sandbox(rec)
            rec.ready = False
            self.store.save_sandbox(rec)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        try:
            rec = self.store.load_sandbox(sandbox_id)
        except NotFound:
            return
        await self.stop_pod_sandbox(sandbox_id)
        for c in self.store.containers(sandbox_id):
            await self.remove_container(c.id)
        await self._forget_sandbox(rec)
        self._drop_lock(sandbox_id)

    # What a backend frees beyond the records (namespaces, mounts, cgroups): plain processes have nothing more.

    async def _destroy_container(self, rec: ContainerRecord) -> None:
        """Free a stopped container: its shim, then its record."""
        await self._reap_shim(rec)
        self.store.forget_container(rec.id)

    async def _teardown_sandbox(self, rec: SandboxRecord) -> None:
        """Free what a stopped sandbox holds (its network and namespaces)."""

    async def _forget_sandbox(self, rec: SandboxRecord) -> None:
        self.store.forget_sandbox(rec.id)

    async def _reap_shim(self, rec: ContainerRecord) -> None:
        """After the container exited: give the shim a moment to finish, then make sure it is gone."""
        if not await wait_gone(rec.shim_pid, rec.shim_start, 3.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(rec.shim_pid, signal.SIGKILL)
            await wait_gone(rec.shim_pid, rec.shim_start, 3.0)

    async def reopen_container_log(self, container_id: str) -> None:
        rec = self.store.load_container(container_id)
        state, _ = self._state(rec)
        if state is not ContainerState.RUNNING:
            raise InvalidState(f"container {container_id} is not running")
        if not is_alive(rec.shim_pid, rec.shim_start):
            return
        os.kill(rec.shim_pid, signal.SIGUSR1)
        # The shim creates the file again when it reopens it: wait for that, so that output written after
        # this call returns lands in the new file (what the kubelet's rotation expects).
        path = rec.config.log_path
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while path and not os.path.exists(path) and loop.time() < deadline:
            await asyncio.sleep(0.005)

    # --- exec --------------------------------------------------------------------------------------------------

    def _running(self, container_id: str) -> ContainerRecord:
        rec = self.store.load_container(container_id)
        state, _ = self._state(rec)
        if state is not ContainerState.RUNNING or proc_start_time(rec.pid) is None:
            raise InvalidState(f"container {container_id} is not running")
        return rec

    async def exec(self, container_id: str, cmd: Sequence[str], tty: bool = False,
                   stdin: bool = False) -> ExecProcess:
        raise NotImplementedError

    # --- attach ------------------------------------------------------------------------------------------------

    async def attach(self, container_id: str, stdin: bool = False, tty: bool = False) -> AttachedIO:
        """Attach through the container's shim (`attach`). ``tty`` is the caller's expectation; the container's
        own setting decides (``AttachedIO.tty``), as the kubelet takes it from the container spec."""
        rec = self._running(container_id)
        if stdin and not rec.config.stdin:
            raise NoStdin(f"container {container_id} was not created with stdin: there is no stdin to attach to")
        return await connect_attach(self.store.container_dir(container_id), container_id, stdin=stdin,
                                    tty=rec.config.tty, exited=lambda: self._exit_code(rec))

    async def _exit_code(self, rec: ContainerRecord) -> int:
        """The container's exit code, once it has exited (however long that takes)."""
        while not await self._wait_exited(rec, 3600.0):
            pass
        _, exited = self._state(rec)
        return exited.exit_code if exited is not None else 255

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: float = 0) -> ExecResult:
        proc = await self.exec(container_id, cmd)
        out: list[bytes] = []
        err: list[bytes] = []

        async def read_all(stream: AsyncIterator[bytes], into: list[bytes]) -> None:
            async for chunk in stream:
                into.append(chunk)

        async def drain() -> int:
            await asyncio.gather(read_all(proc.stdout(), out), read_all(proc.stderr(), err))
            return await proc.wait()

        try:
            code = await asyncio.wait_for(drain(), timeout) if timeout > 0 else await drain()
        except TimeoutError:
            await proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), KILL_WAIT)
            raise Timeout(f"command {list(cmd)!r} timed out after {timeout:g}s") from None
        return ExecResult(code, b"".join(out), b"".join(err))
