"""Pods benchmark: ``kyb up`` to node Ready, pod startup latency in real runc containers, idle RSS.

    python bench/pods.py [--pods 100] [--rates 10,20] [--keep]

Needs root, runc and busybox-static. Starts ``kyb up`` in a temporary data dir with its own bridge, pod CIDR and
cgroup root, then, from this process over HTTP:

1. time from starting ``kyb up`` to the Node being Ready (process start included);
2. idle RSS of the whole cluster (the ``kyb up`` process and every process it started: shims, forwarders) with
   no pods;
3. for each rate: creates N pods (busybox ``sleep 3600``, bound by the scheduler) at that many per second while a
   watch records when each is first seen Running; prints p50/p99 of create-acknowledged -> Running, then deletes
   them and waits until they are gone;
4. SIGTERM and how long ``kyb up`` takes to stop (it stops every container and removes its network).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from kybernetes.client.rest import APIError, Client


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def tree_rss_mb(pid: int) -> float:
    """RSS of ``pid`` and of every process whose ancestry or command line ties it to the cluster."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    todo, total = [pid], 0
    seen: set[int] = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
        todo += children.get(p, [])
    return total / 1024


def shim_rss_mb(data: Path) -> float:
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes()
            if str(data).encode() in cmd and b"kybernetes.runtime.shim" in cmd:
                for line in Path(f"/proc/{d}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (every core; from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def settle(limit: float = 60.0) -> float:
    """Wait until the machine is quiet (under 15% busy over a second): a round's teardown (namespaces, cgroups and
    mounts the kernel frees after the API shows the pods gone) must not be billed to the next round."""
    start = time.monotonic()
    cores = os.cpu_count() or 1
    while time.monotonic() - start < limit:
        b0 = busy_seconds()
        await asyncio.sleep(1.0)
        if (busy_seconds() - b0) / cores < 0.15:
            break
    return time.monotonic() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def agent_child(pid: int) -> int:
    """The PID of ``kyb up``'s node agent process (0 if none)."""
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"agent" in Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0"):
                return int(d)
        except (OSError, ValueError, IndexError):
            continue
    return 0


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "pods"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]}}


async def startup_round(client: Client, ns: str, n: int, rate: float) -> tuple[list[float], float, float]:
    """Latencies, and the machine's busy CPU seconds and wall seconds from the first create to the last Running."""
    acked: dict[str, float] = {}
    running: dict[str, float] = {}
    done = asyncio.Event()
    listed = await client.get(f"/api/v1/namespaces/{ns}/pods")

    async def watch() -> None:
        async for ev in client.watch(f"/api/v1/namespaces/{ns}/pods", listed["metadata"]["resourceVersion"]):
            obj = ev["object"]
            name = obj["metadata"]["name"]
            if (obj.get("status") or {}).get("phase") == "Running" and name not in running:
                running[name] = time.monotonic()
                if len(running) == n:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    start, busy0 = time.monotonic(), busy_seconds()
    for i in range(n):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        name = f"p{int(rate)}-{i}"
        await client.create(f"/api/v1/namespaces/{ns}/pods", pod(name))
        acked[name] = time.monotonic()
    try:
        await asyncio.wait_for(done.wait(), 120)
    finally:
        watcher.cancel()
    busy, wall = busy_seconds() - busy0, time.monotonic() - start
    await client.delete(f"/api/v1/namespaces/{ns}/pods", None, labelSelector="bench=pods")
    for _ in range(600):
        if not (await client.get(f"/api/v1/namespaces/{ns}/pods"))["items"]:
            break
        await asyncio.sleep(0.2)
    return [running[k] - acked[k] for k in acked], busy, wall


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--rates", default="10,20")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("runc"):
        sys.exit("needs root and runc")
    base = Path(tempfile.mkdtemp(prefix="kyb-bench-pods-"))
    data, kubeconfig = base / "data", base / "kubeconfig"
    tag = secrets.token_hex(3)
    env = dict(os.environ, KYB_DATA_DIR=str(data), KYB_OFFLINE="1")  # no image registry traffic
    subprocess.run([sys.executable, "-m", "kybernetes", "image", "bootstrap", "busybox"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kybernetes", "up", "--data-dir", str(data), "--listen",
                             "127.0.0.1:0", "--kubeconfig", str(kubeconfig), "--pod-cidr", "10.253.250.0/24",
                             "--cluster-cidr", "10.253.0.0/16", "--pod-bridge", f"kybb{tag}",
                             "--cgroup-root", f"/kyb-bench-{tag}", "--node-name", "bench", "--kubelet-port", "0"],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(base / "up.log", "wb"))  # noqa: SIM115
    client: Client | None = None
    if os.environ.get("KYB_BENCH_PROFILE"):
        subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-s", "-p", str(proc.pid), "-d", "60",
                          "-f", "raw", "-o", os.environ["KYB_BENCH_PROFILE"]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not kubeconfig.exists():
            await asyncio.sleep(0.01)
        url = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        client = Client(url)
        while True:
            try:
                node = await client.get("/api/v1/nodes/bench")
                if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"]):
                    break
            except (APIError, OSError, KeyError):
                pass
            await asyncio.sleep(0.01)
        ready = time.monotonic() - t0
        print(f"# {os.cpu_count()} cores; kyb up (process start included) to node Ready: {ready:.2f} s (target <= 2 s)")
        await asyncio.sleep(3)
        print(f"idle RSS of the whole cluster, no pods: {tree_rss_mb(proc.pid):.0f} MB (kyb up process tree) "
              f"+ {shim_rss_mb(data):.0f} MB spare shims (target <= 150 MB)")
        await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": "bench"}})
        await asyncio.sleep(1.0)  # the service account controller makes the namespace's default account
        for rate in [float(r) for r in args.rates.split(",")]:
            quiet = await settle()
            print(f"(machine quiet after {quiet:.0f} s)")
            agent = agent_child(proc.pid)
            before = cpu_seconds(proc.pid), cpu_seconds(agent)
            lat, busy, wall = await startup_round(client, "bench", args.pods, rate)
            server_cpu, agent_cpu = cpu_seconds(proc.pid) - before[0], cpu_seconds(agent) - before[1]
            print(f"pod startup (create acknowledged -> Running in a watch), {args.pods} pods at {rate:g}/s: "
                  f"p50 {pct(lat, 50):.2f} s  p99 {pct(lat, 99):.2f} s  max {max(lat):.2f} s "
                  "(targets p50 <= 0.5 s, p99 <= 1.5 s)")
            cores = os.cpu_count() or 1
            print(f"  machine CPU while they started: {busy / wall / cores * 100:.0f}% of {cores} cores for "
                  f"{wall:.1f} s; {busy / args.pods * 1000:.0f} ms of CPU per pod (every process: API server, "
                  "scheduler, agent, runc, shims, ip, this client)")
            print(f"  of which: API server + controllers + scheduler {server_cpu / args.pods * 1000:.0f} ms, agent "
                  f"process {agent_cpu / args.pods * 1000:.0f} ms, everything else (runc, shims, ip, kernel, this "
                  f"client) {(busy - server_cpu - agent_cpu) / args.pods * 1000:.0f} ms")
    finally:
        if client is not None:
            await client.close()
        t1 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(f"kyb up stopped in {time.monotonic() - t1:.1f} s (exit {proc.returncode})")
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
            for hierarchy in Path("/sys/fs/cgroup").iterdir():
                root = hierarchy / f"kyb-bench-{tag}"
                if root.is_dir():
                    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                        d.rmdir()
                    root.rmdir()


if __name__ == "__main__":
    asyncio.run(main())
