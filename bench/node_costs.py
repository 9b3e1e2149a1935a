"""Node floor costs: what one pod start pays below our Python, measured piece by piece.

    python bench/node_costs.py [--data-dir DIR]

Prints, on this machine:

1. the cost of starting a child process from an 80 MB Python process on uvloop's loop (``fork()``) and on
   asyncio's own loop (``vfork()``): wall time and the parent's CPU per spawn (why the node agent runs on
   asyncio's loop);
2. the CPU (user + system, as reaped) of each helper the runtime and network execute per pod: ``ip``,
   ``nsenter``, ``unshare`` with a new network namespace, ``sh``, and a bare Python interpreter (the shim);
3. creating a small file (write + rename, as every record is written) and a directory, in ``--data-dir``
   (default: a temporary directory under /tmp, where the benchmarks keep their data).

Nothing here touches the network beyond namespaces it creates and drops at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPAWNS = 200


async def _spawn_many(n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        p = await asyncio.create_subprocess_exec("/bin/true", stdin=asyncio.subprocess.DEVNULL,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await p.communicate()
    return (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000


def spawn_costs() -> None:
    ballast = [bytearray(1 << 20) for _ in range(80)]  # an agent-sized process: 80 MB, every page touched
    for b in ballast:
        b[::4096] = b"x" * len(b[::4096])
    import uvloop  # a dependency: kyb up's API server runs on it

    print(f"child process start from an 80 MB process, {SPAWNS} spawns of /bin/true:")
    wall, cpu = uvloop.run(_spawn_many(SPAWNS))
    print(f"  uvloop (fork)           {wall:6.2f} ms wall   {cpu:5.2f} ms parent CPU per spawn")
    wall, cpu = asyncio.run(_spawn_many(SPAWNS))
    print(f"  asyncio's loop (vfork)  {wall:6.2f} ms wall   {cpu:5.2f} ms parent CPU per spawn")
    del ballast


def child_cpu_ms(argv: list[str], n: int = 20, stdin: bytes | None = None) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(n):
        subprocess.run(argv, input=stdin, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / n * 1000


def helper_costs() -> None:
    print("CPU of one run of each helper a pod start executes (user + system):")
    rows = [
        ("ip -batch - (one line)", ["ip", "-batch", "-"], b"link show lo\n"),
        ("nsenter --net=... true", ["nsenter", "--net=/proc/self/ns/net", "true"], None),
        ("unshare --net true (new netns)", ["unshare", "--net", "true"], None),
        ("sh -c true", ["sh", "-c", "true"], None),
        ("python -S -c pass (a shim's interpreter)", [sys.executable, "-S", "-c", "pass"], None),
    ]
    if shutil.which("runc"):
        rows.append(("runc --version", ["runc", "--version"], None))
    for label, argv, stdin in rows:
        print(f"  {label:42} {child_cpu_ms(argv, stdin=stdin):5.1f} ms")


def file_costs(base: Path, n: int = 500) -> None:
    d = Path(tempfile.mkdtemp(dir=base))
    try:
        t0 = time.perf_counter()
        for i in range(n):
            tmp = d / f".f{i}.tmp"
            tmp.write_text("x" * 300)
            os.replace(tmp, d / f"f{i}")
        t1 = time.perf_counter()
        for i in range(n):
            (d / f"d{i}").mkdir()
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"in {base}: write + rename of a small file {(t1 - t0) / n * 1000:.3f} ms, "
          f"mkdir {(t2 - t1) / n * 1000:.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    print(f"# {os.cpu_count()} cores  python {sys.version.split()[0]}")
    spawn_costs()
    if os.geteuid() == 0:
        helper_costs()
    else:
        print("(helper costs need root: unshare and nsenter)")
    file_costs(Path(args.data_dir))


if __name__ == "__main__":
    main()
