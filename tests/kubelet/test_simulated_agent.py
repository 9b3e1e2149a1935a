"""The simulated agent end to end against a real API server: nodes register and stay alive through their
Leases, bound pods run with an IP from the node's CIDR, graceful deletion completes, a node can be made to
stop heartbeating (method or annotation) and come back, and a restarted agent picks up where it was."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from kybernetes.client.rest import APIError, Client
from kybernetes.kubelet.node import LEASES
from kybernetes.kubelet.simulated import FAILURE_ANNOTATION
from tests.kubelet.helpers import create_pod, delete_nodes, fast_agent, is_running_ready, poll, running

Obj = dict[str, Any]


async def get(client: Client, path: str) -> Obj | None:
    try:
        obj: Obj = await client.get(path)
        return obj
    except APIError as e:
        if e.code == 404:
            return None
        raise


async def test_nodes_register_ready_and_leases_renew(client: Client, unique: str) -> None:
    agent = fast_agent(client, unique, 3)
    names = list(agent.configs)
    try:
        async with running(agent):
            await poll(lambda: agent.registered.wait(), "registration")
            for i, name in enumerate(names):
                node = await client.get(f"/api/v1/nodes/{name}")
                ready = {c["type"]: c for c in node["status"]["conditions"]}["Ready"]
                assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
                assert node["spec"]["podCIDR"] == f"10.244.{i}.0/24"
                assert node["metadata"]["labels"]["type"] == "kwok"
                assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.33.0"
                lease = await client.get(f"{LEASES}/{name}")
                assert lease["spec"]["holderIdentity"] == name
                assert lease["spec"]["leaseDurationSeconds"] == 40
                assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
            first = (await client.get(f"{LEASES}/{names[0]}"))["spec"]["renewTime"]

            async def renewed() -> bool:
                return bool((await client.get(f"{LEASES}/{names[0]}"))["spec"]["renewTime"] > first)
            await poll(renewed, "a lease renewal", timeout=3)
            assert agent.heartbeat.renewals >= 4
    finally:
        await delete_nodes(client, names)


async def test_bound_pod_runs_then_graceful_delete_completes(client: Client, namespace: str, unique: str) -> None:
    agent = fast_agent(client, unique, 2)
    names = list(agent.configs)
    path = f"/api/v1/namespaces/{namespace}/pods"
    try:
        async with running(agent):
            await agent.registered.wait()
            await create_pod(client, namespace, "web", names[1])
            await create_pod(client, namespace, "host", names[1], hostNetwork=True)
            pod = await poll(lambda: _if(get(client, f"{path}/web"), is_running_ready), "pod web running")
            status = pod["status"]
            assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network("10.244.1.0/24")
            assert status["hostIP"] == agent.configs[names[1]].internal_ip
            assert {c["type"] for c in status["conditions"]} >= {
                "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"}
            (cs,) = status["containerStatuses"]
            assert cs["ready"] and cs["started"] and cs["containerID"].startswith("kwok://")
            host = await poll(lambda: _if(get(client, f"{path}/host"), is_running_ready), "pod host running")
            assert host["status"]["podIP"] == status["hostIP"]

            deleting = await client.delete(f"{path}/web")
            assert deleting["metadata"]["deletionGracePeriodSeconds"] == 30
            await poll(lambda: _none(get(client, f"{path}/web")), "graceful deletion to finish", timeout=5)
            assert len(agent.ips[names[1]]) == 0  # the IP went back (the host-network pod has none)
    finally:
        await delete_nodes(client, names)


async def test_stop_heartbeat_by_annotation_and_resume(client: Client, namespace: str, unique: str) -> None:
    agent = fast_agent(client, unique, 2)
    names = list(agent.configs)
    victim = names[0]
    try:
        async with running(agent):
            await agent.registered.wait()
            await client.patch(f"/api/v1/nodes/{victim}", {"metadata": {"annotations": {FAILURE_ANNOTATION: "true"}}})
            await poll(lambda: _async(victim in agent.failed), "the agent to see the annotation", timeout=3)
            await create_pod(client, namespace, "stuck", victim)
            stopped = (await client.get(f"{LEASES}/{victim}"))["spec"]["renewTime"]
            await asyncio.sleep(1.0)  # three renew intervals
            assert (await client.get(f"{LEASES}/{victim}"))["spec"]["renewTime"] == stopped
            assert (await client.get(f"/api/v1/namespaces/{namespace}/pods/stuck"))["status"]["phase"] == "Pending"

            await client.patch(f"/api/v1/nodes/{victim}", {"metadata": {"annotations": {FAILURE_ANNOTATION: None}}})

            async def renewed() -> bool:
                return bool((await client.get(f"{LEASES}/{victim}"))["spec"]["renewTime"] > stopped)
            await poll(renewed, "renewals to resume", timeout=3)
            await poll(lambda: _if(get(client, f"/api/v1/namespaces/{namespace}/pods/stuck"), is_running_ready),
                       "the pod to start after the node came back")
    finally:
        await delete_nodes(client, names)


async def test_restarted_agent_keeps_pod_ips_and_reports_again(client: Client, namespace: str,
                                                               unique: str) -> None:
    names = list(fast_agent(client, unique, 1).configs)
    path = f"/api/v1/namespaces/{namespace}/pods"
    try:
        async with running(agent := fast_agent(client, unique, 1)):
            await agent.registered.wait()
            await create_pod(client, namespace, "a", names[0])
            first = await poll(lambda: _if(get(client, f"{path}/a"), is_running_ready), "pod a running")
        async with running(agent := fast_agent(client, unique, 1)):
            await agent.registered.wait()
            await create_pod(client, namespace, "b", names[0])
            second = await poll(lambda: _if(get(client, f"{path}/b"), is_running_ready), "pod b running")
            assert second["status"]["podIP"] != first["status"]["podIP"]

            # a restarted kubelet reports its status at once (the Node was there already)
            await poll(lambda: _async(agent.heartbeat.status_posts >= 1), "the restarted agent's status report")
    finally:
        await delete_nodes(client, names)


async def _if(obj_coro: Any, pred: Any) -> Any:
    obj = await obj_coro
    return obj if pred(obj) else None


async def _none(obj_coro: Any) -> bool:
    return await obj_coro is None


async def _async(value: Any) -> Any:
    return value
