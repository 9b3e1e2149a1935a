"""Declarative writes: ``create -f``, client-side ``apply -f``, ``edit``, ``replace``, dry runs and the errors users meet."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.compat import manifests as m
from tests.compat.conftest import Http, row
from tests.conftest import Kubectl

pytestmark = pytest.mark.kubectl

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def get_json(kubectl: Kubectl, ns: str, *what: str) -> dict:
    return json.loads(kubectl.ok("get", "-n", ns, *what, "-o", "json"))


def test_create_multi_document_manifest(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "app.yaml", m.deployment("web"), m.service("web"),
                m.configmap("web-config", {"greeting": "hello"}))
    out = kubectl.ok("create", "-n", ns, "-f", f)
    assert out.splitlines() == ["deployment.apps/web created", "service/web created", "configmap/web-config created"]

    names = kubectl.ok("get", "-n", ns, "deployments,services,configmaps", "-o", "name").splitlines()
    assert {"deployment.apps/web", "service/web", "configmap/web-config"} <= set(names), names

    cm = get_json(kubectl, ns, "configmap", "web-config")
    assert cm["data"] == {"greeting": "hello"}
    assert cm["metadata"]["namespace"] == ns
    assert cm["metadata"]["uid"] and cm["metadata"]["resourceVersion"] and cm["metadata"]["creationTimestamp"]


def test_create_twice_reports_already_exists(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "app.yaml", m.deployment("web"), m.configmap("web-config"))
    kubectl.ok("create", "-n", ns, "-f", f)
    again = kubectl("create", "-n", ns, "-f", f)
    assert again.rc == 1, again
    assert (f'Error from server (AlreadyExists): error when creating "{f}": '
            f'deployments.apps "web" already exists') in again.err, again
    assert (f'Error from server (AlreadyExists): error when creating "{f}": '
            f'configmaps "web-config" already exists') in again.err, again


def test_apply_twice_with_a_change_in_between(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    first = m.deployment("web", replicas=1, labels={"app": "web", "tier": "frontend"},
                         env=[{"name": "MODE", "value": "blue"}])
    f = m.write(tmp_path / "web.yaml", first)
    assert kubectl.ok("apply", "-n", ns, "-f", f).strip() == "deployment.apps/web created"
    created = get_json(kubectl, ns, "deployment", "web")
    assert created["metadata"]["generation"] == 1
    assert json.loads(created["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 1

    assert kubectl.ok("apply", "-n", ns, "-f", f).strip() == "deployment.apps/web unchanged"
    unchanged = get_json(kubectl, ns, "deployment", "web")
    assert unchanged["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    second = m.deployment("web", replicas=3, image="nginx:1.26", labels={"app": "web"},
                          env=[{"name": "MODE", "value": "green"}])
    m.write(tmp_path / "web.yaml", second)
    assert kubectl.ok("apply", "-n", ns, "-f", f).strip() == "deployment.apps/web configured"

    live = get_json(kubectl, ns, "deployment", "web")
    assert live["spec"]["replicas"] == 3
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.26"
    assert container["env"] == [{"name": "MODE", "value": "green"}]
    assert live["metadata"]["labels"] == {"app": "web"}, "a label dropped from the manifest is removed (3-way)"
    assert live["metadata"]["generation"] == 2
    applied = json.loads(live["metadata"]["annotations"][LAST_APPLIED])
    assert applied["spec"]["replicas"] == 3
    assert applied["metadata"]["labels"] == {"app": "web"}

    view = yaml.safe_load(kubectl.ok("apply", "view-last-applied", "-n", ns, "deployment/web"))
    assert view["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert row(kubectl.ok("get", "-n", ns, "deployment", "web"), "web")["READY"] == "0/3"


def test_apply_service_keeps_allocated_cluster_ip(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "svc.yaml", m.service("api", port=80, target=8080))
    assert kubectl.ok("apply", "-n", ns, "-f", f).strip() == "service/api created"
    ip = get_json(kubectl, ns, "service", "api")["spec"]["clusterIP"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip), ip

    m.write(tmp_path / "svc.yaml", m.service("api", port=81, target=9090))
    assert kubectl.ok("apply", "-n", ns, "-f", f).strip() == "service/api configured"
    live = get_json(kubectl, ns, "service", "api")
    assert live["spec"]["clusterIP"] == ip
    assert [(p["port"], p["targetPort"]) for p in live["spec"]["ports"]] == [(81, 9090)]


def test_apply_port_change_keeps_node_port_of_same_name(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "svc.yaml", m.service("edge", port=80, target=8080, type_="NodePort"))
    assert kubectl.ok("apply", "-n", ns, "-f", f).strip() == "service/edge created"
    node_port = get_json(kubectl, ns, "service", "edge")["spec"]["ports"][0]["nodePort"]

    # upstream's patchAllocatedValues re-uses the node port of the old port with the same name
    m.write(tmp_path / "svc.yaml", m.service("edge", port=81, target=8080, type_="NodePort"))
    assert kubectl.ok("apply", "-n", ns, "-f", f).strip() == "service/edge configured"
    ports = get_json(kubectl, ns, "service", "edge")["spec"]["ports"]
    assert [(p["name"], p["port"], p["nodePort"]) for p in ports] == [("http", 81, node_port)]


def test_apply_switch_node_port_service_to_cluster_ip(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "svc.yaml", m.service("edge", port=80, target=8080, type_="NodePort"))
    kubectl.ok("apply", "-n", ns, "-f", f)
    # upstream's dropTypeDependentFields clears node ports and externalTrafficPolicy the user did not change
    m.write(tmp_path / "svc.yaml", m.service("edge", port=80, target=8080, type_="ClusterIP"))
    r = kubectl("apply", "-n", ns, "-f", f)
    assert r.rc == 0, r
    assert r.out.strip() == "service/edge configured"
    spec = get_json(kubectl, ns, "service", "edge")["spec"]
    assert spec["type"] == "ClusterIP"
    assert "nodePort" not in spec["ports"][0], spec
    assert "externalTrafficPolicy" not in spec, spec


def test_apply_removes_list_items_and_switches_strategy(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    first = m.deployment("web", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    container = first["spec"]["template"]["spec"]["containers"][0]
    container["ports"] = [{"containerPort": 80}, {"containerPort": 443}]
    container["volumeMounts"] = [{"name": "scratch", "mountPath": "/a"}, {"name": "scratch", "mountPath": "/b"}]
    first["spec"]["template"]["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    f = m.write(tmp_path / "web.yaml", first)
    kubectl.ok("apply", "-n", ns, "-f", f)

    container["env"] = [{"name": "B", "value": "2"}]
    container["ports"] = [{"containerPort": 443}]
    container["volumeMounts"] = [{"name": "scratch", "mountPath": "/b"}]
    first["spec"]["strategy"] = {"type": "Recreate"}  # rollingUpdate must go: $retainKeys
    m.write(tmp_path / "web.yaml", first)
    assert kubectl.ok("apply", "-n", ns, "-f", f).strip() == "deployment.apps/web configured"

    spec = get_json(kubectl, ns, "deployment", "web")["spec"]
    live = spec["template"]["spec"]["containers"][0]
    assert live["env"] == [{"name": "B", "value": "2"}]
    assert live["ports"] == [{"containerPort": 443, "protocol": "TCP"}]
    assert live["volumeMounts"] == [{"name": "scratch", "mountPath": "/b"}]
    assert spec["strategy"] == {"type": "Recreate"}


def _editor(tmp_path: Path, name: str, sed: str) -> dict[str, str]:
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\nsed -i '{sed}' \"$1\"\n")
    script.chmod(0o755)
    return {"EDITOR": str(script), "KUBE_EDITOR": str(script)}


def test_edit_with_scripted_editor(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "objs.yaml", m.configmap("settings", {"color": "red"}), m.deployment("web", replicas=2))
    kubectl.ok("create", "-n", ns, "-f", f)

    r = kubectl("edit", "-n", ns, "configmap/settings", env=_editor(tmp_path, "recolor", "s/color: red/color: blue/"))
    assert r.rc == 0, r
    assert r.out.strip() == "configmap/settings edited", r
    assert get_json(kubectl, ns, "configmap", "settings")["data"] == {"color": "blue"}

    r = kubectl("edit", "-n", ns, "deployment", "web",
                env=_editor(tmp_path, "rescale", "s/^  replicas: 2$/  replicas: 4/"))
    assert r.rc == 0, r
    assert r.out.strip() == "deployment.apps/web edited", r
    assert row(kubectl.ok("get", "-n", ns, "deployment", "web"), "web")["READY"] == "0/4"

    noop = kubectl("edit", "-n", ns, "configmap/settings", env={"EDITOR": "true", "KUBE_EDITOR": "true"})
    assert noop.rc == 0, noop
    assert "Edit cancelled, no changes made." in noop.out + noop.err, noop


def test_dry_run_client_creates_nothing(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    out = kubectl.ok("create", "deployment", "web", "-n", ns, "--image=nginx:1.25", "--replicas=2",
                     "--dry-run=client", "-o", "yaml")
    deploy = yaml.safe_load(out)
    assert deploy["kind"] == "Deployment" and deploy["apiVersion"] == "apps/v1"
    assert deploy["metadata"]["name"] == "web"
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert "uid" not in deploy["metadata"]

    pod = yaml.safe_load(kubectl.ok("run", "solo", "-n", ns, "--image=nginx", "--restart=Never",
                                    "--dry-run=client", "-o", "yaml"))
    assert pod["kind"] == "Pod" and pod["spec"]["restartPolicy"] == "Never"

    f = m.write(tmp_path / "cm.yaml", m.configmap("settings"))
    assert kubectl.ok("apply", "-n", ns, "-f", f, "--dry-run=client").strip() == \
        "configmap/settings created (dry run)"

    assert not http.exists(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert not http.exists(f"/api/v1/namespaces/{ns}/pods/solo")
    assert not http.exists(f"/api/v1/namespaces/{ns}/configmaps/settings")


def test_dry_run_server_defaults_but_stores_nothing(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    f = m.write(tmp_path / "pod.yaml", m.pod("solo", image="nginx"))
    pod = yaml.safe_load(kubectl.ok("create", "-n", ns, "-f", f, "--dry-run=server", "-o", "yaml"))
    assert pod["metadata"]["namespace"] == ns
    assert pod["metadata"].get("uid"), pod["metadata"]
    assert pod["metadata"].get("creationTimestamp"), pod["metadata"]
    spec = pod["spec"]
    assert spec["containers"][0]["imagePullPolicy"] == "Always"
    assert spec["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
    assert spec["containers"][0]["terminationMessagePolicy"] == "File"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert pod["status"]["phase"] == "Pending"
    assert not http.exists(f"/api/v1/namespaces/{ns}/pods/solo")

    d = m.write(tmp_path / "web.yaml", m.deployment("web", replicas=1))
    assert kubectl.ok("apply", "-n", ns, "-f", d, "--dry-run=server").strip() == \
        "deployment.apps/web created (server dry run)"
    assert not http.exists(f"/apis/apps/v1/namespaces/{ns}/deployments/web")

    kubectl.ok("apply", "-n", ns, "-f", d)
    m.write(tmp_path / "web.yaml", m.deployment("web", replicas=5))
    preview = yaml.safe_load(kubectl.ok("apply", "-n", ns, "-f", d, "--dry-run=server", "-o", "yaml"))
    assert preview["spec"]["replicas"] == 5
    assert preview["spec"]["strategy"] == {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert preview["spec"]["revisionHistoryLimit"] == 10
    assert preview["spec"]["progressDeadlineSeconds"] == 600
    assert http.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")["spec"]["replicas"] == 1

    out = kubectl.ok("delete", "-n", ns, "deployment", "web", "--dry-run=server")
    assert re.fullmatch(r'deployment\.apps "web" deleted( from \S+ namespace)? \(server dry run\)', out.strip()), out
    assert http.exists(f"/apis/apps/v1/namespaces/{ns}/deployments/web")


def _with_unknown_field(name: str) -> dict:
    deploy = m.deployment(name)
    deploy["spec"]["foo"] = "bar"
    return deploy


def test_strict_validation_rejects_unknown_field(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    f = m.write(tmp_path / "bad.yaml", _with_unknown_field("strict"))
    for verb in ("apply", "create"):
        r = kubectl(verb, "-n", ns, "-f", f)
        assert r.rc == 1, r
        assert (f'Error from server (BadRequest): error when creating "{f}": Deployment in version "v1" cannot be '
                f'handled as a Deployment: strict decoding error: unknown field "spec.foo"') in r.err, r
    assert not http.exists(f"/apis/apps/v1/namespaces/{ns}/deployments/strict")

    lax = m.write(tmp_path / "lax.yaml", _with_unknown_field("lax"))
    assert kubectl.ok("apply", "-n", ns, "-f", lax, "--validate=false").strip() == "deployment.apps/lax created"
    assert "foo" not in http.get(f"/apis/apps/v1/namespaces/{ns}/deployments/lax")["spec"]

    warn = m.write(tmp_path / "warn.yaml", _with_unknown_field("warned"))
    r = kubectl("apply", "-n", ns, "-f", warn, "--validate=warn")
    assert r.rc == 0, r
    assert r.out.strip() == "deployment.apps/warned created", r
    assert 'Warning: unknown field "spec.foo"' in r.err, r


def test_invalid_objects_get_422_with_causes(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    bad = m.deployment("bad", replicas=-1)
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    f = m.write(tmp_path / "bad.yaml", bad)
    r = kubectl("apply", "-n", ns, "-f", f)
    assert r.rc == 1, r
    assert r.err.startswith('The Deployment "bad" is invalid: \n'), r
    lines = r.err.splitlines()
    assert "* spec.replicas: Invalid value: -1: must be greater than or equal to 0" in lines, r
    assert ('* spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
            '`selector` does not match template `labels`') in lines, r
    assert not http.exists(f"/apis/apps/v1/namespaces/{ns}/deployments/bad")

    nameless = m.deployment("twins")
    nameless["spec"]["template"]["spec"]["containers"] = [{"name": "app"}, {"name": "app", "image": "nginx"}]
    port = m.service("wide-port", port=70000, target=8080)
    f = m.write(tmp_path / "several.yaml", nameless, port)
    r = kubectl("create", "-n", ns, "-f", f)
    assert r.rc == 1, r
    # with several failures kubectl prints each Status message (not the causes): the server's own text
    assert r.err.splitlines() == [
        f'Error from server (Invalid): error when creating "{f}": Deployment.apps "twins" is invalid: '
        '[spec.template.spec.containers[0].image: Required value, spec.template.spec.containers[1].name: '
        'Duplicate value: "app"]',
        f'Error from server (Invalid): error when creating "{f}": Service "wide-port" is invalid: '
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"], r

    wrong_type = m.deployment("typo")
    wrong_type["spec"]["replicas"] = "three"
    f = m.write(tmp_path / "typo.yaml", wrong_type)
    r = kubectl("create", "-n", ns, "-f", f)
    assert r.rc == 1, r
    assert r.err.strip() == (
        f'Error from server (BadRequest): error when creating "{f}": Deployment in version "v1" cannot be handled '
        "as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of "
        "type int32"), r

    kubectl.ok("apply", "-n", ns, "-f", m.write(tmp_path / "web.yaml", m.deployment("web")))
    moved = m.deployment("web")
    moved["spec"]["selector"]["matchLabels"] = {"app": "other"}
    moved["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    r = kubectl("apply", "-n", ns, "-f", m.write(tmp_path / "moved.yaml", moved))
    assert r.rc == 1, r
    assert r.err.strip() == (
        'The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"other"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is '
        "immutable"), r

    f = m.write(tmp_path / "name.yaml", m.configmap("Bad_Name"))
    r = kubectl("create", "-n", ns, "-f", f)
    assert r.rc == 1, r
    assert r.err.strip() == (
        'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 '
        "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"), r


def test_errors_for_missing_targets_and_oversized_objects(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "cm.yaml", m.configmap("absent"))
    r = kubectl("replace", "-n", ns, "-f", f)
    assert r.rc == 1, r
    assert r.err.strip() == f'Error from server (NotFound): error when replacing "{f}": configmaps "absent" not found', r

    r = kubectl("create", "-n", f"{ns}-missing", "-f", f)
    assert r.rc == 1, r
    assert r.err.strip() == (f'Error from server (NotFound): error when creating "{f}": namespaces "{ns}-missing" '
                             "not found"), r

    big = str(tmp_path / "big.json")  # JSON: dumping megabytes as YAML in Python is slow
    Path(big).write_text(json.dumps(m.configmap("big", {"blob": "x" * 1_100_000})))
    r = kubectl("create", "-n", ns, "-f", big)
    assert r.rc == 1, r
    assert r.err.startswith('The ConfigMap "big" is invalid: []: Too long: ') and "1048576" in r.err, r

    huge = str(tmp_path / "huge.json")
    Path(huge).write_text(json.dumps(m.configmap("huge", {"blob": "x" * 3_200_000})))
    r = kubectl("create", "-n", ns, "-f", huge)
    assert r.rc == 1, r
    assert r.err.strip() == (f'Error from server (RequestEntityTooLarge): error when creating "{huge}": Request '
                             "entity too large: limit is 3145728"), r


def test_replace_with_stale_resource_version_conflicts(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "cm.yaml", m.configmap("settings", {"key": "v1"}))
    kubectl.ok("create", "-n", ns, "-f", f)
    stale = yaml.safe_load(kubectl.ok("get", "-n", ns, "configmap", "settings", "-o", "yaml"))
    assert stale["metadata"]["resourceVersion"]

    assert kubectl.ok("patch", "-n", ns, "configmap", "settings", "--type", "merge",
                      "-p", '{"data":{"key":"v2"}}').strip() == "configmap/settings patched"

    stale["data"]["key"] = "v3"
    stale_file = m.write(tmp_path / "stale.yaml", stale)
    r = kubectl("replace", "-n", ns, "-f", stale_file)
    assert r.rc == 1, r
    assert r.err.strip() == (
        f'Error from server (Conflict): error when replacing "{stale_file}": Operation cannot be fulfilled on '
        'configmaps "settings": the object has been modified; please apply your changes to the latest version '
        "and try again"), r
    assert get_json(kubectl, ns, "configmap", "settings")["data"] == {"key": "v2"}

    stale_rv = stale["metadata"]["resourceVersion"]
    r = kubectl("label", "-n", ns, "configmap", "settings", "seen=yes", f"--resource-version={stale_rv}")
    assert r.rc == 1, r
    assert r.err.strip() == (
        'Error from server (Conflict): Operation cannot be fulfilled on configmaps "settings": the object has been '
        "modified; please apply your changes to the latest version and try again"), r

    fresh = m.write(tmp_path / "fresh.yaml", m.configmap("settings", {"key": "v4"}))
    assert kubectl.ok("replace", "-n", ns, "-f", fresh).strip() == "configmap/settings replaced"
    assert get_json(kubectl, ns, "configmap", "settings")["data"] == {"key": "v4"}


def test_apply_from_stdin_and_directory(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    out = kubectl.ok("apply", "-n", ns, "-f", "-", stdin=m.to_yaml(m.configmap("from-stdin")))
    assert out.strip() == "configmap/from-stdin created"
    d = tmp_path / "dir"
    d.mkdir()
    m.write(d / "a.yaml", m.configmap("from-dir-a"))
    (d / "b.json").write_text(json.dumps(m.configmap("from-dir-b")))
    out = kubectl.ok("apply", "-n", ns, "-f", str(d))
    assert sorted(out.splitlines()) == ["configmap/from-dir-a created", "configmap/from-dir-b created"]


def test_create_with_generate_name_and_replace_force(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    generated = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}, "data": {"a": "b"}}
    f = m.write(tmp_path / "gen.yaml", generated)
    first = kubectl.ok("create", "-n", ns, "-f", f).strip()
    second = kubectl.ok("create", "-n", ns, "-f", f).strip()
    for out in (first, second):
        assert re.fullmatch(r"configmap/gen-[a-z0-9]{5} created", out), out
    assert first != second

    f = m.write(tmp_path / "cm.yaml", m.configmap("forced", {"v": "1"}))
    kubectl.ok("create", "-n", ns, "-f", f)
    uid = http.get(f"/api/v1/namespaces/{ns}/configmaps/forced")["metadata"]["uid"]
    m.write(tmp_path / "cm.yaml", m.configmap("forced", {"v": "2"}))
    lines = kubectl.ok("replace", "--force", "-n", ns, "-f", f).splitlines()
    assert re.fullmatch(r'configmap "forced" deleted( from \S+ namespace)?', lines[0]), lines
    assert lines[1:] == ["configmap/forced replaced"], lines
    live = http.get(f"/api/v1/namespaces/{ns}/configmaps/forced")
    assert live["data"] == {"v": "2"} and live["metadata"]["uid"] != uid


def test_diff_against_the_live_object(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    f = m.write(tmp_path / "web.yaml", m.deployment("web", replicas=1))
    kubectl.ok("apply", "-n", ns, "-f", f)
    same = kubectl("diff", "-n", ns, "-f", f)
    assert (same.rc, same.out) == (0, ""), same

    m.write(tmp_path / "web.yaml", m.deployment("web", replicas=4))
    changed = kubectl("diff", "-n", ns, "-f", f)
    assert changed.rc == 1, changed
    lines = changed.out.splitlines()
    assert "-  replicas: 1" in lines and "+  replicas: 4" in lines, changed.out
    assert "-  generation: 1" in lines and "+  generation: 2" in lines, changed.out
    assert http.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")["spec"]["replicas"] == 1

    m.write(tmp_path / "new.yaml", m.configmap("brand-new"))
    added = kubectl("diff", "-n", ns, "-f", str(tmp_path / "new.yaml"))
    assert added.rc == 1 and "+  name: brand-new" in added.out.splitlines(), added
    assert not http.exists(f"/api/v1/namespaces/{ns}/configmaps/brand-new")
