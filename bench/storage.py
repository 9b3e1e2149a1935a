"""Storage benchmark: latency and throughput of the SQLite backend, and watch fan-out.

    python bench/storage.py [--ops 2000] [--watchers 1000] [--loop asyncio|uvloop] [--dir DIR]

Prints, for create / update / get at concurrency 1, 10 and 50, the p50 and p99
latency of one call and the calls per second; then compares a get run inline on
the event loop with the same get hopped to a thread (the reason reads are
inline); then the delay from the start of a write until each of N watchers
holds its event.

Writes are durable (synchronous=FULL, one fsync per group commit), so the
figures depend on the disk's fsync latency, which is printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable

from kybernetes.storage.sqlite import SQLiteBackend

VALUE = b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"},"data":{"k":"' + b"v" * 400 + b'"}}'


def fsync_latency_us(directory: str) -> float:
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY)
    try:
        start = time.perf_counter()
        for _ in range(100):
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        return (time.perf_counter() - start) / 100 * 1e6
    finally:
        os.close(fd)
        os.unlink(path)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    concurrency: int, ops: int, call: Callable[[int, int], Awaitable[object]]
) -> tuple[float, float, float]:
    """Run ``ops`` calls spread over ``concurrency`` tasks; return p50 ms, p99 ms, calls/s."""
    latencies: list[float] = []
    per_task = ops // concurrency

    async def worker(task: int) -> None:
        for i in range(per_task):
            start = time.perf_counter()
            await call(task, i)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker(t) for t in range(concurrency)))
    elapsed = time.perf_counter() - start
    return pct(latencies, 0.5) * 1e3, pct(latencies, 0.99) * 1e3, len(latencies) / elapsed


def report(name: str, concurrency: int, figures: tuple[float, float, float]) -> None:
    p50, p99, rate = figures
    print(f"{name:<14} c={concurrency:<3} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   {rate:9.0f} /s")


async def bench_crud(backend: SQLiteBackend, ops: int) -> None:
    revisions: dict[tuple[int, int, int], int] = {}
    for concurrency in (1, 10, 50):

        async def create(task: int, i: int, c: int = concurrency) -> None:
            revisions[(c, task, i)] = await backend.create(f"/registry/configmaps/c{c}/t{task}-{i}", VALUE)

        report("create", concurrency, await measure(concurrency, ops, create))
    for concurrency in (1, 10, 50):

        async def update(task: int, i: int, c: int = concurrency) -> None:
            key = (c, task, i)
            revisions[key] = await backend.update(
                f"/registry/configmaps/c{c}/t{task}-{i}", VALUE, revisions[key]
            )

        report("update", concurrency, await measure(concurrency, ops, update))
    for concurrency in (1, 10, 50):

        async def get(task: int, i: int, c: int = concurrency) -> None:
            await backend.get(f"/registry/configmaps/c{c}/t{task}-{i}")

        report("get", concurrency, await measure(concurrency, ops * 5, get))

    result = await backend.range("/registry/configmaps/c50/", limit=500, count=True)
    start = time.perf_counter()
    for _ in range(20):
        await backend.range("/registry/configmaps/c50/", limit=500)
    print(f"range 500 of {result.count:<5}     {(time.perf_counter() - start) / 20 * 1e3:7.3f} ms per page")

    # The alternative design: each get hopped to a worker thread on its own connection.
    conn = sqlite3.connect(backend.path, check_same_thread=False)
    sql = "SELECT id, deleted, create_revision, value FROM log WHERE name = ? ORDER BY id DESC LIMIT 1"

    def get_blocking(key: str) -> object:
        return conn.execute(sql, (key,)).fetchone()

    for concurrency in (1, 10):

        async def threaded_get(task: int, i: int, c: int = concurrency) -> None:
            await asyncio.to_thread(get_blocking, f"/registry/configmaps/c{c}/t{task}-{i}")

        report("get (thread)", concurrency, await measure(concurrency, ops * 2, threaded_get))
    conn.close()


async def bench_watch(
    backend: SQLiteBackend, watchers: int, events: int, writers: int, spacing: float
) -> None:
    """``writers`` tasks create ``events`` pods under one prefix watched by ``watchers`` streams.

    The delay of a delivery is from the moment the write was submitted to the
    moment a watcher's ``async for`` got the event.
    """
    prefix = f"/registry/pods/w{writers}/"
    submitted: dict[int, float] = {}
    received: list[tuple[int, float]] = []
    revision = await backend.current_revision()

    async def watcher() -> None:
        count = 0
        async for event in backend.watch(prefix, revision):
            received.append((event.kv.mod_revision, time.perf_counter()))
            count += 1
            if count == events:
                break

    async def writer(n: int) -> None:
        for i in range(events // writers):
            start = time.perf_counter()
            submitted[await backend.create(f"{prefix}p{n}-{i}", VALUE)] = start
            await asyncio.sleep(spacing)

    tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
    await asyncio.sleep(0.2)  # every watcher parked
    begin = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    delays = [at - submitted[rev] for rev, at in received]
    mode = f"{writers} writer{'s' if writers > 1 else ''}, " + (
        f"{spacing * 1e3:.0f} ms apart" if spacing else "burst"
    )
    print(
        f"watch fan-out  {watchers} watchers x {events} events ({mode}): p50 {pct(delays, 0.5) * 1e3:.2f} ms"
        f"   p99 {pct(delays, 0.99) * 1e3:.2f} ms   max {max(delays) * 1e3:.2f} ms"
        f"   ({len(delays) / elapsed:.0f} deliveries/s)"
    )


async def main(args: argparse.Namespace) -> None:
    directory = args.dir or tempfile.mkdtemp(prefix="kyb-bench-")
    os.makedirs(directory, exist_ok=True)
    print(
        f"fsync latency: {fsync_latency_us(directory):.0f} us   loop: {args.loop}   ops per level: {args.ops}"
    )
    backend = SQLiteBackend(os.path.join(directory, f"bench-{os.getpid()}.db"))
    await backend.start()
    try:
        await bench_crud(backend, args.ops)
        await bench_watch(backend, args.watchers, args.events, writers=1, spacing=0.05)
        await bench_watch(backend, args.watchers, args.events * 10, writers=10, spacing=0)
    finally:
        await backend.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--dir", default=None)
    arguments = parser.parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main(arguments))
