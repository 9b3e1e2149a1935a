"""API server benchmark: latency and throughput over real HTTP, LIST of 10k pods, watch fan-out, RSS.

    python bench/api.py [--quick] [--pods 10000] [--watchers 1000] [--keep]

Starts its own ``kyb server`` process (temporary data dir, loopback, controllers
off) and drives it from this process with an aiohttp client, so the load
generator never shares an interpreter with the server.  Prints:

* single-object GET and create/update (durable writes) latency p50/p99 and
  throughput at several concurrencies (closed loop: each worker waits for its
  answer before sending the next request);
* GET and create p99 at a paced 200 requests/s (open loop: latency counted from
  the scheduled send time, so queueing behind a slow request counts);
* a full LIST of N pods as JSON and as a Table (time until the whole body arrived);
* watch fan-out: M watchers on one collection, the delay from the write's
  acknowledgement (and from its send) until each watcher holds the event;
* the server's RSS (``VmRSS``) idle and with N pods stored.

Each figure is printed next to its target.  The client and the server share the
machine's cores, which the header states; under fan-out the client's own
parsing of M streams is part of the measured delay.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

NS = "bench"
POD_NS = "bench-pods"
WATCH_NS = "bench-watch"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app": "bench"}},
       "spec": {"containers": [{"name": "app", "image": "nginx:1.25",
                                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                                "ports": [{"containerPort": 80}]}]}}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

TARGETS = {
    "get_rate": 3000.0, "create_rate": 500.0, "paced_get_p99_ms": 10.0, "paced_create_p99_ms": 25.0,
    "list_s": 1.0, "fanout_p99_ms": 200.0, "idle_rss_mb": 80.0,
}


# -- the server process ----------------------------------------------------------------------------------


class Server:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.kubeconfig = workdir / "kubeconfig"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        log = open(self.workdir / "server.log", "wb")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kybernetes", "server", "--data-dir", str(self.workdir / "data"),
             "--listen", "127.0.0.1:0", "--kubeconfig", str(self.kubeconfig), "--no-controllers"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + (self.workdir / "server.log").read_text())
            if self.kubeconfig.exists():
                try:
                    self.url = yaml.safe_load(self.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
                    return
                except (yaml.YAMLError, KeyError, IndexError, TypeError):
                    pass
            time.sleep(0.02)
        raise RuntimeError("server not ready in 30 s")

    def rss_mb(self) -> float:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc


# -- measuring ------------------------------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value <= target
    sign = ">=" if higher_is_better else "<="
    return f"[target {sign} {target:g}: {'met' if ok else 'MISSED'}]"


async def closed_loop(concurrency: int, ops: int, call: Callable[[int, int], Awaitable[None]]
                      ) -> tuple[float, float, float]:
    """``ops`` calls over ``concurrency`` workers; p50 ms, p99 ms, calls/s."""
    latencies: list[float] = []
    per_worker = max(1, ops // concurrency)

    async def worker(w: int) -> None:
        for i in range(per_worker):
            t0 = time.perf_counter()
            await call(w, i)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return pct(latencies, 0.5) * 1e3, pct(latencies, 0.99) * 1e3, len(latencies) / elapsed


async def paced(rate: float, seconds: float, call: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    """Open loop at ``rate``/s; latency from the scheduled start. p50 ms, p99 ms."""
    n = int(rate * seconds)
    latencies: list[float] = []
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await call(i)
        latencies.append(time.perf_counter() - due)

    await asyncio.gather(*(one(i) for i in range(n)))
    return pct(latencies, 0.5) * 1e3, pct(latencies, 0.99) * 1e3


def line(name: str, concurrency: int | str, figures: tuple[float, float, float], note: str = "") -> None:
    p50, p99, rate = figures
    print(f"  {name:<8} c={concurrency!s:<4} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   {rate:8.0f} /s  {note}")


class Client:
    def __init__(self, url: str, limit: int = 100):
        self.url = url
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                             timeout=aiohttp.ClientTimeout(total=None))

    async def request(self, method: str, path: str, body: Any = None, expect: int = 200,
                      headers: dict[str, str] | None = None) -> bytes:
        data = orjson.dumps(body) if body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {})} if data is not None else headers
        async with self.session.request(method, self.url + path, data=data, headers=hdrs) as r:
            raw = await r.read()
            if r.status != expect:
                raise RuntimeError(f"{method} {path}: {r.status} {raw[:300]!r}")
            return raw

    async def create(self, path: str, body: Any) -> dict[str, Any]:
        out: dict[str, Any] = orjson.loads(await self.request("POST", path, body, expect=201))
        return out

    async def close(self) -> None:
        await self.session.close()


# -- the benchmarks -------------------------------------------------------------------------------------


async def bench_get(c: Client, ops: int, results: dict[str, float]) -> None:
    await c.create(f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "target"},
                                                           "data": {"k": "v" * 200}})
    path = f"/api/v1/namespaces/{NS}/configmaps/target"

    async def get(w: int, i: int) -> None:
        await c.request("GET", path)

    await closed_loop(10, 300, get)  # warm up
    print("GET one object (closed loop)")
    best = 0.0
    for conc in (1, 10, 50):
        figures = await closed_loop(conc, ops, get)
        best = max(best, figures[2])
        line("get", conc, figures)
    results["get_rate"] = best
    print(f"  best GET throughput {best:.0f}/s {verdict(best, TARGETS['get_rate'], True)}")


async def bench_writes(c: Client, ops: int, results: dict[str, float]) -> None:
    base = f"/api/v1/namespaces/{NS}/configmaps"
    print("create / update, durable (closed loop)")
    best = 0.0
    for conc in (1, 10, 50):

        async def create(w: int, i: int, conc: int = conc) -> None:
            await c.create(base, {"metadata": {"name": f"c{conc}-{w}-{i}"}, "data": {"k": "v" * 200}})

        figures = await closed_loop(conc, ops, create)
        best = max(best, figures[2])
        line("create", conc, figures)
    results["create_rate"] = best
    print(f"  best create throughput {best:.0f}/s {verdict(best, TARGETS['create_rate'], True)}")
    for conc in (1, 10, 50):
        for w in range(conc):
            await c.create(base, {"metadata": {"name": f"u{conc}-{w}"}, "data": {"k": "0"}})

        async def update(w: int, i: int, conc: int = conc) -> None:
            name = f"u{conc}-{w}"
            await c.request("PUT", f"{base}/{name}", {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": name}, "data": {"k": str(i)}})

        line("update", conc, await closed_loop(conc, ops, update))


async def bench_paced(c: Client, seconds: float, results: dict[str, float]) -> None:
    base = f"/api/v1/namespaces/{NS}/configmaps"
    print(f"paced at 200 requests/s for {seconds:g} s (open loop)")

    async def get(i: int) -> None:
        await c.request("GET", f"{base}/target")

    p50, p99 = await paced(200, seconds, get)
    results["paced_get_p99_ms"] = p99
    print(f"  get      p50 {p50:7.2f} ms   p99 {p99:7.2f} ms  {verdict(p99, TARGETS['paced_get_p99_ms'], False)}")

    async def create(i: int) -> None:
        await c.create(base, {"metadata": {"name": f"paced-{i}"}, "data": {"k": "v" * 200}})

    p50, p99 = await paced(200, seconds, create)
    results["paced_create_p99_ms"] = p99
    print(f"  create   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms  "
          f"{verdict(p99, TARGETS['paced_create_p99_ms'], False)}")


async def fill_pods(c: Client, n: int) -> float:
    base = f"/api/v1/namespaces/{POD_NS}/pods"
    t0 = time.perf_counter()
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            body = dict(POD, metadata={"name": f"pod-{i:05d}", "labels": {"app": "bench"}})
            await c.create(base, body)

    await asyncio.gather(*(worker() for _ in range(50)))
    return n / (time.perf_counter() - t0)


async def bench_list(c: Client, n: int, results: dict[str, float]) -> None:
    path = f"/api/v1/namespaces/{POD_NS}/pods"
    print(f"LIST {n} pods (time until the whole body arrived; best and median of 5)")
    for name, headers in (("json", {"Accept": "application/json"}), ("table", {"Accept": TABLE})):
        times: list[float] = []
        size = 0
        for _ in range(5):
            t0 = time.perf_counter()
            raw = await c.request("GET", path, headers=headers)
            times.append(time.perf_counter() - t0)
            size = len(raw)
        body = orjson.loads(raw)
        count = len(body.get("items") or body.get("rows") or [])
        assert count == n, f"{name} list returned {count} items"
        best, median = min(times), statistics.median(times)
        if name == "json":
            results["list_s"] = median
        print(f"  {name:<6} best {best:6.3f} s   median {median:6.3f} s   {size / 1e6:6.1f} MB  "
              f"{verdict(median, TARGETS['list_s'], False)}")
    t0 = time.perf_counter()
    pages = 0
    token = ""
    while True:
        q = f"?limit=500&continue={token}" if token else "?limit=500"
        page = orjson.loads(await c.request("GET", path + q))
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
    print(f"  paginated (limit=500, {pages} pages) {time.perf_counter() - t0:6.3f} s")


async def bench_fanout(url: str, watchers: int, writes: int, results: dict[str, float]) -> None:
    path = f"/api/v1/namespaces/{WATCH_NS}/configmaps"
    c = Client(url, limit=watchers + 10)
    try:
        rv = orjson.loads(await c.request("GET", path))["metadata"]["resourceVersion"]
        received: list[dict[str, float]] = [{} for _ in range(watchers)]
        ready = 0
        all_ready = asyncio.Event()
        progress = asyncio.Condition()

        async def watch(w: int) -> None:
            nonlocal ready
            q = f"?watch=true&resourceVersion={rv}&timeoutSeconds=600"
            async with c.session.get(url + path + q) as r:
                assert r.status == 200
                ready += 1
                if ready == watchers:
                    all_ready.set()
                async for raw in r.content:
                    if not raw.strip():
                        continue
                    now = time.perf_counter()
                    ev = orjson.loads(raw)
                    received[w][ev["object"]["metadata"]["name"]] = now
                    async with progress:
                        progress.notify_all()
                    if len(received[w]) >= writes:
                        return

        tasks = [asyncio.create_task(watch(w)) for w in range(watchers)]
        await asyncio.wait_for(all_ready.wait(), 60)
        from_ack: list[float] = []
        from_send: list[float] = []
        for i in range(writes):
            name = f"ev-{i}"
            sent = time.perf_counter()
            await c.create(path, {"metadata": {"name": name}})
            acked = time.perf_counter()
            async with progress:
                await asyncio.wait_for(progress.wait_for(lambda n=name: all(n in r for r in received)), 60)
            for r in received:
                from_ack.append(max(0.0, r[name] - acked))
                from_send.append(r[name] - sent)
        await asyncio.gather(*tasks)
        p50a, p99a = pct(from_ack, 0.5) * 1e3, pct(from_ack, 0.99) * 1e3
        p50s, p99s = pct(from_send, 0.5) * 1e3, pct(from_send, 0.99) * 1e3
        results["fanout_p99_ms"] = p99a
        print(f"watch fan-out: {watchers} watchers x {writes} writes (one write at a time)")
        print(f"  from ack   p50 {p50a:7.2f} ms   p99 {p99a:7.2f} ms  "
              f"{verdict(p99a, TARGETS['fanout_p99_ms'], False)}")
        print(f"  from send  p50 {p50s:7.2f} ms   p99 {p99s:7.2f} ms")
    finally:
        await c.close()


async def run(args: argparse.Namespace, server: Server) -> dict[str, float]:
    results: dict[str, float] = {}
    c = Client(server.url, limit=100)
    try:
        for ns in (NS, POD_NS, WATCH_NS):
            await c.create("/api/v1/namespaces", {"metadata": {"name": ns}})
        await asyncio.sleep(1.0)
        results["idle_rss_mb"] = server.rss_mb()
        print(f"server RSS idle: {results['idle_rss_mb']:.1f} MB "
              f"{verdict(results['idle_rss_mb'], TARGETS['idle_rss_mb'], False)}")
        await bench_get(c, args.ops * 3, results)
        await bench_writes(c, args.ops, results)
        await bench_paced(c, args.paced_seconds, results)
        rate = await fill_pods(c, args.pods)
        print(f"stored {args.pods} pods at {rate:.0f}/s (c=50)")
        print(f"server RSS with {args.pods} pods (and the configmaps above): {server.rss_mb():.1f} MB")
        await bench_list(c, args.pods, results)
    finally:
        await c.close()
    await bench_fanout(server.url, args.watchers, args.writes, results)
    print(f"server RSS after fan-out: {server.rss_mb():.1f} MB")
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", type=int, default=1000, help="requests per create/update level (GET: 3x)")
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--watchers", type=int, default=1000)
    p.add_argument("--writes", type=int, default=20, help="writes observed by the fan-out watchers")
    p.add_argument("--paced-seconds", type=float, default=5.0)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument("--keep", action="store_true", help="keep the data dir")
    args = p.parse_args()
    if args.quick:
        args.ops, args.pods, args.watchers, args.writes, args.paced_seconds = 200, 1000, 100, 5, 1.0

    print(f"kyb API benchmark: {os.cpu_count()} CPU cores shared by the server and this client "
          f"(separate processes), Python {platform.python_version()}, {platform.machine()}")
    workdir = Path(tempfile.mkdtemp(prefix="kyb-bench-api-"))
    server = Server(workdir)
    try:
        server.start()
        print(f"server pid {server.proc.pid if server.proc else '?'} at {server.url}, data {workdir / 'data'}")
        try:
            import uvloop

            runner: Callable[..., Any] = uvloop.run
        except ImportError:  # pragma: no cover
            runner = asyncio.run
        results = runner(run(args, server))
        missed = [k for k, target in TARGETS.items() if k in results and not (
            results[k] >= target if k.endswith("rate") else results[k] <= target)]
        print("targets missed: " + (", ".join(missed) if missed else "none"))
    finally:
        rc = server.stop()
        if rc not in (0, None):
            print(f"server exited with {rc}; log in {workdir / 'server.log'}")
        if not args.keep and rc in (0, None):
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
