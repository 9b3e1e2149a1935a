"""ReplicaSets and ReplicationControllers end to end: the real API server, the controller over HTTP,
a fake kubelet standing in for the nodes (see ``test_replicaset_support``)."""

from __future__ import annotations

from typing import Any

from kybernetes.client.rest import Client
from tests.controllers.conftest import wait_until
from tests.controllers.test_replicaset_support import (
    Obj,
    Workloads,
    events_of,
    is_ready,
    live,
    pods_of,
    workloads,
)

__all__ = ["workloads"]  # the fixture, used by name


def replicaset(name: str, replicas: int, labels: dict[str, str] | None = None, image: str = "nginx:1") -> Obj:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels, "annotations": {"note": "from-template"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def bare_pod(name: str, labels: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}


class RS:
    def __init__(self, client: Client, namespace: str, name: str, plural: str = "replicasets", group: str = "apps/v1"):
        self.client, self.namespace, self.name = client, namespace, name
        base = f"/apis/{group}" if "/" in group else f"/api/{group}"
        self.path = f"{base}/namespaces/{namespace}/{plural}/{name}"

    async def get(self) -> Obj:
        obj: Obj = await self.client.get(self.path)
        return obj

    async def scale(self, n: int) -> None:
        await self.client.patch(self.path, {"spec": {"replicas": n}})

    async def owned_pods(self) -> list[Obj]:
        uid = (await self.get())["metadata"]["uid"]
        return [p for p in await pods_of(self.client, self.namespace)
                if any(r["uid"] == uid and r.get("controller") for r in p["metadata"].get("ownerReferences") or [])]

    async def wait_settled(self, n: int, ready: int | None = None) -> Obj:
        """Until exactly ``n`` live owned pods exist (``ready`` of them ready) and the status says so."""
        want_ready = n if ready is None else ready

        async def settled() -> Obj | None:
            rs = await self.get()
            pods = live(await self.owned_pods())
            st = rs.get("status") or {}
            if (len(pods) == n and sum(map(is_ready, pods)) == want_ready and st.get("replicas", 0) == n
                    and st.get("readyReplicas", 0) == want_ready
                    and st.get("observedGeneration") == rs["metadata"]["generation"]):
                return rs
            return None
        result: Obj = await wait_until(settled, f"{self.name}: {n} pods, {want_ready} ready", timeout=15)
        return result


async def test_creates_pods_from_the_template(workloads: Workloads, client: Client, namespace: str) -> None:
    await client.create(f"/apis/apps/v1/namespaces/{namespace}/replicasets", replicaset("web", 3))
    rs = await RS(client, namespace, "web").wait_settled(3)
    st = rs["status"]
    assert (st["replicas"], st["fullyLabeledReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
    pods = await RS(client, namespace, "web").owned_pods()
    for p in pods:
        m = p["metadata"]
        assert m["name"].startswith("web-") and len(m["name"]) == len("web-") + 5
        assert m["labels"] == {"app": "web"} and m["annotations"] == {"note": "from-template"}
        (ref,) = m["ownerReferences"]
        assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
                       "controller": True, "blockOwnerDeletion": True}

    async def created_events() -> list[Any]:
        evs = [e for e in await events_of(client, namespace, "web") if e[1] == "SuccessfulCreate"]
        return evs if len(evs) == 3 else []
    evs = await wait_until(created_events, "3 SuccessfulCreate events")
    assert sorted(e[2] for e in evs) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    assert all(e[0] == "Normal" for e in evs)


async def test_scale_up_and_down_deletes_unready_first(workloads: Workloads, client: Client, namespace: str) -> None:
    rs = RS(client, namespace, "web")
    await client.create(f"/apis/apps/v1/namespaces/{namespace}/replicasets", replicaset("web", 2))
    await rs.wait_settled(2)
    ready_before = {p["metadata"]["name"] for p in await rs.owned_pods()}
    workloads.kubelet.ready = False  # the next pods stay not ready
    await rs.scale(5)
    await rs.wait_settled(5, ready=2)
    await rs.scale(2)
    await rs.wait_settled(2)
    assert {p["metadata"]["name"] for p in live(await rs.owned_pods())} == ready_before

    async def deleted_events() -> list[Any]:
        evs = [e for e in await events_of(client, namespace, "web") if e[1] == "SuccessfulDelete"]
        return evs if len(evs) == 3 else []
    assert all(e[2].startswith("Deleted pod: web-") for e in await wait_until(deleted_events, "3 deletions"))


async def test_replaces_failed_and_vanished_pods(workloads: Workloads, client: Client, namespace: str) -> None:
    rs = RS(client, namespace, "web")
    await client.create(f"/apis/apps/v1/namespaces/{namespace}/replicasets", replicaset("web", 3))
    await rs.wait_settled(3)
    victim, failing = [p["metadata"]["name"] for p in await rs.owned_pods()][:2]
    await client.delete(f"/api/v1/namespaces/{namespace}/pods/{victim}", {"gracePeriodSeconds": 0})
    await client.patch(f"/api/v1/namespaces/{namespace}/pods/{failing}/status", {"status": {"phase": "Failed"}})
    await rs.wait_settled(3)
    names = {p["metadata"]["name"] for p in live(await rs.owned_pods())}
    assert victim not in names and failing not in names


async def test_adopts_orphans_and_deletes_the_surplus(workloads: Workloads, client: Client, namespace: str) -> None:
    labels = {"app": "hand"}
    for i in range(5):
        await client.create(f"/api/v1/namespaces/{namespace}/pods", bare_pod(f"hand-{i}", labels))
    await client.create(f"/api/v1/namespaces/{namespace}/pods", bare_pod("other", {"app": "other"}))
    await client.create(f"/apis/apps/v1/namespaces/{namespace}/replicasets", replicaset("hand", 3, labels))
    rs = RS(client, namespace, "hand")
    got = await rs.wait_settled(3)
    owned = live(await rs.owned_pods())
    assert {p["metadata"]["name"] for p in owned} <= {f"hand-{i}" for i in range(5)}  # no new pod made
    for p in owned:
        (ref,) = p["metadata"]["ownerReferences"]
        assert ref["uid"] == got["metadata"]["uid"] and ref["controller"] and ref["blockOwnerDeletion"]
    other = await client.get(f"/api/v1/namespaces/{namespace}/pods/other")
    assert not other["metadata"].get("ownerReferences")


async def test_releases_a_pod_whose_labels_stop_matching(workloads: Workloads, client: Client, namespace: str) -> None:
    rs = RS(client, namespace, "web")
    await client.create(f"/apis/apps/v1/namespaces/{namespace}/replicasets", replicaset("web", 2))
    await rs.wait_settled(2)
    name = (await rs.owned_pods())[0]["metadata"]["name"]
    await client.patch(f"/api/v1/namespaces/{namespace}/pods/{name}", {"metadata": {"labels": {"app": "debug"}}})

    async def released() -> bool:
        pod = await client.get(f"/api/v1/namespaces/{namespace}/pods/{name}")
        return not pod["metadata"].get("ownerReferences")
    await wait_until(released, "the relabelled pod released")
    await rs.wait_settled(2)
    assert name not in {p["metadata"]["name"] for p in await rs.owned_pods()}


async def test_replication_controller(workloads: Workloads, client: Client, namespace: str) -> None:
    rc: Obj = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
               "spec": {"replicas": 2, "selector": {"app": "legacy"},
                        "template": {"metadata": {"labels": {"app": "legacy"}},
                                     "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}
    await client.create(f"/api/v1/namespaces/{namespace}/replicationcontrollers", rc)
    ctl = RS(client, namespace, "legacy", "replicationcontrollers", "v1")
    got = await ctl.wait_settled(2)
    assert got["status"]["availableReplicas"] == 2
    for p in await ctl.owned_pods():
        assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    await ctl.scale(0)
    await ctl.wait_settled(0)


async def test_min_ready_seconds_delays_availability(workloads: Workloads, client: Client, namespace: str) -> None:
    body = replicaset("slow", 2)
    body["spec"]["minReadySeconds"] = 2
    await client.create(f"/apis/apps/v1/namespaces/{namespace}/replicasets", body)
    rs = RS(client, namespace, "slow")
    got = await rs.wait_settled(2)
    assert got["status"].get("availableReplicas", 0) == 0, "available before minReadySeconds passed"

    async def available() -> bool:
        # No pod changes from here on: only the controller's own timed re-sync can notice.
        return (await rs.get())["status"].get("availableReplicas") == 2
    await wait_until(available, "both pods available after minReadySeconds", timeout=5)
