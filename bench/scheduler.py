"""Scheduler benchmark: 1,000 nodes, 10,000 pods, scheduling throughput and latency, RSS.

    python bench/scheduler.py [--nodes 1000] [--pods 10000] [--mode live|backlog|both] [--keep]

Starts its own ``kyb server`` process (temporary data dir, loopback, controllers
off) and the scheduler as a second process (``python -m kybernetes.scheduler``),
then drives both from this process over HTTP:

1. creates the nodes through the API (allocatable 4 cpu / 16Gi / 110 pods,
   Ready, ten zones);
2. ``live`` mode (the headline): with the scheduler running, creates the pods
   (100m / 128Mi each) as fast as the API accepts them (50 concurrent
   creates) while a watch records when each pod is first seen bound;
   ``backlog`` mode: creates all pods first, then starts the scheduler, so the
   figure is the scheduler alone draining a queue;
3. prints pods created per second, scheduling throughput (pods bound per
   second, from the first create to the last binding in ``live`` mode, from
   the scheduler's readiness in ``backlog`` mode), per-pod latency p50/p99
   (create acknowledged -> binding seen by the watcher) and the RSS of the
   scheduler and of the API server.

All processes share the machine's cores (the header says how many); the
scheduler also posts one ``Scheduled`` Event per pod, as upstream does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from kybernetes.client.rest import Client

NS = "bench-sched"
TARGET_RATE = 300.0


class Proc:
    """A child process we started (by PID), with its log file and RSS."""

    def __init__(self, argv: list[str], log: Path, stdout: int | None = None):
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(argv, stdout=stdout if stdout is not None else f, stderr=f)

    def rss_mb(self, field: str = "VmRSS") -> float:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def stop(self) -> str:
        out = b""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
        return (out or b"").decode(errors="replace")


def start_server(workdir: Path) -> tuple[Proc, str]:
    kubeconfig = workdir / "kubeconfig"
    server = Proc([sys.executable, "-m", "kybernetes", "server", "--data-dir", str(workdir / "data"),
                   "--listen", "127.0.0.1:0", "--kubeconfig", str(kubeconfig), "--no-controllers"],
                  workdir / "server.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError("server exited:\n" + (workdir / "server.log").read_text())
        if kubeconfig.exists():
            with contextlib.suppress(yaml.YAMLError, KeyError, IndexError, TypeError):
                return server, yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        time.sleep(0.02)
    raise RuntimeError("server not ready in 30 s")


async def start_scheduler(workdir: Path, url: str) -> tuple[Proc, float]:
    sched = Proc([sys.executable, "-m", "kybernetes.scheduler", "--server", url, "--seed", "1"],
                 workdir / "scheduler.log", stdout=subprocess.PIPE)
    assert sched.proc.stdout is not None
    line = await asyncio.to_thread(sched.proc.stdout.readline)
    if line.strip() != b"ready":
        raise RuntimeError("scheduler did not start:\n" + (workdir / "scheduler.log").read_text())
    return sched, time.perf_counter()


def node(i: int) -> dict[str, Any]:
    name = f"node-{i:05d}"
    allocatable = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": f"zone-{i % 10}"}},
            "status": {"capacity": allocatable, "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def pod(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{i:05d}", "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}


async def in_parallel(concurrency: int, count: int, work: Any) -> None:
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            await work(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def create_nodes(client: Client, count: int) -> float:
    async def one(i: int) -> None:
        body = node(i)
        created = await client.create("/api/v1/nodes", body)
        await client.update(f"/api/v1/nodes/{body['metadata']['name']}/status", dict(created, status=body["status"]))

    t0 = time.perf_counter()
    await in_parallel(50, count, one)
    return time.perf_counter() - t0


async def create_pods(client: Client, count: int, created: dict[str, float]) -> tuple[float, float]:
    async def one(i: int) -> None:
        obj = await client.create(f"/api/v1/namespaces/{NS}/pods", pod(i))
        created[obj["metadata"]["name"]] = time.perf_counter()

    t0 = time.perf_counter()
    await in_parallel(50, count, one)
    return t0, time.perf_counter()


async def watch_bindings(client: Client, rv: str, total: int, bound: dict[str, float], done: asyncio.Event) -> None:
    while len(bound) < total:
        async for ev in client.watch(f"/api/v1/namespaces/{NS}/pods", rv, 600):
            obj = ev.get("object") or {}
            rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
            if ev.get("type") in ("ADDED", "MODIFIED") and (obj.get("spec") or {}).get("nodeName"):
                bound.setdefault(obj["metadata"]["name"], time.perf_counter())
                if len(bound) >= total:
                    break
    done.set()


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


async def run_mode(mode: str, args: argparse.Namespace) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"kyb-bench-sched-{mode}-"))
    server, url = start_server(workdir)
    client = Client(url)
    sched: Proc | None = None
    try:
        print(f"\n== {mode} mode: server pid {server.proc.pid} at {url}; load average {os.getloadavg()[0]:.1f}")
        took = await create_nodes(client, args.nodes)
        print(f"created {args.nodes} nodes in {took:.1f} s")
        await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        rv = (await client.get(f"/api/v1/namespaces/{NS}/pods"))["metadata"]["resourceVersion"]
        created: dict[str, float] = {}
        bound: dict[str, float] = {}
        done = asyncio.Event()
        watcher = asyncio.create_task(watch_bindings(client, rv, args.pods, bound, done))
        if mode == "live":
            sched, _ = await start_scheduler(workdir, url)
            cpu0 = (cpu_seconds(server.proc.pid), cpu_seconds(sched.proc.pid), time.process_time())
            start, created_end = await create_pods(client, args.pods, created)
            print(f"created {args.pods} pods in {created_end - start:.1f} s ({args.pods / (created_end - start):.0f}/s)")
        else:
            t0, created_end = await create_pods(client, args.pods, created)
            print(f"created {args.pods} pods in {created_end - t0:.1f} s, then started the scheduler")
            sched, start = await start_scheduler(workdir, url)
            cpu0 = (cpu_seconds(server.proc.pid), cpu_seconds(sched.proc.pid), time.process_time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), args.timeout)
        cpu1 = (cpu_seconds(server.proc.pid), cpu_seconds(sched.proc.pid), time.process_time())
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        last = max(bound.values()) if bound else float("nan")
        latencies = [bound[n] - created[n] for n in bound if n in created]
        rss_sched, hwm_sched, rss_server = sched.rss_mb(), sched.rss_mb("VmHWM"), server.rss_mb()
        out = sched.stop()
        stats = next((orjson.loads(line[6:]) for line in out.splitlines() if line.startswith("stats ")), {})
        rate = len(bound) / (last - start) if bound else 0.0
        per_pod = [(b - a) / max(len(bound), 1) * 1000 for a, b in zip(cpu0, cpu1, strict=True)]
        window = "first create" if mode == "live" else "scheduler ready"
        print(f"bound {len(bound)}/{args.pods} pods in {last - start:.1f} s: throughput {rate:.0f} pods/s "
              f"({window} -> last binding) [target >= {TARGET_RATE:g}: {'met' if rate >= TARGET_RATE else 'MISSED'}]")
        print(f"per-pod latency (create acknowledged -> binding seen by a watcher): "
              f"p50 {pct(latencies, 0.5) * 1000:.0f} ms, p99 {pct(latencies, 0.99) * 1000:.0f} ms")
        print(f"CPU per pod: API server {per_pod[0]:.2f} ms, scheduler {per_pod[1]:.2f} ms, "
              f"this client {per_pod[2]:.2f} ms (all three share {os.cpu_count()} cores)")
        print(f"scheduler stats {stats}")
        print(f"RSS: scheduler {rss_sched:.0f} MB (peak {hwm_sched:.0f} MB), API server {rss_server:.0f} MB")
        return {"bound": len(bound), "rate": rate}
    finally:
        await client.close()
        if sched is not None:
            sched.stop()
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


async def amain(args: argparse.Namespace) -> int:
    print(f"kyb scheduler benchmark: {os.cpu_count()} CPU cores shared by the API server, the scheduler and "
          f"this client (three processes), Python {platform.python_version()}, {platform.machine()}; "
          f"{args.nodes} nodes, {args.pods} pods")
    modes = ["live", "backlog"] if args.mode == "both" else [args.mode]
    results = {m: await run_mode(m, args) for m in modes}
    missed = [m for m, r in results.items() if r["rate"] < TARGET_RATE or r["bound"] < args.pods]
    print("\ntargets missed: " + (", ".join(missed) if missed else "none"))
    return 1 if missed else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--mode", choices=("live", "backlog", "both"), default="both")
    p.add_argument("--timeout", type=float, default=300.0, help="give up waiting for bindings after this long")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and logs")
    args = p.parse_args()
    try:
        import uvloop  # the client competes for the same cores: keep it cheap
    except ImportError:  # pragma: no cover - uvloop is optional
        return asyncio.run(amain(args))
    return uvloop.run(amain(args))


if __name__ == "__main__":
    raise SystemExit(main())
