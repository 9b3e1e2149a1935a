"""``kubectl get nodes`` / ``describe node`` (1.27 and 1.33) on simulated nodes: Ready, then NotReady once a
node's kubelet is made to fail from the command line (the ``kyb.io/simulate-failure`` annotation) and the
node lifecycle controller notices.  kubectl runs in a thread so the agent and controller keep running."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kybernetes.client.rest import Client
from kybernetes.controllers.nodelifecycle import NodeLifecycleController
from kybernetes.kubelet.simulated import FAILURE_ANNOTATION
from tests.compat.conftest import row, table
from tests.conftest import Kubectl
from tests.kubelet.helpers import TEST_LABEL, delete_nodes, fast_agent, poll, running

pytestmark = pytest.mark.kubectl


async def test_get_nodes_ready_then_not_ready(client: Client, unique: str,
                                              kubectl_factory: Callable[[str], Kubectl]) -> None:
    kubectls = [kubectl_factory(v) for v in ("1.27", "1.33")]
    agent = fast_agent(client, unique, 2)
    down, up = list(agent.configs)
    nlc = NodeLifecycleController(client, grace_period=1.0, monitor_period=0.1,
                                  node_selector=f"{TEST_LABEL}={unique}")

    async def get_nodes(kubectl: Kubectl) -> str:
        return await asyncio.to_thread(kubectl.ok, "get", "nodes", "-l", f"{TEST_LABEL}={unique}")

    try:
        async with running(agent), running(nlc):
            await agent.registered.wait()
            for kubectl in kubectls:
                out = await get_nodes(kubectl)
                assert table(out)[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], out
                for name in (down, up):
                    got = row(out, name)
                    assert (got["STATUS"], got["ROLES"], got["VERSION"]) == ("Ready", "<none>", "v1.33.0"), out

            await asyncio.to_thread(kubectls[1].ok, "annotate", "node", down, f"{FAILURE_ANNOTATION}=true")

            async def not_ready() -> str | None:
                out = await get_nodes(kubectls[1])
                return out if row(out, down)["STATUS"] == "NotReady" else None
            out = await poll(not_ready, "kubectl to show NotReady", timeout=8, interval=0.2)
            assert row(out, up)["STATUS"] == "Ready"
            assert row(await get_nodes(kubectls[0]), down)["STATUS"] == "NotReady"

            described = await asyncio.to_thread(kubectls[1].ok, "describe", "node", down)
            assert "node.kubernetes.io/unreachable:NoSchedule" in described, described
            assert "NodeStatusUnknown" in described and "Kubelet stopped posting node status." in described
            wide = await asyncio.to_thread(kubectls[1].ok, "get", "node", up, "-o", "wide")
            got = row(wide, up)
            assert got["INTERNAL-IP"] == agent.configs[up].internal_ip and got["CONTAINER-RUNTIME"].startswith("kwok://")

            await asyncio.to_thread(kubectls[1].ok, "annotate", "node", down, f"{FAILURE_ANNOTATION}-")

            async def ready_again() -> bool:
                return row(await get_nodes(kubectls[1]), down)["STATUS"] == "Ready"
            await poll(ready_again, "kubectl to show Ready again", timeout=8, interval=0.2)
    finally:
        await delete_nodes(client, list(agent.configs))
