"""The runc backend: pod sandboxes as namespace files, containers as runc containers owned by shims.

Everything lives under ``root``::

    sandboxes/<id>/   sandbox.json, ns/{net,ipc,uts} (bind-mounted namespaces), shm/ (tmpfs), hosts,
                      resolv.conf, hostname
    containers/<id>/  container.json, shim.json, shim.log, exit.json, upper/ + work/ (the private overlay
                      layer), bundle/config.json and bundle/rootfs (the overlay mount)
    runc/             runc's own state (``runc --root``)
    shims/            spare shims' sockets (``spare-<pid>-<start>.sock``) and their log

A container's cgroup is ``<cgroup_root>/<sandbox cgroup_parent or sandbox id>/<container id>`` in every
hierarchy. Creating a container mounts its overlay, resolves its user against the image's /etc/passwd, writes
the OCI spec (`oci`) and hands the container to a spare shim (`shim`; started ahead of time, so creation does
not wait for an interpreter; a new one is started in the background for the next container, and a fresh shim is
spawned when no spare can be had), which runs ``runc create`` and stays as the parent of the container's init.
``start`` does what ``runc start`` does without a runc process: it reads the init's exec FIFO (`runccli`). State comes from records, ``/proc`` and the shim's exit file
(`shimbase`), so a new `RuncRuntime` over the same root carries on where another left off.

Creation undoes itself on failure (delete, unmount, forget); removal is idempotent; `cleanup_all` takes down
everything under the root, for tests and for uninstalling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .api import (
    ContainerConfig,
    ContainerStats,
    ExecProcess,
    NetworkPlugin,
    RuntimeError_,
    SandboxConfig,
)
from .cgroups import Hierarchies
from .mounts import mount_overlay, mounts_under, unmount, unmount_all
from .oci import SandboxView, build_spec, host_limits
from .paths import secure_join
from .podsandbox import (
    create_namespaces,
    mount_shm,
    namespace_files,
    namespaces_alive,
    remove_namespaces,
    sandbox_hostname,
    unmount_shm,
    write_etc_files,
)
from .runccli import Runc
from .shimbase import ShimRuntime
from .shimctl import (
    ShimReady,
    claim_spare,
    hand_to_spare,
    has_spare,
    kill_spares,
    proc_comm,
    release_spare,
    spawn_shim,
    spawn_spare,
)
from .store import ContainerRecord, SandboxRecord
from .users import user_in_rootfs

RUNC_INIT_COMM = "runc:[2:INIT]"
SPARE_SHIM_IDLE = 600.0  # seconds an unused spare shim waits before it exits; 0 turns spares off


class RuncRuntime(ShimRuntime):
    name = "runc"

    def __init__(self, root: Path, network: NetworkPlugin | None = None, cgroup_root: str = "/kyb",
                 runc: str = "runc", spare_shim_idle: float = SPARE_SHIM_IDLE) -> None:
        super().__init__(root)
        if not cgroup_root.strip("/"):
            raise ValueError("cgroup_root must name a cgroup below the root one")
        self.network = network
        self.cgroup_root = "/" + cgroup_root.strip("/")
        self.runc = Runc(shutil.which(runc) or runc, self.root / "runc")
        self.cgroups = Hierarchies()
        self.limits = host_limits()
        self.shim_dir = self.root / "shims"
        self.spare_shim_idle = spare_shim_idle
        self._spare_task: asyncio.Task[bool] | None = None

    # --- sandboxes ---------------------------------------------------------------------------------------------

    def _sandbox_ready(self, rec: SandboxRecord) -> bool:
        files = namespace_files(self.store.sandbox_dir(rec.id), rec.config.host_network)
        return rec.ready and namespaces_alive(files)

    def _sandbox_cgroup(self, rec: SandboxRecord) -> str:
        return f"{self.cgroup_root}/{rec.config.cgroup_parent.strip('/') or rec.id}"

    async def run_pod_sandbox(self, config: SandboxConfig) -> str:
        rec = SandboxRecord(id=secrets.token_hex(32), config=config, created_at=time.time())
        self.store.reserve_sandbox(rec)
        sdir = self.store.sandbox_dir(rec.id)
        try:
            hostname = sandbox_hostname(config)
            files = await create_namespaces(sdir, hostname, config.host_network)
            rec.netns_path = str(files["net"]) if "net" in files else ""
            mount_shm(sdir)
            ip = ""
            if self.network is not None and not config.host_network:
                rec.network_set_up = True
                self.store.save_sandbox(rec)
                ip = await self.network.setup(rec.id, rec.netns_path, config)
            write_etc_files(sdir, config, ip, hostname)
            rec.ip, rec.ready = ip, True
            self.store.save_sandbox(rec)
        except BaseException:
            await self._teardown_sandbox(rec)
            self.store.forget_sandbox(rec.id)
            raise
        return rec.id

    async def _teardown_sandbox(self, rec: SandboxRecord) -> None:
        sdir = self.store.sandbox_dir(rec.id)
        if rec.network_set_up and self.network is not None:
            await self.network.teardown(rec.id, rec.netns_path, rec.config)
            rec.network_set_up = False
        remove_namespaces(sdir)
        unmount_shm(sdir)

    async def _forget_sandbox(self, rec: SandboxRecord) -> None:
        if rec.config.cgroup_parent.strip("/"):
            self.cgroups.remove_if_empty(self._sandbox_cgroup(rec))
        else:
            self.cgroups.remove_tree(self._sandbox_cgroup(rec))
        self._forget_dir(self.store.sandbox_dir(rec.id))

    def _forget_dir(self, directory: Path) -> None:
        """Remove a directory after unmounting whatever is still mounted below it (never delete through one)."""
        for point in mounts_under(directory):
            unmount(point, lazy=True)
        if mounts_under(directory):
            raise RuntimeError_(f"cannot remove {directory}: still mounted")
        shutil.rmtree(directory, ignore_errors=True)

    # --- containers --------------------------------------------------------------------------------------------

    def _created_not_started(self, rec: ContainerRecord) -> bool:
        # runc's init waits on its exec FIFO under this name: the record may have missed a start (a crash).
        return rec.started_at == 0.0 and proc_comm(rec.pid) == RUNC_INIT_COMM

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sandbox = self._ready_sandbox(sandbox_id)
        if not config.command:
            raise RuntimeError_(f"container {config.name}: no command given")
        if not config.rootfs_layers:
            raise RuntimeError_(f"container {config.name}: no root filesystem layers given")
        cid = secrets.token_hex(32)
        cgroup_path = f"{self._sandbox_cgroup(sandbox)}/{cid}"
        rec = ContainerRecord(id=cid, sandbox_id=sandbox_id, config=config, created_at=time.time(),
                              extra={"cgroup_path": cgroup_path})
        self.store.reserve_container(rec)
        cdir = self.store.container_dir(cid)
        rootfs = cdir / "bundle" / "rootfs"
        # A spare shim, or one starting while the rootfs and spec are prepared.
        claimed = claim_spare(self.shim_dir) if self.spare_shim_idle > 0 else None
        spare = self._start_spare() if claimed is None and self.spare_shim_idle > 0 else None
        try:
            # A caller-owned upper dir (the builder's) lives outside cdir, so removal leaves it for the caller.
            upper = Path(config.rootfs_upper) if config.rootfs_upper else cdir / "upper"
            upper.mkdir(parents=True, exist_ok=True)
            mount_overlay(config.rootfs_layers, upper, cdir / "work", rootfs)
            user = user_in_rootfs(rootfs, config.user)
            cwd = "/" + (config.working_dir or "/").strip("/")
            cwd_dir = Path(secure_join(str(rootfs), cwd))
            if not cwd_dir.exists():
                cwd_dir.mkdir(parents=True)
                os.chown(cwd_dir, user.uid, user.gid)
            (cdir / "bundle" / "config.json").write_text(json.dumps(build_spec(
                config, user, self._sandbox_view(sandbox), cgroup_path, cwd, self.limits)))
            if config.log_path:
                Path(config.log_path).parent.mkdir(parents=True, exist_ok=True)
            ready = await self._shim(cdir, claimed, spare, {
                "mode": "runc", "id": cid, "tty": config.tty, "stdin": config.stdin,
                "stdin_once": config.stdin_once, "exit_path": str(cdir / "exit.json"),
                "log_path": config.log_path, "log_max_bytes": config.log_max_bytes,
                "log_max_files": config.log_max_files, "runc": self.runc.argv(), "bundle": str(cdir / "bundle"),
                "pid_file": str(cdir / "init.pid"),
                "console_socket": os.path.join(tempfile.gettempdir(), f"kyb-{cid[:32]}.sock"),
                "oom_control": self.cgroups.oom_counter_file(cgroup_path)})
        except BaseException:
            if claimed is not None:
                release_spare(claimed)
            await self._destroy_container(rec)
            raise
        rec.pid, rec.pid_start = ready.pid, ready.pid_start
        rec.shim_pid, rec.shim_start = ready.shim_pid, ready.shim_start
        self.store.save_container(rec)
        return cid

    def _start_spare(self) -> asyncio.Task[bool] | None:
        """Start a spare shim in the background unless one is idle or starting already."""
        loop = asyncio.get_running_loop()
        task = self._spare_task
        if task is not None and not task.done() and task.get_loop() is loop:
            return task
        if has_spare(self.shim_dir):
            return None
        self._spare_task = task = loop.create_task(self._spawn_spare())
        return task

    async def _spawn_spare(self) -> bool:
        try:
            await spawn_spare(self.shim_dir, self.spare_shim_idle)
        except (RuntimeError_, OSError):
            return False
        return True

    async def _shim(self, cdir: Path, claimed: str | None, spare: asyncio.Task[bool] | None,
                    shim_config: dict) -> ShimReady:
        """The container's shim: a spare when one can be had, else a new one."""
        if claimed is None and spare is not None and await spare:
            claimed = claim_spare(self.shim_dir)
        ready = None
        if claimed is not None:
            ready = await hand_to_spare(claimed, cdir, shim_config)
            self._start_spare()  # the next container's, started once this one's runc create is done
        if ready is None:
            ready = await spawn_shim(cdir, shim_config)
        return ready

    def _sandbox_view(self, rec: SandboxRecord) -> SandboxView:
        sdir = self.store.sandbox_dir(rec.id)
        ns = namespace_files(sdir, rec.config.host_network)
        return SandboxView(
            hostname=sandbox_hostname(rec.config),
            netns=str(ns["net"]) if "net" in ns else None, ipcns=str(ns["ipc"]),
            utsns=str(ns["uts"]) if "uts" in ns else None, hosts_file=str(sdir / "hosts"),
            resolv_file=str(sdir / "resolv.conf"), hostname_file=str(sdir / "hostname"),
            shm_dir=str(sdir / "shm"))

    async def _release(self, rec: ContainerRecord) -> None:
        await self.runc.start(rec.id, rec.pid, rec.pid_start)

    async def _signal(self, rec: ContainerRecord, sig: int) -> None:
        await self.runc.kill(rec.id, sig)

    async def _destroy_container(self, rec: ContainerRecord) -> None:
        await self.runc.delete(rec.id)
        if rec.shim_pid:
            await self._reap_shim(rec)
        cdir = self.store.container_dir(rec.id)
        unmount_all(cdir / "bundle" / "rootfs")
        if rec.extra.get("cgroup_path"):
            self.cgroups.remove_tree(rec.extra["cgroup_path"])
        self._forget_dir(cdir)
        self.store.forget_container(rec.id)

    async def container_stats(self, container_id: str) -> ContainerStats:
        rec = self.store.load_container(container_id)
        cpu, usage, working_set = self.cgroups.stats(rec.extra["cgroup_path"])
        return ContainerStats(cpu, working_set, usage, time.time())

    # --- exec --------------------------------------------------------------------------------------------------

    async def exec(self, container_id: str, cmd: Sequence[str], tty: bool = False,
                   stdin: bool = False) -> ExecProcess:
        self._running(container_id)
        if not cmd:
            raise RuntimeError_("exec: no command given")
        cdir = self.store.container_dir(container_id)
        spec = json.loads((cdir / "bundle" / "config.json").read_text())
        return await self.runc.exec(container_id, cdir, spec["process"], cmd, tty, stdin)

    # --- tests and teardown ------------------------------------------------------------------------------------

    async def cleanup_all(self) -> None:
        """Kill, delete and unmount everything under this runtime's root, then remove the root itself."""
        task = self._spare_task
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            with contextlib.suppress(Exception):
                await task
        kill_spares(self.shim_dir)
        for rec in self.store.containers():
            with contextlib.suppress(RuntimeError_, OSError):
                await self.runc.kill(rec.id, 9)
            with contextlib.suppress(RuntimeError_, OSError):
                await self._destroy_container(rec)
        for cid in await self.runc.list_ids():
            await self.runc.delete(cid)
        for srec in self.store.sandboxes():
            with contextlib.suppress(RuntimeError_, OSError):
                await self._teardown_sandbox(srec)
            self.cgroups.remove_tree(self._sandbox_cgroup(srec))
        self.cgroups.remove_if_empty(self.cgroup_root)
        for point in mounts_under(self.root):
            unmount(point, lazy=True)
        shutil.rmtree(self.root, ignore_errors=True)
