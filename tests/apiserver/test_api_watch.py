"""Watch and resourceVersion semantics over raw HTTP.

* ``resourceVersion`` unset or ``"0"``: synthetic ADDED events for the current
  state, then changes; ``N``: only changes strictly after N.
* ``sendInitialEvents=true`` (with ``resourceVersionMatch=NotOlderThan``): the
  current state, then a BOOKMARK annotated ``k8s.io/initial-events-end``.
* Lists at ``resourceVersionMatch=Exact`` read the state as of that revision.

A watch stream is read line by line in this thread; the server is asked for a
``timeoutSeconds`` so no test can hang on a stream.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.serverproc import ServerProc

Body = dict[str, Any]


@pytest.fixture(scope="module")
def http(server: ServerProc) -> Iterator[tuple[requests.Session, str]]:
    s = requests.Session()
    yield s, server.url
    s.close()


@pytest.fixture
def ns(http: tuple[requests.Session, str]) -> Iterator[str]:
    s, base = http
    name = "watch-" + uuid.uuid4().hex[:10]
    assert s.post(f"{base}/api/v1/namespaces", json={"metadata": {"name": name}}, timeout=10).status_code == 201
    yield name
    s.delete(f"{base}/api/v1/namespaces/{name}", timeout=10)


class CM:
    def __init__(self, http: tuple[requests.Session, str], ns: str):
        self.s, self.base = http
        self.path = f"{self.base}/api/v1/namespaces/{ns}/configmaps"

    def create(self, name: str, **data: str) -> Body:
        r = self.s.post(self.path, json={"metadata": {"name": name}, "data": data or {"k": "v"}}, timeout=10)
        assert r.status_code == 201, r.text
        out: Body = r.json()
        return out

    def patch(self, name: str, data: dict[str, str]) -> Body:
        r = self.s.patch(f"{self.path}/{name}", json={"data": data}, timeout=10,
                         headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
        out: Body = r.json()
        return out

    def delete(self, name: str) -> None:
        r = self.s.delete(f"{self.path}/{name}", timeout=10)
        assert r.status_code == 200, r.text

    def list(self, **params: str) -> requests.Response:
        return self.s.get(self.path, params=params, timeout=10)

    def rv(self) -> str:
        r = self.list()
        assert r.status_code == 200
        rv: str = r.json()["metadata"]["resourceVersion"]
        return rv

    def watch(self, count: int, *, on_event: Callable[[int, Body], None] | None = None,
              timeout: int = 10, **params: str) -> list[Body]:
        """Read ``count`` events (or until the server ends the stream)."""
        events: list[Body] = []
        q = {"watch": "true", "timeoutSeconds": str(timeout), **params}
        with self.s.get(self.path, params=q, stream=True, timeout=timeout + 5) as r:
            assert r.status_code == 200, r.text
            assert r.headers["Content-Type"].startswith("application/json")
            for line in r.iter_lines():
                if not line:
                    continue
                ev = json.loads(line)
                events.append(ev)
                if on_event is not None:
                    on_event(len(events), ev)
                if len(events) >= count:
                    break
        return events


def summary(events: list[Body]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


@pytest.mark.parametrize("rv", [None, "0"], ids=["unset", "zero"])
def test_watch_from_unset_or_zero_starts_with_synthetic_added(http: Any, ns: str, rv: str | None) -> None:
    cm = CM(http, ns)
    cm.create("a")
    cm.create("b")
    cm.patch("a", {"k": "changed"})
    params = {} if rv is None else {"resourceVersion": rv}

    def then(n: int, ev: Body) -> None:
        if n == 2:
            cm.create("c")

    events = cm.watch(3, on_event=then, **params)
    assert sorted(summary(events[:2])) == [("ADDED", "a"), ("ADDED", "b")]
    a = next(e for e in events if e["object"]["metadata"]["name"] == "a")
    assert a["object"]["data"] == {"k": "changed"}, "the initial state is the current state"
    assert summary(events[2:]) == [("ADDED", "c")]


def test_watch_from_resource_version_sends_changes_strictly_after_it(http: Any, ns: str) -> None:
    cm = CM(http, ns)
    cm.create("a")
    b = cm.create("b")
    cm.create("c")
    cm.patch("b", {"k": "2"})
    cm.delete("a")
    events = cm.watch(3, resourceVersion=b["metadata"]["resourceVersion"])
    assert summary(events) == [("ADDED", "c"), ("MODIFIED", "b"), ("DELETED", "a")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(b["metadata"]["resourceVersion"])
    assert events[2]["object"]["data"] == {"k": "v"}, "DELETED carries the last state"


def test_watch_with_field_selector_on_name(http: Any, ns: str) -> None:
    cm = CM(http, ns)
    rv = cm.rv()
    cm.create("other")
    cm.create("target")
    cm.patch("other", {"k": "x"})
    cm.patch("target", {"k": "y"})
    events = cm.watch(2, resourceVersion=rv, fieldSelector="metadata.name=target")
    assert summary(events) == [("ADDED", "target"), ("MODIFIED", "target")]


def test_send_initial_events_ends_with_an_annotated_bookmark(http: Any, ns: str) -> None:
    cm = CM(http, ns)
    made = [cm.create(n) for n in ("a", "b", "c")]

    def then(n: int, ev: Body) -> None:
        if ev["type"] == "BOOKMARK":
            cm.create("d")

    events = cm.watch(5, on_event=then, sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
                      allowWatchBookmarks="true")
    assert sorted(summary(events[:3])) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    bookmark = events[3]
    assert bookmark["type"] == "BOOKMARK"
    obj = bookmark["object"]
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    assert obj["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(obj["metadata"]["resourceVersion"]) >= max(int(m["metadata"]["resourceVersion"]) for m in made)
    assert summary(events[4:]) == [("ADDED", "d")]


def test_send_initial_events_requires_not_older_than(http: Any, ns: str) -> None:
    s, base = http
    r = s.get(f"{base}/api/v1/namespaces/{ns}/configmaps",
              params={"watch": "true", "sendInitialEvents": "true", "timeoutSeconds": "1"}, timeout=10)
    assert r.status_code == 422, r.text
    st = r.json()
    assert st["reason"] == "Invalid"
    assert st["details"]["causes"][0]["field"] == "sendInitialEvents"


def test_watch_events_keep_resource_version_order_under_concurrent_writes(http: Any, ns: str) -> None:
    cm = CM(http, ns)
    rv = cm.rv()
    for i in range(30):
        cm.create(f"c{i:02d}")
    events = cm.watch(30, resourceVersion=rv)
    assert [n for _, n in summary(events)] == [f"c{i:02d}" for i in range(30)]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(set(rvs))


# -- resourceVersion on lists ----------------------------------------------------------------------------


def test_list_at_exact_resource_version_reads_the_older_state(http: Any, ns: str) -> None:
    cm = CM(http, ns)
    first = cm.create("a", k="1")
    cm.patch("a", {"k": "2"})
    cm.create("b")
    old_rv = first["metadata"]["resourceVersion"]
    r = cm.list(resourceVersion=old_rv, resourceVersionMatch="Exact")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metadata"]["resourceVersion"] == old_rv
    assert [(i["metadata"]["name"], i["data"]) for i in body["items"]] == [("a", {"k": "1"})]
    assert body["items"][0]["metadata"]["resourceVersion"] == old_rv

    now = cm.list().json()
    assert [(i["metadata"]["name"], i["data"]) for i in now["items"]] == [("a", {"k": "2"}), ("b", {"k": "v"})]


def test_list_not_older_than_and_any(http: Any, ns: str) -> None:
    cm = CM(http, ns)
    made = cm.create("a")
    rv = made["metadata"]["resourceVersion"]
    for params in ({"resourceVersion": rv, "resourceVersionMatch": "NotOlderThan"}, {"resourceVersion": rv},
                   {"resourceVersion": "0"}):
        r = cm.list(**params)
        assert r.status_code == 200, r.text
        assert int(r.json()["metadata"]["resourceVersion"]) >= int(rv)
        assert [i["metadata"]["name"] for i in r.json()["items"]] == ["a"], params


def test_resource_version_match_without_resource_version_is_invalid(http: Any, ns: str) -> None:
    # Upstream validates ListOptions and answers 422 Invalid (kind ListOptions, group meta.k8s.io).
    r = CM(http, ns).list(resourceVersionMatch="Exact")
    assert r.status_code == 422, r.text
    st = r.json()
    assert st["reason"] == "Invalid"
    assert st["details"]["causes"] == [{
        "reason": "FieldValueForbidden", "field": "resourceVersionMatch",
        "message": "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"}]


def test_get_reads_the_latest_write(http: Any, ns: str) -> None:
    cm = CM(http, ns)
    cm.create("a", k="1")
    for i in range(2, 12):
        written = cm.patch("a", {"k": str(i)})
        got = cm.s.get(f"{cm.path}/a", timeout=10).json()
        assert got["data"] == {"k": str(i)}
        assert got["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]
