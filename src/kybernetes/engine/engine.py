"""The standalone engine: Docker's ``run / ps / logs / exec / stop / rm`` over our image store, runtime and bridge.

Each container is a one-container pod sandbox (its own network namespace on the engine's bridge, hostname = the
short ID), so standalone containers and pods run through exactly the same runtime code. ``run`` either succeeds
completely or leaves nothing behind: every step registers its undo, and a failure runs the undos in reverse.
A stopped container gives its network back (ports, address, veth), as Docker's do: `stop` and a foreground
``run`` release it at once, and ``run`` first releases that of every container that exited on its own (there
is no daemon to notice), so their host ports can be published again.

Settings come from ``<data>/engine.json`` (written with defaults on first use): bridge name, subnet, cgroup root,
nftables table and runtime. Tests write their own to keep several engines apart on one machine.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from kybernetes.images import config as imgconfig
from kybernetes.images import reference
from kybernetes.images.store import Image, ImageNotFound, ImageStore
from kybernetes.runtime import api as rt

from . import names, options
from .records import NameConflict, NoSuchContainer, Record, Records


class EngineError(Exception):
    """A user-facing failure: one line."""


@dataclass
class EngineConfig:
    bridge: str = "kyb0"
    subnet: str = "10.88.0.0/16"
    cgroup_root: str = "/kyb"
    nft_table: str = "kyb"
    runtime: str = ""  # "" = runc when root and runc is installed, else process

    @classmethod
    def load(cls, data_dir: Path) -> EngineConfig:
        path = data_dir / "engine.json"
        try:
            raw = orjson.loads(path.read_bytes())
            return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})
        except FileNotFoundError:
            cfg = cls()
            data_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(orjson.dumps(asdict(cfg), option=orjson.OPT_INDENT_2))
            return cfg


def choose_runtime(wanted: str) -> str:
    """runc when we are root and it is installed; the process runtime otherwise (said by the caller)."""
    if wanted == "runc":
        if os.geteuid() != 0:
            raise EngineError("the runc runtime needs root (run as root, or use --runtime process)")
        if shutil.which("runc") is None:
            raise EngineError("runc not found: install Debian's runc (apt-get install runc), or use --runtime process")
        return "runc"
    if wanted == "process":
        return "process"
    if wanted:
        raise EngineError(f"unknown runtime {wanted!r} (runc or process)")
    return "runc" if os.geteuid() == 0 and shutil.which("runc") else "process"


class Engine:
    def __init__(self, data_dir: Path, runtime: str = "") -> None:
        self.data_dir = Path(data_dir)
        self.cfg = EngineConfig.load(self.data_dir)
        self.images = ImageStore(self.data_dir / "images")
        self.records = Records(self.data_dir / "containers")
        self.runtime_name = choose_runtime(runtime or self.cfg.runtime)
        self.runtime = self._make_runtime(self.runtime_name)
        self._runtimes = {self.runtime_name: self.runtime}

    def runtime_of(self, rec: Record) -> rt.Runtime:
        """The runtime that runs `rec` (the one it was created with, which later commands need not name)."""
        name = rec.runtime or self.runtime_name
        if name not in self._runtimes:
            self._runtimes[name] = self._make_runtime(name)
        return self._runtimes[name]

    def _make_runtime(self, name: str) -> rt.Runtime:
        if name == "runc":
            from kybernetes.network.bridge import BridgeNetwork
            from kybernetes.runtime.runc import RuncRuntime

            net = BridgeNetwork(bridge=self.cfg.bridge, subnet=self.cfg.subnet, state_dir=self.data_dir / "network",
                                nft_table=self.cfg.nft_table)
            return RuncRuntime(self.data_dir / "runtime" / "runc", network=net, cgroup_root=self.cfg.cgroup_root)
        from kybernetes.runtime.process import ProcessRuntime

        return ProcessRuntime(self.data_dir / "runtime" / "process")

    # -- run ------------------------------------------------------------------------------------------------

    async def run(
        self,
        image_name: str,
        cmd: list[str],
        *,
        name: str = "",
        env: list[str] | None = None,
        publish: list[str] | None = None,
        links: list[str] | None = None,
        entrypoint: list[str] | None = None,
        workdir: str = "",
        user: str = "",
        auto_remove: bool = False,
        memory: int = 0,
        tty: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> Record:
        try:
            ports = [options.parse_publish(p) for p in publish or []]
            link_specs = [options.parse_link(link) for link in links or []]
            env_items = options.parse_env(env or [], dict(os.environ))
            if name:
                name = options.check_name(name)
            options.check_workdir(workdir)
        except options.OptionError as e:
            raise EngineError(str(e)) from None
        image = await self._image(image_name, progress)
        try:
            argv = imgconfig.docker_argv(image.config, entrypoint, cmd or None)
        except imgconfig.NoCommand:
            raise EngineError("No command specified") from None
        cid = secrets.token_hex(32)
        rec = Record(id=cid, name=name or names.generate({r.name for r in self.records.all()}), image=image_name,
                     image_id=image.id, command=argv, created=time.time(), auto_remove=auto_remove,
                     ports=[asdict(p) for p in ports], links=list(links or []), runtime=self.runtime_name)
        hosts: list[tuple[str, list[str]]] = []
        link_env: list[str] = []
        for link in link_specs:
            target = self._find(link.name)
            target_st = await self.status(target)
            running = target_st is not None and target_st.state == rt.ContainerState.RUNNING
            ip = await self._ip(target) if running else ""
            if not ip:
                raise EngineError(f"Cannot link to a non running container: /{target.name} AS /{rec.name}/{link.alias}")
            hosts.append((ip, sorted({link.alias, target.name, target.short_id})))
            target_image = self.images.get(target.image_id) if target.image_id else None
            exposed = imgconfig.exposed_ports(target_image.config) if target_image else []
            link_env += options.link_env(link.alias, target.name, rec.name, ip, exposed, target.env)
        try:
            self.records.reserve(rec)
        except NameConflict as e:
            raise EngineError(str(e)) from None
        undo: list[Callable[[], Awaitable[None]]] = []

        async def forget() -> None:
            self.records.delete(rec)
            self.images.release(rec.id)

        undo.append(forget)
        try:
            self.images.lease(rec.id, image.id)
            layers = self.images.layer_dirs(image)
            await self._release_exited()
            sandbox = await self.runtime.run_pod_sandbox(rt.SandboxConfig(
                name=rec.name, uid=rec.id, hostname=rec.short_id, hosts=hosts, port_mappings=ports,
                labels={"kyb.io/container": rec.id}))
            rec.sandbox_id = sandbox

            async def drop_sandbox() -> None:
                with contextlib.suppress(rt.RuntimeError_):
                    await self.runtime.stop_pod_sandbox(sandbox)
                    await self.runtime.remove_pod_sandbox(sandbox)

            undo.append(drop_sandbox)
            rec.env = imgconfig.merge_env(imgconfig.image_env(image.config), [*link_env, *env_items])
            if not any(e.startswith("HOSTNAME=") for e in rec.env):
                rec.env.append(f"HOSTNAME={rec.short_id}")
            log_dir = self.data_dir / "containers" / rec.id
            log_dir.mkdir(parents=True, exist_ok=True)
            rec.log_path = str(log_dir / "container.log")
            config = rt.ContainerConfig(
                name=rec.name, command=argv, image=image_name, image_id=image.id, rootfs_layers=layers,
                env=rec.env, working_dir=imgconfig.working_dir(image.config, workdir),
                user=imgconfig.user(image.config, user), log_path=rec.log_path, tty=tty,
                resources=rt.Resources(memory_limit_bytes=memory),
                stop_signal=(image.config.get("config") or {}).get("StopSignal") or "SIGTERM",
                labels={"kyb.io/container": rec.id})
            rec.container_id = await self.runtime.create_container(sandbox, config)
            self.records.save(rec)
            await self.runtime.start_container(rec.container_id)
        except BaseException as e:
            for step in reversed(undo):
                with contextlib.suppress(Exception):
                    await step()
            shutil.rmtree(self.data_dir / "containers" / rec.id, ignore_errors=True)
            if isinstance(e, rt.RuntimeError_ | OSError):
                raise EngineError(str(e)) from None
            raise
        return rec

    async def _image(self, image_name: str, progress: Callable[[str], None] | None) -> Image:
        """The local image; one named with a registry host is pulled when missing, as ``docker run`` does."""
        try:
            return self.images.resolve(image_name)
        except ImageNotFound:
            pass
        try:
            ref = reference.parse(image_name)
        except reference.ReferenceError_ as e:
            raise EngineError(str(e)) from None
        if ref.domain == reference.DEFAULT_DOMAIN:
            hint = "kyb image bootstrap busybox" if ref.familiar_repository == "busybox" else "kyb build, kyb load or kyb pull"
            raise EngineError(f"Unable to find image '{ref.familiar}' locally (make it with {hint})")
        from kybernetes.images import registry

        if progress:
            progress(f"Unable to find image '{ref.familiar}' locally")
        try:
            return await registry.pull(self.images, image_name, progress=progress)
        except registry.RegistryError as e:
            raise EngineError(str(e)) from None

    # -- queries --------------------------------------------------------------------------------------------

    def _find(self, key: str) -> Record:
        try:
            return self.records.find(key)
        except NoSuchContainer as e:
            raise EngineError(str(e)) from None

    def find(self, key: str) -> Record:
        return self._find(key)

    async def _ip(self, rec: Record) -> str:
        with contextlib.suppress(rt.RuntimeError_):
            return (await self.runtime_of(rec).pod_sandbox_status(rec.sandbox_id)).ip
        return ""

    async def status(self, rec: Record) -> rt.ContainerStatus | None:
        if not rec.container_id:
            return None
        try:
            return await self.runtime_of(rec).container_status(rec.container_id)
        except rt.NotFound:
            return None

    async def ps(self, all_: bool = False) -> list[tuple[Record, rt.ContainerStatus | None]]:
        out = []
        for rec in self.records.all():
            st = await self.status(rec)
            if st is not None and st.state == rt.ContainerState.EXITED and rec.auto_remove:
                await self.remove(rec, force=True)
                continue
            if all_ or (st is not None and st.state == rt.ContainerState.RUNNING):
                out.append((rec, st))
        return out

    async def wait(self, rec: Record, poll: float = 0.02) -> rt.ContainerStatus:
        while True:
            st = await self.status(rec)
            if st is None:
                raise EngineError(f"Error response from daemon: No such container: {rec.name}")
            if st.state == rt.ContainerState.EXITED:
                return st
            await _sleep(poll)

    # -- stop / rm ------------------------------------------------------------------------------------------

    async def stop(self, rec: Record, timeout: float = 10.0) -> None:
        st = await self.status(rec)
        if st is not None and st.state == rt.ContainerState.RUNNING:
            await self.runtime_of(rec).stop_container(rec.container_id, timeout)
        await self.release(rec)

    async def release(self, rec: Record) -> None:
        """Give back a stopped container's network (published ports, address, veth), as Docker does when a
        container stops; its record, log and filesystem stay until ``rm``. Idempotent."""
        if not rec.sandbox_id:
            return
        with contextlib.suppress(rt.NotFound):
            if (await self.runtime_of(rec).pod_sandbox_status(rec.sandbox_id)).state == rt.SandboxState.READY:
                await self.runtime_of(rec).stop_pod_sandbox(rec.sandbox_id)

    async def _release_exited(self) -> None:
        """Release the network of every container that exited on its own since (nobody watches them), so a
        new container can publish the ports they had."""
        for other in self.records.all():
            st = await self.status(other)
            if st is not None and st.state == rt.ContainerState.EXITED:
                with contextlib.suppress(rt.RuntimeError_, OSError):
                    await self.release(other)

    async def remove(self, rec: Record, force: bool = False) -> None:
        st = await self.status(rec)
        if st is not None and st.state == rt.ContainerState.RUNNING:
            if not force:
                raise EngineError(
                    f"Error response from daemon: cannot remove container \"/{rec.name}\": container is running: "
                    "stop the container before removing or force remove")
            await self.runtime_of(rec).stop_container(rec.container_id, 0)
        if rec.container_id:
            with contextlib.suppress(rt.NotFound):
                await self.runtime_of(rec).remove_container(rec.container_id)
        if rec.sandbox_id:
            with contextlib.suppress(rt.NotFound):
                await self.runtime_of(rec).stop_pod_sandbox(rec.sandbox_id)
                await self.runtime_of(rec).remove_pod_sandbox(rec.sandbox_id)
        self.images.release(rec.id)
        self.records.delete(rec)
        shutil.rmtree(self.data_dir / "containers" / rec.id, ignore_errors=True)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
