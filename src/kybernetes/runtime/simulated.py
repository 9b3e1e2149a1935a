"""The simulated backend: the runtime interface in memory, with no processes, for scale tests.

Containers follow the real lifecycle (CREATED -> RUNNING -> EXITED) and the same uniqueness and error rules, but
nothing runs. What a container "does" is read from its command:

* ``["exit", "N"]`` exits with status N as soon as it starts;
* ``["sleep", "S"]`` exits 0 S seconds after its start (seen on the injected clock);
* ``["echo", ...]`` writes its arguments to the CRI log (when ``log_path`` is set) and exits 0;
* ``["cat"]`` with ``stdin`` copies what attachments write to its stdin to their stdout and to the CRI log, and
  exits 0 when its stdin is closed (``stdin_once``: the first stdin attachment ended); without ``stdin`` its
  input is empty and it exits 0 at once;
* anything else runs until stopped: a graceful stop (``timeout > 0``) ends it with status 0, as a well-behaved
  program handling its stop signal would, and a stop with ``timeout == 0`` or a removal kills it (137).

``exec_sync`` understands ``exit N`` and ``echo ...`` the same way. ``attach`` follows the same rules as the real
backends (running containers only, stdin only when created with it); input to anything but ``cat`` is dropped,
and the attachments' output ends when the container exits. State lives in this object only, so there is nothing
to recover after a restart.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .api import (
    AlreadyExists,
    AttachedIO,
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    ExecProcess,
    ExecResult,
    InvalidState,
    NoStdin,
    NotFound,
    RuntimeError_,
    SandboxConfig,
    SandboxState,
    SandboxStatus,
)
from .crilog import LineSplitter, LogFile


@dataclass
class _Sandbox:
    status: SandboxStatus


@dataclass
class _Container:
    status: ContainerStatus
    config: ContainerConfig
    runs_for: float | None = None  # seconds after start until it exits by itself (None: forever)
    exit_code: int = 0
    output: list[bytes] = field(default_factory=list)
    echo_stdin: bool = False  # ``cat`` with a stdin
    stdin_open: bool = False
    attachments: list[_SimAttach] = field(default_factory=list)


def _behaviour(cmd: Sequence[str], stdin: bool = False) -> tuple[float | None, int, list[bytes]]:
    """(seconds it runs, exit code, output lines) for a command. No side effects."""
    if cmd and cmd[0] == "exit":
        return 0.0, int(cmd[1]) if len(cmd) > 1 else 0, []
    if cmd and cmd[0] == "sleep":
        return float(cmd[1]) if len(cmd) > 1 else 0.0, 0, []
    if cmd and cmd[0] == "echo":
        return 0.0, 0, [" ".join(cmd[1:]).encode()]
    if list(cmd) == ["cat"]:
        return (None if stdin else 0.0), 0, []
    return None, 0, []


class _SimExec:
    def __init__(self, result: ExecResult) -> None:
        self.result = result

    async def write_stdin(self, data: bytes) -> None:
        return None

    async def close_stdin(self) -> None:
        return None

    async def _yield(self, data: bytes) -> AsyncIterator[bytes]:
        if data:
            yield data

    def stdout(self) -> AsyncIterator[bytes]:
        return self._yield(self.result.stdout)

    def stderr(self) -> AsyncIterator[bytes]:
        return self._yield(self.result.stderr)

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int:
        return self.result.exit_code

    async def kill(self) -> None:
        return None


class _SimAttach:
    """An attachment to a simulated container: output is what ``cat`` echoes; it ends when the container does."""

    def __init__(self, runtime: SimulatedRuntime, container: _Container, stdin: bool) -> None:
        self.runtime = runtime
        self.container = container
        self.tty = container.config.tty
        self.stdin = stdin
        self.input_done = False
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()

    def _end(self) -> None:
        self._out.put_nowait(None)

    def _deliver(self, data: bytes) -> None:
        self._out.put_nowait(data)

    async def write_stdin(self, data: bytes) -> None:
        if not self.stdin:
            raise ValueError("attached without stdin")
        if not self.input_done:
            self.runtime._input(self.container, data)

    async def close_stdin(self) -> None:
        self.runtime._input_ended(self.container, self)

    async def _stdout(self) -> AsyncIterator[bytes]:
        while (chunk := await self._out.get()) is not None:
            yield chunk
        self._out.put_nowait(None)

    def stdout(self) -> AsyncIterator[bytes]:
        return self._stdout()

    async def _nothing(self) -> AsyncIterator[bytes]:
        return
        yield b""

    def stderr(self) -> AsyncIterator[bytes]:
        return self._nothing()

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int:
        c = self.container
        while True:
            self.runtime._advance(c)
            if c.status.state is ContainerState.EXITED:
                return c.status.exit_code
            await asyncio.sleep(0.02)

    async def detach(self) -> None:
        if self in self.container.attachments:
            self.container.attachments.remove(self)
        self.runtime._input_ended(self.container, self)
        self._end()


class SimulatedRuntime:
    name = "simulated"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._ips = itertools.count(2)

    # --- sandboxes ---------------------------------------------------------------------------------------------

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise NotFound(f"pod sandbox {sandbox_id!r} not found") from None

    async def run_pod_sandbox(self, config: SandboxConfig) -> str:
        key = (config.namespace, config.name, config.uid, config.attempt)
        for s in self._sandboxes.values():
            c = s.status.config
            if (c.namespace, c.name, c.uid, c.attempt) == key:
                raise AlreadyExists(f"pod sandbox {config.namespace}/{config.name} attempt {config.attempt} "
                                    f"already exists as {s.status.id}")
        n = next(self._ips)
        sid = secrets.token_hex(32)
        ip = "" if config.host_network else f"10.88.{n // 250}.{n % 250 + 2}"
        self._sandboxes[sid] = _Sandbox(SandboxStatus(sid, config, SandboxState.READY, self.clock(), ip))
        return sid

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        s = self._sandboxes.get(sandbox_id)
        if s is None:
            return
        for c in list(self._containers.values()):
            if c.status.sandbox_id == sandbox_id:
                self._finish(c, 137)
        s.status.state = SandboxState.NOTREADY

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self.stop_pod_sandbox(sandbox_id)
        for cid in [c.status.id for c in self._containers.values() if c.status.sandbox_id == sandbox_id]:
            del self._containers[cid]
        self._sandboxes.pop(sandbox_id, None)

    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        return self._sandbox(sandbox_id).status

    async def list_pod_sandboxes(self) -> list[SandboxStatus]:
        return [s.status for s in self._sandboxes.values()]

    # --- containers --------------------------------------------------------------------------------------------

    def _container(self, container_id: str) -> _Container:
        try:
            c = self._containers[container_id]
        except KeyError:
            raise NotFound(f"container {container_id!r} not found") from None
        self._advance(c)
        return c

    def _advance(self, c: _Container) -> None:
        st = c.status
        ends = None if c.runs_for is None else st.started_at + c.runs_for
        if st.state is ContainerState.RUNNING and ends is not None and self.clock() >= ends:
            self._finish(c, c.exit_code, at=ends)

    def _finish(self, c: _Container, code: int, at: float | None = None) -> None:
        st = c.status
        if st.state is ContainerState.EXITED:
            return
        st.state = ContainerState.EXITED
        st.exit_code = code
        st.finished_at = self.clock() if at is None else at
        st.reason = "Completed" if code == 0 else "Error"
        st.pid = 0
        c.stdin_open = False
        for attachment in c.attachments:
            attachment._end()
        c.attachments.clear()

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sandbox = self._sandbox(sandbox_id)
        if sandbox.status.state is not SandboxState.READY:
            raise InvalidState(f"pod sandbox {sandbox_id} is not ready")
        if not config.command:
            raise RuntimeError_(f"container {config.name}: no command given")
        for c in self._containers.values():
            if c.status.sandbox_id == sandbox_id and (c.config.name, c.config.attempt) == (config.name,
                                                                                             config.attempt):
                raise AlreadyExists(f"container {config.name} attempt {config.attempt} already exists in pod "
                                    f"sandbox {sandbox_id} as {c.status.id}")
        try:
            runs_for, code, output = _behaviour(config.command, config.stdin)
        except ValueError:
            raise RuntimeError_(f"container {config.name}: cannot simulate {config.command!r}") from None
        cid = secrets.token_hex(32)
        self._containers[cid] = _Container(
            ContainerStatus(id=cid, sandbox_id=sandbox_id, name=config.name, attempt=config.attempt,
                            state=ContainerState.CREATED, created_at=self.clock(), image=config.image,
                            image_id=config.image_id, log_path=config.log_path, labels=dict(config.labels),
                            annotations=dict(config.annotations)),
            config, runs_for, code, output, echo_stdin=config.stdin and list(config.command) == ["cat"],
            stdin_open=config.stdin)
        return cid

    async def start_container(self, container_id: str) -> None:
        c = self._container(container_id)
        if c.status.state is not ContainerState.CREATED:
            raise InvalidState(f"container {container_id} is {c.status.state.value}, not created")
        c.status.state = ContainerState.RUNNING
        c.status.started_at = self.clock()
        c.status.pid = 1
        if c.output and c.config.log_path:
            Path(c.config.log_path).parent.mkdir(parents=True, exist_ok=True)
            log = LogFile(c.config.log_path, c.config.log_max_bytes, c.config.log_max_files)
            splitter = LineSplitter(log, b"stdout")
            for line in c.output:
                splitter.feed(line + b"\n")
            log.close()
        self._advance(c)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self._container(container_id)
        self._finish(c, 0 if timeout > 0 and c.status.state is ContainerState.RUNNING else 137)

    async def remove_container(self, container_id: str) -> None:
        c = self._containers.pop(container_id, None)
        if c is not None:
            self._finish(c, 137)

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._container(container_id).status

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        for c in self._containers.values():
            self._advance(c)
        return [c.status for c in self._containers.values()
                if sandbox_id is None or c.status.sandbox_id == sandbox_id]

    async def container_stats(self, container_id: str) -> ContainerStats:
        self._container(container_id)
        return ContainerStats(0, 0, 0, self.clock())

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: float = 0) -> ExecResult:
        c = self._container(container_id)
        if c.status.state is not ContainerState.RUNNING:
            raise InvalidState(f"container {container_id} is not running")
        try:
            _, code, output = _behaviour(cmd)
        except ValueError:
            code, output = 0, []
        return ExecResult(code, b"".join(line + b"\n" for line in output), b"")

    async def exec(self, container_id: str, cmd: Sequence[str], tty: bool = False,
                   stdin: bool = False) -> ExecProcess:
        return _SimExec(await self.exec_sync(container_id, cmd))

    async def attach(self, container_id: str, stdin: bool = False, tty: bool = False) -> AttachedIO:
        c = self._container(container_id)
        if c.status.state is not ContainerState.RUNNING:
            raise InvalidState(f"container {container_id} is not running")
        if stdin and not c.config.stdin:
            raise NoStdin(f"container {container_id} was not created with stdin: there is no stdin to attach to")
        attachment = _SimAttach(self, c, stdin)
        c.attachments.append(attachment)
        return attachment

    def _input(self, c: _Container, data: bytes) -> None:
        """What the container's stdin receives: ``cat`` writes it out again."""
        if not (c.stdin_open and c.echo_stdin and c.status.state is ContainerState.RUNNING):
            return
        for attachment in c.attachments:
            attachment._deliver(data)
        if c.config.log_path:
            Path(c.config.log_path).parent.mkdir(parents=True, exist_ok=True)
            log = LogFile(c.config.log_path, c.config.log_max_bytes, c.config.log_max_files)
            splitter = LineSplitter(log, b"stdout")
            splitter.feed(data)
            splitter.close()
            log.close()

    def _input_ended(self, c: _Container, attachment: _SimAttach) -> None:
        if not attachment.stdin or attachment.input_done:
            return
        attachment.input_done = True
        if c.config.stdin_once and c.stdin_open:
            c.stdin_open = False
            if c.echo_stdin:
                self._finish(c, 0)

    async def reopen_container_log(self, container_id: str) -> None:
        self._container(container_id)
