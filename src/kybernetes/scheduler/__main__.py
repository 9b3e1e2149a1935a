"""``python -m kybernetes.scheduler``: run the scheduler as a process of its own.

    python -m kybernetes.scheduler --server http://127.0.0.1:6443 [--name default-scheduler] [--seed N]
    python -m kybernetes.scheduler --kubeconfig PATH

The lead's ``kyb scheduler --kubeconfig PATH`` wraps :func:`run_scheduler`;
this entry point exists for the bench (a separate process, so its CPU and
memory are its own).  It prints ``ready`` once its caches are synced and, on
SIGTERM / SIGINT, one ``stats {json}`` line before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys

import orjson
import yaml

from kybernetes.client.rest import Client
from kybernetes.scheduler.scheduler import Scheduler, SchedulerConfig


def server_from_kubeconfig(path: str) -> str:
    with open(path) as f:
        cfg = yaml.safe_load(f)
    current = cfg.get("current-context")
    contexts = {c["name"]: c["context"] for c in cfg.get("contexts") or ()}
    cluster_name = contexts.get(current, {}).get("cluster") if current else None
    clusters = {c["name"]: c["cluster"] for c in cfg.get("clusters") or ()}
    cluster = clusters.get(cluster_name) if cluster_name else next(iter(clusters.values()), None)
    if not cluster:
        raise SystemExit(f"error: no cluster in {path}")
    return str(cluster["server"])


async def main_async(args: argparse.Namespace) -> dict[str, int]:
    url = args.server or server_from_kubeconfig(args.kubeconfig)
    client, events_client = Client(url), Client(url)
    config = SchedulerConfig(name=args.name, seed=args.seed, bind_concurrency=args.bind_concurrency)
    scheduler = Scheduler(client, config, events_client=events_client)
    task = asyncio.create_task(scheduler.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await scheduler.synced.wait()
        # The caches now hold most of this process's objects, and they live as long as it does:
        # keep the cyclic GC from walking them again and again (allocation-heavy decoding triggers it).
        gc.collect()
        gc.freeze()
        print("ready", flush=True)
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
        await events_client.close()
    return {"scheduled": scheduler.scheduled, "attempts": scheduler.attempts, "failures": scheduler.failures,
            "events_dropped": scheduler.recorder.dropped}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kybernetes.scheduler", description="Run the kyb scheduler.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", help="API server URL")
    where.add_argument("--kubeconfig", help="read the API server URL from this kubeconfig")
    p.add_argument("--name", default="default-scheduler", help="the spec.schedulerName this scheduler serves")
    p.add_argument("--seed", type=int, default=None, help="seed for breaking score ties (reproducible runs)")
    p.add_argument("--bind-concurrency", type=int, default=64, help="bindings in flight at most")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("kybernetes.client.informer").setLevel(logging.WARNING)
    try:
        import uvloop
        stats = uvloop.run(main_async(args))
    except ImportError:  # pragma: no cover - uvloop is optional
        stats = asyncio.run(main_async(args))
    print("stats " + orjson.dumps(stats).decode(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
