"""Deployments end to end: the real API server, the ReplicaSet and Deployment controllers over HTTP,
the fake kubelet of ``test_replicaset_support`` standing in for the nodes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from kybernetes.client.informer import Informer
from kybernetes.client.rest import JSON_PATCH, Client
from kybernetes.controllers.deployment.util import HASH_LABEL, REVISION, REVISION_HISTORY, compute_hash
from tests.controllers.conftest import wait_until
from tests.controllers.test_replicaset_support import Obj, Workloads, events_of, is_ready, live, workloads

__all__ = ["workloads"]


def deployment(name: str, replicas: int = 4, image: str = "nginx:1", **spec: Any) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, **spec,
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


class Deploy:
    def __init__(self, client: Client, namespace: str, name: str):
        self.client, self.namespace, self.name = client, namespace, name
        self.path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"

    async def create(self, body: Obj) -> Obj:
        out: Obj = await self.client.create(f"/apis/apps/v1/namespaces/{self.namespace}/deployments", body)
        return out

    async def get(self) -> Obj:
        out: Obj = await self.client.get(self.path)
        return out

    async def patch(self, patch: Obj) -> Obj:
        out: Obj = await self.client.patch(self.path, patch)
        return out

    async def set_image(self, image: str) -> None:
        await self.client.patch(self.path, [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                                             "value": image}], JSON_PATCH)

    async def replicasets(self) -> list[Obj]:
        uid = (await self.get())["metadata"]["uid"]
        items = (await self.client.get(f"/apis/apps/v1/namespaces/{self.namespace}/replicasets"))["items"]
        return sorted((rs for rs in items if any(r["uid"] == uid for r in rs["metadata"].get("ownerReferences") or [])),
                      key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, 0)))

    async def pods(self) -> list[Obj]:
        items = (await self.client.get(f"/api/v1/namespaces/{self.namespace}/pods",
                                       labelSelector=f"app={self.name}"))["items"]
        return list(items)

    async def wait_complete(self, timeout: float = 20) -> Obj:
        """Until the rollout is done as ``kubectl rollout status`` judges it, and only new pods run."""
        async def done() -> Obj | None:
            d = await self.get()
            st, want = d.get("status") or {}, d["spec"]["replicas"]
            if st.get("observedGeneration", 0) < d["metadata"]["generation"]:
                return None
            if not (st.get("updatedReplicas", 0) == st.get("replicas", 0) == st.get("availableReplicas", 0) == want):
                return None
            pods = live(await self.pods())
            image = d["spec"]["template"]["spec"]["containers"][0]["image"]
            if len(pods) != want or any(p["spec"]["containers"][0]["image"] != image or not is_ready(p) for p in pods):
                return None
            return d
        out: Obj = await wait_until(done, f"deployment {self.name} rolled out", timeout=timeout)
        return out


class RolloutWatch:
    """Follows the namespace's pods through a rollout: the fewest available (ready, not being
    deleted) and the most pods (not being deleted, not finished) seen at any moment."""

    def __init__(self, client: Client, namespace: str):
        self.informer = Informer(client, "", "v1", "pods", namespace=namespace)
        self.min_available: int | None = None
        self.max_total = 0
        self.informer.add_event_handler(lambda _: self._check(), lambda _o, _n: self._check(), lambda _: self._check())

    def _check(self) -> None:
        if not self.informer.has_synced:
            return
        pods = live(self.informer.objects())
        avail = sum(map(is_ready, pods))
        self.min_available = avail if self.min_available is None else min(self.min_available, avail)
        self.max_total = max(self.max_total, len(pods))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RolloutWatch]:
        async with self.informer:
            await self.informer.wait_synced()
            self._check()
            yield self


async def test_create_makes_a_replicaset_and_pods(workloads: Workloads, client: Client, namespace: str) -> None:
    dep = Deploy(client, namespace, "web")
    created = await dep.create(deployment("web", 3))
    d = await dep.wait_complete()
    (rs,) = await dep.replicasets()
    pod_hash = rs["metadata"]["labels"][HASH_LABEL]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert set(pod_hash) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: pod_hash}
    ann = rs["metadata"]["annotations"]
    assert (ann[REVISION], ann["deployment.kubernetes.io/desired-replicas"],
            ann["deployment.kubernetes.io/max-replicas"]) == ("1", "3", "4")
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == \
        ("Deployment", created["metadata"]["uid"], True, True)
    assert all(p["metadata"]["labels"][HASH_LABEL] == pod_hash for p in await dep.pods())
    assert d["metadata"]["annotations"][REVISION] == "1"
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert (conds["Available"]["status"], conds["Available"]["reason"]) == ("True", "MinimumReplicasAvailable")
    assert conds["Available"]["message"] == "Deployment has minimum availability."
    assert (conds["Progressing"]["reason"], conds["Progressing"]["message"]) == \
        ("NewReplicaSetAvailable", f'ReplicaSet "web-{pod_hash}" has successfully progressed.')
    evs = await wait_until(lambda: events_of(client, namespace, "web"), "events")
    assert ("Normal", "ScalingReplicaSet", f"Scaled up replica set web-{pod_hash} from 0 to 3") in evs


async def test_rolling_update_respects_surge_and_unavailability(workloads: Workloads, client: Client,
                                                                namespace: str) -> None:
    dep = Deploy(client, namespace, "web")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}
    await dep.create(deployment("web", 8, strategy=strategy, revisionHistoryLimit=1))
    await dep.wait_complete()
    async with RolloutWatch(client, namespace).running() as watch:
        await dep.set_image("nginx:2")
        await dep.wait_complete()
        await asyncio.sleep(0.2)
    assert watch.min_available is not None and watch.min_available >= 8 - 1
    assert watch.max_total <= 8 + 2
    old, new = await dep.replicasets()
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 8
    assert new["metadata"]["annotations"][REVISION] == "2"
    # A third template: the first ReplicaSet goes beyond revisionHistoryLimit 1.
    await dep.set_image("nginx:3")
    await dep.wait_complete()

    async def pruned() -> bool:
        return [rs["metadata"]["annotations"][REVISION] for rs in await dep.replicasets()] == ["2", "3"]
    await wait_until(pruned, "revision 1 pruned")


async def test_recreate_stops_old_pods_before_starting_new(workloads: Workloads, client: Client,
                                                           namespace: str) -> None:
    dep = Deploy(client, namespace, "db")
    await dep.create(deployment("db", 3, strategy={"type": "Recreate"}))
    await dep.wait_complete()
    images_together: list[set[str]] = []

    async with RolloutWatch(client, namespace).running() as watch:
        watch.informer.add_event_handler(
            None, lambda _o, _n: images_together.append(
                {p["spec"]["containers"][0]["image"] for p in watch.informer.objects()}), None)
        await dep.set_image("postgres:2")
        await dep.wait_complete()
    assert all(len(images) <= 1 for images in images_together), "old and new pods ran together"
    assert watch.min_available == 0


async def test_scaling_mid_rollout_is_proportional(workloads: Workloads, client: Client, namespace: str) -> None:
    dep = Deploy(client, namespace, "web")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    await dep.create(deployment("web", 10, strategy=strategy))
    await dep.wait_complete()
    workloads.kubelet.hold.add("nginx:broken")  # the new pods never become ready: the rollout stalls
    await dep.set_image("nginx:broken")

    async def stalled() -> list[Obj] | None:
        rss = await dep.replicasets()
        sizes = [rs["spec"]["replicas"] for rs in rss]
        return rss if len(rss) == 2 and sum(sizes) == 13 and sizes[1] == 5 else None
    await wait_until(stalled, "the rollout to stall at 8 old + 5 new")
    await dep.patch({"spec": {"replicas": 20}})

    async def scaled() -> list[int] | None:
        sizes = [rs["spec"]["replicas"] for rs in await dep.replicasets()]
        return sizes if sum(sizes) == 20 + 3 else None
    # 10 more allowed (20 + 3 surge - 13), shared 8:5 by the max-replicas (13) annotations:
    # old round(8 * 23 / 13) = 14, new round(5 * 23 / 13) = 9.
    assert await wait_until(scaled, "proportional scale-up") == [14, 9]
    workloads.kubelet.hold.clear()
    for p in await dep.pods():
        if not is_ready(p) and not p["metadata"].get("deletionTimestamp"):
            await workloads.kubelet.make_ready(p["metadata"]["name"])
    await dep.wait_complete(timeout=30)


async def test_pause_holds_the_rollout_and_resume_finishes_it(workloads: Workloads, client: Client,
                                                              namespace: str) -> None:
    dep = Deploy(client, namespace, "web")
    await dep.create(deployment("web", 2))
    await dep.wait_complete()
    await dep.patch({"spec": {"paused": True}})
    await dep.set_image("nginx:2")

    async def paused_condition() -> bool:
        conds = {c["type"]: c for c in (await dep.get())["status"].get("conditions", [])}
        c = conds.get("Progressing", {})
        return (c.get("status"), c.get("reason"), c.get("message")) == \
            ("Unknown", "DeploymentPaused", "Deployment is paused")
    await wait_until(paused_condition, "the DeploymentPaused condition")
    await asyncio.sleep(0.3)
    assert len(await dep.replicasets()) == 1, "a paused deployment made a new ReplicaSet"
    await dep.patch({"spec": {"replicas": 3}})  # scaling still applies while paused
    await wait_until(lambda: _sizes(dep, [3]), "the paused deployment scaled")
    await dep.patch({"spec": {"paused": False}})
    d = await dep.wait_complete()
    assert d["metadata"]["annotations"][REVISION] == "2"


async def _sizes(dep: Deploy, want: list[int]) -> bool:
    return [rs["spec"]["replicas"] for rs in await dep.replicasets()] == want


async def test_undo_by_template_reuses_the_old_replicaset(workloads: Workloads, client: Client,
                                                          namespace: str) -> None:
    dep = Deploy(client, namespace, "web")
    await dep.create(deployment("web", 2))
    await dep.wait_complete()
    await dep.set_image("nginx:2")
    await dep.wait_complete()
    await dep.set_image("nginx:1")  # what ``rollout undo`` does: the old template comes back
    d = await dep.wait_complete()
    first, second = sorted(await dep.replicasets(),
                           key=lambda rs: rs["spec"]["template"]["spec"]["containers"][0]["image"])
    assert len(await dep.replicasets()) == 2, "undo made a new ReplicaSet"
    assert first["metadata"]["annotations"][REVISION] == "3"
    assert first["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert first["spec"]["replicas"] == 2 and second["spec"]["replicas"] == 0
    assert d["metadata"]["annotations"][REVISION] == "3"


async def test_change_cause_is_copied_and_progress_deadline_reported(workloads: Workloads, client: Client,
                                                                     namespace: str) -> None:
    dep = Deploy(client, namespace, "web")
    body = deployment("web", 2, progressDeadlineSeconds=1)
    body["metadata"]["annotations"] = {"kubernetes.io/change-cause": "first", "kubectl.kubernetes.io/last-applied-configuration": "{}"}
    await dep.create(body)
    await dep.wait_complete()
    (rs,) = await dep.replicasets()
    assert rs["metadata"]["annotations"]["kubernetes.io/change-cause"] == "first"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in rs["metadata"]["annotations"]
    workloads.kubelet.hold.add("nginx:stuck")
    await dep.set_image("nginx:stuck")

    async def timed_out() -> Obj | None:
        conds = {c["type"]: c for c in (await dep.get())["status"].get("conditions", [])}
        c = conds.get("Progressing", {})
        return c if c.get("reason") == "ProgressDeadlineExceeded" else None
    cond = await wait_until(timed_out, "ProgressDeadlineExceeded", timeout=8)
    new = (await dep.replicasets())[-1]
    assert cond["status"] == "False"
    assert cond["message"] == f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.'


async def test_restart_mid_rollout_finishes_without_duplicates(workloads: Workloads, client: Client,
                                                               namespace: str) -> None:
    dep = Deploy(client, namespace, "web")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}
    await dep.create(deployment("web", 6, strategy=strategy))
    await dep.wait_complete()
    async with RolloutWatch(client, namespace).running() as watch:
        await dep.set_image("nginx:2")

        async def midway() -> bool:
            rss = await dep.replicasets()
            return len(rss) == 2 and 0 < rss[1]["spec"]["replicas"] < 6
        await wait_until(midway, "the rollout under way")
        await workloads.stop_controllers()
        await asyncio.sleep(0.1)
        await workloads.start()
        await dep.wait_complete(timeout=30)
        await asyncio.sleep(0.3)
    assert watch.max_total <= 6 + 2 and (watch.min_available or 0) >= 6
    assert len(live(await dep.pods())) == 6
    assert [rs["spec"]["replicas"] for rs in await dep.replicasets()] == [0, 6]


async def test_adopts_a_matching_orphan_replicaset(workloads: Workloads, client: Client, namespace: str) -> None:
    body = deployment("web", 2)
    orphan = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-by-hand", "labels": {"app": "web"}},
              "spec": {"replicas": 2, "selector": body["spec"]["selector"], "template": body["spec"]["template"]}}
    await client.create(f"/apis/apps/v1/namespaces/{namespace}/replicasets", orphan)
    dep = Deploy(client, namespace, "web")
    created = await dep.create(body)
    await dep.wait_complete()
    (rs,) = await dep.replicasets()  # adopted as the new ReplicaSet: same template
    assert rs["metadata"]["name"] == "web-by-hand"
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == (created["metadata"]["uid"], True, True)
    assert rs["metadata"]["annotations"][REVISION] == "1"


async def test_hash_collision_moves_to_the_next_name(workloads: Workloads, client: Client, namespace: str) -> None:
    dep = Deploy(client, namespace, "web")
    created = await dep.create(deployment("web", 1, paused=True))  # paused: no ReplicaSet made yet
    template = created["spec"]["template"]
    squatter = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"web-{compute_hash(template)}", "labels": {"other": "x"}},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"other": "x"}},
                         "template": {"metadata": {"labels": {"other": "x"}},
                                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    await client.create(f"/apis/apps/v1/namespaces/{namespace}/replicasets", squatter)
    await dep.patch({"spec": {"paused": False}})
    d = await dep.wait_complete()
    assert d["status"]["collisionCount"] == 1
    (rs,) = await dep.replicasets()
    assert rs["metadata"]["name"] == f"web-{compute_hash(template, 1)}"
