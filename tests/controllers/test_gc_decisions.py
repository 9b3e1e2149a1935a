"""The collector's pure decisions, table by table, and its work queue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kybernetes.client.rest import APIResource
from kybernetes.controllers.garbagecollector import (
    FOREGROUND,
    NOTHING,
    ORPHAN,
    OwnerState,
    Plan,
    UidQueue,
    blocks,
    changed_owners,
    collectable,
    needs_sync,
    owner_state,
    plan_dependent,
    relevant_change,
    slim,
    unblocked,
    without_finalizer,
    without_owners,
)

S, D, W = OwnerState.SOLID, OwnerState.DANGLING, OwnerState.WAITING
NOW = "2024-01-01T00:00:00Z"


def meta(**kw: Any) -> dict[str, Any]:
    return {"name": "x", "uid": "self", "resourceVersion": "1", **kw}


def r(uid: str, block: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "name": uid, "uid": uid}
    if block is not None:
        out["blockOwnerDeletion"] = block
    return out


@pytest.mark.parametrize("states, finalizers, has_deps, dep_deleting, expected", [
    pytest.param({}, [], False, False, NOTHING, id="no-owners"),
    pytest.param({"a": S}, [], False, False, NOTHING, id="one-solid"),
    pytest.param({"a": S, "b": S}, [], True, False, NOTHING, id="all-solid"),
    pytest.param({"a": S, "b": D}, [], False, False, Plan("remove-refs", remove=("b",)), id="solid+dangling"),
    pytest.param({"a": W, "b": S}, [], False, False, Plan("remove-refs", remove=("a",)), id="solid+waiting"),
    pytest.param({"a": D, "b": W, "c": S}, [], True, True, Plan("remove-refs", remove=("a", "b")),
                 id="solid-keeps-drops-the-rest"),
    pytest.param({"a": D}, [], False, False, Plan("delete", "Background"), id="dangling"),
    pytest.param({"a": D, "b": D}, [], True, False, Plan("delete", "Background"), id="all-dangling-with-deps"),
    pytest.param({"a": D}, [ORPHAN], False, False, Plan("delete", "Orphan"), id="dangling-honours-orphan"),
    pytest.param({"a": D}, [FOREGROUND], False, False, Plan("delete", "Foreground"),
                 id="dangling-honours-foreground"),
    pytest.param({"a": W}, [], False, False, Plan("delete", "Background"), id="waiting-no-deps"),
    pytest.param({"a": W}, [], True, False, Plan("delete", "Foreground"), id="waiting-with-deps-recurses"),
    pytest.param({"a": W, "b": D}, [], True, True, Plan("delete", "Foreground", unblock=True),
                 id="waiting-with-foreground-dep-unblocks"),
    pytest.param({"a": W}, [ORPHAN], False, False, Plan("delete", "Orphan"), id="waiting-no-deps-orphan-fin"),
])
def test_plan_dependent(states: dict[str, OwnerState], finalizers: list[str], has_deps: bool,
                        dep_deleting: bool, expected: Plan) -> None:
    assert plan_dependent(states, finalizers, has_deps, dep_deleting) == expected


@pytest.mark.parametrize("owner, expected", [
    pytest.param(None, D, id="not-found"),
    pytest.param({"uid": "other"}, D, id="uid-mismatch"),
    pytest.param({"uid": "o"}, S, id="exists"),
    pytest.param({"uid": "o", "deletionTimestamp": NOW}, S, id="background-deleting-is-solid"),
    pytest.param({"uid": "o", "finalizers": [FOREGROUND]}, S, id="finalizer-without-deletion"),
    pytest.param({"uid": "o", "deletionTimestamp": NOW, "finalizers": [ORPHAN]}, S, id="orphaning"),
    pytest.param({"uid": "o", "deletionTimestamp": NOW, "finalizers": ["x", FOREGROUND]}, W, id="foreground"),
])
def test_owner_state(owner: dict[str, Any] | None, expected: OwnerState) -> None:
    assert owner_state(owner, "o") is expected


@pytest.mark.parametrize("refs, expected", [
    pytest.param([r("o", True)], True, id="blocking"),
    pytest.param([r("o", False)], False, id="explicitly-not"),
    pytest.param([r("o")], False, id="unset"),
    pytest.param([r("p", True)], False, id="blocks-another-owner"),
    pytest.param([r("p", True), r("o", True)], True, id="second-ref"),
    pytest.param([], False, id="no-refs"),
])
def test_blocks(refs: list[dict[str, Any]], expected: bool) -> None:
    assert blocks(meta(ownerReferences=refs), "o") is expected


@pytest.mark.parametrize("refs, drop, expected", [
    pytest.param([r("a"), r("b")], ["a"], [r("b")], id="one"),
    pytest.param([r("a"), r("b")], ["a", "b"], [], id="all"),
    pytest.param([r("a")], ["z"], None, id="absent-no-change"),
    pytest.param([], ["a"], None, id="no-refs"),
])
def test_without_owners(refs: list[dict[str, Any]], drop: list[str], expected: list[Any] | None) -> None:
    assert without_owners(meta(ownerReferences=refs), drop) == expected


@pytest.mark.parametrize("refs, expected", [
    pytest.param([r("a", True), r("b")], [r("a", False), r("b")], id="clears-set-flags"),
    pytest.param([r("a", False), r("b")], None, id="nothing-set"),
    pytest.param([], None, id="no-refs"),
])
def test_unblocked(refs: list[dict[str, Any]], expected: list[Any] | None) -> None:
    assert unblocked(meta(ownerReferences=refs)) == expected


@pytest.mark.parametrize("finalizers, name, expected", [
    pytest.param([FOREGROUND], FOREGROUND, [], id="last"),
    pytest.param(["x", ORPHAN, "y"], ORPHAN, ["x", "y"], id="keeps-others"),
    pytest.param(["x"], ORPHAN, None, id="absent"),
    pytest.param(None, ORPHAN, None, id="none"),
])
def test_without_finalizer(finalizers: list[str] | None, name: str, expected: list[str] | None) -> None:
    assert without_finalizer(meta(finalizers=finalizers), name) == expected


@pytest.mark.parametrize("m, expected", [
    pytest.param(meta(), False, id="plain"),
    pytest.param(meta(ownerReferences=[r("a")]), True, id="owned"),
    pytest.param(meta(deletionTimestamp=NOW, finalizers=[FOREGROUND]), True, id="foreground"),
    pytest.param(meta(deletionTimestamp=NOW, finalizers=[ORPHAN]), True, id="orphaning"),
    pytest.param(meta(deletionTimestamp=NOW, finalizers=["example.com/x"]), False, id="other-finalizer"),
    pytest.param(meta(finalizers=[ORPHAN]), False, id="not-deleting"),
])
def test_needs_sync(m: dict[str, Any], expected: bool) -> None:
    assert needs_sync(m) is expected


@pytest.mark.parametrize("old, new, relevant, owners", [
    pytest.param(meta(), dict(meta(), resourceVersion="2", labels={"a": "b"}), False, set(), id="labels-only"),
    pytest.param(meta(ownerReferences=[r("a")]), meta(ownerReferences=[r("a")]), False, set(), id="same"),
    pytest.param(meta(ownerReferences=[r("a")]), meta(ownerReferences=[r("b")]), True, {"a", "b"}, id="swap"),
    pytest.param(meta(ownerReferences=[r("a", True), r("b")]), meta(ownerReferences=[r("a", False), r("b")]),
                 True, {"a"}, id="unblocked"),
    pytest.param(meta(ownerReferences=[r("a")]), meta(), True, {"a"}, id="removed"),
    pytest.param(meta(), meta(deletionTimestamp=NOW), True, set(), id="deleting"),
    pytest.param(meta(finalizers=[FOREGROUND]), meta(), True, set(), id="finalizer-removed"),
])
def test_changes(old: dict[str, Any], new: dict[str, Any], relevant: bool, owners: set[str]) -> None:
    assert relevant_change(old, new) is relevant
    assert changed_owners(old, new) == owners


@pytest.mark.parametrize("res, expected", [
    pytest.param(APIResource("", "v1", "configmaps", "ConfigMap", True, frozenset(
        {"list", "watch", "delete", "get"})), True, id="configmaps"),
    pytest.param(APIResource("", "v1", "nodes", "Node", False, frozenset({"list", "watch", "delete"})), True,
                 id="cluster-scoped"),
    pytest.param(APIResource("", "v1", "events", "Event", True, frozenset({"list", "watch", "delete"})), False,
                 id="events-ignored"),
    pytest.param(APIResource("events.k8s.io", "v1", "events", "Event", True,
                             frozenset({"list", "watch", "delete"})), False, id="events-v1-ignored"),
    pytest.param(APIResource("", "v1", "bindings", "Binding", True, frozenset({"create"})), False,
                 id="no-list"),
])
def test_collectable(res: APIResource, expected: bool) -> None:
    assert collectable(res) is expected


def test_slim_keeps_what_the_collector_reads() -> None:
    res = APIResource("apps", "v1", "replicasets", "ReplicaSet", True, frozenset())
    obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta(
        namespace="ns", labels={"a": "b"}, annotations={"big": "x" * 1000}, managedFields=[{}],
        ownerReferences=[r("a")], finalizers=[ORPHAN], deletionTimestamp=NOW)}
    assert slim(res)(obj) == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": "x", "namespace": "ns", "uid": "self", "resourceVersion": "1", "ownerReferences": [r("a")],
        "finalizers": [ORPHAN], "deletionTimestamp": NOW}}


# -- the work queue ------------------------------------------------------------------

async def test_queue_deduplicates_and_serialises() -> None:
    q = UidQueue()
    for uid in ("a", "b", "a"):
        q.add(uid)
    assert await q.get() == "a"
    q.add("a")  # while processing: runs again after done, not concurrently
    assert await q.get() == "b"
    q.done("b")
    assert q._ready.empty()
    q.done("a")
    assert await q.get() == "a"
    q.done("a")
    assert q.idle()


async def test_queue_retries_with_growing_delays() -> None:
    q = UidQueue(base_delay=0.01, max_delay=0.04)
    q.add("a")
    uid = await q.get()
    delays = []
    for _ in range(4):
        delays.append(q.retry(uid))
        q.done(uid)
        uid = await asyncio.wait_for(q.get(), 1)
    assert delays == [0.01, 0.02, 0.04, 0.04]
    q.forget(uid)
    assert q.retry(uid) == 0.01
    q.done(uid)
    q.close()
    assert q.idle()
