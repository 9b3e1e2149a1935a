"""Node lifecycle end to end: simulated nodes, the controller over HTTP, a real API server.

A node whose kubelet stops heartbeating turns Ready=Unknown within the grace period (2 s here), gets the
``unreachable`` taints, its pods are marked not ready and evicted by their tolerations (at once, after 2 s,
not within the test for the default 300 s); the other node is untouched.  When the kubelet comes back the
taints go, the node is Ready and the evicted pods finish their graceful deletion.  A kubelet reporting
NotReady gets the ``not-ready`` taints; a node that never reports gets Unknown after the startup grace."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from kybernetes.client.rest import Client
from kybernetes.controllers.nodelifecycle import NOT_READY, UNREACHABLE, NodeLifecycleController
from kybernetes.kubelet.node import NodeReport
from tests.controllers.conftest import get_or_none
from tests.kubelet.helpers import (
    TEST_LABEL,
    create_pod,
    delete_nodes,
    fast_agent,
    is_running_ready,
    poll,
    running,
)

Obj = dict[str, Any]
GRACE = 2.0


def toleration(seconds: int) -> Obj:
    return {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}


def conditions(node: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in node["status"]["conditions"]}


def taints(node: Obj) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or []}


async def test_unreachable_node_is_tainted_and_its_pods_evicted(client: Client, namespace: str,
                                                                unique: str) -> None:
    agent = fast_agent(client, unique, 2)
    victim, healthy = list(agent.configs)
    nlc = NodeLifecycleController(client, grace_period=GRACE, monitor_period=0.2,
                                  node_selector=f"{TEST_LABEL}={unique}")
    pods = f"/api/v1/namespaces/{namespace}/pods"
    try:
        async with running(agent), running(nlc):
            await agent.registered.wait()
            await create_pod(client, namespace, "now", victim, tolerations=[toleration(0)])
            await create_pod(client, namespace, "soon", victim, tolerations=[toleration(2)])
            await create_pod(client, namespace, "default", victim)  # admission: 300 s
            await create_pod(client, namespace, "elsewhere", healthy, tolerations=[toleration(0)])
            for name in ("now", "soon", "default", "elsewhere"):
                await poll(functools.partial(_ready, client, f"{pods}/{name}"), f"pod {name} running")
            await poll(lambda: _async(nlc.passes > 0 and victim in nlc.health), "the controller to see the node")

            loop = asyncio.get_running_loop()
            stopped_at = loop.time()
            agent.stop_heartbeat(victim)

            async def unknown() -> Obj | None:
                node = await client.get(f"/api/v1/nodes/{victim}")
                return node if conditions(node)["Ready"]["status"] == "Unknown" else None
            node = await poll(unknown, "Ready=Unknown", timeout=GRACE + 3)
            elapsed = loop.time() - stopped_at
            assert GRACE - 0.5 <= elapsed <= GRACE + 2, elapsed
            ready = conditions(node)["Ready"]
            assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
            assert {conditions(node)[t]["status"] for t in ("MemoryPressure", "DiskPressure", "PIDPressure")} == \
                {"Unknown"}

            async def tainted() -> Obj | None:
                node = await client.get(f"/api/v1/nodes/{victim}")
                return node if {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")} <= taints(node) else None
            node = await poll(tainted, "the unreachable taints", timeout=3)
            assert all(t.get("timeAdded") for t in node["spec"]["taints"])

            now_pod = await poll(lambda: _deleting(client, f"{pods}/now"), "pod now evicted", timeout=3)
            assert {c["type"]: c for c in now_pod["status"]["conditions"]}["DisruptionTarget"]["reason"] == \
                "DeletionByTaintManager"
            default_pod = await client.get(f"{pods}/default")
            assert {c["type"]: c["status"] for c in default_pod["status"]["conditions"]}["Ready"] == "False"
            tainted_at = loop.time()
            await poll(lambda: _deleting(client, f"{pods}/soon"), "pod soon evicted", timeout=5)
            assert loop.time() - tainted_at >= 0.9  # 2 s after the taint, which came before we looked

            await nlc.eviction_recorder.flush()
            await nlc.recorder.flush()
            events = (await client.get(f"/api/v1/namespaces/{namespace}/events"))["items"]
            assert any(e["reason"] == "TaintManagerEviction" and e["message"] == f"Marking for deletion Pod {namespace}/now"
                       for e in events), events
            assert any(e["reason"] == "NodeNotReady" and e["message"] == "Node is not ready"
                       and e["involvedObject"]["name"] == "default" for e in events), events
            node_events = (await client.get("/api/v1/namespaces/default/events"))["items"]
            assert any(e["reason"] == "NodeNotReady" and e["involvedObject"]["name"] == victim
                       and e["message"] == f"Node {victim} status is now: NodeNotReady" for e in node_events)

            assert not (await client.get(f"{pods}/default"))["metadata"].get("deletionTimestamp")
            assert not (await client.get(f"{pods}/elsewhere"))["metadata"].get("deletionTimestamp")
            other = await client.get(f"/api/v1/nodes/{healthy}")
            assert conditions(other)["Ready"]["status"] == "True" and not taints(other)

            agent.resume_heartbeat(victim)

            async def healthy_again() -> bool:
                node = await client.get(f"/api/v1/nodes/{victim}")
                return conditions(node)["Ready"]["status"] == "True" and not taints(node)
            await poll(healthy_again, "the node to be Ready and untainted again", timeout=5)
            for name in ("now", "soon"):
                await poll(functools.partial(_gone, client, f"{pods}/{name}"), f"pod {name} to finish deleting")
            await poll(lambda: _ready(client, f"{pods}/default"), "pod default ready again")
    finally:
        await delete_nodes(client, list(agent.configs))


async def test_not_ready_node_gets_the_not_ready_taints(client: Client, unique: str) -> None:
    agent = fast_agent(client, unique, 2)
    sick, _ = list(agent.configs)
    nlc = NodeLifecycleController(client, grace_period=GRACE, monitor_period=0.1,
                                  node_selector=f"{TEST_LABEL}={unique}")
    try:
        async with running(agent), running(nlc):
            await agent.registered.wait()
            agent.heartbeat.set_report(sick, NodeReport(ready=False, not_ready_message="PLEG is not healthy"))
            node = await poll(lambda: _tainted(client, sick), "the not-ready taints", timeout=5)
            assert taints(node) >= {(NOT_READY, "NoSchedule")}
            node = await poll(lambda: _tainted(client, sick, 2), "the not-ready NoExecute taint", timeout=5)
            assert taints(node) == {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")}
            assert conditions(node)["Ready"]["message"] == "PLEG is not healthy"  # the kubelet's, not ours
            agent.heartbeat.set_report(sick, NodeReport())

            async def clean() -> bool:
                return not taints(await client.get(f"/api/v1/nodes/{sick}"))
            await poll(clean, "the taints to go", timeout=5)
    finally:
        await delete_nodes(client, list(agent.configs))


async def test_never_reporting_node_gets_the_startup_grace(client: Client, unique: str) -> None:
    name = f"{unique}-bare"
    await client.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                          "metadata": {"name": name, "labels": {TEST_LABEL: unique}}})
    nlc = NodeLifecycleController(client, grace_period=0.5, startup_grace_period=1.0, monitor_period=0.1,
                                  node_selector=f"{TEST_LABEL}={unique}")
    try:
        async with running(nlc):
            async def marked() -> Obj | None:
                node = await client.get(f"/api/v1/nodes/{name}")
                conds = (node.get("status") or {}).get("conditions") or []
                return node if any(c["type"] == "Ready" for c in conds) else None
            node = await poll(marked, "the Unknown conditions", timeout=5)
            assert {c["type"]: (c["status"], c["reason"]) for c in node["status"]["conditions"]} == {
                t: ("Unknown", "NodeStatusNeverUpdated") for t in ("Ready", "MemoryPressure", "DiskPressure",
                                                                    "PIDPressure")}
            # the only node of its zone is down: all zones are, so no NoExecute taint (master disruption)
            node = await poll(lambda: _tainted(client, name), "the NoSchedule taint", timeout=3)
            assert taints(node) == {(UNREACHABLE, "NoSchedule")}
    finally:
        await delete_nodes(client, [name])


async def _tainted(client: Client, name: str, count: int = 1) -> Obj | None:
    node: Obj = await client.get(f"/api/v1/nodes/{name}")
    return node if len(taints(node)) >= count else None


async def _ready(client: Client, path: str) -> bool:
    return is_running_ready(await get_or_none(client, path))


async def _deleting(client: Client, path: str) -> Obj | None:
    pod = await get_or_none(client, path)
    return pod if pod and pod["metadata"].get("deletionTimestamp") else None


async def _gone(client: Client, path: str) -> bool:
    return await get_or_none(client, path) is None


async def _async(value: Any) -> Any:
    return value
