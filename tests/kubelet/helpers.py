"""Helpers for suites that run simulated nodes against a real API server: start a component as a task,
make and bind pods, build an agent with a fast heartbeat, clean nodes up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from kybernetes.client.rest import APIError, Client
from kybernetes.kubelet.node import LEASES, NodeHeartbeat
from kybernetes.kubelet.simulated import SimulatedAgent, simulated_node_configs

Obj = dict[str, Any]
TEST_LABEL = "kyb.io/test"
ZONE_LABEL = "topology.kubernetes.io/zone"


class Runnable(Protocol):
    def run(self) -> Awaitable[None]: ...


@contextlib.asynccontextmanager
async def running(component: Runnable) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``component.run()`` as a task for the duration of the block, then cancel it and wait."""
    async def main() -> None:
        await component.run()

    task = asyncio.create_task(main())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def fast_agent(client: Client, unique: str, count: int = 2, *, interval: float = 0.3,
               **config: Any) -> SimulatedAgent:
    """``count`` simulated nodes named ``<unique>-<i>``, labelled for the test, in a zone of their own."""
    labels = {TEST_LABEL: unique, ZONE_LABEL: unique, **config.pop("labels", {})}
    heartbeat = NodeHeartbeat(client, renew_interval=interval, status_update_frequency=interval)
    return SimulatedAgent(client, simulated_node_configs(count, name_prefix=unique, labels=labels, **config),
                          heartbeat=heartbeat)


async def create_pod(client: Client, namespace: str, name: str, node: str | None = None, *,
                     tolerations: list[Obj] | None = None, **spec: Any) -> Obj:
    body: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                 "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec}}
    if tolerations is not None:
        body["spec"]["tolerations"] = tolerations
    pod: Obj = await client.create(f"/api/v1/namespaces/{namespace}/pods", body)
    if node is not None:
        await client.create(f"/api/v1/namespaces/{namespace}/pods/{name}/binding",
                            {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                             "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
    return pod


def is_running_ready(pod: Obj | None) -> bool:
    status = (pod or {}).get("status") or {}
    ready = {c.get("type"): c.get("status") for c in status.get("conditions") or []}.get("Ready")
    return status.get("phase") == "Running" and ready == "True" and bool(status.get("podIP"))


async def delete_nodes(client: Client, names: list[str]) -> None:
    """Delete test nodes and their Leases (force-deleting pods left on them)."""
    for name in names:
        with contextlib.suppress(APIError):
            await client.delete(f"/api/v1/nodes/{name}")
        with contextlib.suppress(APIError):
            await client.delete(f"{LEASES}/{name}")
    pods = await client.get("/api/v1/pods", fieldSelector="spec.nodeName!=")
    for pod in pods.get("items", []):
        if pod["spec"].get("nodeName") in names:
            with contextlib.suppress(APIError):
                meta = pod["metadata"]
                await client.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                                    {"gracePeriodSeconds": 0})


async def poll(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 10.0,
               interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; raise AssertionError after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
