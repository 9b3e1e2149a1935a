"""Service account controller: the pure decision, and end to end a ``default`` ServiceAccount in new
namespaces (only the test's, by label), recreated when deleted."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from kybernetes.client.rest import Client
from kybernetes.controllers.serviceaccount import ServiceAccountController, needs_account
from tests.controllers.conftest import get_or_none
from tests.kubelet.helpers import TEST_LABEL, poll, running

Obj = dict[str, Any]


@pytest.mark.parametrize("ns,existing,needed", [
    ({"metadata": {"name": "a"}, "status": {"phase": "Active"}}, None, True),
    ({"metadata": {"name": "a"}}, None, True),
    ({"metadata": {"name": "a"}, "status": {"phase": "Active"}}, {"metadata": {"name": "default"}}, False),
    ({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}, None, False),
    ({"metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}}, None, False),
    (None, None, False),
], ids=["active", "no-phase-yet", "exists", "terminating", "deleting", "gone"])
def test_needs_account(ns: Obj | None, existing: Obj | None, needed: bool) -> None:
    assert needs_account(ns, existing) is needed


async def test_default_account_in_every_namespace(client: Client, unique: str) -> None:
    names = [f"{unique}-a", f"{unique}-b"]
    ctl = ServiceAccountController(client, namespace_selector=f"{TEST_LABEL}={unique}")
    await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": names[0], "labels": {TEST_LABEL: unique}}})
    try:
        async with running(ctl):
            await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": names[1], "labels": {TEST_LABEL: unique}}})
            for ns in names:
                await poll(functools.partial(get_or_none, client, f"/api/v1/namespaces/{ns}/serviceaccounts/default"),
                           f"default account in {ns}", timeout=5)
            old = await client.get(f"/api/v1/namespaces/{names[0]}/serviceaccounts/default")
            await client.delete(f"/api/v1/namespaces/{names[0]}/serviceaccounts/default")

            async def recreated() -> bool:
                sa = await get_or_none(client, f"/api/v1/namespaces/{names[0]}/serviceaccounts/default")
                return bool(sa and sa["metadata"]["uid"] != old["metadata"]["uid"])
            await poll(recreated, "the account to be recreated", timeout=5)
            assert ctl.created == 3
    finally:
        for ns in names:
            await client.delete(f"/api/v1/namespaces/{ns}")
