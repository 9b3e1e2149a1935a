"""Cascading deletion end to end: a real API server, the collector over HTTP, real objects.

ConfigMaps stand in for owners and dependents (any kind works the same; no other
controller touches them).  A finalizer of our own (``example.com/hold``) keeps a
dependent in its "being deleted" state for as long as a test needs to look at it.
"""

from __future__ import annotations

import uuid
from typing import Any

from kybernetes.client.rest import Client
from kybernetes.controllers.garbagecollector import GarbageCollector
from tests.controllers.conftest import GCRunner, get_or_none, wait_until

HOLD = "example.com/hold"


def ref(owner: dict[str, Any], block: bool | None = None) -> dict[str, Any]:
    r = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
         "uid": owner["metadata"]["uid"]}
    if block is not None:
        r["blockOwnerDeletion"] = block
    return r


class ConfigMaps:
    def __init__(self, client: Client, namespace: str):
        self.client = client
        self.base = f"/api/v1/namespaces/{namespace}/configmaps"

    async def create(self, name: str, *owners: dict[str, Any], finalizers: tuple[str, ...] = ()) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if owners:
            meta["ownerReferences"] = list(owners)
        if finalizers:
            meta["finalizers"] = list(finalizers)
        obj: dict[str, Any] = await self.client.create(self.base, {"apiVersion": "v1", "kind": "ConfigMap",
                                                                   "metadata": meta})
        return obj

    async def get(self, name: str) -> dict[str, Any] | None:
        return await get_or_none(self.client, f"{self.base}/{name}")

    async def delete(self, name: str, policy: str | None = None) -> None:
        await self.client.delete(f"{self.base}/{name}", {"propagationPolicy": policy} if policy else None)

    async def release(self, name: str) -> None:
        """Drop our hold finalizer."""
        await self.client.patch(f"{self.base}/{name}", {"metadata": {"finalizers": None}})

    async def wait_gone(self, *names: str) -> None:
        async def gone() -> bool:
            return all([await self.get(n) is None for n in names])
        await wait_until(gone, f"configmaps {names} to be deleted")


async def test_background_deletes_dependents_down_a_chain(gc: GarbageCollector, client: Client,
                                                          namespace: str) -> None:
    cms = ConfigMaps(client, namespace)
    a = await cms.create("a")
    b = await cms.create("b", ref(a))
    await cms.create("c", ref(b))
    await cms.create("unrelated")
    await cms.delete("a", "Background")
    await cms.wait_gone("a", "b", "c")
    assert await cms.get("unrelated") is not None


async def test_foreground_waits_for_blocking_dependents(gc: GarbageCollector, client: Client,
                                                        namespace: str) -> None:
    cms = ConfigMaps(client, namespace)
    owner = await cms.create("owner")
    await cms.create("blocker", ref(owner, block=True), finalizers=(HOLD,))
    await cms.create("free", ref(owner, block=False))
    await cms.delete("owner", "Foreground")

    async def blocker_deleting() -> bool:
        b = await cms.get("blocker")
        return b is not None and bool(b["metadata"].get("deletionTimestamp"))
    await wait_until(blocker_deleting, "the blocking dependent to be deleted")
    await cms.wait_gone("free")
    held = await cms.get("owner")
    assert held is not None, "the owner went before its blocking dependent"
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert held["metadata"].get("deletionTimestamp")

    await cms.release("blocker")
    await cms.wait_gone("blocker", "owner")


async def test_foreground_does_not_wait_for_non_blocking_dependents(gc: GarbageCollector, client: Client,
                                                                    namespace: str) -> None:
    cms = ConfigMaps(client, namespace)
    owner = await cms.create("owner")
    await cms.create("plain", ref(owner), finalizers=(HOLD,))
    await cms.create("unblocking", ref(owner, block=False), finalizers=(HOLD,))
    await cms.delete("owner", "Foreground")
    await cms.wait_gone("owner")
    for name in ("plain", "unblocking"):  # deleted too, but their finalizer holds them
        dep = await cms.get(name)
        assert dep is not None and dep["metadata"].get("deletionTimestamp")
        await cms.release(name)
    await cms.wait_gone("plain", "unblocking")


async def test_foreground_recurses_down_a_chain(gc: GarbageCollector, client: Client, namespace: str) -> None:
    cms = ConfigMaps(client, namespace)
    a = await cms.create("a")
    b = await cms.create("b", ref(a, block=True))
    await cms.create("c", ref(b, block=True), finalizers=(HOLD,))
    await cms.delete("a", "Foreground")

    async def b_in_foreground() -> bool:
        got = await cms.get("b")
        return got is not None and "foregroundDeletion" in (got["metadata"].get("finalizers") or [])
    # b has a dependent of its own, so it is deleted in the foreground too and holds a up.
    await wait_until(b_in_foreground, "b to be deleted in the foreground")
    assert await cms.get("a") is not None
    await cms.release("c")
    await cms.wait_gone("a", "b", "c")


async def test_foreground_through_an_ownership_cycle(gc: GarbageCollector, client: Client,
                                                     namespace: str) -> None:
    """a owns b and b owns a, both blocking: b's references are unblocked instead of deadlocking."""
    cms = ConfigMaps(client, namespace)
    a = await cms.create("a")
    b = await cms.create("b", ref(a, block=True))
    await client.patch(f"{cms.base}/a", {"metadata": {"ownerReferences": [ref(b, block=True)]}})
    await cms.delete("a", "Foreground")
    await cms.wait_gone("a", "b")


async def test_orphan_keeps_dependents_without_the_reference(gc: GarbageCollector, client: Client,
                                                             namespace: str) -> None:
    cms = ConfigMaps(client, namespace)
    owner = await cms.create("owner")
    other = await cms.create("other")
    await cms.create("d1", ref(owner, block=True))
    await cms.create("d2", ref(owner), ref(other))
    await cms.delete("owner", "Orphan")
    await cms.wait_gone("owner")
    d1, d2 = await cms.get("d1"), await cms.get("d2")
    assert d1 is not None and not d1["metadata"].get("ownerReferences")
    assert d2 is not None and d2["metadata"]["ownerReferences"] == [ref(other)]
    await cms.delete("other")
    await cms.wait_gone("d2")
    assert await cms.get("d1") is not None


async def test_owner_that_never_existed(gc: GarbageCollector, client: Client, namespace: str) -> None:
    cms = ConfigMaps(client, namespace)
    real = await cms.create("real")
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
    impostor = dict(ref(real), uid=str(uuid.uuid4()))  # the name exists, the uid is another object's
    unknown_kind = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": str(uuid.uuid4())}
    await cms.create("orphan-of-ghost", ghost)
    await cms.create("orphan-of-impostor", impostor)
    await cms.create("owned-by-unknown-kind", unknown_kind)
    await cms.wait_gone("orphan-of-ghost", "orphan-of-impostor")
    assert await cms.get("real") is not None
    # A kind the server does not serve cannot be checked: such a reference never deletes anything.
    assert await cms.get("owned-by-unknown-kind") is not None


async def test_two_owners_one_remains(gc: GarbageCollector, client: Client, namespace: str) -> None:
    cms = ConfigMaps(client, namespace)
    first, second = await cms.create("first"), await cms.create("second")
    await cms.create("shared", ref(first), ref(second))
    await cms.delete("first", "Background")
    await cms.wait_gone("first")

    async def dangling_reference_removed() -> bool:
        shared = await cms.get("shared")
        assert shared is not None, "deleted although an owner remains"
        return shared["metadata"].get("ownerReferences") == [ref(second)]
    await wait_until(dangling_reference_removed, "the reference to the deleted owner to be removed")
    await cms.delete("second")
    await cms.wait_gone("shared")


async def test_cluster_scoped_owner(gc: GarbageCollector, client: Client, namespace: str) -> None:
    cms = ConfigMaps(client, namespace)
    node = await client.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                 "metadata": {"name": f"{namespace}-node"}})
    await cms.create("per-node", ref(node))
    await client.delete(f"/api/v1/nodes/{namespace}-node")
    await cms.wait_gone("per-node")


async def test_converges_after_a_restart(gc_runner: GCRunner, client: Client, namespace: str) -> None:
    """Changes made while the collector is down are found from the fresh lists."""
    cms = ConfigMaps(client, namespace)
    a = await cms.create("a")
    await cms.create("b", ref(a))
    f = await cms.create("f")
    await cms.create("g", ref(f, block=True))
    o = await cms.create("o")
    await cms.create("p", ref(o))
    await cms.delete("a")
    await cms.delete("f", "Foreground")
    await cms.delete("o", "Orphan")
    assert await cms.get("b") is not None  # nobody collects yet
    await gc_runner.start()
    await cms.wait_gone("b", "f", "g", "o")
    p = await cms.get("p")
    assert p is not None and not p["metadata"].get("ownerReferences")
    await gc_runner.stop()
    await gc_runner.start()  # and a second run finds nothing to do
    assert await cms.get("p") is not None


async def test_dependents_of_live_owners_cost_no_requests(gc: GarbageCollector, client: Client,
                                                          namespace: str, monkeypatch: Any) -> None:
    """Owners found in the caches are not looked up again: only our own POSTs reach the server."""
    cms = ConfigMaps(client, namespace)
    owner = await cms.create("owner")
    methods: list[str] = []
    real_request = client.request

    async def counting(method: str, path: str, **kw: Any) -> Any:
        methods.append(method)
        return await real_request(method, path, **kw)
    monkeypatch.setattr(client, "request", counting)
    for i in range(20):
        await cms.create(f"dep-{i}", ref(owner))

    async def settled() -> bool:
        return gc.queue.idle() and len(gc.dependents(owner["metadata"]["uid"])) == 20
    await wait_until(settled, "the collector to see every dependent")
    assert set(methods) == {"POST"}
    assert all(inf.lists == 1 for inf in gc.informers.values())
