"""Root CA publisher: a ``kube-root-ca.crt`` ConfigMap with the cluster CA in every namespace.

Behaviour is upstream's (``pkg/controller/certificates/rootcacertpublisher``): namespaces added or
updated to Active, and ``kube-root-ca.crt`` ConfigMaps changed or deleted, enqueue their namespace.
:meth:`RootCAPublisher.sync` reads the caches and, with the pure :func:`plan`, creates the ConfigMap
(data ``ca.crt`` and the ``kubernetes.io/description`` annotation) when missing, or puts ``data`` and the
annotation back when someone changed them (an update with the cached resourceVersion; a conflict is
retried).  A terminating or vanished namespace refuses the create; that is not an error.

The CA (PEM) is the caller's: the API server's cluster CA (``apiserver/pki.py``).
``namespace_selector`` narrows the namespaces served (tests).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from kybernetes.client.informer import Informer
from kybernetes.client.rest import APIError, Client
from kybernetes.client.workqueue import WorkQueue, run_workers
from kybernetes.controllers.serviceaccount import is_active

log = logging.getLogger("kybernetes.controllers.rootca")

Obj = dict[str, Any]
CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def plan(ns: Obj | None, existing: Obj | None, ca_pem: str) -> tuple[str, Obj | None]:
    """Pure: ("create", body) | ("update", body) | ("none", None) for one namespace."""
    if existing is None:
        if not is_active(ns):
            return "none", None
        return "create", {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": CONFIGMAP, "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                          "data": {"ca.crt": ca_pem}}
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    if existing.get("data") == {"ca.crt": ca_pem} and annotations.get(DESCRIPTION_ANNOTATION):
        return "none", None
    body = copy.deepcopy(existing)
    body.update(apiVersion="v1", kind="ConfigMap", data={"ca.crt": ca_pem})
    body.pop("binaryData", None)
    body["metadata"].setdefault("annotations", {})[DESCRIPTION_ANNOTATION] = DESCRIPTION
    return "update", body


class RootCAPublisher:
    def __init__(self, client: Client, ca_pem: str, *, namespace_selector: str | None = None, workers: int = 4):
        self.client = client
        self.ca_pem = ca_pem
        self.workers = workers
        self.namespaces = Informer(client, "", "v1", "namespaces", label_selector=namespace_selector)
        self.configmaps = Informer(client, "", "v1", "configmaps", field_selector=f"metadata.name={CONFIGMAP}")
        self.queue: WorkQueue[str] = WorkQueue()
        self.writes = 0

    async def sync(self, namespace: str) -> None:
        ns = self.namespaces.get(namespace)
        if ns is None:
            return  # not ours (selector) or gone
        action, body = plan(ns, self.configmaps.get(f"{namespace}/{CONFIGMAP}"), self.ca_pem)
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        try:
            if action == "create" and body is not None:
                await self.client.create(path, body)
            elif action == "update" and body is not None:
                await self.client.update(f"{path}/{CONFIGMAP}", body)
            else:
                return
            self.writes += 1
        except APIError as e:
            if action == "create" and e.code in (409, 404, 403):
                return  # exists (stale cache; its event brings it back here), namespace gone or terminating
            if action == "update" and e.code == 404:
                self.queue.add(namespace)  # deleted meanwhile: create it
                return
            raise

    async def run(self) -> None:
        def ns_changed(ns: Obj) -> None:
            if is_active(ns):
                self.queue.add(ns["metadata"]["name"])

        def cm_changed(cm: Obj) -> None:
            self.queue.add(cm["metadata"]["namespace"])

        self.namespaces.add_event_handler(ns_changed, lambda _o, n: ns_changed(n))
        self.configmaps.add_event_handler(on_update=lambda _o, n: cm_changed(n), on_delete=cm_changed)
        tasks = [self.configmaps.start(), self.namespaces.start()]
        try:
            await self.configmaps.wait_synced()
            await self.namespaces.wait_synced()
            tasks.append(asyncio.create_task(run_workers(
                self.queue, self.sync, self.workers,
                on_error=lambda ns, e: log.warning("%s in namespace %s: %s", CONFIGMAP, ns, e))))
            await asyncio.gather(*tasks)
        finally:
            await self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def run_rootca_publisher(url: str, ca_pem: str, **options: Any) -> None:
    """The root CA publisher against the API server at ``url``, until cancelled."""
    client = Client(url)
    try:
        await RootCAPublisher(client, ca_pem, **options).run()
    finally:
        await client.close()
