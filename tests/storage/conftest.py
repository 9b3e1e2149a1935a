"""Fixtures for the storage contract suite.

``STORES`` lists one opener per driver.  An opener is called with a fresh
temporary directory and returns a function that builds a *new, unstarted*
backend on the same store each time it is called, so tests can close a backend
and reopen the same data.  The etcd driver adds its entry here (pointing at a
test etcd and a unique key prefix per test) and the suite runs unchanged.

Every test using ``backend`` also fails if it leaves asyncio tasks behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kybernetes.storage import Backend, Event, SQLiteBackend

Opener = Callable[[], Backend]


def sqlite_store(directory: Path) -> Opener:
    path = str(directory / "state.db")
    # A small ring so that replays from the log table get exercised too.
    return lambda: SQLiteBackend(path, watch_window=64)


STORES = [pytest.param(sqlite_store, id="sqlite")]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Builds unstarted backends that all share one store."""
    opener: Callable[[Path], Opener] = request.param
    return opener(tmp_path)


@pytest.fixture
async def backend(store: Opener) -> AsyncIterator[Backend]:
    instance = store()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()
    await asyncio.sleep(0)
    leftover = [
        task for task in asyncio.all_tasks() if task is not asyncio.current_task() and not task.done()
    ]
    for task in leftover:
        task.cancel()
    assert not leftover, f"test left asyncio tasks running: {leftover}"


async def take(stream: AsyncIterator[Event], count: int, timeout: float = 5.0) -> list[Event]:
    """The next ``count`` events of ``stream``; fails the test after ``timeout`` seconds."""
    events: list[Event] = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            events.append(await anext(stream))
    return events


async def expect_silence(stream: AsyncIterator[Event], seconds: float = 0.1) -> None:
    """Assert ``stream`` yields nothing for ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            event = await anext(stream)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected event {event}")
