"""Imperative generators: ``create namespace/configmap/secret/deployment/service`` and ``run``.

kubectl 1.32+ sends the ``create <generator>`` bodies as protobuf (``run`` still sends JSON), so these
tests also cover the server's protobuf request decoding.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.compat.conftest import Http, row, table
from tests.conftest import Kubectl

pytestmark = pytest.mark.kubectl


def test_create_namespace(kubectl: Kubectl, fresh_name: str, http: Http) -> None:
    try:
        out = kubectl.ok("create", "namespace", fresh_name)
        assert out.strip() == f"namespace/{fresh_name} created"
        assert row(kubectl.ok("get", "namespace", fresh_name), fresh_name)["STATUS"] == "Active"
        labels = http.get(f"/api/v1/namespaces/{fresh_name}")["metadata"]["labels"]
        assert labels == {"kubernetes.io/metadata.name": fresh_name}
    finally:
        http.request("DELETE", f"/api/v1/namespaces/{fresh_name}")


def test_create_configmap_secret_and_serviceaccount(kubectl: Kubectl, ns: str, http: Http) -> None:
    out = kubectl.ok("create", "configmap", "settings", "-n", ns,
                     "--from-literal=color=blue", "--from-literal=size=10")
    assert out.strip() == "configmap/settings created"
    assert row(kubectl.ok("get", "-n", ns, "configmap", "settings"), "settings")["DATA"] == "2"
    data = json.loads(kubectl.ok("get", "-n", ns, "configmap", "settings", "-o", "jsonpath={.data}"))
    assert data == {"color": "blue", "size": "10"}

    out = kubectl.ok("create", "secret", "generic", "creds", "-n", ns,
                     "--from-literal=user=admin", "--from-literal=password=s3cret")
    assert out.strip() == "secret/creds created"
    secret = http.get(f"/api/v1/namespaces/{ns}/secrets/creds")
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == \
        {"user": "admin", "password": "s3cret"}
    got = row(kubectl.ok("get", "-n", ns, "secret", "creds"), "creds")
    assert (got["TYPE"], got["DATA"]) == ("Opaque", "2")

    assert kubectl.ok("create", "serviceaccount", "builder", "-n", ns).strip() == "serviceaccount/builder created"
    out = kubectl.ok("get", "-n", ns, "serviceaccounts")
    assert table(out)[0] == ["NAME", "SECRETS", "AGE"]
    assert row(out, "builder")["SECRETS"] == "0"


def test_create_deployment(kubectl: Kubectl, ns: str, http: Http) -> None:
    out = kubectl.ok("create", "deployment", "web", "-n", ns, "--image=nginx:1.25",
                     "--replicas=3", "--port=80")
    assert out.strip() == "deployment.apps/web created"
    got = row(kubectl.ok("get", "-n", ns, "deployment", "web", "-o", "wide"), "web")
    assert (got["READY"], got["CONTAINERS"], got["IMAGES"], got["SELECTOR"]) == ("0/3", "nginx", "nginx:1.25",
                                                                               "app=web"), got
    deploy = http.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert deploy["metadata"]["labels"] == {"app": "web"}
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_create_services(kubectl: Kubectl, ns: str, http: Http) -> None:
    out = kubectl.ok("create", "service", "clusterip", "api", "-n", ns, "--tcp=80:8080")
    assert out.strip() == "service/api created"
    got = row(kubectl.ok("get", "-n", ns, "service", "api", "-o", "wide"), "api")
    assert (got["TYPE"], got["EXTERNAL-IP"], got["PORT(S)"], got["SELECTOR"]) == \
        ("ClusterIP", "<none>", "80/TCP", "app=api"), got
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", got["CLUSTER-IP"]), got

    out = kubectl.ok("create", "service", "nodeport", "edge", "-n", ns, "--tcp=80:8080")
    assert out.strip() == "service/edge created"
    got = row(kubectl.ok("get", "-n", ns, "service", "edge"), "edge")
    assert got["TYPE"] == "NodePort", got
    port = re.fullmatch(r"80:(\d+)/TCP", got["PORT(S)"])
    assert port and 30000 <= int(port.group(1)) <= 32767, got
    svc = http.get(f"/api/v1/namespaces/{ns}/services/edge")
    assert svc["spec"]["ports"][0]["nodePort"] == int(port.group(1))
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"

    kubectl.ok("create", "deployment", "web", "-n", ns, "--image=nginx")
    out = kubectl.ok("expose", "deployment", "web", "-n", ns, "--port=8080", "--target-port=80")
    assert out.strip() == "service/web exposed"
    got = row(kubectl.ok("get", "-n", ns, "service", "web", "-o", "wide"), "web")
    assert (got["PORT(S)"], got["SELECTOR"]) == ("8080/TCP", "app=web"), got

    out = kubectl.ok("create", "service", "clusterip", "headless", "-n", ns,
                     "--clusterip=None")
    assert out.strip() == "service/headless created"
    assert row(kubectl.ok("get", "-n", ns, "service", "headless"), "headless")["CLUSTER-IP"] == "None"


def test_run_pod(kubectl: Kubectl, ns: str, http: Http) -> None:
    # ``run`` sends JSON in every version (only the ``create <generator>`` commands use protobuf)
    out = kubectl.ok("run", "solo", "-n", ns, "--image=nginx:1.25", "--restart=Never",
                     "--labels=app=solo,tier=test", "--env=MODE=blue")
    assert out.strip() == "pod/solo created"
    got = row(kubectl.ok("get", "-n", ns, "pod", "solo"), "solo")
    assert (got["READY"], got["STATUS"], got["RESTARTS"]) == ("0/1", "Pending", "0"), got
    pod = http.get(f"/api/v1/namespaces/{ns}/pods/solo")
    assert pod["metadata"]["labels"] == {"app": "solo", "tier": "test"}
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "blue"}]
    assert pod["status"]["phase"] == "Pending"


def test_create_dry_run_server_stores_nothing(kubectl: Kubectl, ns: str, http: Http) -> None:
    out = kubectl.ok("create", "deployment", "web", "-n", ns, "--image=nginx",
                     "--dry-run=server", "-o", "json")
    deploy = json.loads(out)
    assert deploy["metadata"]["uid"]
    assert deploy["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert deploy["spec"]["revisionHistoryLimit"] == 10
    assert not http.exists(f"/apis/apps/v1/namespaces/{ns}/deployments/web")

    out = kubectl.ok("run", "solo", "-n", ns, "--image=nginx", "--dry-run=server")
    assert out.strip() == "pod/solo created (server dry run)"
    assert not http.exists(f"/api/v1/namespaces/{ns}/pods/solo")
