"""Rollout benchmark: a 1,000-replica deployment to all Ready, then a rolling update of it to completion.

    python bench/rollout.py [--replicas 1000] [--max-surge 25%] [--max-unavailable 25%] [--keep]

Three processes, so no two share an interpreter:

* its own ``kyb server`` (temporary data dir, loopback, ``--no-controllers``);
* this process: the ReplicaSet and Deployment controllers (sharing one pod cache and one
  ReplicaSet cache, as ``run_workload_controllers`` runs them) and a pod watcher that measures;
* a fake kubelet (this script with ``--kubelet URL``): KWOK-style, it binds every new pod to one
  of 100 fake nodes, reports it Running and Ready, and finishes graceful deletions.  No
  containers run, so the figures are the control plane's.

Prints the time from creating the deployment until every pod is Ready (and the deployment says
so), the time of a rolling update (new image) until it is complete (all new pods Ready, old ones
gone), the fewest available and the most pods seen during the update against the
``maxUnavailable`` / ``maxSurge`` bounds, and the RSS of the server and of the controllers.
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
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from kybernetes.client.informer import Informer
from kybernetes.client.rest import JSON_PATCH, APIError, Client
from kybernetes.client.workqueue import WorkQueue, run_workers
from kybernetes.controllers.deployment import DeploymentController
from kybernetes.controllers.deployment.controller import pod_informer, replicaset_informer
from kybernetes.controllers.deployment.util import int_or_percent
from kybernetes.controllers.replicaset import REPLICASET, ReplicaSetController

NS = "bench"
NODES = 100


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))


# -- the fake kubelet (its own process) --------------------------------------------------------------------

def ready_status(pod: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    h = zlib.crc32(pod["metadata"]["name"].encode())
    conds = [{"type": t, "status": "True", "lastTransitionTime": now}
             for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
    return {"status": {"phase": "Running", "podIP": f"10.{h >> 16 & 255}.{h >> 8 & 255}.{h & 255}",
                       "startTime": now, "conditions": conds,
                       "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "imageID": "",
                                              "ready": True, "restartCount": 0, "started": True,
                                              "state": {"running": {"startedAt": now}}}
                                             for c in pod["spec"].get("containers", [])]}}


async def kubelet(url: str) -> None:
    async with session() as s:
        client = Client(url, s)
        pods = Informer(client, "", "v1", "pods", namespace=NS)
        queue: WorkQueue[str] = WorkQueue()
        pods.add_event_handler(lambda p: queue.add(p["metadata"]["name"]),
                               lambda _o, p: queue.add(p["metadata"]["name"]), None)

        async def sync(name: str) -> None:
            pod = pods.get(f"{NS}/{name}")
            if pod is None:
                return
            base = f"/api/v1/namespaces/{NS}/pods/{name}"
            try:
                if pod["metadata"].get("deletionTimestamp"):
                    await client.delete(base, {"gracePeriodSeconds": 0,
                                               "preconditions": {"uid": pod["metadata"]["uid"]}})
                elif not pod["spec"].get("nodeName"):
                    node = f"fake-node-{zlib.crc32(name.encode()) % NODES}"
                    await client.create(f"{base}/binding", {"apiVersion": "v1", "kind": "Binding",
                                                            "metadata": {"name": name},
                                                            "target": {"kind": "Node", "name": node}})
                elif pod.get("status", {}).get("phase") in (None, "", "Pending"):
                    await client.patch(f"{base}/status", ready_status(pod))
            except APIError as e:
                if e.code not in (404, 409):
                    raise
        async with pods:
            await run_workers(queue, sync, 128)


# -- measuring ---------------------------------------------------------------------------------------------

class PodWatch:
    """Counts live pods (not being deleted, not finished) and ready ones, per image, as events
    arrive (incrementally: the watcher must not be what slows the controllers down), and
    tracks the extremes while ``tracking``."""

    def __init__(self, client: Client):
        self.informer = Informer(client, "", "v1", "pods", namespace=NS)
        self.state: dict[str, tuple[str, bool]] = {}  # live pod name -> (image, ready)
        self.total: dict[str | None, int] = {}
        self.ready: dict[str | None, int] = {}
        self.min_available: int | None = None
        self.max_total = 0
        self.tracking = False
        self.informer.add_event_handler(self._set, lambda _o, p: self._set(p), self._gone)

    def counts(self, image: str | None = None) -> tuple[int, int]:
        return self.total.get(image, 0), self.ready.get(image, 0)

    def _bump(self, image: str, ready: bool, by: int) -> None:
        for key in (None, image):
            self.total[key] = self.total.get(key, 0) + by
            if ready:
                self.ready[key] = self.ready.get(key, 0) + by

    def _set(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        if name in self.state:
            self._bump(*self.state.pop(name), -1)
        if not (pod["metadata"].get("deletionTimestamp")
                or pod.get("status", {}).get("phase") in ("Failed", "Succeeded")):
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in pod.get("status", {}).get("conditions") or ())
            self.state[name] = (pod["spec"]["containers"][0]["image"], ready)
            self._bump(*self.state[name], 1)
        self._track()

    def _gone(self, pod: dict[str, Any]) -> None:
        if pod["metadata"]["name"] in self.state:
            self._bump(*self.state.pop(pod["metadata"]["name"]), -1)
        self._track()

    def _track(self) -> None:
        if self.tracking:
            total, ready = self.counts()
            self.max_total = max(self.max_total, total)
            self.min_available = ready if self.min_available is None else min(self.min_available, ready)


async def wait_for(check: Callable[[], Any], timeout: float, what: str) -> float:
    t0 = time.perf_counter()
    while not await check():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return time.perf_counter()


async def run(args: argparse.Namespace, url: str, kubelet_pid: int, server_pid: int) -> None:
    async with session() as s:
        client = Client(url, s)
        await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        pods, rss = pod_informer(client), replicaset_informer(client)
        controllers = [ReplicaSetController(client, REPLICASET, owners=rss, pods=pods),
                       DeploymentController(client, replicasets=rss, pods=pods)]
        watch = PodWatch(client)
        for inf in (pods, rss, watch.informer):
            inf.start()
        tasks = [asyncio.create_task(c.run()) for c in controllers]
        try:
            await watch.informer.wait_synced()
            n = args.replicas
            path = f"/apis/apps/v1/namespaces/{NS}/deployments/web"
            body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"replicas": n, "selector": {"matchLabels": {"app": "web"}},
                             "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                                 "maxSurge": args.max_surge, "maxUnavailable": args.max_unavailable}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}}}

            async def deployment_done(image: str) -> bool:
                d = await client.get(path)
                st = d.get("status") or {}
                return (st.get("observedGeneration", 0) >= d["metadata"]["generation"]
                        and st.get("updatedReplicas") == st.get("availableReplicas") == st.get("replicas") == n
                        and watch.counts() == (n, n) and watch.counts(image) == (n, n))

            t0 = time.perf_counter()
            await client.create(f"/apis/apps/v1/namespaces/{NS}/deployments", body)
            t_created = await wait_for(lambda: _true(watch.counts()[0] >= n), 600, "pods created")
            t_ready = await wait_for(lambda: deployment_done("nginx:1.25"), 600, "all Ready")
            up = t_ready - t0
            print(f"scale-up   {n} pods: all created in {t_created - t0:6.2f} s, all Ready in {up:6.2f} s"
                  f"  ({n / up:.0f} pods/s)")
            rss_idle = (rss_mb(server_pid), rss_mb(os.getpid()))

            watch.min_available, watch.max_total, watch.tracking = None, 0, True
            t1 = time.perf_counter()
            await client.patch(path, [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                                       "value": "nginx:1.26"}], JSON_PATCH)
            t_done = await wait_for(lambda: deployment_done("nginx:1.26"), 900, "the rollout")
            watch.tracking = False
            roll = t_done - t1
            surge, unavailable = int_or_percent(args.max_surge, n, True), int_or_percent(args.max_unavailable, n, False)
            print(f"rollout    {n} pods replaced in {roll:6.2f} s  ({n / roll:.0f} pods/s)")
            lo, hi = watch.min_available or 0, watch.max_total
            print(f"bounds     fewest available {lo} (>= {n - unavailable}: {'ok' if lo >= n - unavailable else 'VIOLATED'}),"
                  f" most pods {hi} (<= {n + surge}: {'ok' if hi <= n + surge else 'VIOLATED'})")
            print(f"RSS        server {rss_idle[0]:.0f} MiB -> {rss_mb(server_pid):.0f} MiB, "
                  f"controllers {rss_idle[1]:.0f} MiB -> {rss_mb(os.getpid()):.0f} MiB, "
                  f"fake kubelet {rss_mb(kubelet_pid):.0f} MiB")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for inf in (pods, rss, watch.informer):
                await inf.stop()


async def _true(value: bool) -> bool:
    return value


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    kubeconfig = workdir / "kubeconfig"
    with open(workdir / "server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "kybernetes", "server", "--data-dir", str(workdir / "data"),
                                 "--listen", "127.0.0.1:0", "--kubeconfig", str(kubeconfig), "--no-controllers"],
                                stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited:\n" + (workdir / "server.log").read_text())
        if kubeconfig.exists():
            with contextlib.suppress(yaml.YAMLError, KeyError, IndexError, TypeError):
                return proc, str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
        time.sleep(0.02)
    raise RuntimeError("server not ready in 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def event_loop_runner() -> Callable[..., Any]:
    try:
        import uvloop
        return uvloop.run  # type: ignore[no-any-return]
    except ImportError:
        return asyncio.run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replicas", type=int, default=1000)
    p.add_argument("--max-surge", default="25%")
    p.add_argument("--max-unavailable", default="25%")
    p.add_argument("--keep", action="store_true", help="keep the data directory")
    p.add_argument("--kubelet", metavar="URL", help=argparse.SUPPRESS)  # the fake kubelet's own process
    args = p.parse_args()
    for name in ("max_surge", "max_unavailable"):
        value = getattr(args, name)
        if not value.endswith("%"):
            setattr(args, name, int(value))
    runner = event_loop_runner()
    if args.kubelet:
        with contextlib.suppress(KeyboardInterrupt):
            runner(kubelet(args.kubelet))
        return 0
    print(f"# rollout bench: {args.replicas} replicas, maxSurge {args.max_surge}, maxUnavailable "
          f"{args.max_unavailable}; {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{'uvloop' if runner is not asyncio.run else 'asyncio'}; server, controllers and fake kubelet "
          f"in 3 processes")
    workdir = Path(tempfile.mkdtemp(prefix="kyb-rollout-"))
    server, url = start_server(workdir)
    kube = subprocess.Popen([sys.executable, __file__, "--kubelet", url])
    try:
        runner(run(args, url, kube.pid, server.pid))
    finally:
        stop(kube)
        stop(server)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"data kept in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
