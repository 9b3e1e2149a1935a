"""Namespace controller: empties a terminating namespace, then finalizes it.

Level-triggered: a namespace with ``deletionTimestamp`` and the ``kubernetes``
finalizer in ``spec.finalizers`` is synced until it is gone.  A sync deletes
the content of every namespaced resource discovery lists (deletecollection
where served, one by one otherwise), and when nothing is left removes the
``kubernetes`` finalizer through ``namespaces/<name>/finalize``; the API server
then deletes the namespace.  Content that lingers (graceful pod deletion,
finalizers) makes the sync retry with backoff.  Talks to the API only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kybernetes.client.rest import APIError, Client, resource_path

log = logging.getLogger("kybernetes.controllers.namespace")

FINALIZER = "kubernetes"


def needs_sync(ns: dict[str, Any]) -> bool:
    """Pure: is this namespace terminating and still ours to finalize?"""
    return bool((ns.get("metadata") or {}).get("deletionTimestamp")) and \
        FINALIZER in ((ns.get("spec") or {}).get("finalizers") or [])


class NamespaceController:
    def __init__(self, client: Client):
        self.client = client
        self.pending: set[str] = set()
        self.workers: dict[str, asyncio.Task[None]] = {}

    async def _delete_content(self, ns: str) -> int:
        """Delete everything in ``ns``; the number of objects still present."""
        remaining = 0
        for group, version, plural, verbs in await self.client.namespaced_resources():
            path = resource_path(group, version, plural, ns)
            if "list" not in verbs:
                continue
            try:
                if "deletecollection" in verbs:
                    await self.client.delete(path, {"kind": "DeleteOptions", "apiVersion": "v1",
                                                    "propagationPolicy": "Background"})
                items = (await self.client.get(path)).get("items", [])
                for item in items:
                    if not item["metadata"].get("deletionTimestamp") and "delete" in verbs:
                        with contextlib.suppress(APIError):
                            await self.client.delete(f"{path}/{item['metadata']['name']}")
                remaining += len((await self.client.get(path)).get("items", []))
            except APIError as e:
                if e.code != 404:
                    raise
        return remaining

    async def _finalize(self, name: str) -> None:
        ns = await self.client.get(f"/api/v1/namespaces/{name}")
        if not needs_sync(ns):
            return
        ns["spec"]["finalizers"] = [f for f in ns["spec"].get("finalizers", []) if f != FINALIZER]
        await self.client.update(f"/api/v1/namespaces/{name}/finalize", ns)

    async def sync(self, name: str) -> None:
        delay = 0.2
        while True:
            try:
                ns = await self.client.get(f"/api/v1/namespaces/{name}")
                if not needs_sync(ns):
                    return
                if await self._delete_content(name) == 0:
                    await self._finalize(name)
                    log.info("namespace %s finalized", name)
                    return
            except APIError as e:
                if e.code == 404:
                    return
                log.warning("namespace %s: %s", name, e)
            except (TimeoutError, OSError) as e:
                log.warning("namespace %s: %s", name, e)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def enqueue(self, ns: dict[str, Any]) -> None:
        name = ns["metadata"]["name"]
        if not needs_sync(ns) or (name in self.workers and not self.workers[name].done()):
            return
        self.workers[name] = asyncio.create_task(self.sync(name), name=f"namespace-sync-{name}")

    async def run(self) -> None:
        while True:
            try:
                lst = await self.client.get("/api/v1/namespaces")
                for ns in lst.get("items", []):
                    self.enqueue(ns)
                rv = lst["metadata"]["resourceVersion"]
                async for ev in self.client.watch("/api/v1/namespaces", rv, timeout_seconds=60):
                    if ev.get("type") in ("ADDED", "MODIFIED"):
                        self.enqueue(ev["object"])
                    elif ev.get("type") == "ERROR":
                        break
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("namespace controller: %s; relisting", e)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        for t in self.workers.values():
            t.cancel()
        await asyncio.gather(*self.workers.values(), return_exceptions=True)


async def run_namespace_controller(url: str) -> None:
    client = Client(url)
    ctl = NamespaceController(client)
    try:
        await ctl.run()
    finally:
        await ctl.stop()
        await client.close()
