"""Fixtures for the node agent suites: an API client and a namespace per test against the shared server,
and a check that every task a test starts is gone at its end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from kybernetes.client.rest import APIError, Client
from tests.serverproc import ServerProc


@pytest.fixture(autouse=True)
async def no_leftover_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    left = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    assert not left, f"tasks left behind: {left}"


@pytest.fixture
async def client(server: ServerProc) -> AsyncIterator[Client]:
    c = Client(server.url)
    yield c
    await c.close()


@pytest.fixture
async def namespace(client: Client, unique: str) -> AsyncIterator[str]:
    await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": unique}})
    yield unique
    with contextlib.suppress(APIError):
        await client.delete(f"/api/v1/namespaces/{unique}")
