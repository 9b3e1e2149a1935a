"""``kyb build``: a Dockerfile into an OCI image, step by step, as Docker's classic builder shows it.

Design:

* The parser (`dockerfile`) gives stages of typed instructions; the builder walks the stages the target needs.
  A stage's *state* is an image config plus its layer descriptors; metadata instructions (ENV, CMD, USER...)
  change the config only, layer instructions (RUN, COPY, ADD) add one layer.
* RUN runs the command in a runc container through the `Runtime` interface: the lower layers are the state's
  snapshots (over an "init" layer holding the runtime's mount points, so that runc does not create them in the
  step's layer), the writable layer is a directory the builder owns (``rootfs_upper``), and after the command exits
  0 that directory *is* the new layer: it is written as a tar blob (overlay whiteouts become ``.wh.`` entries)
  and adopted as the layer's snapshot without unpacking it again. The build sandbox has loopback only.
* COPY/ADD write into a mounted overlay of the current layers (so paths resolve through the image's own
  symlinks) whose upper directory becomes the layer the same way; so does WORKDIR when its directory is missing.
* Every layer step is looked up in the `BuildCache` first (key: parent state + instruction + sources' content),
  so an unchanged step is not run again and a fully cached rebuild yields the same image ID.
* Nothing is tagged until the last step succeeded: a failed build leaves no image (cache entries of the steps
  that succeeded stay, as Docker keeps them).
"""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from kybernetes.runtime import api as rt

from . import dockerfile_model as m
from . import oci, reference
from .bootstrap import DEFAULT_PATH
from .buildcache import BuildCache, CacheEntry, state_key, step_key
from .buildcopy import (
    CopyError,
    Source,
    copy_sources,
    make_dir,
    parse_chmod,
    resolve_owner,
    resolve_sources,
    sources_digest,
)
from .config import merge_env
from .layers import diff_to_tar, secure_join
from .mounts import overlay
from .store import Image, ImageError, ImageNotFound, ImageStore

DEFAULT_SHELL = ["/bin/sh", "-c"]


class BuildError(Exception):
    """A failed build: one message (Docker's wording) for the user."""


@dataclass
class BuildOptions:
    context: Path
    dockerfile: Path | None = None
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    progress: Callable[[str], None] = print


@dataclass
class State:
    config: dict[str, Any]
    layers: list[dict[str, Any]]
    created: str  # when the state's newest layer was made (metadata steps reuse it: stable IDs on rebuild)
    cmd_set: bool = False  # CMD given in this stage (ENTRYPOINT then keeps it)

    @property
    def cfg(self) -> dict[str, Any]:
        c: dict[str, Any] = self.config.setdefault("config", {})
        return c

    def key(self) -> str:
        return state_key(self.config, self.layers)

    def short(self) -> str:
        """The ID the image would have if the build ended here (what Docker prints after each step)."""
        return oci.hex_of(oci.digest_bytes(oci.canonical_json({**self.config, "created": self.created})))[:12]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Builder:
    def __init__(self, store: ImageStore, runtime: rt.Runtime | None) -> None:
        self.store = store
        self.runtime = runtime
        self.cache = BuildCache(store)
        self.scratch = store.root / "build-tmp"
        self.scratch.mkdir(exist_ok=True)
        self._sandbox = ""

    # -- entry point ----------------------------------------------------------------------------------------

    async def build(self, opts: BuildOptions) -> Image:
        from .dockerignore import DockerIgnore, DockerIgnoreError

        say = opts.progress
        context = opts.context.resolve()
        if not context.is_dir():
            raise BuildError(f"unable to prepare context: path \"{opts.context}\" not found")
        df_path = opts.dockerfile if opts.dockerfile is not None else context / "Dockerfile"
        if not df_path.is_absolute() and not df_path.exists():
            df_path = context / df_path
        try:
            text = df_path.read_text()
        except FileNotFoundError:
            raise BuildError(f"failed to read dockerfile: open {df_path.name}: no such file or directory") from None
        dockerfile = self._parse(text, opts)
        ignore_path = context / ".dockerignore"
        try:
            ignore = DockerIgnore.from_text(ignore_path.read_text()) if ignore_path.exists() else None
        except DockerIgnoreError as e:
            raise BuildError(f"failed to parse .dockerignore: {e}") from None
        self._excluded = None if ignore is None else (  # an exception may re-include files of an excluded dir
            lambda rel, is_dir: ignore.excludes(rel, is_dir) and not (is_dir and ignore.may_include_below(rel)))
        self._context = context
        self._no_cache = opts.no_cache
        needed = dockerfile.required_stages()
        total = sum(1 + len(dockerfile.stages[i].instructions) for i in needed)
        self._step, self._total = 0, total
        states: dict[int, State] = {}
        try:
            for index in needed:
                stage = dockerfile.stages[index]
                states[index] = await self._build_stage(stage, states, say)
        finally:
            await self._drop_sandbox()
        warning = dockerfile.unused_build_args_warning()
        if warning:
            say(warning)
        final = states[needed[-1]]
        config = copy.deepcopy(final.config)
        config["created"] = final.created
        try:
            image = self.store.put_image(config, final.layers, names=opts.tags)
        except ImageError as e:
            raise BuildError(str(e)) from None
        say(f"Successfully built {image.short_id}")
        for t in opts.tags:
            say(f"Successfully tagged {reference.parse(t).familiar}")
        return image

    def _parse(self, text: str, opts: BuildOptions) -> m.Dockerfile:
        """Parse twice: the second pass knows the base images' ENV (for ``$PATH`` in ENV) and ONBUILD triggers."""
        from .dockerfile import parse_dockerfile, platform_args

        builtin = platform_args()
        first = parse_dockerfile(text, build_args=opts.build_args, target=opts.target, builtin_args=builtin)
        image_env: dict[str, dict[str, str]] = {}
        image_onbuild: dict[str, list[str]] = {}
        for stage in first.stages:
            if stage.base_stage is not None or stage.is_scratch or not stage.needed:
                continue
            try:
                cfg = self.store.resolve(stage.base).config.get("config") or {}
            except ImageError:
                continue  # reported when the stage is built
            image_env[stage.base] = dict(e.split("=", 1) for e in cfg.get("Env") or [] if "=" in e)
            if cfg.get("OnBuild"):
                image_onbuild[stage.base] = list(cfg["OnBuild"])
        if not image_env and not image_onbuild:
            return first
        return parse_dockerfile(text, build_args=opts.build_args, target=opts.target, builtin_args=builtin,
                                image_env=image_env, image_onbuild=image_onbuild)

    # -- stages ---------------------------------------------------------------------------------------------

    def _announce(self, say: Callable[[str], None], original: str) -> None:
        self._step += 1
        say(f"Step {self._step}/{self._total} : {original}")

    async def _build_stage(self, stage: m.Stage, states: dict[int, State], say: Callable[[str], None]) -> State:
        self._announce(say, stage.original)
        if stage.base_stage is not None:
            base = states[stage.base_stage]
            state = State(copy.deepcopy(base.config), list(base.layers), base.created)
        elif stage.is_scratch:
            state = State({"architecture": "amd64", "os": "linux", "config": {"Env": [DEFAULT_PATH]},
                           "rootfs": {"type": "layers", "diff_ids": []}, "history": []}, [], "1970-01-01T00:00:00Z")
        else:
            try:
                image = self.store.resolve(stage.base)
            except ImageNotFound:
                raise BuildError(f"pull access denied for {stage.base}, repository does not exist or may require "
                                 "'docker login' (not in the local store: kyb build, kyb load, kyb pull or "
                                 "kyb image bootstrap busybox)") from None
            except ImageError as e:
                raise BuildError(str(e)) from None
            state = State(copy.deepcopy(image.config), list(image.layers), image.config.get("created") or _now())
            state.config.pop("container_config", None)
        state.cfg.pop("OnBuild", None)
        say(f" ---> {image.short_id if stage.base_stage is None and not stage.is_scratch else state.short()}")
        for ins in stage.instructions:
            self._announce(say, ins.original)
            await self._apply(ins, state, stage, states, say)
            say(f" ---> {state.short()}")
        return state

    async def _apply(self, ins: m.Instruction, state: State, stage: m.Stage, states: dict[int, State],
                     say: Callable[[str], None]) -> None:
        p = ins.payload
        cfg = state.cfg
        if isinstance(p, m.Run):
            await self._run(ins, p, state, say)
            return
        if isinstance(p, m.Copy | m.Add):
            await self._copy(ins, p, state, states, say)
            return
        if isinstance(p, m.Workdir):
            cfg["WorkingDir"] = os.path.normpath(os.path.join(cfg.get("WorkingDir") or "/", p.path))
            self._workdir(ins, state, say)
            return
        if isinstance(p, m.Env):
            cfg["Env"] = merge_env(cfg.get("Env") or [], [f"{k}={v}" for k, v in p.pairs])
        elif isinstance(p, m.Cmd):
            cfg["Cmd"] = self._command(p.command, p.shell_form, cfg)
            state.cmd_set = True
        elif isinstance(p, m.Entrypoint):
            cfg["Entrypoint"] = self._command(p.command, p.shell_form, cfg) or None
            if not state.cmd_set:
                cfg["Cmd"] = None
        elif isinstance(p, m.Shell):
            cfg["Shell"] = list(p.command)
        elif isinstance(p, m.User):
            cfg["User"] = p.user
        elif isinstance(p, m.Expose):
            cfg.setdefault("ExposedPorts", {}).update({port: {} for port in p.ports})
        elif isinstance(p, m.Label):
            cfg.setdefault("Labels", {}).update(dict(p.pairs))
        elif isinstance(p, m.Volume):
            cfg.setdefault("Volumes", {}).update({path: {} for path in p.paths})
        elif isinstance(p, m.StopSignal):
            cfg["StopSignal"] = p.signal
        elif isinstance(p, m.Healthcheck):
            hc: dict[str, Any] = {"Test": list(p.test)}
            for key, value in (("Interval", p.interval), ("Timeout", p.timeout), ("StartPeriod", p.start_period),
                               ("StartInterval", p.start_interval), ("Retries", p.retries)):
                if value:
                    hc[key] = value
            cfg["Healthcheck"] = hc
        elif isinstance(p, m.Onbuild):
            cfg.setdefault("OnBuild", []).append(p.expression)
        elif isinstance(p, m.Maintainer):
            state.config["author"] = p.name
        elif isinstance(p, m.Arg):
            pass  # values are in each RUN's environment; the config keeps none
        self._history(state, ins.original, empty=True)

    @staticmethod
    def _command(command: tuple[str, ...], shell_form: bool, cfg: dict[str, Any]) -> list[str]:
        if shell_form:
            return list(cfg.get("Shell") or DEFAULT_SHELL) + list(command)
        return list(command)

    def _history(self, state: State, created_by: str, empty: bool) -> None:
        entry: dict[str, Any] = {"created": state.created, "created_by": created_by, "comment": "kyb build"}
        if empty:
            entry["empty_layer"] = True
        state.config.setdefault("history", []).append(entry)

    def _add_layer(self, state: State, entry: CacheEntry, created_by: str) -> None:
        state.layers.append(entry.layer)
        state.config.setdefault("rootfs", {"type": "layers", "diff_ids": []}).setdefault("diff_ids", []).append(entry.diff_id)
        state.created = entry.created
        self._history(state, created_by, empty=False)

    def _cached(self, key: str, say: Callable[[str], None]) -> CacheEntry | None:
        if self._no_cache:
            return None
        entry = self.cache.get(key)
        if entry is not None:
            say(" ---> Using cache")
        return entry

    def _commit(self, key: str, upper: Path) -> CacheEntry:
        """The upper directory of a finished step becomes a layer blob, a snapshot and a cache entry."""
        with self.store.content.writer() as w:
            diff_to_tar(upper, _BlobSink(w))  # type: ignore[arg-type]
            digest = w.commit()
            size = w.size
        diff_id = digest  # stored uncompressed: the blob digest is the DiffID
        self.store.add_snapshot(diff_id, upper)
        entry = CacheEntry({"mediaType": oci.OCI_LAYER, "digest": digest, "size": size}, diff_id, _now())
        self.cache.put(key, entry)
        return entry

    def _lower_dirs(self, state: State) -> list[Path]:
        diff_ids = state.config.get("rootfs", {}).get("diff_ids", [])
        image = Image("", "", {"layers": state.layers}, {"rootfs": {"diff_ids": diff_ids}})
        try:
            return self.store.layer_dirs(image)
        except ImageError as e:
            raise BuildError(str(e)) from None

    @contextlib.contextmanager
    def _workspace(self) -> Iterator[Path]:
        work = self.scratch / secrets.token_hex(8)
        work.mkdir()
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # -- RUN ------------------------------------------------------------------------------------------------

    async def _run(self, ins: m.Instruction, p: m.Run, state: State, say: Callable[[str], None]) -> None:
        if p.uses_buildkit_flags or p.pipe_files:
            raise BuildError(f"dockerfile line {ins.line}: RUN --mount/--network/--security/--device and heredoc "
                             "scripts with #! are not supported by this builder")
        cfg = state.cfg
        argv = self._command(p.command, p.shell_form, cfg)
        env = merge_env(cfg.get("Env") or [], [f"{k}={v}" for k, v in p.env.items()])
        key = step_key(state.key(), orjson.dumps(["RUN", argv, sorted(env), cfg.get("User") or "",
                                                  cfg.get("WorkingDir") or ""]).decode())
        entry = self._cached(key, say)
        if entry is None:
            entry = await self._execute(key, argv, env, state, say)
        self._add_layer(state, entry, f"RUN {' '.join(argv)}")

    async def _execute(self, key: str, argv: list[str], env: list[str], state: State, say: Callable[[str], None]) -> CacheEntry:
        if self.runtime is None:
            raise BuildError("RUN needs the runc runtime: run kyb build as root with runc installed")
        lowers = self._lower_dirs(state)
        with self._workspace() as work:
            upper = work / "upper"
            upper.mkdir()
            sandbox = await self._ensure_sandbox()
            log = work / "run.log"
            cfg = state.cfg
            config = rt.ContainerConfig(
                name=f"step-{secrets.token_hex(6)}", command=argv, rootfs_layers=[self._init_layer(work), *lowers],
                rootfs_upper=str(upper),
                env=env, working_dir=cfg.get("WorkingDir") or "/", user=cfg.get("User") or "", log_path=str(log))
            try:
                cid = await self.runtime.create_container(sandbox, config)
            except rt.RuntimeError_ as e:
                raise BuildError(str(e)) from None
            say(f" ---> Running in {cid[:12]}")
            try:
                await self.runtime.start_container(cid)
                code = await self._stream_until_exit(cid, log, say)
            finally:
                with contextlib.suppress(rt.RuntimeError_):
                    await self.runtime.remove_container(cid)
            say(f" ---> Removed intermediate container {cid[:12]}")
            if code != 0:
                raise BuildError(f"The command '{' '.join(argv)}' returned a non-zero code: {code}")
            return self._commit(key, upper)

    @staticmethod
    def _init_layer(work: Path) -> Path:
        """The runtime's mount points as the bottom layer of a RUN, as Docker's init layer: runc finds them there
        instead of creating them in the step's layer (an image never gets an empty /etc/hosts or /proc from RUN)."""
        init = work / "init"
        for name in ("dev", "etc", "proc", "sys"):
            (init / name).mkdir(parents=True, mode=0o755)
        for name in ("etc/hostname", "etc/hosts", "etc/resolv.conf"):
            (init / name).touch(mode=0o644)
        return init

    async def _stream_until_exit(self, cid: str, log: Path, say: Callable[[str], None]) -> int:
        import asyncio

        from kybernetes.runtime.logs import read_log

        assert self.runtime is not None
        done = asyncio.Event()
        status: list[rt.ContainerStatus] = []

        async def waiter() -> None:
            assert self.runtime is not None
            while True:
                st = await self.runtime.container_status(cid)
                if st.state == rt.ContainerState.EXITED:
                    status.append(st)
                    done.set()
                    return
                await asyncio.sleep(0.01)

        task = asyncio.ensure_future(waiter())
        try:
            async for entry in read_log(str(log), follow=True, follow_until=done.is_set):
                say(entry.data.decode(errors="replace").rstrip("\n"))
            await task
        finally:
            task.cancel()
        return status[0].exit_code

    async def _ensure_sandbox(self) -> str:
        assert self.runtime is not None
        if not self._sandbox:
            self._sandbox = await self.runtime.run_pod_sandbox(rt.SandboxConfig(name=f"build-{secrets.token_hex(6)}",
                                                                                hostname="buildkitsandbox"))
        return self._sandbox

    async def _drop_sandbox(self) -> None:
        if self._sandbox and self.runtime is not None:
            with contextlib.suppress(rt.RuntimeError_):
                await self.runtime.stop_pod_sandbox(self._sandbox)
                await self.runtime.remove_pod_sandbox(self._sandbox)
            self._sandbox = ""

    # -- WORKDIR --------------------------------------------------------------------------------------------

    def _workdir(self, ins: m.Instruction, state: State, say: Callable[[str], None]) -> None:
        """WORKDIR creates its directory (root's, 0755) when the image lacks it: a layer of its own, as in Docker."""
        path = state.cfg["WorkingDir"]
        lowers = self._lower_dirs(state)
        exists = path == "/"
        if lowers and not exists:
            with overlay(lowers, scratch=self.scratch) as merged:
                exists = os.path.isdir(secure_join(str(merged), path, follow_last=True))
        if exists:
            self._history(state, ins.original, empty=True)
            return
        key = step_key(state.key(), orjson.dumps(["WORKDIR", path]).decode())
        entry = self._cached(key, say)
        if entry is None:
            with self._workspace() as work:
                upper = work / "upper"
                upper.mkdir()
                with overlay(lowers, upper, scratch=self.scratch) as merged:
                    try:
                        make_dir(merged, path)
                    except (CopyError, OSError) as e:
                        raise BuildError(f"failed to create WORKDIR {path}: {e}") from None
                entry = self._commit(key, upper)
        self._add_layer(state, entry, ins.original)

    # -- COPY / ADD -----------------------------------------------------------------------------------------

    async def _copy(self, ins: m.Instruction, p: m.Copy | m.Add, state: State, states: dict[int, State],
                    say: Callable[[str], None]) -> None:
        what = "ADD" if isinstance(p, m.Add) else "COPY"
        if isinstance(p, m.Add) and any("://" in s or s.startswith("git@") for s in p.sources):
            raise BuildError(f"dockerfile line {ins.line}: ADD from a URL or git repository is not supported "
                             "(this machine has no network for builds): download it into the context and COPY it")
        cfg = state.cfg
        workdir = cfg.get("WorkingDir") or "/"
        async with self._source_root(p, states) as (root, excluded, identity):
            try:
                sources = resolve_sources(root, list(p.sources), excluded, what) if p.sources else []
                digest = identity or sources_digest(sources, excluded)
                chmod = parse_chmod(p.chmod) if p.chmod else None
            except CopyError as e:
                raise BuildError(str(e)) from None
            key = step_key(state.key(), orjson.dumps([what, list(p.sources), digest, [(f.name, f.content) for f in p.inline_files],
                                                      p.dest, p.chown, p.chmod, workdir]).decode())
            entry = self._cached(key, say)
            if entry is None:
                lowers = self._lower_dirs(state)
                with self._workspace() as work:
                    upper = work / "upper"
                    upper.mkdir()
                    inline = self._inline_sources(p, work)
                    with overlay(lowers, upper, scratch=self.scratch) as merged:
                        try:
                            owner = resolve_owner(merged, p.chown) if p.chown else (0, 0)
                            copy_sources(merged, sources, p.dest, workdir, owner=owner, chmod=chmod, excluded=excluded,
                                         extract=isinstance(p, m.Add) and p.unpack is not False, what=what)
                            if inline:
                                copy_sources(merged, inline, p.dest, workdir, owner=owner, chmod=chmod, what=what)
                        except CopyError as e:
                            raise BuildError(str(e)) from None
                    entry = self._commit(key, upper)
        self._add_layer(state, entry, ins.original)

    @staticmethod
    def _inline_sources(p: m.Copy | m.Add, work: Path) -> list[Source]:
        """Heredoc sources as files in the step's workspace (removed with it)."""
        if not p.inline_files:
            return []
        base = work / "inline"
        base.mkdir()
        out = []
        for f in p.inline_files:
            path = base / f.name
            path.write_text(f.content)
            path.chmod(0o644)
            out.append(Source(f.name, path))
        return out

    @contextlib.asynccontextmanager
    async def _source_root(self, p: m.Copy | m.Add, states: dict[int, State]) -> AsyncIterator[tuple[Path, Any, str]]:
        """(root to copy from, exclusion rule, identity for the cache key: '' means hash the sources)."""
        from_stage = p.from_stage if isinstance(p, m.Copy) else None
        if from_stage is None:
            yield self._context, self._excluded, ""
            return
        index = p.from_index if isinstance(p, m.Copy) else None
        if index is not None:
            src_state = states[index]
        else:
            try:
                image = self.store.resolve(from_stage)
            except ImageError as e:
                raise BuildError(f"COPY --from={from_stage}: {e}") from None
            src_state = State(image.config, image.layers, "")
        with overlay(self._lower_dirs(src_state), scratch=self.scratch) as merged:
            yield merged, None, src_state.key()


class _BlobSink:
    """A write-only file object over a `BlobWriter` (what tarfile wants)."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def write(self, data: bytes) -> int:
        self.writer.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

