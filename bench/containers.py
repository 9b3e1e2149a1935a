"""Containers and images benchmark: container start latency beside bare runc, cached rebuild, layer unpack.

    python bench/containers.py [--containers 100] [--keep]

Needs root, runc and busybox-static. Everything lives in a temporary data dir with its own cgroup root; the
containers' network namespaces have loopback only (no bridge), so nothing but loopback is touched.

1. **Start latency**: 100 sequential containers through `RuncRuntime` (create + start, i.e. overlay mount, OCI
   spec, shim, ``runc create`` and ``runc start``, until runc reports the process started), beside 100 bare
   ``runc run -d`` of an equivalent bundle (same busybox rootfs, read-only, no overlay, no shim) in the same run.
   Each container runs ``sleep 3600`` and is removed after its measurement (outside the timing).
   Also the RSS of one container's shim, and pod sandbox setup/teardown with a bridge network (namespaces,
   veth, IP) on a bridge of the benchmark's own.
2. **Cached rebuild**: a 10-step Dockerfile (COPY, RUN, ENV, ...) built once, then rebuilt with every step cached;
   timed in-process (the builder) and as a whole ``kyb build`` command (process start included).
3. **Layer unpack**: a 100 MB layer of 2,000 files, plain tar and gzip, unpacked into a snapshot: MB/s, files/s.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from kybernetes.images import bootstrap
from kybernetes.images.builder import Builder, BuildOptions
from kybernetes.images.layers import unpack_layer
from kybernetes.images.store import ImageStore
from kybernetes.runtime import api as rt
from kybernetes.runtime.runc import RuncRuntime


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def fmt_ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:6.1f} ms   p99 {pct(values, 99) * 1000:6.1f} ms   mean {statistics.mean(values) * 1000:6.1f} ms"


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, RssAnon) of a process, in kB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields.get("RssAnon", "0 kB").split()[0])


async def sandbox_network(root: Path, cgroup_root: str, n: int) -> tuple[list[float], list[float]]:
    """Pod sandboxes on a bridge of their own (namespaces + veth + IP): setup and teardown times."""
    from kybernetes.network.bridge import BridgeNetwork

    tag = secrets.token_hex(3)
    net = BridgeNetwork(bridge=f"kybn{tag}", subnet="10.251.251.0/24", state_dir=root / "net", nft_table=f"kybn{tag}")
    runtime = RuncRuntime(root / "net-runtime", network=net, cgroup_root=cgroup_root)
    up, down = [], []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            sid = await runtime.run_pod_sandbox(rt.SandboxConfig(name=f"s{i}", uid=f"u{i}"))
            up.append(time.perf_counter() - t0)
            assert (await runtime.pod_sandbox_status(sid)).ip
            t0 = time.perf_counter()
            await runtime.stop_pod_sandbox(sid)
            await runtime.remove_pod_sandbox(sid)
            down.append(time.perf_counter() - t0)
    finally:
        await runtime.cleanup_all()
        await net.destroy()
    return up, down


async def runtime_starts(store: ImageStore, root: Path, cgroup_root: str, n: int) -> tuple[list[float], tuple[int, int]]:
    image = store.resolve("busybox")
    layers = store.layer_dirs(image)
    runtime = RuncRuntime(root / "runtime", network=None, cgroup_root=cgroup_root)
    sandbox = await runtime.run_pod_sandbox(rt.SandboxConfig(name="bench", hostname="bench"))
    times = []
    try:
        for i in range(n):
            cfg = rt.ContainerConfig(name=f"c{i}", command=["sleep", "3600"], rootfs_layers=layers,
                                     env=["PATH=/bin:/usr/bin"], log_path=str(root / "logs" / f"c{i}.log"))
            t0 = time.perf_counter()
            cid = await runtime.create_container(sandbox, cfg)
            await runtime.start_container(cid)
            times.append(time.perf_counter() - t0)
            st = await runtime.container_status(cid)
            assert st.state == rt.ContainerState.RUNNING, st
            if i == 0:
                shim = rss_kb(runtime.store.load_container(cid).shim_pid)
            await runtime.stop_container(cid, 0)
            await runtime.remove_container(cid)
    finally:
        await runtime.stop_pod_sandbox(sandbox)
        await runtime.remove_pod_sandbox(sandbox)
    return times, shim


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (every core; from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / os.sysconf("SC_CLK_TCK")


BARE_CPU: list[float] = []  # machine CPU seconds of each bare `runc run -d` (filled by bare_runc_starts)


def bare_runc_starts(store: ImageStore, root: Path, cgroup_root: str, n: int) -> list[float]:
    rootfs = store.layer_dirs(store.resolve("busybox"))[0]
    bundle = root / "bundle"
    bundle.mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["root"] = {"path": str(rootfs), "readonly": True}
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "3600"]
    state = root / "runc-bare"
    times = []
    for _i in range(n):
        name = f"bare-{secrets.token_hex(4)}"
        spec["linux"]["cgroupsPath"] = f"{cgroup_root}/{name}"
        (bundle / "config.json").write_text(json.dumps(spec))
        t0, b0 = time.perf_counter(), busy_seconds()
        subprocess.run(["runc", "--root", str(state), "run", "-d", "--bundle", str(bundle), name],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
        BARE_CPU.append(busy_seconds() - b0)
        subprocess.run(["runc", "--root", str(state), "delete", "--force", name], check=True)
    return times


DOCKERFILE = """\
FROM busybox
ENV APP=/app
WORKDIR /app
COPY app.sh /app/
RUN chmod +x /app/app.sh && echo built > /app/stamp
ARG VERSION=1
LABEL version=$VERSION
RUN mkdir -p /data && echo data > /data/file
EXPOSE 8080
CMD ["/app/app.sh"]
"""


async def rebuild(store: ImageStore, root: Path, cgroup_root: str, data_dir: Path) -> tuple[float, float, float]:
    ctx = root / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "app.sh").write_text("#!/bin/sh\necho hello\n")
    runtime = RuncRuntime(root / "build-runtime", network=None, cgroup_root=cgroup_root)
    opts = BuildOptions(context=ctx, tags=["bench:1"], progress=lambda line: None)
    t0 = time.perf_counter()
    first = await Builder(store, runtime).build(opts)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = await Builder(store, runtime).build(opts)
    warm = time.perf_counter() - t0
    assert first.id == second.id, "a cached rebuild must give the same image"
    env = dict(os.environ, KYB_DATA_DIR=str(data_dir))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kybernetes", "build", "-q", "-t", "bench:1", str(ctx)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    cli = time.perf_counter() - t0
    return cold, warm, cli


def unpack_figures(root: Path) -> list[str]:
    buf = io.BytesIO()
    payload = os.urandom(50_000)
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(2000):
            info = tarfile.TarInfo(f"d{i // 100}/f{i}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue()
    gz = gzip.compress(raw, compresslevel=1)
    lines = []
    for label, data in (("tar", raw), ("tar+gzip", gz)):
        dest = root / f"unpack-{label}"
        t0 = time.perf_counter()
        unpack_layer(io.BytesIO(data), dest)
        dt = time.perf_counter() - t0
        lines.append(f"  {label:9s} {len(raw) / dt / 1e6:7.1f} MB/s   {2000 / dt:8.0f} files/s   ({dt:.2f} s for "
                     f"{len(raw) / 1e6:.0f} MB)")
        shutil.rmtree(dest)
    return lines


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("runc"):
        sys.exit("needs root and runc")
    root = Path(tempfile.mkdtemp(prefix="kyb-bench-containers-"))
    cgroup_root = f"/kyb-bench-{secrets.token_hex(3)}"
    data_dir = root / "data"
    (data_dir).mkdir()
    (data_dir / "engine.json").write_text(json.dumps({"cgroup_root": cgroup_root, "bridge": "kybbench0",
                                                       "subnet": "10.251.250.0/24", "nft_table": "kybbench"}))
    store = ImageStore(data_dir / "images")
    bootstrap.bootstrap_busybox(store)
    print(f"# {platform.node()}  {os.cpu_count()} cores  python {platform.python_version()}  "
          f"{subprocess.run(['runc', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    try:
        bare = bare_runc_starts(store, root, cgroup_root, args.containers)
        ours, shim = await runtime_starts(store, root, cgroup_root, args.containers)
        print(f"container start, {args.containers} sequential (create+start until running):")
        print(f"  kyb runtime (runc)  {fmt_ms(ours)}")
        print(f"  bare runc run -d    {fmt_ms(bare)}")
        print(f"  machine CPU of one bare runc run -d (runc, runc init, kernel): "
              f"{sum(BARE_CPU) / len(BARE_CPU) * 1000:.0f} ms on average")
        print(f"  ratio p50 {pct(ours, 50) / pct(bare, 50):.2f}x   p99 {pct(ours, 99) / pct(bare, 99):.2f}x   (target <= 1.3x)")
        print(f"  shim of a running container: RSS {shim[0] / 1024:.1f} MB, of which private {shim[1] / 1024:.1f} MB")
        up, down = await sandbox_network(root, cgroup_root, 20)
        print(f"pod sandbox with a bridge network, 20 sequential: setup {fmt_ms(up)}")
        print(f"                                                  teardown {fmt_ms(down)}")
        cold, warm, cli = await rebuild(store, root, cgroup_root, data_dir)
        print("10-step Dockerfile:")
        print(f"  first build {cold:.2f} s   cached rebuild {warm * 1000:.0f} ms in-process, {cli * 1000:.0f} ms as "
              "`kyb build` (process start included; target <= 0.5 s)")
        print("layer unpack (2,000 files of 50 kB):")
        print("\n".join(unpack_figures(root)))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            for ctrl in os.listdir("/sys/fs/cgroup"):
                path = Path("/sys/fs/cgroup") / ctrl / cgroup_root.strip("/")
                if path.is_dir():
                    for sub in sorted(path.rglob("*"), key=lambda p: -len(p.parts)):
                        if sub.is_dir():
                            os.rmdir(sub)
                    os.rmdir(path)


if __name__ == "__main__":
    asyncio.run(main())
