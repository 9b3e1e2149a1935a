"""Fixtures shared by the suites that run components in the test's event loop.

Imported into a package's ``conftest.py`` (``from tests.async_fixtures import client,
no_leftover_tasks``) so each suite binds them to its own ``server`` fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kybernetes.client.rest import Client
from tests.serverproc import ServerProc


@pytest.fixture(autouse=True)
async def no_leftover_tasks() -> AsyncIterator[None]:
    """Every task a test starts (informers, workers, bindings, event posts) must be gone at its end."""
    before = asyncio.all_tasks()
    yield
    left = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    assert not left, f"tasks left behind: {left}"


@pytest.fixture
async def client(server: ServerProc) -> AsyncIterator[Client]:
    c = Client(server.url)
    yield c
    await c.close()
