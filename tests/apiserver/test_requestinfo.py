"""Table-driven tests of request path parsing."""

from __future__ import annotations

import pytest

from kybernetes.apiserver.requestinfo import RequestInfo, parse

CASES = [
    ("GET", "/api/v1/pods", False, RequestInfo("", "v1", "pods", None, None, None, "list")),
    ("GET", "/api/v1/namespaces/ns/pods", False, RequestInfo("", "v1", "pods", "ns", None, None, "list")),
    ("GET", "/api/v1/namespaces/ns/pods", True, RequestInfo("", "v1", "pods", "ns", None, None, "watch")),
    ("GET", "/api/v1/watch/namespaces/ns/pods", False, RequestInfo("", "v1", "pods", "ns", None, None, "watch")),
    ("GET", "/api/v1/namespaces/ns/pods/p", False, RequestInfo("", "v1", "pods", "ns", "p", None, "get")),
    ("PUT", "/api/v1/namespaces/ns/pods/p/status", False,
     RequestInfo("", "v1", "pods", "ns", "p", "status", "update")),
    ("POST", "/api/v1/namespaces/ns/pods/p/binding", False,
     RequestInfo("", "v1", "pods", "ns", "p", "binding", "create")),
    ("DELETE", "/api/v1/namespaces/ns/configmaps", False,
     RequestInfo("", "v1", "configmaps", "ns", None, None, "deletecollection")),
    ("GET", "/api/v1/namespaces", False, RequestInfo("", "v1", "namespaces", None, None, None, "list")),
    ("GET", "/api/v1/namespaces/default", False, RequestInfo("", "v1", "namespaces", None, "default", None, "get")),
    ("PUT", "/api/v1/namespaces/default/finalize", False,
     RequestInfo("", "v1", "namespaces", None, "default", "finalize", "update")),
    ("PATCH", "/api/v1/namespaces/default/status", False,
     RequestInfo("", "v1", "namespaces", None, "default", "status", "patch")),
    ("PATCH", "/apis/apps/v1/namespaces/a/deployments/d/scale", False,
     RequestInfo("apps", "v1", "deployments", "a", "d", "scale", "patch")),
    ("POST", "/apis/apps/v1/namespaces/a/deployments", False,
     RequestInfo("apps", "v1", "deployments", "a", None, None, "create")),
    ("GET", "/api/v1/nodes/n1", False, RequestInfo("", "v1", "nodes", None, "n1", None, "get")),
]


@pytest.mark.parametrize(("method", "path", "watch", "want"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_parse(method: str, path: str, watch: bool, want: RequestInfo) -> None:
    assert parse(method, path, watch) == want


@pytest.mark.parametrize("path", ["/", "/api", "/apis/apps", "/healthz", "/api/v1/namespaces/a/pods/b/c/d"])
def test_not_a_resource(path: str) -> None:
    assert parse("GET", path, False) is None
