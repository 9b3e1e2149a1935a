"""A private ``kyb`` for the builder's end-to-end tests: its own data dir and engine settings, the CLI as a
subprocess, what a build may leave behind, and the teardown that puts the machine back as it was.

The engine settings (``<data>/engine.json``) are unique per `KybEnv`: a bridge ``kybt<hex>``, a free
``10.252.N.0/24`` subnet, a cgroup root ``/kyb-test-<hex>`` and an nftables table ``kybt<hex>``, so this suite
can run beside other engines on the same machine.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kybernetes.engine.engine import EngineConfig
from kybernetes.images.store import Image, ImageStore

KYB = [str(Path(sys.executable).parent / "kyb")]
HEX12 = re.compile(r"\b[0-9a-f]{12}\b")


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def __str__(self) -> str:
        return f"rc={self.rc}\n--- stdout:\n{self.out}--- stderr:\n{self.err}"


def _free_subnet() -> str:
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    taken = {int(m) for m in re.findall(r"\b10\.252\.(\d+)\.", routes)}
    free = [n for n in range(1, 255) if n not in taken]
    return f"10.252.{random.choice(free)}.0/24"


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` (from /proc/self/mountinfo)."""
    prefix = str(path.resolve())
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return points


@dataclass(frozen=True)
class Link:
    """A symbolic link in a `write_tree` spec."""

    target: str


def write_tree(root: Path, files: dict[str, str | bytes | Link]) -> Path:
    """Write ``{relative path: content}`` under ``root`` (parents made); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            path.symlink_to(content.target)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def tar_bytes(files: dict[str, str], gzip: bool = False) -> bytes:
    """A tar (or .tar.gz) of ``{member name: text}`` with fixed owners and times."""
    import io

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gzip else "w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_000_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def steps(out: str) -> dict[int, list[str]]:
    """Build output cut at each ``Step N/M :`` line: {N: the step's lines, the Step line first}."""
    found: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        m = re.match(r"Step (\d+)/\d+ : ", line)
        if m:
            current = found.setdefault(int(m.group(1)), [])
        if current is not None:
            current.append(line)
    return found


def image_rows(out: str) -> list[tuple[str, str, str]]:
    """``kyb images`` output as sorted (repository, tag, image id) rows."""
    rows = out.splitlines()[1:]
    return sorted((cols[0], cols[1], cols[2]) for cols in (re.split(r"\s{2,}", r.strip()) for r in rows))


def layer_members(store: ImageStore, layer: dict[str, Any]) -> list[str]:
    with tarfile.open(store.content.path(layer["digest"])) as tar:
        return sorted(m.name for m in tar.getmembers())


class KybEnv:
    """``kyb`` over one data dir with unique engine settings."""

    def __init__(self, data: Path) -> None:
        self.data = data
        token = secrets.token_hex(2)
        self.cfg = EngineConfig(bridge=f"kybt{token}", subnet=_free_subnet(), cgroup_root=f"/kyb-test-{token}",
                                nft_table=f"kybt{token}")
        data.mkdir(parents=True, exist_ok=True)
        (data / "engine.json").write_text(json.dumps(self.cfg.__dict__))
        self.env = {**os.environ, "KYB_DATA_DIR": str(data)}

    @property
    def store(self) -> ImageStore:
        return ImageStore(self.data / "images")

    def __call__(self, *args: str, timeout: float = 120) -> Result:
        p = subprocess.run([*KYB, *args], capture_output=True, text=True, timeout=timeout, env=self.env,
                           cwd=self.data.parent)
        return Result(p.returncode, p.stdout, p.stderr)

    def ok(self, *args: str) -> Result:
        r = self(*args)
        assert r.rc == 0, f"kyb {' '.join(args)} failed:\n{r}"
        return r

    def build(self, context: Path, *args: str) -> Result:
        return self("build", *args, str(context))

    def run(self, image: str, *cmd: str) -> str:
        """``kyb run --rm IMAGE CMD...``: the container's output (it must exit 0)."""
        return self.ok("run", "--rm", image, *cmd).out

    def image(self, ref: str) -> Image:
        return self.store.resolve(ref)

    def config(self, ref: str) -> dict[str, Any]:
        cfg: dict[str, Any] = self.image(ref).config.get("config") or {}
        return cfg

    def images_output(self) -> str:
        """``kyb images``, run in this process (a listing needs no process of its own: it is 20x faster)."""
        import contextlib
        import io

        from kybernetes.cli.main import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = main(["images", "--data-dir", str(self.data)])
        assert rc == 0
        return out.getvalue()

    def images(self) -> list[tuple[str, str, str]]:
        """``kyb images`` as (repository, tag, image id) rows (the CREATED column moves with the clock)."""
        return image_rows(self.images_output())

    def cgroup_dirs(self) -> list[Path]:
        """Every cgroup directory at or below the cgroup root, in every hierarchy."""
        from kybernetes.runtime.cgroups import Hierarchies

        found = []
        for top in Hierarchies().dirs(self.cfg.cgroup_root):
            if top.is_dir():
                found += [Path(d) for d, _, _ in os.walk(top)]
        return found

    def leftovers(self) -> list[str]:
        """What a finished build must not leave: mounts, containers, sandboxes, scratch dirs, cgroups."""
        left = [f"mount {p}" for p in mounts_under(self.data)]
        for sub in ("runtime/build/containers", "runtime/build/sandboxes", "runtime/build/runc",
                    "runtime/runc/containers", "runtime/runc/sandboxes", "images/build-tmp"):
            d = self.data / sub
            if d.is_dir():
                left += [f"{sub}/{name}" for name in sorted(os.listdir(d))]
        root = self.cfg.cgroup_root.strip("/")
        left += [f"cgroup {d}" for d in self.cgroup_dirs() if d.name != root]
        return left

    async def teardown(self) -> list[str]:
        """Remove everything the engine and the builder made; returns what could not be removed."""
        from kybernetes.network.bridge import BridgeNetwork
        from kybernetes.runtime.cgroups import Hierarchies
        from kybernetes.runtime.runc import RuncRuntime

        await RuncRuntime(self.data / "runtime" / "build", cgroup_root=self.cfg.cgroup_root).cleanup_all()
        net = BridgeNetwork(bridge=self.cfg.bridge, subnet=self.cfg.subnet, state_dir=self.data / "network",
                            nft_table=self.cfg.nft_table)
        await RuncRuntime(self.data / "runtime" / "runc", network=net, cgroup_root=self.cfg.cgroup_root).cleanup_all()
        await net.destroy()
        stuck = [str(p) for p in Hierarchies().remove_tree(self.cfg.cgroup_root)]
        stuck += [f"mount {p}" for p in mounts_under(self.data)]
        if Path("/sys/class/net", self.cfg.bridge).exists():
            stuck.append(f"bridge {self.cfg.bridge}")
        if subprocess.run(["nft", "list", "table", "inet", self.cfg.nft_table], capture_output=True).returncode == 0:
            stuck.append(f"nft table {self.cfg.nft_table}")
        if not stuck:
            shutil.rmtree(self.data, ignore_errors=True)
        return stuck
