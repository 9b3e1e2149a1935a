"""Server-side printing: ``meta.k8s.io`` Tables for lists, single objects and watches.

``kubectl get`` asks for a Table with the Accept header below; its columns are
upstream's (``pkg/printers/internalversion/printers.go``); rows carry the
object as PartialObjectMetadata unless ``includeObject=Object``.  In a watch,
column definitions come only with the first event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.serverproc import ServerProc

Body = dict[str, Any]

TABLE = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
         "application/json")
POD_SPEC: Body = {"containers": [{"name": "app", "image": "nginx:1.25"}]}


@pytest.fixture(scope="module")
def http(server: ServerProc) -> Iterator[tuple[requests.Session, str]]:
    s = requests.Session()
    yield s, server.url
    s.close()


@pytest.fixture
def ns(http: tuple[requests.Session, str]) -> Iterator[str]:
    s, base = http
    name = "tbl-" + uuid.uuid4().hex[:10]
    assert s.post(f"{base}/api/v1/namespaces", json={"metadata": {"name": name}}, timeout=10).status_code == 201
    yield name
    s.delete(f"{base}/api/v1/namespaces/{name}", timeout=10)


def create(http: tuple[requests.Session, str], path: str, body: Body) -> Body:
    s, base = http
    r = s.post(base + path, json=body, timeout=10)
    assert r.status_code == 201, r.text
    out: Body = r.json()
    return out


def get_table(http: tuple[requests.Session, str], path: str, **params: str) -> Body:
    s, base = http
    r = s.get(base + path, headers={"Accept": TABLE}, params=params, timeout=10)
    assert r.status_code == 200, r.text
    body: Body = r.json()
    assert body["kind"] == "Table" and body["apiVersion"] == "meta.k8s.io/v1", body
    return body


def column_names(table: Body, wide: bool = False) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"] if wide or c["priority"] == 0]


def test_configmap_list_table(http: Any, ns: str) -> None:
    created = create(http, f"/api/v1/namespaces/{ns}/configmaps",
                     {"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}})
    table = get_table(http, f"/api/v1/namespaces/{ns}/configmaps")
    assert column_names(table) == ["Name", "Data", "Age"]
    name_col = table["columnDefinitions"][0]
    assert name_col["format"] == "name" and name_col["type"] == "string"
    assert int(table["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])
    (row,) = table["rows"]
    assert row["cells"][:2] == ["cfg", 2]
    obj = row["object"]
    assert obj["kind"] == "PartialObjectMetadata" and obj["apiVersion"] == "meta.k8s.io/v1"
    assert obj["metadata"]["name"] == "cfg" and obj["metadata"]["uid"] == created["metadata"]["uid"]


def test_pod_table_with_wide_columns(http: Any, ns: str) -> None:
    create(http, f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": "p"}, "spec": POD_SPEC})
    table = get_table(http, f"/api/v1/namespaces/{ns}/pods")
    assert column_names(table) == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert column_names(table, wide=True) == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                              "Nominated Node", "Readiness Gates"]
    (row,) = table["rows"]
    assert row["cells"][:4] == ["p", "0/1", "Pending", "0"]
    assert row["cells"][5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_deployment_table(http: Any, ns: str) -> None:
    labels = {"app": "web"}
    create(http, f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": POD_SPEC}}})
    table = get_table(http, f"/apis/apps/v1/namespaces/{ns}/deployments")
    assert column_names(table) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert column_names(table, wide=True)[5:] == ["Containers", "Images", "Selector"]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["web", "0/3", 0, 0]
    assert cells[5:] == ["app", "nginx:1.25", "app=web"]


def test_single_object_table(http: Any, ns: str) -> None:
    create(http, f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "one"}})
    table = get_table(http, f"/api/v1/namespaces/{ns}/configmaps/one")
    assert [r["cells"][0] for r in table["rows"]] == ["one"]


def test_table_include_object(http: Any, ns: str) -> None:
    create(http, f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    table = get_table(http, f"/api/v1/namespaces/{ns}/configmaps", includeObject="Object")
    obj = table["rows"][0]["object"]
    assert obj["kind"] == "ConfigMap" and obj["data"] == {"a": "1"}
    table = get_table(http, f"/api/v1/namespaces/{ns}/configmaps", includeObject="None")
    assert table["rows"][0].get("object") is None


def test_paginated_table_carries_continue(http: Any, ns: str) -> None:
    for i in range(3):
        create(http, f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": f"c{i}"}})
    first = get_table(http, f"/api/v1/namespaces/{ns}/configmaps", limit="2")
    assert [r["cells"][0] for r in first["rows"]] == ["c0", "c1"]
    token = first["metadata"]["continue"]
    rest = get_table(http, f"/api/v1/namespaces/{ns}/configmaps", limit="2", **{"continue": token})
    assert [r["cells"][0] for r in rest["rows"]] == ["c2"]
    assert not rest["metadata"].get("continue")


def test_watch_tables_define_columns_only_on_the_first_event(http: Any, ns: str) -> None:
    s, base = http
    for n in ("a", "b"):
        create(http, f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": n}})
    events: list[Body] = []
    with s.get(f"{base}/api/v1/namespaces/{ns}/configmaps", headers={"Accept": TABLE},
               params={"watch": "true", "resourceVersion": "0", "timeoutSeconds": "10"},
               stream=True, timeout=15) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if not line:
                continue
            events.append(json.loads(line))
            if len(events) == 2:
                create(http, f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "c"}})
            if len(events) == 3:
                break
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "ADDED"]
    for i, ev in enumerate(events):
        table = ev["object"]
        assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
        assert len(table["rows"]) == 1
        if i == 0:
            assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
        else:
            assert not table.get("columnDefinitions")
    assert sorted(e["object"]["rows"][0]["cells"][0] for e in events[:2]) == ["a", "b"]
    assert events[2]["object"]["rows"][0]["cells"][0] == "c"
