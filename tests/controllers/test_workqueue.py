"""The work queue: dedup, per-key serialisation, backoff, delayed adds."""

from __future__ import annotations

import asyncio

from kybernetes.client.workqueue import WorkQueue, run_workers


async def test_dedup_and_order() -> None:
    q: WorkQueue[str] = WorkQueue()
    for k in ("a", "b", "a", "c", "b"):
        q.add(k)
    assert len(q) == 3
    assert [await q.get(), await q.get(), await q.get()] == ["a", "b", "c"]


async def test_add_while_processing_requeues_once_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")
    q.add("a")
    assert len(q) == 0  # never handed to a second worker while the first holds it
    q.done(key)
    assert len(q) == 1 and await q.get() == "a"


async def test_rate_limited_backoff_grows_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.01)
    q.add_rate_limited("a")
    q.add_rate_limited("a")
    assert q.failures("a") == 2
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await q.get() == "a"
    assert loop.time() - t0 >= 0.009
    q.forget("a")
    assert q.failures("a") == 0


async def test_workers_retry_failures_until_success_then_shutdown() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.001)
    attempts: dict[str, int] = {}
    running: set[str] = set()

    async def sync(key: str) -> None:
        assert key not in running, "one worker per key"
        running.add(key)
        await asyncio.sleep(0)
        running.discard(key)
        attempts[key] = attempts.get(key, 0) + 1
        if key == "flaky" and attempts[key] < 3:
            raise RuntimeError("try again")

    task = asyncio.create_task(run_workers(q, sync, workers=4))
    for k in ("flaky", "x", "y", "x"):
        q.add(k)
    for _ in range(200):
        if attempts.get("flaky") == 3 and q.idle():
            break
        await asyncio.sleep(0.005)
    assert attempts["flaky"] == 3 and attempts["x"] >= 1 and attempts["y"] == 1
    await q.shutdown()
    await asyncio.wait_for(task, 2)
