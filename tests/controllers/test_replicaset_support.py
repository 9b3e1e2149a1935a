"""Support for the workload suites (no tests here): a fake kubelet and a runner for the controllers.

The controllers under test run as tasks in the test's event loop, scoped to the test's namespace,
against the real API server (started with ``--no-controllers``, so nothing else acts).  There is
no scheduler and no node agent either: :class:`FakeKubelet` stands at that boundary.  It binds
each new pod to one of a few fake nodes, reports it Running and Ready (unless told to hold it
back), and finishes graceful deletions, as a kubelet would.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kybernetes.client.informer import Informer
from kybernetes.client.rest import APIError, Client
from kybernetes.client.workqueue import WorkQueue, run_workers
from kybernetes.controllers.deployment import DeploymentController
from kybernetes.controllers.replicaset import REPLICASET, REPLICATION_CONTROLLER, ReplicaSetController

Obj = dict[str, Any]


def now_str() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready_status(pod: Obj, ready: bool = True) -> Obj:
    ts = now_str()
    cond = "True" if ready else "False"
    h = zlib.crc32(pod["metadata"]["name"].encode())
    return {"status": {
        "phase": "Running", "podIP": f"10.{h >> 16 & 255}.{h >> 8 & 255}.{h & 255}", "startTime": ts,
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": ts},
                       {"type": "Initialized", "status": "True", "lastTransitionTime": ts},
                       {"type": "ContainersReady", "status": cond, "lastTransitionTime": ts},
                       {"type": "Ready", "status": cond, "lastTransitionTime": ts}],
        "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": ready,
                               "restartCount": 0, "started": True, "state": {"running": {"startedAt": ts}}}
                              for c in pod["spec"].get("containers", [])]}}


class FakeKubelet:
    """A node agent for one namespace's pods that runs nothing (see the module docstring).

    ``ready=False`` leaves new pods Running but not Ready; ``hold`` names images whose pods are
    never made ready (until :meth:`make_ready`).
    """

    def __init__(self, client: Client, namespace: str, nodes: int = 3, ready: bool = True):
        self.client = client
        self.namespace = namespace
        self.nodes = nodes
        self.ready = ready
        self.hold: set[str] = set()
        self.informer = Informer(client, "", "v1", "pods", namespace=namespace)
        self.queue: WorkQueue[str] = WorkQueue()
        self.informer.add_event_handler(self._enqueue, lambda _o, n: self._enqueue(n), None)
        self.task: asyncio.Task[None] | None = None

    def _enqueue(self, pod: Obj) -> None:
        self.queue.add(pod["metadata"]["name"])

    def images(self, pod: Obj) -> set[str]:
        return {c.get("image", "") for c in pod["spec"].get("containers", [])}

    async def sync(self, name: str) -> None:
        pod = self.informer.get(f"{self.namespace}/{name}")
        if pod is None:
            return
        base = f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        try:
            if pod["metadata"].get("deletionTimestamp"):
                await self.client.delete(base, {"gracePeriodSeconds": 0,
                                                "preconditions": {"uid": pod["metadata"]["uid"]}})
            elif not pod["spec"].get("nodeName"):
                node = f"fake-node-{zlib.crc32(name.encode()) % self.nodes}"
                await self.client.create(f"{base}/binding", {"apiVersion": "v1", "kind": "Binding",
                                                             "metadata": {"name": name},
                                                             "target": {"kind": "Node", "name": node}})
            elif pod.get("status", {}).get("phase") in (None, "", "Pending"):
                await self.client.patch(f"{base}/status",
                                        ready_status(pod, self.ready and not self.images(pod) & self.hold))
        except APIError as e:
            if e.code not in (404, 409):
                raise

    async def make_ready(self, name: str) -> None:
        """Report a held-back pod Ready now (a no-op for a pod that is gone)."""
        path = f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        try:
            await self.client.patch(f"{path}/status", ready_status(await self.client.get(path)))
        except APIError as e:
            if e.code != 404:
                raise

    async def start(self) -> None:
        async def run() -> None:
            try:
                self.informer.start()
                await self.informer.wait_synced()
                await run_workers(self.queue, self.sync, 8)
            finally:
                await self.queue.shutdown()
                await self.informer.stop()
        self.task = asyncio.create_task(run(), name="fake kubelet")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


class Workloads:
    """The ReplicaSet, ReplicationController and Deployment controllers for one namespace,
    started and stopped at will (a restart is stop + start), plus a fake kubelet."""

    def __init__(self, client: Client, namespace: str):
        self.client = client
        self.namespace = namespace
        self.kubelet = FakeKubelet(client, namespace)
        self.tasks: list[asyncio.Task[None]] = []
        self.replicasets: ReplicaSetController | None = None
        self.deployments: DeploymentController | None = None

    async def start(self, kubelet: bool = True) -> Workloads:
        rs = ReplicaSetController(self.client, REPLICASET, namespace=self.namespace)
        rc = ReplicaSetController(self.client, REPLICATION_CONTROLLER, namespace=self.namespace)
        dc = DeploymentController(self.client, namespace=self.namespace)
        self.replicasets, self.deployments = rs, dc
        self.tasks = [asyncio.create_task(c.run(), name=f"controller {type(c).__name__}") for c in (rs, rc, dc)]
        await asyncio.wait_for(asyncio.gather(rs.synced.wait(), rc.synced.wait(), dc.synced.wait()), 10)
        if kubelet and self.kubelet.task is None:
            await self.kubelet.start()
        return self

    async def stop_controllers(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []

    async def stop(self) -> None:
        await self.stop_controllers()
        await self.kubelet.stop()


@pytest.fixture
async def workloads(client: Client, namespace: str) -> AsyncIterator[Workloads]:
    w = Workloads(client, namespace)
    try:
        yield await w.start()
    finally:
        await w.stop()


# -- reading the cluster ------------------------------------------------------------------------

async def pods_of(client: Client, namespace: str, selector: str = "") -> list[Obj]:
    params = {"labelSelector": selector} if selector else {}
    items: list[Obj] = (await client.get(f"/api/v1/namespaces/{namespace}/pods", **params))["items"]
    return items


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def live(pods: list[Obj]) -> list[Obj]:
    """Pods not being deleted and not finished."""
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")]


async def events_of(client: Client, namespace: str, name: str) -> list[tuple[str, str, str]]:
    items = (await client.get(f"/api/v1/namespaces/{namespace}/events"))["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items if e["involvedObject"].get("name") == name]
