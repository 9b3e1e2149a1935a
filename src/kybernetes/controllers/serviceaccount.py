"""Service account controller: a ``default`` ServiceAccount in every active namespace.

Behaviour is upstream's (``pkg/controller/serviceaccount/serviceaccounts_controller.go``): namespaces
added or updated, and ServiceAccounts deleted, enqueue their namespace; :meth:`sync` reads the caches and
creates ``{"metadata": {"name": "default"}}`` when an *Active* namespace lacks it (no token Secret, as
since 1.24).  A terminating or vanished namespace is left alone (the namespace controller empties it), and
``AlreadyExists`` means a stale cache: nothing to do.  The decision is the pure :func:`needs_account`.

``namespace_selector`` (a label selector) narrows the namespaces served; tests use it to stay in their own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kybernetes.client.informer import Informer
from kybernetes.client.rest import APIError, Client
from kybernetes.client.workqueue import WorkQueue, run_workers

log = logging.getLogger("kybernetes.controllers.serviceaccount")

Obj = dict[str, Any]
DEFAULT_ACCOUNTS = ("default",)


def is_active(ns: Obj | None) -> bool:
    return ns is not None and not (ns.get("metadata") or {}).get("deletionTimestamp") \
        and (ns.get("status") or {}).get("phase", "Active") == "Active"


def needs_account(ns: Obj | None, existing: Obj | None) -> bool:
    """Pure: should the account be created in this namespace?"""
    return is_active(ns) and existing is None


class ServiceAccountController:
    def __init__(self, client: Client, *, namespace_selector: str | None = None, workers: int = 4):
        self.client = client
        self.workers = workers
        self.namespaces = Informer(client, "", "v1", "namespaces", label_selector=namespace_selector)
        self.accounts = Informer(client, "", "v1", "serviceaccounts", metadata_only=True,
                                 field_selector="metadata.name=default" if DEFAULT_ACCOUNTS == ("default",)
                                 else None)
        self.queue: WorkQueue[str] = WorkQueue()
        self.created = 0

    async def sync(self, namespace: str) -> None:
        ns = self.namespaces.get(namespace)
        for name in DEFAULT_ACCOUNTS:
            if not needs_account(ns, self.accounts.get(f"{namespace}/{name}")):
                continue
            try:
                await self.client.create(f"/api/v1/namespaces/{namespace}/serviceaccounts",
                                         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
                self.created += 1
            except APIError as e:
                # exists (stale cache), namespace gone, or terminating (403 NamespaceTerminating)
                if e.code not in (409, 404, 403):
                    raise

    async def run(self) -> None:
        def enqueue_ns(ns: Obj) -> None:
            if is_active(ns):
                self.queue.add(ns["metadata"]["name"])

        def account_deleted(sa: Obj) -> None:
            if sa["metadata"].get("name") in DEFAULT_ACCOUNTS:
                self.queue.add(sa["metadata"]["namespace"])

        self.namespaces.add_event_handler(enqueue_ns, lambda _o, n: enqueue_ns(n))
        self.accounts.add_event_handler(on_delete=account_deleted)
        tasks = [self.accounts.start(), self.namespaces.start()]
        try:
            await self.accounts.wait_synced()
            await self.namespaces.wait_synced()
            tasks.append(asyncio.create_task(run_workers(
                self.queue, self.sync, self.workers,
                on_error=lambda ns, e: log.warning("service accounts of namespace %s: %s", ns, e))))
            await asyncio.gather(*tasks)
        finally:
            await self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def run_serviceaccount_controller(url: str, **options: Any) -> None:
    """The service account controller against the API server at ``url``, until cancelled."""
    client = Client(url)
    try:
        await ServiceAccountController(client, **options).run()
    finally:
        await client.close()
