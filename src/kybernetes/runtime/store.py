"""On-disk records of sandboxes and containers, shared by the runc and process backends.

Layout under the runtime's root (nothing of a runtime lives outside it, so runtimes with different roots never
see each other)::

    lock                              flock held while a name is checked and reserved
    sandboxes/<id>/sandbox.json       `SandboxRecord`
    containers/<id>/container.json    `ContainerRecord`
    containers/<id>/exit.json         written once, by the shim, when the container's process ended

Invariants: a record is replaced atomically (temp file + rename), so a reader sees the old or the new one, never
half; a directory without its record is an unfinished creation and is ignored. Among sandboxes (namespace, name,
uid, attempt) is unique, and among a sandbox's containers (name, attempt): both are checked and the record written
under the lock, so two runtime objects or two processes over one root never create the same thing twice. The lock
is only held by synchronous code (no ``await`` inside), so coroutines of one process cannot deadlock on it.

Records survive the runtime process (that is their point); they do not survive a host reboot in any useful way,
so they are not fsynced.

Reading is cached per record file, validated by the file's inode, mtime and size (a replaced record is a new
inode): the node agent lists every sandbox and container once a second, and parsing each JSON again was most of
what that cost. A cache hit returns a fresh record object (its mutable parts copied), so callers may change and
save what they get, as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import (
    AlreadyExists,
    ContainerConfig,
    DNSConfig,
    Mount,
    NotFound,
    PortMapping,
    Resources,
    SandboxConfig,
)


def atomic_write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)


def sandbox_config_from_dict(d: dict[str, Any]) -> SandboxConfig:
    d = dict(d)
    dns = d.pop("dns", None)
    hosts = [(ip, list(names)) for ip, names in d.pop("hosts", [])]
    ports = [PortMapping(**p) for p in d.pop("port_mappings", [])]
    return SandboxConfig(**d, dns=DNSConfig(**dns) if dns is not None else None, hosts=hosts, port_mappings=ports)


def container_config_from_dict(d: dict[str, Any]) -> ContainerConfig:
    d = dict(d)
    layers = [Path(p) for p in d.pop("rootfs_layers", [])]
    mounts = [Mount(**m) for m in d.pop("mounts", [])]
    resources = Resources(**d.pop("resources", {}))
    return ContainerConfig(**d, rootfs_layers=layers, mounts=mounts, resources=resources)


@dataclass
class SandboxRecord:
    id: str
    config: SandboxConfig
    created_at: float
    ready: bool = False  # false while being created and after stop
    ip: str = ""
    netns_path: str = ""  # "" with host networking
    network_set_up: bool = False  # the plugin's setup ran and its teardown did not yet
    extra: dict[str, str] = field(default_factory=dict)  # backend-specific paths

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SandboxRecord:
        d = dict(d)
        config = sandbox_config_from_dict(d.pop("config"))
        return cls(**d, config=config)


@dataclass
class ContainerRecord:
    id: str
    sandbox_id: str
    config: ContainerConfig
    created_at: float
    started_at: float = 0.0
    pid: int = 0
    pid_start: int = 0
    shim_pid: int = 0
    shim_start: int = 0
    extra: dict[str, str] = field(default_factory=dict)  # backend-specific (cgroup path, cwd...)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContainerRecord:
        d = dict(d)
        config = container_config_from_dict(d.pop("config"))
        return cls(**d, config=config)


@dataclass
class ExitRecord:
    exit_code: int
    finished_at: float
    oom_killed: bool = False
    message: str = ""


_Key = tuple[int, int, int]  # (inode, mtime_ns, size) of a record file


def _fresh(rec: Any) -> Any:
    return dataclasses.replace(rec, extra=dict(rec.extra))


class Store:
    def __init__(self, root: Path) -> None:
        self._sandbox_of: dict[str, str] = {}  # container ID -> its sandbox (never changes)
        self._cache: dict[str, tuple[_Key, Any]] = {}  # record file -> (its identity, the parsed record)
        self.root = root
        self.sandboxes_dir = root / "sandboxes"
        self.containers_dir = root / "containers"
        self.sandboxes_dir.mkdir(parents=True, exist_ok=True)
        self.containers_dir.mkdir(parents=True, exist_ok=True)

    def _read(self, path: Path, parse: Any) -> Any:
        """The record in ``path`` (FileNotFoundError / NotADirectoryError when there is none), cached."""
        name = str(path)
        st = os.stat(name)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = self._cache.get(name)
        if hit is not None and hit[0] == key:
            return _fresh(hit[1])
        rec = parse(read_json(path))
        self._cache[name] = (key, rec)
        return _fresh(rec)

    def sandbox_dir(self, sandbox_id: str) -> Path:
        return self.sandboxes_dir / sandbox_id

    def container_dir(self, container_id: str) -> Path:
        return self.containers_dir / container_id

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # --- sandboxes -------------------------------------------------------------------------------------------

    def reserve_sandbox(self, rec: SandboxRecord) -> None:
        c = rec.config
        with self.lock():
            for other in self.sandboxes():
                o = other.config
                if (o.namespace, o.name, o.uid, o.attempt) == (c.namespace, c.name, c.uid, c.attempt):
                    raise AlreadyExists(f"pod sandbox {c.namespace}/{c.name} attempt {c.attempt} already "
                                        f"exists as {other.id}")
            self.sandbox_dir(rec.id).mkdir()
            self.save_sandbox(rec)

    def save_sandbox(self, rec: SandboxRecord) -> None:
        path = self.sandbox_dir(rec.id) / "sandbox.json"
        self._cache.pop(str(path), None)  # file times are coarse (a jiffy): our own rewrite may look unchanged
        atomic_write_json(path, rec.to_dict())

    def load_sandbox(self, sandbox_id: str) -> SandboxRecord:
        if not sandbox_id or "/" in sandbox_id:
            raise NotFound(f"pod sandbox {sandbox_id!r} not found")
        try:
            rec: SandboxRecord = self._read(self.sandbox_dir(sandbox_id) / "sandbox.json", SandboxRecord.from_dict)
            return rec
        except FileNotFoundError:
            raise NotFound(f"pod sandbox {sandbox_id!r} not found") from None

    def sandboxes(self) -> list[SandboxRecord]:
        out = []
        for d in sorted(self.sandboxes_dir.iterdir()):
            try:
                out.append(self._read(d / "sandbox.json", SandboxRecord.from_dict))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return sorted(out, key=lambda r: r.created_at)

    def forget_sandbox(self, sandbox_id: str) -> None:
        shutil.rmtree(self.sandbox_dir(sandbox_id), ignore_errors=True)
        self._cache.pop(str(self.sandbox_dir(sandbox_id) / "sandbox.json"), None)

    # --- containers ------------------------------------------------------------------------------------------

    def reserve_container(self, rec: ContainerRecord) -> None:
        c = rec.config
        with self.lock():
            for other in self.containers(rec.sandbox_id):
                if (other.config.name, other.config.attempt) == (c.name, c.attempt):
                    raise AlreadyExists(f"container {c.name} attempt {c.attempt} already exists in pod sandbox "
                                        f"{rec.sandbox_id} as {other.id}")
            self.container_dir(rec.id).mkdir()
            self.save_container(rec)

    def save_container(self, rec: ContainerRecord) -> None:
        path = self.container_dir(rec.id) / "container.json"
        self._cache.pop(str(path), None)
        atomic_write_json(path, rec.to_dict())

    def load_container(self, container_id: str) -> ContainerRecord:
        if not container_id or "/" in container_id:
            raise NotFound(f"container {container_id!r} not found")
        try:
            rec: ContainerRecord = self._read(self.container_dir(container_id) / "container.json",
                                              ContainerRecord.from_dict)
            return rec
        except FileNotFoundError:
            raise NotFound(f"container {container_id!r} not found") from None

    def containers(self, sandbox_id: str | None = None) -> list[ContainerRecord]:
        out = []
        for d in self.containers_dir.iterdir():
            # A container never changes sandbox and IDs are never reused, so remembering each one's sandbox
            # lets a per-sandbox listing skip every other container's record unread.
            known = self._sandbox_of.get(d.name)
            if sandbox_id is not None and known is not None and known != sandbox_id:
                continue
            try:
                rec = self._read(d / "container.json", ContainerRecord.from_dict)
            except (FileNotFoundError, NotADirectoryError):
                continue
            self._sandbox_of[d.name] = rec.sandbox_id
            if sandbox_id is None or rec.sandbox_id == sandbox_id:
                out.append(rec)
        return sorted(out, key=lambda r: r.created_at)

    def read_exit(self, container_id: str) -> ExitRecord | None:
        try:
            d = read_json(self.container_dir(container_id) / "exit.json")
        except (FileNotFoundError, ValueError):
            return None
        return ExitRecord(int(d["exit_code"]), float(d["finished_at"]), bool(d.get("oom_killed")),
                          str(d.get("message", "")))

    def write_exit(self, container_id: str, rec: ExitRecord) -> None:
        atomic_write_json(self.container_dir(container_id) / "exit.json", dataclasses.asdict(rec))

    def forget_container(self, container_id: str) -> None:
        shutil.rmtree(self.container_dir(container_id), ignore_errors=True)
        self._sandbox_of.pop(container_id, None)
        self._cache.pop(str(self.container_dir(container_id) / "container.json"), None)
