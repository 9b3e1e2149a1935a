"""Fixtures for the controller suites: an API client, a namespace per test, and a garbage
collector running in the test's event loop against a real API server.

The server here runs with ``--no-controllers`` so the collector under test is the only one and
"nothing happens until it starts" can be asserted.  (Two collectors acting at once is fine too:
every write is conditional and idempotent; the compat suites exercise the server's own.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from kybernetes.client.rest import APIError, Client
from kybernetes.controllers.garbagecollector import GarbageCollector, discover
from tests.async_fixtures import client, no_leftover_tasks  # noqa: F401 - fixtures, registered by import
from tests.conftest import Kubectl
from tests.serverproc import ServerProc


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    base = tmp_path_factory.mktemp("kyb-bare")
    proc = ServerProc(base / "data", base / "kubeconfig", extra_args=["--no-controllers"]).start()
    yield proc
    assert proc.stop() == 0, proc.log()


@pytest.fixture(scope="session")
def kubectl_factory(server: ServerProc, kubectls: dict[str, str],
                    tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Kubectl]:
    """kubectl runners bound to this package's server (the root one binds to the shared server)."""
    def make(version: str) -> Kubectl:
        return Kubectl(kubectls[version], version, server.kubeconfig, tmp_path_factory.mktemp(f"home-{version}"))

    return make


async def wait_until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def get_or_none(client: Client, path: str) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = await client.get(path)
        return obj
    except APIError as e:
        if e.code == 404:
            return None
        raise


@pytest.fixture
async def namespace(client: Client, unique: str) -> AsyncIterator[str]:
    await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": unique}})
    yield unique
    try:
        await client.delete(f"/api/v1/namespaces/{unique}")
    except APIError:
        pass


class GCRunner:
    """Start and stop a collector at will (a restart is stop + start)."""

    def __init__(self, client: Client):
        self.client = client
        self.gc: GarbageCollector | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> GarbageCollector:
        self.gc = GarbageCollector(self.client, await discover(self.client))
        self.task = asyncio.create_task(self.gc.run())
        await asyncio.wait_for(self.gc.synced.wait(), 10)
        return self.gc

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.gc is not None:
            await self.gc.stop()
        self.task = self.gc = None


@pytest.fixture
async def gc_runner(client: Client) -> AsyncIterator[GCRunner]:
    runner = GCRunner(client)
    yield runner
    await runner.stop()


@pytest.fixture
async def gc(gc_runner: GCRunner) -> GarbageCollector:
    return await gc_runner.start()
