"""Fixtures for the node agent suites: an API client and a namespace per test against the shared server,
and a check that every task a test starts is gone at its end."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from kybernetes.client.rest import APIError, Client
from tests.async_fixtures import client, no_leftover_tasks  # noqa: F401 - fixtures, registered by import


@pytest.fixture
async def namespace(client: Client, unique: str) -> AsyncIterator[str]:
    await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": unique}})
    yield unique
    with contextlib.suppress(APIError):
        await client.delete(f"/api/v1/namespaces/{unique}")
