"""Pod GC end to end against a real API server (collection limited to the test's namespace): orphans of a
node that does not exist are failed and force-deleted after the quarantine, pods on existing nodes stay,
terminated pods beyond the threshold go oldest first, and an unscheduled terminating pod is failed."""

from __future__ import annotations

import contextlib
from typing import Any

from kybernetes.client.rest import APIError, Client
from kybernetes.controllers.podgc import PodGC
from tests.controllers.conftest import get_or_none
from tests.kubelet.helpers import create_pod, delete_nodes, poll, running

Obj = dict[str, Any]


async def test_orphans_and_terminated_pods_are_collected(client: Client, namespace: str, unique: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    real = f"{unique}-real"
    await client.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": real}})
    gc = PodGC(client, quarantine=0.5, period=0.1, terminated_threshold=2, namespace=namespace)
    try:
        await create_pod(client, namespace, "orphan", f"{unique}-ghost")
        await create_pod(client, namespace, "kept", real)
        for name in ("done-a", "done-b", "done-c"):
            await create_pod(client, namespace, name)
            await client.patch(f"{pods}/{name}/status", {"status": {"phase": "Succeeded"}},
                               "application/strategic-merge-patch+json")
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
        await client.create(pods, body)
        await client.delete(f"{pods}/held")
        async with running(gc):
            await poll(lambda: _gone(client, f"{pods}/orphan"), "the orphan to be collected", timeout=5)
            assert await get_or_none(client, f"{pods}/kept") is not None
            await poll(lambda: _gone(client, f"{pods}/done-a"), "the oldest terminated pod to go", timeout=3)
            assert await get_or_none(client, f"{pods}/done-c") is not None

            async def failed() -> bool:
                pod = await get_or_none(client, f"{pods}/held")
                return bool(pod and pod["status"]["phase"] == "Failed")
            await poll(failed, "the unscheduled terminating pod to be failed", timeout=3)
            assert gc.deleted >= 3
    finally:
        with contextlib.suppress(APIError):
            await client.patch(f"{pods}/held", {"metadata": {"finalizers": None}})
        await delete_nodes(client, [real])


async def _gone(client: Client, path: str) -> bool:
    return await get_or_none(client, path) is None
