"""``kubectl get``: server-side printed columns, output formats, selectors, sorting, watch and pagination.

The read-only tests share one populated namespace per kubectl version (``shop``, module scoped, never
changed by a test); tests that write (watch, pagination) make their own namespace.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.compat import manifests as m
from tests.compat.conftest import Http, kubectl_stream, row, rows, table
from tests.conftest import Kubectl

pytestmark = pytest.mark.kubectl

AGE = re.compile(r"\d+[smhd]|<unknown>|<invalid>")


@pytest.fixture(scope="module")
def shop(kubectl: Kubectl, http: Http, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A namespace holding three deployments, services, pods, config maps, a secret, an RS and an RC."""
    ns = f"get-{kubectl.version.replace('.', '')}-{uuid.uuid4().hex[:5]}"
    http.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    docs = [
        m.deployment("web", replicas=2, labels={"app": "web", "env": "a"}),
        m.deployment("api", replicas=1, image="example.com/api:2", labels={"app": "api", "env": "b"}),
        m.deployment("batch", replicas=3, labels={"app": "batch", "env": "c"}),
        m.service("web"),
        m.service("api", port=8443, target=8443),
        m.pod("web-1", labels={"app": "web"}),
        m.pod("web-2", labels={"app": "web"}),
        m.pod("api-1", labels={"app": "api"}),
        m.configmap("order-c", {"order": "3"}),
        m.configmap("order-a", {"order": "1", "extra": "x"}),
        m.configmap("order-b", {"order": "2"}),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "type": "Opaque",
         "stringData": {"user": "admin", "password": "s3cret"}},
        m.replicaset("cache", replicas=2),
        m.replication_controller("legacy", replicas=1),
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
         "subsets": [{"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}], "ports": [{"name": "http", "port": 80}]}]},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
         "endpoints": [{"addresses": ["10.1.0.1"], "conditions": {"ready": True}}, {"addresses": ["10.1.0.2"]}]},
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "leader"},
         "spec": {"holderIdentity": "web-1", "leaseDurationSeconds": 15}},
    ]
    f = m.write(tmp_path_factory.mktemp("shop") / "shop.yaml", *docs)
    kubectl.ok("create", "-n", ns, "-f", f)
    yield ns
    http.request("DELETE", f"/api/v1/namespaces/{ns}")


def test_get_default_columns(kubectl: Kubectl, shop: str) -> None:
    out = kubectl.ok("get", "-n", shop, "deployments")
    assert table(out)[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [r["NAME"] for r in rows(out)] == ["api", "batch", "web"]
    web = row(out, "web")
    assert (web["READY"], web["UP-TO-DATE"], web["AVAILABLE"]) == ("0/2", "0", "0"), web
    assert AGE.fullmatch(web["AGE"]), web

    out = kubectl.ok("get", "-n", shop, "pods")
    assert table(out)[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    pod = row(out, "web-1")
    assert (pod["READY"], pod["STATUS"], pod["RESTARTS"]) == ("0/1", "Pending", "0"), pod

    out = kubectl.ok("get", "-n", shop, "services")
    assert table(out)[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    svc = row(out, "api")
    assert svc["TYPE"] == "ClusterIP" and svc["EXTERNAL-IP"] == "<none>" and svc["PORT(S)"] == "8443/TCP", svc
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", svc["CLUSTER-IP"]), svc

    out = kubectl.ok("get", "-n", shop, "configmaps")
    assert table(out)[0] == ["NAME", "DATA", "AGE"]
    assert row(out, "order-a")["DATA"] == "2"

    out = kubectl.ok("get", "-n", shop, "secrets")
    assert table(out)[0] == ["NAME", "TYPE", "DATA", "AGE"]
    assert (row(out, "creds")["TYPE"], row(out, "creds")["DATA"]) == ("Opaque", "2")

    for kind, name, desired in (("replicasets", "cache", "2"), ("replicationcontrollers", "legacy", "1")):
        out = kubectl.ok("get", "-n", shop, kind)
        assert table(out)[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], out
        assert row(out, name)["DESIRED"] == desired

    out = kubectl.ok("get", "-n", shop, "endpoints")
    assert table(out)[0] == ["NAME", "ENDPOINTS", "AGE"]
    assert row(out, "web")["ENDPOINTS"] == "10.1.0.1:80,10.1.0.2:80"

    out = kubectl.ok("get", "-n", shop, "endpointslices")
    assert table(out)[0] == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    got = row(out, "web-abc")
    assert (got["ADDRESSTYPE"], got["PORTS"], got["ENDPOINTS"]) == ("IPv4", "80", "10.1.0.1,10.1.0.2"), got

    out = kubectl.ok("get", "-n", shop, "leases")
    assert table(out)[0] == ["NAME", "HOLDER", "AGE"]
    assert row(out, "leader")["HOLDER"] == "web-1"

    out = kubectl.ok("get", "namespaces")
    assert table(out)[0] == ["NAME", "STATUS", "AGE"]
    for name in ("default", "kube-system", "kube-public", "kube-node-lease", shop):
        assert row(out, name)["STATUS"] == "Active"


def test_get_wide_adds_priority_columns(kubectl: Kubectl, shop: str) -> None:
    out = kubectl.ok("get", "-n", shop, "deployments", "-o", "wide")
    assert table(out)[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    api = row(out, "api")
    assert (api["CONTAINERS"], api["IMAGES"], api["SELECTOR"]) == ("app", "example.com/api:2", "app=api"), api

    out = kubectl.ok("get", "-n", shop, "pods", "-o", "wide")
    assert table(out)[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                             "READINESS GATES"]
    pod = row(out, "api-1")
    assert (pod["IP"], pod["NODE"], pod["NOMINATED NODE"], pod["READINESS GATES"]) == ("<none>",) * 4, pod

    out = kubectl.ok("get", "-n", shop, "services", "-o", "wide")
    assert table(out)[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert row(out, "web")["SELECTOR"] == "app=web"

    out = kubectl.ok("get", "-n", shop, "replicasets", "-o", "wide")
    assert table(out)[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert row(out, "cache")["SELECTOR"] == "app=cache"


def test_get_structured_outputs(kubectl: Kubectl, shop: str) -> None:
    listed = json.loads(kubectl.ok("get", "-n", shop, "deployments", "-o", "json"))
    assert listed["kind"] == "List" and listed["apiVersion"] == "v1"
    assert [d["metadata"]["name"] for d in listed["items"]] == ["api", "batch", "web"]
    assert all(d["kind"] == "Deployment" and d["apiVersion"] == "apps/v1" for d in listed["items"])

    one = yaml.safe_load(kubectl.ok("get", "-n", shop, "deployment", "web", "-o", "yaml"))
    assert one["kind"] == "Deployment" and one["apiVersion"] == "apps/v1"
    assert one["metadata"]["name"] == "web" and one["metadata"]["namespace"] == shop
    assert one["spec"]["replicas"] == 2

    names = kubectl.ok("get", "-n", shop, "deployments", "-o", "jsonpath={.items[*].metadata.name}")
    assert names == "api batch web"
    ranged = kubectl.ok("get", "-n", shop, "deployments", "-o",
                        'jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{"\\n"}{end}')
    assert ranged.splitlines() == ["api=1", "batch=3", "web=2"]
    image = kubectl.ok("get", "-n", shop, "deployment", "api", "-o",
                       "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == "example.com/api:2"

    out = kubectl.ok("get", "-n", shop, "deployments", "-o",
                     "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,IMAGE:.spec.template.spec.containers[0].image")
    assert table(out)[0] == ["NAME", "REPLICAS", "IMAGE"]
    assert row(out, "batch") == {"NAME": "batch", "REPLICAS": "3", "IMAGE": "nginx:1.25"}

    assert kubectl.ok("get", "-n", shop, "deployments", "-o", "name").splitlines() == \
        ["deployment.apps/api", "deployment.apps/batch", "deployment.apps/web"]
    mixed = kubectl.ok("get", "-n", shop, "deployment/web", "service/web", "pod/web-1", "-o", "name")
    assert mixed.splitlines() == ["deployment.apps/web", "service/web", "pod/web-1"]

    secret = json.loads(kubectl.ok("get", "-n", shop, "secret", "creds", "-o", "json"))
    assert secret["data"] == {"user": "YWRtaW4=", "password": "czNjcmV0"}, "stringData is merged into data"
    assert "stringData" not in secret


def test_get_across_namespaces_and_kinds(kubectl: Kubectl, shop: str) -> None:
    out = kubectl.ok("get", "deployments", "-A")
    assert table(out)[0] == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    mine = [r["NAME"] for r in rows(out) if r["NAMESPACE"] == shop]
    assert mine == ["api", "batch", "web"]

    out = kubectl.ok("get", "-n", shop, "deployments,services")
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 2, out
    assert table(blocks[0])[0][0] == "NAME" and row(blocks[0], "deployment.apps/web")["READY"] == "0/2"
    assert row(blocks[1], "service/web")["TYPE"] == "ClusterIP"

    everything = kubectl.ok("get", "-n", shop, "all", "-o", "name").splitlines()
    for name in ("pod/web-1", "service/web", "deployment.apps/batch", "replicaset.apps/cache",
                 "replicationcontroller/legacy"):
        assert name in everything, everything
    assert not any(n.startswith(("configmap/", "secret/")) for n in everything), everything

    r = kubectl("get", "-n", shop, "deployment", "nope")
    assert r.rc == 1, r
    assert r.err.strip() == 'Error from server (NotFound): deployments.apps "nope" not found', r


def _names(out: str) -> list[str]:
    return [line.split("/", 1)[1] for line in out.splitlines()]


def test_get_with_label_selectors(kubectl: Kubectl, shop: str) -> None:
    def select(*args: str) -> list[str]:
        return _names(kubectl.ok("get", "-n", shop, "deployments", "-o", "name", *args))

    assert select("-l", "app=web") == ["web"]
    assert select("-l", "env in (a,b)") == ["api", "web"]
    assert select("-l", "env notin (a,b)") == ["batch"]
    assert select("-l", "env!=a") == ["api", "batch"]
    assert select("-l", "app,env=c") == ["batch"]
    assert select("-l", "!tier") == ["api", "batch", "web"]

    r = kubectl("get", "-n", shop, "deployments", "-l", "app=nothing")
    assert r.rc == 0 and r.out == "", r
    assert r.err.strip() == f"No resources found in {shop} namespace.", r

    pods = _names(kubectl.ok("get", "-n", shop, "pods", "-o", "name", "--selector=app=web"))
    assert pods == ["web-1", "web-2"]


def test_get_with_field_selectors(kubectl: Kubectl, shop: str) -> None:
    def select(kind: str, selector: str) -> list[str]:
        return _names(kubectl.ok("get", "-n", shop, kind, "-o", "name", "--field-selector", selector))

    assert select("deployments", "metadata.name=web") == ["web"]
    assert select("deployments", "metadata.name!=web") == ["api", "batch"]
    assert select("configmaps", f"metadata.namespace={shop},metadata.name=order-b") == ["order-b"]
    assert select("pods", "status.phase!=Running") == ["api-1", "web-1", "web-2"]
    assert select("pods", "spec.nodeName=") == ["api-1", "web-1", "web-2"]

    r = kubectl("get", "-n", shop, "pods", "--field-selector", "status.phase=Running")
    assert r.rc == 0 and r.out == "", r
    assert r.err.strip() == f"No resources found in {shop} namespace.", r

    r = kubectl("get", "-n", shop, "deployments", "--field-selector", "spec.replicas=1")
    assert r.rc == 1, r
    assert r.err.startswith('Error from server (BadRequest): Unable to find "apps/v1, Resource=deployments" that '
                            'match label selector "", field selector "spec.replicas=1": '), r
    assert "spec.replicas" in r.err.split("field selector", 1)[1].split(":", 1)[1], r


def test_get_show_labels_and_sort_by(kubectl: Kubectl, shop: str) -> None:
    out = kubectl.ok("get", "-n", shop, "deployments", "--show-labels")
    assert table(out)[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "LABELS"]
    assert row(out, "web")["LABELS"] == "app=web,env=a"

    out = kubectl.ok("get", "-n", shop, "deployments", "--sort-by=.spec.replicas")
    assert [r["NAME"] for r in rows(out)] == ["api", "web", "batch"]

    out = kubectl.ok("get", "-n", shop, "configmaps", "-l", "!nope", "--field-selector", "metadata.name!=x",
                     "--sort-by={.data.order}", "-o", "name")
    assert [n for n in _names(out) if n.startswith("order-")] == ["order-a", "order-b", "order-c"]

    out = kubectl.ok("get", "-n", shop, "pods", "--sort-by=.metadata.name", "-o", "wide")
    assert [r["NAME"] for r in rows(out)] == ["api-1", "web-1", "web-2"]

    out = kubectl.ok("get", "-n", shop, "deployments", "-L", "env", "-L", "missing")
    assert table(out)[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "ENV", "MISSING"]
    assert (row(out, "api")["ENV"], row(out, "api")["MISSING"]) == ("b", "")

    out = kubectl.ok("get", "-n", shop, "deployments", "--no-headers")
    assert [line.split()[0] for line in out.splitlines()] == ["api", "batch", "web"]

    out = kubectl.ok("get", "-n", shop, "deployments", "-o",
                     "go-template={{range .items}}{{.metadata.name}}:{{.spec.replicas}} {{end}}")
    assert out.split() == ["api:1", "batch:3", "web:2"]


def test_get_subresource_tables(kubectl: Kubectl, shop: str) -> None:
    # --subresource (kubectl 1.24+): status prints the kind's own columns, scale upstream's printScale columns
    out = kubectl.ok("get", "-n", shop, "deployment", "web", "--subresource=status")
    assert table(out)[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], out
    assert row(out, "web")["READY"] == "0/2"

    out = kubectl.ok("get", "-n", shop, "deployment", "batch", "--subresource=scale")
    assert table(out)[0] == ["NAME", "DESIRED", "AVAILABLE", "AGE"], out
    scaled = row(out, "batch")
    assert (scaled["DESIRED"], scaled["AVAILABLE"]) == ("3", "0"), scaled

    scale = json.loads(kubectl.ok("get", "-n", shop, "replicaset", "cache", "--subresource=scale", "-o", "json"))
    assert scale["kind"] == "Scale" and scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 0, "selector": "app=cache"}


def test_get_watch_named_object_sees_changes(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "cm.yaml", m.configmap("watched", {"a": "1"})))
    with kubectl_stream(kubectl, "get", "-n", ns, "configmap", "watched", "-w", "--output-watch-events") as watch:
        header = watch.expect(lambda line: "NAME" in line)
        assert re.split(r"\s{2,}", header.strip()) == ["EVENT", "NAME", "DATA", "AGE"]
        added = watch.expect(lambda line: "watched" in line)
        assert re.split(r"\s{2,}", added.strip())[:3] == ["ADDED", "watched", "1"], added

        kubectl.ok("patch", "-n", ns, "configmap", "watched", "--type", "merge", "-p", '{"data":{"b":"2"}}')
        modified = watch.expect(lambda line: "watched" in line)
        assert re.split(r"\s{2,}", modified.strip())[:3] == ["MODIFIED", "watched", "2"], modified

        kubectl.ok("delete", "-n", ns, "configmap", "watched")
        deleted = watch.expect(lambda line: "watched" in line)
        assert re.split(r"\s{2,}", deleted.strip())[:2] == ["DELETED", "watched"], deleted


def test_get_watch_list_sees_new_pod(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "first.yaml", m.pod("first")))
    with kubectl_stream(kubectl, "get", "-n", ns, "pods", "-w") as watch:
        header = watch.expect(lambda line: "NAME" in line)
        assert re.split(r"\s{2,}", header.strip()) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        first = watch.expect(lambda line: line.startswith("first"))
        assert re.split(r"\s{2,}", first.strip())[:4] == ["first", "0/1", "Pending", "0"], first

        kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "late.yaml", m.pod("late")))
        late = watch.expect(lambda line: line.startswith("late"))
        assert re.split(r"\s{2,}", late.strip())[:4] == ["late", "0/1", "Pending", "0"], late

        kubectl.ok("label", "-n", ns, "pod", "first", "seen=yes")
        again = watch.expect(lambda line: line.startswith("first"))
        assert re.split(r"\s{2,}", again.strip())[:3] == ["first", "0/1", "Pending"], again


def test_get_with_chunk_size_pages_through_everything(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    names = [f"page-{i}" for i in range(7)]
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "cms.yaml", *(m.configmap(n) for n in names)))

    r = kubectl("get", "-n", ns, "configmaps", "--chunk-size=2", "-l", "!absent", "-v=6")
    assert r.rc == 0, r
    header, body = table(r.out)
    assert header == ["NAME", "DATA", "AGE"]
    assert [c[0] for c in body if c[0].startswith("page-")] == names
    assert r.out.count("NAME") == 1, "one header for all pages"
    # -v=6 logs each response ("GET <url> 200 OK", or structured verb="GET" url="<url>" status="200 OK" in 1.33)
    requests = [line for line in r.err.splitlines()
                if "GET" in line and re.search(r"/configmaps\?\S*limit=2", line)]
    assert len(requests) >= 4, r.err
    assert all("200 OK" in line for line in requests), requests
    assert sum("continue=" in line for line in requests) == len(requests) - 1, requests

    out = kubectl.ok("get", "-n", ns, "configmaps", "--chunk-size=3", "-o", "name")
    assert [n for n in _names(out) if n.startswith("page-")] == names
