"""The container runtime interface: what the node agent and the `kyb` container commands ask of a runtime.

Shaped like the Kubernetes CRI (RuntimeService), in Python terms. A *pod sandbox* is the shared context of a pod:
its network, IPC and UTS namespaces (held open as bind-mounted namespace files, the way CRI-O's pinns does, so no
pause process is needed), its hostname, /etc/hosts and /etc/resolv.conf. *Containers* are created inside a
sandbox, each with its own PID and mount namespaces, and go through CREATED -> RUNNING -> EXITED.

Lifecycle walkthrough (what a caller does, in order):

1. ``sandbox_id = await rt.run_pod_sandbox(SandboxConfig(...))`` creates the namespaces and sets up the network
   through the runtime's `NetworkPlugin`; ``pod_sandbox_status`` reports its IP.
2. ``cid = await rt.create_container(sandbox_id, ContainerConfig(...))`` prepares the root filesystem (an overlay
   of the read-only image layers given in ``rootfs_layers``, with a private upper layer) and the OCI bundle;
   nothing runs yet. A (sandbox, name, attempt) triple is unique: creating it twice is `AlreadyExists`.
3. ``await rt.start_container(cid)`` starts the process; its stdout/stderr go to ``log_path`` in the CRI log
   format (``<RFC3339Nano> <stdout|stderr> <F|P> <text>``), rotated at ``log_max_bytes``.
4. ``container_status(cid)`` reports state, pid, exit code and reason (``Completed``, ``Error``, ``OOMKilled``).
   ``attach(cid, stdin, tty)`` connects to the running container's own stdio (`AttachedIO`): its output from
   now on, and its stdin when it was created with ``stdin`` (``stdin_once``: closed when the first attachment
   with stdin ends); ``exec`` starts another process in it.
5. ``stop_container(cid, timeout)`` sends the stop signal, waits up to ``timeout`` seconds, then SIGKILL.
6. ``remove_container(cid)`` forgets it and frees its filesystem; ``stop_pod_sandbox`` stops every container of
   the sandbox and tears its network down; ``remove_pod_sandbox`` frees it.

Containers outlive the program that started them: a restarted runtime over the same ``root`` finds every sandbox
and container again (``list_*``), with no duplicates and no leaks. Errors are `RuntimeError_` subclasses with a
one-line message meant for a user.

The image is resolved by the caller (`images/`): the runtime receives the layer directories and the final argv,
env, working dir and user, so backends never parse image configs.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class RuntimeError_(Exception):
    """A runtime failure, with a one-line message for the user."""


class NotFound(RuntimeError_):
    pass


class AlreadyExists(RuntimeError_):
    pass


class InvalidState(RuntimeError_):
    """The operation does not apply in the object's current state (start of a running container...)."""


class NoStdin(InvalidState):
    """``attach`` with stdin to a container that was created without one (``ContainerConfig.stdin``)."""


class Timeout(RuntimeError_):
    """An operation with a deadline (``exec_sync`` with a timeout) did not finish in time."""


class ContainerState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    UNKNOWN = "unknown"


class SandboxState(enum.Enum):
    READY = "ready"
    NOTREADY = "notready"


@dataclass
class PortMapping:
    """Publish ``container_port`` of the sandbox on ``host_ip:host_port`` (loopback by default)."""

    container_port: int
    host_port: int
    protocol: str = "tcp"
    host_ip: str = "127.0.0.1"


@dataclass
class DNSConfig:
    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass
class SandboxConfig:
    name: str
    namespace: str = ""
    uid: str = ""
    attempt: int = 0
    hostname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    host_network: bool = False
    dns: DNSConfig | None = None
    # Extra /etc/hosts lines: (ip, [names]); the sandbox's own IP and hostname are always added.
    hosts: list[tuple[str, list[str]]] = field(default_factory=list)
    port_mappings: list[PortMapping] = field(default_factory=list)
    # cgroup parent of the sandbox's containers, relative to the runtime's own cgroup root.
    cgroup_parent: str = ""


@dataclass
class SandboxStatus:
    id: str
    config: SandboxConfig
    state: SandboxState
    created_at: float
    ip: str = ""
    netns_path: str = ""


@dataclass
class Mount:
    container_path: str
    host_path: str = ""
    readonly: bool = False
    # "bind" (host_path) or "tmpfs" (host_path ignored).
    kind: str = "bind"


@dataclass
class Resources:
    cpu_period: int = 0  # microseconds; 0 = unset
    cpu_quota: int = 0  # microseconds per period; 0 = unlimited
    cpu_shares: int = 0
    memory_limit_bytes: int = 0  # 0 = unlimited
    pids_limit: int = 0


@dataclass
class ContainerConfig:
    name: str
    command: list[str]  # the full argv (entrypoint + cmd, already merged by the caller)
    image: str = ""  # the reference, reported back in status
    image_id: str = ""
    rootfs_layers: list[Path] = field(default_factory=list)  # read-only lower layers, bottom first
    # The writable layer's directory. Empty: a private one, freed on removal. Set (the builder does): the caller
    # owns it, it must be on the runtime root's filesystem, and it is kept after removal (it becomes a layer).
    rootfs_upper: str = ""
    attempt: int = 0
    env: list[str] = field(default_factory=list)  # "K=V"
    working_dir: str = ""
    user: str = ""  # "uid[:gid]" or "name[:group]", resolved against the rootfs's /etc/passwd and /etc/group
    mounts: list[Mount] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_path: str = ""  # empty: no log kept
    log_max_bytes: int = 10 * 1024 * 1024
    log_max_files: int = 5
    stop_signal: str = "SIGTERM"
    tty: bool = False
    # A real stdin kept open for ``attach`` (a pipe, or the terminal with ``tty``); else /dev/null.
    stdin: bool = False
    # With ``stdin``: the container's stdin is closed when the first attachment with stdin ends (EOF on a pipe,
    # EOT on a terminal), and stays closed.
    stdin_once: bool = False
    readonly_rootfs: bool = False
    privileged: bool = False


@dataclass
class ContainerStatus:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    state: ContainerState
    created_at: float
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""  # Completed | Error | OOMKilled (EXITED only)
    message: str = ""
    pid: int = 0
    image: str = ""
    image_id: str = ""
    log_path: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class ContainerStats:
    cpu_usage_ns: int
    memory_working_set_bytes: int
    memory_usage_bytes: int
    timestamp: float


@dataclass
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


class _Stdio(Protocol):
    """Streams to and from a process: what exec and attach have in common."""

    async def write_stdin(self, data: bytes) -> None: ...
    async def close_stdin(self) -> None: ...
    def stdout(self) -> AsyncIterator[bytes]: ...
    def stderr(self) -> AsyncIterator[bytes]: ...
    async def resize(self, width: int, height: int) -> None: ...
    async def wait(self) -> int: ...


class ExecProcess(_Stdio, Protocol):
    """A running exec: write to stdin, read stdout/stderr (stderr is merged into stdout with a TTY)."""

    async def kill(self) -> None: ...


class AttachedIO(_Stdio, Protocol):
    """A connection to a running container's own stdio (``attach``), not to a new process.

    ``tty`` is the container's: a terminal is fixed when the container is created. Output is what the container
    writes from the moment of attaching (``stderr`` yields nothing with a terminal); both iterators end when the
    container exited and its output is drained, or after `detach`. Consume both: an attachment that falls far
    behind is cut off rather than slowing the container. ``write_stdin`` needs an attachment made with
    ``stdin=True``; ``close_stdin`` says this attachment's input ended, which closes the container's stdin only
    when it was created with ``stdin_once`` (and then for good). ``resize`` sets the terminal's size (no-op
    without one). ``wait`` returns the container's exit code once it exited; ``detach`` leaves it running.
    """

    tty: bool

    async def detach(self) -> None: ...


class NetworkPlugin(Protocol):
    """Connects a sandbox's network namespace (CNI-like). Implementations live in `network/`."""

    async def setup(self, sandbox_id: str, netns_path: str, config: SandboxConfig) -> str:
        """Give the namespace an interface and address; return the IP."""
        ...

    async def teardown(self, sandbox_id: str, netns_path: str, config: SandboxConfig) -> None:
        """Undo `setup`; must succeed when called twice or after a partial setup."""
        ...


class Runtime(Protocol):
    name: str

    async def run_pod_sandbox(self, config: SandboxConfig) -> str: ...
    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...
    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...
    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus: ...
    async def list_pod_sandboxes(self) -> list[SandboxStatus]: ...

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str: ...
    async def start_container(self, container_id: str) -> None: ...
    async def stop_container(self, container_id: str, timeout: float) -> None: ...
    async def remove_container(self, container_id: str) -> None: ...
    async def container_status(self, container_id: str) -> ContainerStatus: ...
    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...
    async def container_stats(self, container_id: str) -> ContainerStats: ...

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: float = 0) -> ExecResult: ...
    async def exec(self, container_id: str, cmd: Sequence[str], tty: bool = False, stdin: bool = False) -> ExecProcess: ...
    # ``tty`` is the caller's expectation; the container's own setting decides (``AttachedIO.tty``). Raises
    # `NoStdin` for stdin to a container created without it, `InvalidState` unless the container is running.
    async def attach(self, container_id: str, stdin: bool = False, tty: bool = False) -> AttachedIO: ...
    async def reopen_container_log(self, container_id: str) -> None: ...
