"""End to end: the scheduler as an asyncio task against a real API server process, over HTTP only.

Nodes are created through the API with allocatable and a Ready condition (no
kubelet runs: a bound pod just stays bound).  Checked: placement respects
resources, selectors, affinity and taints; other schedulers' pods and pods
being deleted are left alone; an unschedulable pod gets the PodScheduled=False
condition and the FailedScheduling event in upstream's words, and is bound as
soon as the cluster changes in its favour (a node added, a pod deleted); a
binding lost to another binder leaves no trace of the assumption.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kybernetes.client.rest import Client
from kybernetes.scheduler import DEFAULT_PLUGINS, REGISTRY, Profile, Scheduler, SchedulerConfig, run_scheduler
from kybernetes.scheduler.framework import BindPlugin, CycleState
from kybernetes.scheduler.plugins.defaultbinder import DefaultBinder
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import Status
from tests.scheduler.builders import node, pod
from tests.scheduler.conftest import Nodes
from tests.serverproc import ServerProc

CP = ("node-role.kubernetes.io/control-plane", "", "NoSchedule")


async def wait_until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def scheduler(server: ServerProc) -> AsyncIterator[None]:
    """A default-scheduler running in this test's event loop, synced before the test goes on."""
    ready = asyncio.Event()
    task = asyncio.create_task(run_scheduler(server.url, ready=ready))
    await asyncio.wait_for(ready.wait(), 10)
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def wire(p: dict[str, Any]) -> dict[str, Any]:
    """A builder pod as a client would send it: no uid, resourceVersion or status."""
    meta = {k: v for k, v in p["metadata"].items() if k not in ("uid", "resourceVersion", "namespace")}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": p["spec"]}


class Pods:
    def __init__(self, client: Client, namespace: str):
        self.client, self.ns = client, namespace

    async def create(self, p: dict[str, Any]) -> None:
        await self.client.create(f"/api/v1/namespaces/{self.ns}/pods", wire(p))

    async def get(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = await self.client.get(f"/api/v1/namespaces/{self.ns}/pods/{name}")
        return obj

    async def node_of(self, name: str) -> str:
        return str((await self.get(name))["spec"].get("nodeName") or "")

    async def bound(self, *names: str) -> dict[str, str] | None:
        placed = {n: await self.node_of(n) for n in names}
        return placed if all(placed.values()) else None

    async def condition(self, name: str) -> dict[str, Any] | None:
        conditions = (await self.get(name)).get("status", {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"), None)

    async def events(self, name: str, reason: str) -> list[dict[str, Any]]:
        items = (await self.client.get(f"/api/v1/namespaces/{self.ns}/events"))["items"]
        return [e for e in items if e["involvedObject"]["name"] == name and e["reason"] == reason]


@pytest.fixture
def pods(client: Client, namespace: str) -> Pods:
    return Pods(client, namespace)


async def test_placement_respects_resources_selectors_and_taints(
        server: ServerProc, client: Client, nodes: Nodes, pods: Pods) -> None:
    await nodes.create(node("small", cpu="1"))
    await nodes.create(node("ssd", cpu="4", labels={"disk": "ssd"}))
    await nodes.create(node("gpu", cpu="8", taints=[("dedicated", "gpu", "NoSchedule")]))
    # Present before the scheduler starts: another scheduler's pod and one being deleted.
    await pods.create(pod("foreign", "100m", scheduler_name="someone-else"))
    dying = pod("dying", "100m")
    dying["metadata"]["finalizers"] = ["example.com/hold"]
    await pods.create(dying)
    await client.delete(f"/api/v1/namespaces/{pods.ns}/pods/dying")

    ready = asyncio.Event()
    task = asyncio.create_task(run_scheduler(server.url, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        on_gpu = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["gpu"]}]}]}}}
        batch = [pod(f"web-{i}", "1") for i in range(4)]
        batch += [pod("db", "1", node_selector={"disk": "ssd"}),
                  pod("trainer", "2", affinity=on_gpu, tolerations=[{"key": "dedicated", "operator": "Equal",
                                                                     "value": "gpu", "effect": "NoSchedule"}])]
        await asyncio.gather(*(pods.create(p) for p in batch))
        names = [p["metadata"]["name"] for p in batch]
        placed = await wait_until(lambda: pods.bound(*names), "all six pods bound")
        assert placed["db"] == "ssd" and placed["trainer"] == "gpu"
        web_nodes = sorted(placed[f"web-{i}"] for i in range(4))
        assert web_nodes == ["small", "ssd", "ssd", "ssd"], "1 cpu on small, 3 + db = 4 cpu on ssd, none on gpu"
        event = await wait_until(lambda: pods.events("db", "Scheduled"), "Scheduled event")
        assert event[0]["message"] == f"Successfully assigned {pods.ns}/db to ssd"
        assert event[0]["type"] == "Normal" and event[0]["source"]["component"] == "default-scheduler"
        await asyncio.sleep(0.3)
        assert await pods.node_of("foreign") == "" and await pods.node_of("dying") == ""
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.patch(f"/api/v1/namespaces/{pods.ns}/pods/dying", {"metadata": {"finalizers": None}})


UNSCHEDULABLE_MESSAGE = (
    "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
    "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
    "3 Preemption is not helpful for scheduling.")


async def test_unschedulable_pod_reports_then_schedules_when_a_node_appears(
        scheduler: None, nodes: Nodes, pods: Pods) -> None:
    await nodes.create(node("cp-1", taints=[CP]))
    await nodes.create(node("cp-2", taints=[CP]))
    await nodes.create(node("worker", cpu="2"))
    await pods.create(pod("huge", "6"))
    condition = await wait_until(lambda: pods.condition("huge"), "PodScheduled=False")
    assert condition["reason"] == "Unschedulable"
    assert condition["message"] == UNSCHEDULABLE_MESSAGE
    events = await wait_until(lambda: pods.events("huge", "FailedScheduling"), "FailedScheduling event")
    assert events[0]["type"] == "Warning" and events[0]["message"] == UNSCHEDULABLE_MESSAGE

    await nodes.create(node("big", cpu="8"))
    assert await wait_until(lambda: pods.node_of("huge"), "binding after the node appeared") == "big"
    scheduled = await wait_until(lambda: pods.events("huge", "Scheduled"), "Scheduled event")
    assert scheduled[0]["message"] == f"Successfully assigned {pods.ns}/huge to big"
    conditions = (await pods.get("huge"))["status"]["conditions"]
    assert [c["status"] for c in conditions if c["type"] == "PodScheduled"] == ["True"]


async def test_assumed_pods_count_and_a_deleted_pod_frees_room(
        scheduler: None, client: Client, nodes: Nodes, pods: Pods) -> None:
    await nodes.create(node("solo", cpu="2"))
    await asyncio.gather(*(pods.create(pod(f"p{i}", "1")) for i in range(5)))
    names = [f"p{i}" for i in range(5)]

    async def split() -> tuple[list[str], list[str]] | None:
        bound = [n for n in names if await pods.node_of(n)]
        waiting = [n for n in names if await pods.condition(n)]
        return (bound, waiting) if len(bound) + len(waiting) == 5 else None

    bound, waiting = await wait_until(split, "two bound, three reported unschedulable")
    assert len(bound) == 2, "decisions made before the bindings were seen must not overcommit the node"
    message = (await pods.condition(waiting[0]) or {})["message"]
    assert message == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                       "1 No preemption victims found for incoming pod.")
    await client.delete(f"/api/v1/namespaces/{pods.ns}/pods/{bound[0]}", {"gracePeriodSeconds": 0})

    async def one_more() -> bool:
        return sum([bool(await pods.node_of(n)) for n in waiting]) == 1

    await wait_until(one_more, "a waiting pod bound after a bound pod was deleted")
    await asyncio.sleep(0.5)
    assert sum([bool(await pods.node_of(n)) for n in waiting]) == 1, "and only one"


class RacingBinder(BindPlugin):
    """Binds the pod to ``other`` first, as a second scheduler would, then lets DefaultBinder try."""

    name = "RacingBinder"

    def __init__(self, client: Client):
        self.client = client
        self.inner = DefaultBinder(client)

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod.name},
                "target": {"kind": "Node", "name": "other"}}
        await self.client.create(f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/binding", body)
        return await self.inner.bind(state, pod, node_name)


async def test_lost_binding_race_forgets_the_assumption(server: ServerProc, nodes: Nodes, pods: Pods) -> None:
    await nodes.create(node("mine"))
    await nodes.create(node("other", taints=[("elsewhere", "", "NoSchedule")]))  # never our choice
    profile = Profile(plugins=[(n, w) if n != "DefaultBinder" else ("RacingBinder", 0) for n, w in DEFAULT_PLUGINS])
    registry = dict(REGISTRY, RacingBinder=lambda args, handle: RacingBinder(handle.client))
    client, events = Client(server.url), Client(server.url)
    scheduler = Scheduler(client, SchedulerConfig(profile=profile, registry=registry), events_client=events)
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.wait_for(scheduler.synced.wait(), 10)
        await pods.create(pod("contested", "1"))
        assert await wait_until(lambda: pods.node_of("contested"), "the other binder's binding") == "other"

        async def settled() -> bool:
            ni = scheduler.cache.node_info("other")
            return ni is not None and len(ni.pods) == 1 and scheduler.cache.assumed_count() == 0
        await wait_until(settled, "the cache to follow the binding that won")
        mine = scheduler.cache.node_info("mine")
        assert mine is not None and not mine.pods and mine.req_cpu == 0, "the lost assumption was forgotten"
        assert scheduler.queue.where(f"{pods.ns}/contested") in ("", "backoff")
        assert await pods.condition("contested") is None, "a pod bound by someone else is not reported"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
        await events.close()
