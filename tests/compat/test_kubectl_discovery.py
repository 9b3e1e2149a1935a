"""kubectl's read-only discovery commands: version, api-resources, api-versions, cluster-info, explain."""

from __future__ import annotations

import json
import re

import pytest

from tests.compat.conftest import row, rows, strip_ansi, table
from tests.conftest import Kubectl
from tests.serverproc import ServerProc

pytestmark = pytest.mark.kubectl


def _version_line(out: str, prefix: str) -> str:
    """The version a ``Client Version:``/``Server Version:`` line names (1.27 prints ``version.Info{...}``)."""
    line = next((line for line in out.splitlines() if line.startswith(prefix)), None)
    assert line is not None, f"no {prefix!r} line in:\n{out}"
    value = line.removeprefix(prefix).strip()
    long_form = re.fullmatch(r'version\.Info\{.*GitVersion:"([^"]+)".*\}', value)
    return long_form.group(1) if long_form else value


def test_version_prints_client_and_server(kubectl: Kubectl) -> None:
    out = kubectl.ok("version")
    client = _version_line(out, "Client Version:")
    server = _version_line(out, "Server Version:")
    assert re.fullmatch(rf"v{re.escape(kubectl.version)}\.\d+", client), out
    assert re.fullmatch(r"v1\.\d+\.\d+\S*", server), out

    info = json.loads(kubectl.ok("version", "-o", "json"))
    assert info["clientVersion"]["gitVersion"] == client
    srv = info["serverVersion"]
    for key in ("major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                "compiler", "platform"):
        assert key in srv, f"serverVersion lacks {key}: {srv}"
    assert srv["major"] == "1"
    assert srv["gitVersion"] == server
    assert server.startswith(f"v{srv['major']}.{srv['minor']}."), srv


def test_api_resources_lists_served_kinds(kubectl: Kubectl) -> None:
    out = kubectl.ok("api-resources")
    header, _ = table(out)
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    listed = {(r["NAME"], r["APIVERSION"]): r for r in rows(out)}

    def has(name: str, short: str, version: str, namespaced: str, kind: str) -> None:
        got = listed.get((name, version))
        assert got == {"NAME": name, "SHORTNAMES": short, "APIVERSION": version, "NAMESPACED": namespaced,
                       "KIND": kind}, f"{name} {version}: {got}\n{out}"

    has("pods", "po", "v1", "true", "Pod")
    has("namespaces", "ns", "v1", "false", "Namespace")
    has("nodes", "no", "v1", "false", "Node")
    has("services", "svc", "v1", "true", "Service")
    has("configmaps", "cm", "v1", "true", "ConfigMap")
    has("secrets", "", "v1", "true", "Secret")
    has("serviceaccounts", "sa", "v1", "true", "ServiceAccount")
    has("replicationcontrollers", "rc", "v1", "true", "ReplicationController")
    has("endpoints", "ep", "v1", "true", "Endpoints")
    has("events", "ev", "v1", "true", "Event")
    has("deployments", "deploy", "apps/v1", "true", "Deployment")
    has("replicasets", "rs", "apps/v1", "true", "ReplicaSet")
    has("leases", "", "coordination.k8s.io/v1", "true", "Lease")
    has("endpointslices", "", "discovery.k8s.io/v1", "true", "EndpointSlice")
    has("events", "ev", "events.k8s.io/v1", "true", "Event")
    # subresources are not resources of their own
    assert not any("/" in name for name, _ in listed), out


def test_api_resources_filters_and_wide(kubectl: Kubectl) -> None:
    cluster = {r["NAME"] for r in rows(kubectl.ok("api-resources", "--namespaced=false"))}
    assert {"nodes", "namespaces"} <= cluster
    assert not {"pods", "deployments", "configmaps"} & cluster

    apps = kubectl.ok("api-resources", "--api-group=apps", "-o", "name").split()
    assert sorted(apps) == ["deployments.apps", "replicasets.apps"]

    wide = kubectl.ok("api-resources", "-o", "wide")
    header, _ = table(wide)
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES"]
    pods = row(wide, "pods")
    assert pods["VERBS"] == "create,delete,deletecollection,get,list,patch,update,watch" or \
        pods["VERBS"] == "[create delete deletecollection get list patch update watch]", pods
    assert pods["CATEGORIES"] in ("all", "[all]"), pods
    deploy = row(wide, "deployments")
    assert deploy["CATEGORIES"] in ("all", "[all]"), deploy


def test_api_versions_lists_group_versions(kubectl: Kubectl) -> None:
    versions = kubectl.ok("api-versions").splitlines()
    for gv in ("v1", "apps/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1"):
        assert gv in versions, versions
    assert versions == sorted(versions), "kubectl prints api-versions sorted"


def test_cluster_info_names_control_plane(kubectl: Kubectl, server: ServerProc) -> None:
    out = strip_ansi(kubectl.ok("cluster-info"))
    assert f"Kubernetes control plane is running at {server.url}" in out.splitlines(), out
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)


def test_explain_pod_containers(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "pods.spec.containers")
    assert re.search(r"^KIND:\s+Pod$", out, re.M), out
    assert re.search(r"^VERSION:\s+v1$", out, re.M), out
    assert re.search(r"^(FIELD|RESOURCE):\s+containers <\[\]Container>", out, re.M), out
    assert "DESCRIPTION:" in out
    assert "List of containers belonging to the pod." in " ".join(out.split())
    assert re.search(r"^FIELDS:$", out, re.M), out
    assert re.search(r"^\s+name\s+<string> -required-$", out, re.M), out
    assert re.search(r"^\s+image\s+<string>$", out, re.M), out
    assert re.search(r"^\s+env\s+<\[\]EnvVar>$", out, re.M), out


def test_explain_deployment_strategy(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "deployment.spec.strategy")
    assert re.search(r"^KIND:\s+Deployment$", out, re.M), out
    assert re.search(r"^VERSION:\s+v1$", out, re.M), out
    assert re.search(r"^(GROUP:\s+apps$|VERSION:\s+apps/v1$)", out, re.M) or "apps" in out, out
    assert re.search(r"^(FIELD|RESOURCE):\s+strategy <DeploymentStrategy>", out, re.M), out
    assert re.search(r"^\s+rollingUpdate\s+<RollingUpdateDeployment>$", out, re.M), out
    assert re.search(r"^\s+type\s+<string>", out, re.M), out
    assert "Recreate" in out and "RollingUpdate" in out

    recursive = kubectl.ok("explain", "deployment.spec.strategy", "--recursive")
    assert re.search(r"^\s+maxSurge\s+<(IntOrString|string)>$", recursive, re.M), recursive
    assert re.search(r"^\s+maxUnavailable\s+<(IntOrString|string)>$", recursive, re.M), recursive
