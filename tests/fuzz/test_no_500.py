"""Fuzzing the API with broken requests: never a 500, always a Status, nothing half-written.

The standard: *bad input gets a clear error and loses nothing.*  Every request
here is a valid object (or the server's own stored object) broken in a few
random places, or a body of random bytes, sent to a real ``kyb server``; each
answer must be below 500, every error a ``Status`` whose ``code`` matches the
HTTP code and carries a reason and a message, and after a refused (or dry-run)
write the stored object is exactly as it was (same ``resourceVersion``, same
content); whatever a write accepted must also show as a Table row and as
metadata.  Targets, per served kind:

* create (POST) with ``fieldValidation`` Strict/Warn/Ignore, ``dryRun``, JSON or YAML;
* update (PUT) of a stored object;
* patch: merge, strategic (with directives) and JSON patch;
* subresources: status (PUT/PATCH), scale (PUT/PATCH), binding, eviction, namespace finalize;
* delete with random ``DeleteOptions``, and the graceful delete of a scheduled pod (always
  dry-run, so nothing may change);
* list, watch (every event line read, an ERROR event a Status, the stream never cut
  off) and deletecollection (dry-run) with random query strings and ``Accept`` headers;
* random bytes with every content type, including protobuf, to every writing endpoint,
  and a fixed corpus of nasty JSON and YAML bodies (deep nesting, non-string keys,
  tags, NaN, alias bombs) sent to each once.

Deterministic and bounded: ``derandomize=True`` and ``KYB_FUZZ_EXAMPLES``
examples per test (default 12; tests of one endpoint get five times as many),
the whole module about 30 s.  Run it longer by hand, e.g.::

    KYB_FUZZ_EXAMPLES=1000 pytest tests/fuzz -q

A failure prints the request, the answer and the end of the server log, where
the error middleware wrote the traceback of any 500.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kybernetes.api.registry import RESOURCES, ResourceType
from tests.fuzz import strategies as fs
from tests.fuzz.conftest import JSON, JSON_PATCH, MERGE, PROTOBUF, SEEDS, STRATEGIC, YAML, Fuzzer, kind_id

EXAMPLES = int(os.environ.get("KYB_FUZZ_EXAMPLES", "12"))

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck),
                phases=(Phase.explicit, Phase.generate, Phase.shrink))
# Tests of one endpoint, or drawing the kind per example, get more: a parametrized test
# spends EXAMPLES on each of up to 15 kinds.
FUZZ_WIDE = settings(FUZZ, max_examples=EXAMPLES * 5)

KINDS = pytest.mark.parametrize("rt", RESOURCES, ids=kind_id)
WITH_STATUS = [rt for rt in RESOURCES if rt.has_status]
WITH_SCALE = [rt for rt in RESOURCES if rt.subresource("scale") is not None]
POD = next(rt for rt in RESOURCES if rt.kind == "Pod" and rt.group == "")
NAMESPACE = next(rt for rt in RESOURCES if rt.kind == "Namespace")

write_params = st.fixed_dictionaries({}, optional={
    "fieldValidation": st.sampled_from(["Strict", "Warn", "Ignore", "strict", ""]),
    "dryRun": st.sampled_from(["All", "All", "All", "bogus", ""]),
})
patch_types = st.sampled_from([MERGE, STRATEGIC, JSON_PATCH])
GRACE_PERIODS = ["0", "1", "30", "-1", str(2**31), str(2**40), str(2**63 - 1), str(2**63), "9" * 30]


def test_every_served_kind_has_a_seed() -> None:
    assert {(rt.group, rt.plural) for rt in RESOURCES} == set(SEEDS)


def _refused_or_dry(code: int, params: dict[str, str]) -> bool:
    return code >= 400 or "dryRun" in params


def _patch_body(draw: Any, ptype: str, current: dict[str, Any]) -> Any:
    if ptype == JSON_PATCH:
        return draw(fs.json_patches(current))
    if ptype == STRATEGIC:
        return draw(fs.strategic_patches(current))
    return draw(fs.merge_patches(current))


# --------------------------------------------------------------------------- create, update, patch


@KINDS
@FUZZ
@given(data=st.data())
def test_create(fz: Fuzzer, rt: ResourceType, data: st.DataObject) -> None:
    name = fz.fresh("fz")
    obj = data.draw(fs.mutated(fz.seed(rt, name)), label="body")
    params = data.draw(write_params, label="params")
    ctype = data.draw(st.sampled_from([JSON, JSON, JSON, YAML]), label="ctype")
    r = fz.send("POST", fz.collection(rt), obj, ctype=ctype, params=params)
    fz.check(r)
    if _refused_or_dry(r.status_code, params):
        assert fz.stored(rt, name) is None, fz.explain(r, "a refused or dry-run create stored the object")
    else:
        created = r.json()["metadata"]["name"]
        fz.views(rt, created)
        fz.remove(rt, created)


@KINDS
@FUZZ
@given(data=st.data())
def test_update(fz: Fuzzer, rt: ResourceType, data: st.DataObject) -> None:
    current = fz.target(rt)
    obj = data.draw(fs.mutated(current), label="body")
    params = data.draw(write_params, label="params")
    ctype = data.draw(st.sampled_from([JSON, JSON, JSON, YAML]), label="ctype")
    r = fz.send("PUT", fz.path(rt, current["metadata"]["name"]), obj, ctype=ctype, params=params)
    fz.check(r)
    if _refused_or_dry(r.status_code, params):
        fz.unchanged(rt, current, r)
    else:
        fz.views(rt, current["metadata"]["name"])
        fz.retire(rt)


@KINDS
@FUZZ
@given(data=st.data())
def test_patch(fz: Fuzzer, rt: ResourceType, data: st.DataObject) -> None:
    current = fz.target(rt)
    ptype = data.draw(patch_types, label="ctype")
    body = _patch_body(data.draw, ptype, current)
    params = data.draw(write_params, label="params")
    r = fz.send("PATCH", fz.path(rt, current["metadata"]["name"]), body, ctype=ptype, params=params)
    fz.check(r)
    if _refused_or_dry(r.status_code, params):
        fz.unchanged(rt, current, r)
    else:
        fz.views(rt, current["metadata"]["name"])
        fz.retire(rt)


# --------------------------------------------------------------------------- subresources


@pytest.mark.parametrize("rt", WITH_STATUS, ids=kind_id)
@FUZZ
@given(data=st.data())
def test_status(fz: Fuzzer, rt: ResourceType, data: st.DataObject) -> None:
    current = fz.target(rt)
    path = fz.path(rt, current["metadata"]["name"], "status")
    params = data.draw(write_params, label="params")
    if data.draw(st.booleans(), label="put"):
        r = fz.send("PUT", path, data.draw(fs.mutated(current), label="body"), params=params)
    else:
        ptype = data.draw(patch_types, label="ctype")
        r = fz.send("PATCH", path, _patch_body(data.draw, ptype, current), ctype=ptype, params=params)
    fz.check(r)
    if _refused_or_dry(r.status_code, params):
        fz.unchanged(rt, current, r)
    else:
        fz.views(rt, current["metadata"]["name"])
        fz.retire(rt)


@pytest.mark.parametrize("rt", WITH_SCALE, ids=kind_id)
@FUZZ_WIDE
@given(data=st.data())
def test_scale(fz: Fuzzer, rt: ResourceType, data: st.DataObject) -> None:
    current = fz.target(rt)
    path = fz.path(rt, current["metadata"]["name"], "scale")
    scale = fz.send("GET", path)
    fz.check(scale)
    params = data.draw(write_params, label="params")
    if data.draw(st.booleans(), label="put"):
        r = fz.send("PUT", path, data.draw(fs.mutated(scale.json()), label="body"), params=params)
    else:
        ptype = data.draw(patch_types, label="ctype")
        r = fz.send("PATCH", path, _patch_body(data.draw, ptype, scale.json()), ctype=ptype, params=params)
    fz.check(r)
    if _refused_or_dry(r.status_code, params):
        fz.unchanged(rt, current, r)
    else:
        fz.views(rt, current["metadata"]["name"])
        fz.retire(rt)


@FUZZ_WIDE
@given(data=st.data())
def test_binding(fz: Fuzzer, data: st.DataObject) -> None:
    pod = fz.target(POD, "bind")
    name = pod["metadata"]["name"]
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "worker-1"}}
    r = fz.send("POST", fz.path(POD, name, "binding"), data.draw(fs.mutated(binding), label="body"))
    fz.check(r)
    if r.status_code >= 400:
        fz.unchanged(POD, pod, r)
    else:
        fz.retire(POD, "bind")


@FUZZ_WIDE
@given(data=st.data())
def test_eviction(fz: Fuzzer, data: st.DataObject) -> None:
    pod = fz.target(POD, "evict")
    name = pod["metadata"]["name"]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": fz.ns},
                "deleteOptions": {"gracePeriodSeconds": 0, "propagationPolicy": "Background", "dryRun": ["All"],
                                  "preconditions": {"uid": pod["metadata"]["uid"],
                                                    "resourceVersion": pod["metadata"]["resourceVersion"]}}}
    r = fz.send("POST", fz.path(POD, name, "eviction"), data.draw(fs.mutated(eviction), label="body"))
    fz.check(r)
    if r.status_code >= 400:
        fz.unchanged(POD, pod, r)
    else:
        fz.retire(POD, "evict")


@FUZZ_WIDE
@given(data=st.data())
def test_finalize(fz: Fuzzer, data: st.DataObject) -> None:
    ns = fz.target(NAMESPACE, "fin")
    r = fz.send("PUT", fz.path(NAMESPACE, ns["metadata"]["name"], "finalize"),
                data.draw(fs.mutated(ns), label="body"))
    fz.check(r)
    if r.status_code >= 400:
        fz.unchanged(NAMESPACE, ns, r)
    else:
        fz.retire(NAMESPACE, "fin")


# --------------------------------------------------------------------------- delete, list, watch


@FUZZ_WIDE
@given(data=st.data())
def test_delete_options(fz: Fuzzer, data: st.DataObject) -> None:
    rt = data.draw(st.sampled_from(RESOURCES), label="kind")
    current = fz.target(rt)
    opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"],
                            "propagationPolicy": "Foreground",
                            "preconditions": {"uid": current["metadata"]["uid"],
                                              "resourceVersion": current["metadata"]["resourceVersion"]}}
    grace = data.draw(st.none() | st.sampled_from(GRACE_PERIODS), label="grace")
    if grace is not None:  # in the body it wins over the query's
        opts["gracePeriodSeconds"] = int(grace)
    body = data.draw(st.just(opts) | fs.mutated(opts), label="body")  # well-formed ones reach the store
    query = data.draw(st.fixed_dictionaries({"dryRun": st.just("All")}, optional={
        "gracePeriodSeconds": st.sampled_from(GRACE_PERIODS) | fs.query_values("gracePeriodSeconds"),
        "propagationPolicy": st.sampled_from(["Orphan", "Foreground", "Background", "orphan", ""]),
        "orphanDependents": st.sampled_from(["true", "false", "x"]),
    }), label="params")
    r = fz.send("DELETE", fz.path(rt, current["metadata"]["name"]), body, params=query)
    fz.check(r)
    fz.unchanged(rt, current, r)  # dry-run: whatever the answer, nothing changed


@FUZZ
@given(data=st.data())
def test_graceful_delete(fz: Fuzzer, data: st.DataObject) -> None:
    """A scheduled pod is deleted gracefully: its grace period becomes a deletionTimestamp."""
    pod = fz.target(POD, "bound")
    grace = data.draw(st.sampled_from(GRACE_PERIODS), label="grace")
    in_body = data.draw(st.booleans(), label="in body")
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": int(grace)} if in_body else None
    query = {"dryRun": "All"} if in_body else {"dryRun": "All", "gracePeriodSeconds": grace}
    r = fz.send("DELETE", fz.path(POD, pod["metadata"]["name"]), body, params=query)
    fz.check(r)
    fz.unchanged(POD, pod, r)


@KINDS
@FUZZ
@given(data=st.data())
def test_list_and_watch_queries(fz: Fuzzer, rt: ResourceType, data: st.DataObject) -> None:
    fz.target(rt)
    query = data.draw(fs.list_queries(), label="params")
    accept = data.draw(st.none() | st.sampled_from(fs.ACCEPTS), label="accept")
    path = fz.collection(rt)
    if rt.namespaced and data.draw(st.booleans(), label="all namespaces"):
        path = path.replace(f"/namespaces/{fz.ns}", "")
    legacy_watch = data.draw(st.integers(0, 19), label="legacy watch") == 0
    if legacy_watch:  # /api/v1/watch/namespaces/ns/pods
        head, _, tail = path.partition(f"/{rt.version}/")
        path = f"{head}/{rt.version}/watch/{tail}"
    watching = legacy_watch or query.get("watch", "").lower() in ("true", "1")
    # a live watch is read until it stays quiet for a quarter second
    r = fz.send("GET", path, params=query, accept=accept, stream=True, timeout=(10, 0.25 if watching else 30))
    try:
        if r.status_code == 200 and watching:
            fz.check_stream(r)
        else:
            r.content  # noqa: B018 -- read the whole answer
            fz.check(r)
    finally:
        r.close()


@FUZZ_WIDE
@given(data=st.data())
def test_watch_queries(fz: Fuzzer, data: st.DataObject) -> None:
    """Watches only: a bad parameter is a Status before the stream starts, never a broken stream."""
    rt = data.draw(st.sampled_from(RESOURCES), label="kind")
    current = fz.target(rt)
    query = data.draw(fs.list_queries(), label="params")
    query["watch"] = data.draw(st.sampled_from(["true", "1"]), label="watch")
    if data.draw(st.booleans(), label="one object"):
        query["fieldSelector"] = f"metadata.name={current['metadata']['name']}"
    accept = data.draw(st.none() | st.sampled_from(fs.ACCEPTS), label="accept")
    r = fz.send("GET", fz.collection(rt), params=query, accept=accept, stream=True, timeout=(10, 0.25))
    try:
        if r.status_code == 200:
            fz.check_stream(r)
        else:
            r.content  # noqa: B018 -- read the whole answer
            fz.check(r)
    finally:
        r.close()


@FUZZ_WIDE
@given(data=st.data())
def test_delete_collection_queries(fz: Fuzzer, data: st.DataObject) -> None:
    rt = data.draw(st.sampled_from([r for r in RESOURCES if "deletecollection" in r.verbs]), label="kind")
    current = fz.target(rt)
    query = {**data.draw(fs.list_queries(), label="params"), "dryRun": "All"}
    query.pop("watch", None)
    r = fz.send("DELETE", fz.collection(rt), params=query)
    fz.check(r)
    fz.unchanged(rt, current, r)


# --------------------------------------------------------------------------- raw bytes

ENDPOINTS = [  # (method, subresource or None, kinds it applies to)
    ("POST", None, RESOURCES),
    ("PUT", None, RESOURCES),
    ("PATCH", None, RESOURCES),
    ("DELETE", None, RESOURCES),
    ("PUT", "status", WITH_STATUS),
    ("PATCH", "status", WITH_STATUS),
    ("PUT", "scale", WITH_SCALE),
    ("PATCH", "scale", WITH_SCALE),
    ("POST", "binding", [POD]),
    ("POST", "eviction", [POD]),
    ("PUT", "finalize", [NAMESPACE]),
]
BODY_TYPES = [JSON, YAML, PROTOBUF, "application/x-yaml", "text/plain", "", "application/json; charset=utf-8"]
PATCH_BODY_TYPES = [MERGE, STRATEGIC, JSON_PATCH, "application/apply-patch+yaml", JSON, PROTOBUF]


@pytest.mark.parametrize(("ctype", "body"), [
    *((YAML, b) for b in fs.YAML_SPECIALS), *((JSON, b) for b in fs.JSON_SPECIALS)],
    ids=[*(f"yaml{i}" for i in range(len(fs.YAML_SPECIALS))), *(f"json{i}" for i in range(len(fs.JSON_SPECIALS)))])
def test_known_hostile_bodies(fz: Fuzzer, ctype: str, body: bytes) -> None:
    """The corpus of nasty bodies, each sent once as a create and as an update."""
    rt = next(r for r in RESOURCES if r.kind == "ConfigMap")
    current = fz.target(rt)
    body = body.replace(b"fz-target-0", current["metadata"]["name"].encode())  # the corpus' name for it
    r = fz.send("POST", fz.collection(rt), body, ctype=ctype, params={"dryRun": "All"})
    fz.check(r)
    r = fz.send("PUT", fz.path(rt, current["metadata"]["name"]), body, ctype=ctype)
    fz.check(r)
    if r.status_code >= 400:
        fz.unchanged(rt, current, r)
    else:
        fz.retire(rt)


@FUZZ_WIDE
@given(data=st.data())
def test_raw_bodies(fz: Fuzzer, pb_seeds: list[bytes], data: st.DataObject) -> None:
    method, sub, kinds = data.draw(st.sampled_from(ENDPOINTS), label="endpoint")
    rt = data.draw(st.sampled_from(kinds), label="kind")
    stem = {"binding": "bind", "eviction": "evict", "finalize": "fin"}.get(sub or "", "target")
    current = fz.target(rt, stem)
    name = current["metadata"]["name"]
    ctype = data.draw(st.sampled_from(PATCH_BODY_TYPES if method == "PATCH" else BODY_TYPES), label="ctype")
    seed = json.dumps(current).encode()
    body = data.draw(fs.raw_bodies(ctype, seed, pb_seeds), label="body")
    params = {"dryRun": "All"} if method in ("DELETE", "POST") and sub is None else {}
    path = fz.collection(rt) if method == "POST" and sub is None else fz.path(rt, name, sub)
    r = fz.send(method, path, body, ctype=ctype, params=params)
    fz.check(r)
    if r.status_code >= 400 or params:
        fz.unchanged(rt, current, r)
    else:
        fz.retire(rt, stem)
