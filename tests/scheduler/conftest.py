"""Fixtures for the scheduler suites.

Unit tests need nothing but the builders.  The end-to-end tests get a server
of their own, started with ``--no-controllers``: the node count is part of the
messages asserted ("0/3 nodes are available"), so no other suite's Nodes and
no other scheduler may share it.  Each test's Nodes are deleted when it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from kybernetes.client.rest import APIError, Client
from tests.async_fixtures import client, no_leftover_tasks  # noqa: F401 - fixtures, registered by import
from tests.serverproc import ServerProc


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    base = tmp_path_factory.mktemp("kyb-sched")
    proc = ServerProc(base / "data", base / "kubeconfig", extra_args=["--no-controllers"]).start()
    yield proc
    assert proc.stop() == 0, proc.log()


@pytest.fixture
async def namespace(client: Client, unique: str) -> AsyncIterator[str]:
    """A namespace per test; its pods are deleted at the end (no controllers run to do it), so no
    pending pod of one test is left for the next test's scheduler."""
    await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": unique}})
    yield unique
    for p in (await client.get(f"/api/v1/namespaces/{unique}/pods"))["items"]:
        try:
            await client.delete(f"/api/v1/namespaces/{unique}/pods/{p['metadata']['name']}", {"gracePeriodSeconds": 0})
        except APIError:
            pass


class Nodes:
    """Creates Nodes (with status) through the API and deletes them at the end of the test."""

    def __init__(self, client: Client):
        self.client = client
        self.names: list[str] = []

    async def create(self, obj: dict) -> dict:  # type: ignore[type-arg]
        created = await self.client.create("/api/v1/nodes", obj)
        self.names.append(obj["metadata"]["name"])
        body = dict(created, status=obj["status"])
        updated: dict = await self.client.update(f"/api/v1/nodes/{obj['metadata']['name']}/status", body)  # type: ignore[type-arg]
        return updated

    async def delete_all(self) -> None:
        for name in self.names:
            try:
                await self.client.delete(f"/api/v1/nodes/{name}")
            except APIError:
                pass


@pytest.fixture
async def nodes(client: Client) -> AsyncIterator[Nodes]:
    n = Nodes(client)
    yield n
    await n.delete_all()
