"""``kubectl rollout ...`` with the real kubectl binaries (1.27 and 1.33) against our controllers.

Everything ``rollout`` does is client-side (kubectl reads ReplicaSets, their revision annotations
and the deployment's status); these tests check that what the controllers write is what it
needs.  kubectl runs in a thread so the controllers keep running in the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from kybernetes.client.rest import Client
from kybernetes.controllers.deployment.util import REVISION
from tests.conftest import Kubectl
from tests.controllers.conftest import wait_until
from tests.controllers.test_replicaset_support import Workloads, is_ready, live, pods_of, workloads

pytestmark = pytest.mark.kubectl
__all__ = ["workloads"]
VERSIONS = ("1.33", "1.27")


@pytest.fixture(params=VERSIONS)
def kubectl(request: pytest.FixtureRequest, kubectls: dict[str, str], kubectl_factory: Any) -> Kubectl:
    if request.param not in kubectls:
        pytest.skip(f"kubectl {request.param} is not installed")
    k: Kubectl = kubectl_factory(request.param)
    return k


async def run(kubectl: Kubectl, namespace: str, *args: str) -> str:
    out: str = await asyncio.to_thread(kubectl.ok, "-n", namespace, *args, timeout=60)
    return out


async def rollout_status(kubectl: Kubectl, namespace: str) -> None:
    out = await run(kubectl, namespace, "rollout", "status", "deployment/web", "--timeout=30s")
    assert 'deployment "web" successfully rolled out' in out


async def images(client: Client, namespace: str) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in live(await pods_of(client, namespace, "app=web"))}


async def test_rollout_status_history_undo(workloads: Workloads, client: Client, namespace: str,
                                           kubectl: Kubectl) -> None:
    await run(kubectl, namespace, "create", "deployment", "web", "--image=nginx:1.25", "--replicas=3")
    await rollout_status(kubectl, namespace)
    await run(kubectl, namespace, "annotate", "deployment/web", "kubernetes.io/change-cause=second image")
    await run(kubectl, namespace, "set", "image", "deployment/web", "nginx=nginx:1.26")
    await rollout_status(kubectl, namespace)
    assert await images(client, namespace) == {"nginx:1.26"}

    history = await run(kubectl, namespace, "rollout", "history", "deployment/web")
    rows = [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()]
    assert [r[0] for r in rows] == ["1", "2"]
    assert rows[1][1].strip() == "second image"
    detail = await run(kubectl, namespace, "rollout", "history", "deployment/web", "--revision=1")
    assert "nginx:1.25" in detail

    out = await run(kubectl, namespace, "rollout", "undo", "deployment/web", "--to-revision=1")
    assert "rolled back" in out
    await rollout_status(kubectl, namespace)
    assert await images(client, namespace) == {"nginx:1.25"}
    history = await run(kubectl, namespace, "rollout", "history", "deployment/web")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]

    described = await run(kubectl, namespace, "describe", "deployment", "web")
    assert "NewReplicaSet:" in described and "(3/3 replicas created)" in described
    assert "Scaled up replica set web-" in described


async def test_rollout_restart_pause_resume(workloads: Workloads, client: Client, namespace: str,
                                            kubectl: Kubectl) -> None:
    await run(kubectl, namespace, "create", "deployment", "web", "--image=nginx:1.25", "--replicas=2")
    await rollout_status(kubectl, namespace)
    before = {p["metadata"]["name"] for p in await pods_of(client, namespace, "app=web")}
    await run(kubectl, namespace, "rollout", "restart", "deployment/web")
    await rollout_status(kubectl, namespace)
    after = live(await pods_of(client, namespace, "app=web"))
    assert len(after) == 2 and all(map(is_ready, after)) and not before & {p["metadata"]["name"] for p in after}
    d = json.loads(await run(kubectl, namespace, "get", "deployment", "web", "-o", "json"))
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    assert d["metadata"]["annotations"][REVISION] == "2"

    await run(kubectl, namespace, "rollout", "pause", "deployment/web")
    await run(kubectl, namespace, "set", "image", "deployment/web", "nginx=nginx:1.27")
    await asyncio.sleep(0.3)
    assert await images(client, namespace) == {"nginx:1.25"}, "a paused deployment rolled out"
    await run(kubectl, namespace, "rollout", "resume", "deployment/web")
    await rollout_status(kubectl, namespace)
    assert await images(client, namespace) == {"nginx:1.27"}

    await run(kubectl, namespace, "scale", "deployment/web", "--replicas=4")
    await rollout_status(kubectl, namespace)

    async def four() -> bool:
        return len(live(await pods_of(client, namespace, "app=web"))) == 4
    await wait_until(four, "4 pods")
    table = await run(kubectl, namespace, "get", "deployment", "web")
    assert table.splitlines()[1].split()[1:4] == ["4/4", "4", "4"]


async def test_rollout_status_reports_the_progress_deadline(workloads: Workloads, client: Client, namespace: str,
                                                            kubectl: Kubectl) -> None:
    await run(kubectl, namespace, "create", "deployment", "web", "--image=nginx:1.25", "--replicas=2")
    await rollout_status(kubectl, namespace)
    await run(kubectl, namespace, "patch", "deployment/web", "-p", '{"spec":{"progressDeadlineSeconds":1}}')
    workloads.kubelet.hold.add("nginx:never")
    await run(kubectl, namespace, "set", "image", "deployment/web", "nginx=nginx:never")
    r = await asyncio.to_thread(kubectl, "-n", namespace, "rollout", "status", "deployment/web", "--timeout=20s")
    assert r.rc != 0 and 'deployment "web" exceeded its progress deadline' in r.err, r
