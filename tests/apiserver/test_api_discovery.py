"""Discovery, version, health and metrics endpoints as clients fetch them over HTTP.

kubectl 1.30+ asks ``/api`` and ``/apis`` for aggregated discovery ``v2`` (then
``v2beta1``, then plain JSON); 1.27-1.29 know only ``v2beta1``.  The answer must be
in the version asked for and say so in ``Content-Type``.  The Python client and
``kubectl drain`` read the legacy documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.serverproc import ServerProc

Body = dict[str, Any]

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
ACCEPT_130 = f"{V2},{V2BETA1},application/json"
ACCEPT_127 = f"{V2BETA1},application/json"

GROUPS = {"apps", "coordination.k8s.io", "events.k8s.io", "discovery.k8s.io"}
CORE_RESOURCES = {"namespaces", "pods", "nodes", "services", "endpoints", "configmaps", "secrets",
                  "serviceaccounts", "events", "replicationcontrollers"}


@pytest.fixture(scope="module")
def http(server: ServerProc) -> Iterator[tuple[requests.Session, str]]:
    s = requests.Session()
    yield s, server.url
    s.close()


def get(http: tuple[requests.Session, str], path: str, accept: str | None = None) -> requests.Response:
    s, base = http
    r = s.get(base + path, headers={"Accept": accept} if accept else {}, timeout=30)
    assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
    return r


def params_of(content_type: str) -> dict[str, str]:
    parts = [p.strip() for p in content_type.split(";")]
    return dict(p.split("=", 1) for p in parts[1:] if "=" in p)


def resources_by_name(version: Body) -> dict[str, Body]:
    return {r["resource"]: r for r in version["resources"]}


# -- aggregated -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept,version", [(ACCEPT_130, "v2"), (ACCEPT_127, "v2beta1"), (V2, "v2"),
                                            (V2BETA1, "v2beta1")],
                         ids=["kubectl-1.30+", "kubectl-1.27", "v2-only", "v2beta1-only"])
def test_aggregated_core_discovery_in_the_version_asked_for(http: Any, accept: str, version: str) -> None:
    r = get(http, "/api", accept)
    ct = params_of(r.headers["Content-Type"])
    assert r.headers["Content-Type"].startswith("application/json")
    assert ct == {"g": "apidiscovery.k8s.io", "v": version, "as": "APIGroupDiscoveryList"}
    body = r.json()
    assert body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    assert len(body["items"]) == 1
    core = body["items"][0]
    assert core["metadata"].get("name", "") == ""
    assert [v["version"] for v in core["versions"]] == ["v1"]
    v1 = core["versions"][0]
    assert v1["freshness"] == "Current"
    res = resources_by_name(v1)
    assert set(res) >= CORE_RESOURCES
    pods = res["pods"]
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pods["scope"] == "Namespaced"
    assert pods["singularResource"] == "pod"
    assert pods["shortNames"] == ["po"]
    assert "all" in pods["categories"]
    assert set(pods["verbs"]) == {"create", "delete", "deletecollection", "get", "list", "patch", "update",
                                  "watch"}
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert {"status", "binding", "eviction"} <= set(subs)
    assert subs["eviction"]["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    assert res["nodes"]["scope"] == "Cluster" and res["namespaces"]["scope"] == "Cluster"
    for r_ in v1["resources"]:
        assert r_.get("responseKind"), f"{r_['resource']} has no responseKind"


@pytest.mark.parametrize("accept,version", [(ACCEPT_130, "v2"), (ACCEPT_127, "v2beta1")],
                         ids=["v2", "v2beta1"])
def test_aggregated_group_discovery(http: Any, accept: str, version: str) -> None:
    r = get(http, "/apis", accept)
    assert params_of(r.headers["Content-Type"])["v"] == version
    body = r.json()
    assert body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    groups = {g["metadata"]["name"]: g for g in body["items"]}
    assert set(groups) >= GROUPS
    apps = resources_by_name(groups["apps"]["versions"][0])
    scale = {s["subresource"]: s for s in apps["deployments"]["subresources"]}["scale"]
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert apps["deployments"]["shortNames"] == ["deploy"]
    leases = resources_by_name(groups["coordination.k8s.io"]["versions"][0])["leases"]
    assert leases["responseKind"] == {"group": "coordination.k8s.io", "version": "v1", "kind": "Lease"}
    slices = resources_by_name(groups["discovery.k8s.io"]["versions"][0])["endpointslices"]
    assert slices["responseKind"]["kind"] == "EndpointSlice"


# -- legacy ---------------------------------------------------------------------------------------------


def test_legacy_api_versions(http: Any) -> None:
    for accept in (None, "application/json"):
        body = get(http, "/api", accept).json()
        assert body["kind"] == "APIVersions"
        assert body["versions"] == ["v1"]
        assert body["serverAddressByClientCIDRs"]


def test_legacy_api_group_list(http: Any) -> None:
    body = get(http, "/apis", "application/json").json()
    assert body["kind"] == "APIGroupList" and body["apiVersion"] == "v1"
    groups = {g["name"]: g for g in body["groups"]}
    assert set(groups) >= GROUPS
    assert groups["apps"]["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    one = get(http, "/apis/apps").json()
    assert one["kind"] == "APIGroup" and one["name"] == "apps"


def test_legacy_core_resource_list(http: Any) -> None:
    body = get(http, "/api/v1").json()
    assert body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    res = {r["name"]: r for r in body["resources"]}
    assert set(res) >= CORE_RESOURCES
    pods = res["pods"]
    assert pods["singularName"] == "pod" and pods["namespaced"] is True and pods["kind"] == "Pod"
    assert pods["shortNames"] == ["po"] and pods["storageVersionHash"]
    assert {"pods/status", "pods/binding", "pods/eviction", "namespaces/finalize",
            "replicationcontrollers/scale"} <= set(res)
    ev = res["pods/eviction"]
    assert (ev["group"], ev["version"], ev["kind"]) == ("policy", "v1", "Eviction")
    rc_scale = res["replicationcontrollers/scale"]
    assert (rc_scale["group"], rc_scale["version"], rc_scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert res["namespaces"]["namespaced"] is False


def test_legacy_apps_resource_list(http: Any) -> None:
    body = get(http, "/apis/apps/v1").json()
    assert body["groupVersion"] == "apps/v1"
    res = {r["name"]: r for r in body["resources"]}
    assert {"deployments", "deployments/status", "deployments/scale", "replicasets", "replicasets/scale"} <= set(res)
    scale = res["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert scale["verbs"] == ["get", "patch", "update"]


# -- version, health, metrics -----------------------------------------------------------------------------


def test_version(http: Any) -> None:
    body = get(http, "/version").json()
    for key in ("major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                "compiler", "platform"):
        assert isinstance(body.get(key), str) and body[key], key
    assert body["gitVersion"].startswith(f"v{body['major']}.{body['minor']}.")


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_health_endpoints(http: Any, path: str) -> None:
    r = get(http, path)
    assert r.text == "ok"
    verbose = get(http, path + "?verbose")
    assert "[+]ping ok" in verbose.text
    assert verbose.text.rstrip().endswith("check passed")


def test_metrics_are_prometheus_text(http: Any) -> None:
    get(http, "/api/v1/namespaces")
    r = get(http, "/metrics")
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    assert "# TYPE apiserver_request_total counter" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("apiserver_request_total{")]
    assert any('verb="LIST"' in ln and 'resource="namespaces"' in ln and 'code="200"' in ln for ln in lines)
    assert "apiserver_request_duration_seconds_bucket{" in text
    assert "apiserver_storage_objects{" in text
