"""``kubectl delete --cascade=...`` with the real kubectl binaries, the collector doing its part.

No deployment controller runs here, so the ReplicaSet is made by hand with the ownerReference
the controller would give it (``controller`` and ``blockOwnerDeletion`` true).  kubectl runs in a
thread so the collector keeps running in the test's event loop meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from kybernetes.client.rest import Client
from kybernetes.controllers.garbagecollector import GarbageCollector
from tests.conftest import Kubectl
from tests.controllers.conftest import get_or_none, wait_until

pytestmark = pytest.mark.kubectl
VERSIONS = ("1.33", "1.27")


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def replicaset(deploy: dict[str, Any]) -> dict[str, Any]:
    name = deploy["metadata"]["name"]
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": deploy["metadata"]["uid"],
             "controller": True, "blockOwnerDeletion": True}
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": f"{name}-5d8f", "labels": {"app": name}, "ownerReferences": [owner]},
          "spec": {k: deploy["spec"][k] for k in ("replicas", "selector", "template")}}
    return rs


@pytest.fixture(params=VERSIONS)
def kubectl(request: pytest.FixtureRequest, kubectls: dict[str, str], kubectl_factory: Any) -> Kubectl:
    if request.param not in kubectls:
        pytest.skip(f"kubectl {request.param} is not installed")
    k: Kubectl = kubectl_factory(request.param)
    return k


async def setup(client: Client, namespace: str, name: str) -> tuple[str, str]:
    apps = f"/apis/apps/v1/namespaces/{namespace}"
    deploy = await client.create(f"{apps}/deployments", deployment(name))
    rs = await client.create(f"{apps}/replicasets", replicaset(deploy))
    return f"{apps}/deployments/{name}", f"{apps}/replicasets/{rs['metadata']['name']}"


async def test_delete_foreground(client: Client, namespace: str, kubectl: Kubectl) -> None:
    deploy_path, rs_path = await setup(client, namespace, "web")
    out = await asyncio.to_thread(kubectl.ok, "-n", namespace, "delete", "deployment", "web",
                                  "--cascade=foreground", "--timeout=3s")
    assert 'deployment.apps "web" deleted' in out
    # kubectl waited for the deployment to go, which the collector allows only once the RS is gone.
    assert await get_or_none(client, deploy_path) is None
    assert await get_or_none(client, rs_path) is None


async def test_delete_orphan(gc: GarbageCollector, client: Client, namespace: str, kubectl: Kubectl) -> None:
    deploy_path, _ = await setup(client, namespace, "web")
    await asyncio.to_thread(kubectl.ok, "-n", namespace, "delete", "deployment", "web", "--cascade=orphan",
                            "--timeout=3s")
    assert await get_or_none(client, deploy_path) is None
    out = await asyncio.to_thread(kubectl.ok, "-n", namespace, "get", "replicaset", "-o", "json")
    [rs] = json.loads(out)["items"]
    assert "ownerReferences" not in rs["metadata"]
    assert rs["metadata"]["labels"] == {"app": "web"}


async def test_delete_background(gc: GarbageCollector, client: Client, namespace: str, kubectl: Kubectl) -> None:
    deploy_path, rs_path = await setup(client, namespace, "web")
    await asyncio.to_thread(kubectl.ok, "-n", namespace, "delete", "deployment", "web", "--timeout=3s")
    assert await get_or_none(client, deploy_path) is None

    async def rs_gone() -> bool:
        return await get_or_none(client, rs_path) is None
    await wait_until(rs_gone, "the ReplicaSet to be collected")
