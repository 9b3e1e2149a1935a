"""``kubectl delete``: by name, label and ``--all``; cascade policies; ``--wait``; missing objects; namespaces.

The cascade tests build a Deployment -> ReplicaSet -> Pod ownership chain by hand (no deployment
controller runs) and watch the garbage collector inside the server act on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.compat import manifests as m
from tests.compat.conftest import Http, kubectl_stream, row, wait_until
from tests.conftest import Kubectl

pytestmark = pytest.mark.kubectl


def deleted(kind: str, name: str) -> re.Pattern[str]:
    """kubectl's confirmation line; newer versions may name the namespace."""
    return re.compile(rf'{re.escape(kind)} "{re.escape(name)}" deleted( from \S+ namespace)?')


def test_delete_missing_object(kubectl: Kubectl, ns: str) -> None:
    r = kubectl("delete", "-n", ns, "configmap", "nope")
    assert r.rc == 1, r
    assert r.err.strip() == 'Error from server (NotFound): configmaps "nope" not found', r
    assert r.out == ""

    r = kubectl("delete", "-n", ns, "deployment", "nope", "--ignore-not-found")
    assert (r.rc, r.out, r.err) == (0, "", ""), r


def test_delete_by_name_label_and_all(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    docs = [m.configmap("a", labels={"app": "x"}), m.configmap("b", labels={"app": "x"}),
            m.configmap("c", labels={"app": "other"}), m.configmap("d"), m.pod("p")]
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "cms.yaml", *docs))

    out = kubectl.ok("delete", "-n", ns, "configmap", "-l", "app=x")
    lines = out.splitlines()
    assert len(lines) == 2 and deleted("configmap", "a").fullmatch(lines[0]) and \
        deleted("configmap", "b").fullmatch(lines[1]), out
    assert not http.exists(f"/api/v1/namespaces/{ns}/configmaps/a")
    assert http.exists(f"/api/v1/namespaces/{ns}/configmaps/c")

    out = kubectl.ok("delete", "-n", ns, "pod", "p")
    assert deleted("pod", "p").fullmatch(out.strip()), out
    assert not http.exists(f"/api/v1/namespaces/{ns}/pods/p"), "an unscheduled pod goes at once"

    out = kubectl.ok("delete", "-n", ns, "configmaps", "--all")
    assert any(deleted("configmap", "c").fullmatch(line) for line in out.splitlines()), out
    assert any(deleted("configmap", "d").fullmatch(line) for line in out.splitlines()), out
    left = http.get(f"/api/v1/namespaces/{ns}/configmaps")["items"]
    assert [c["metadata"]["name"] for c in left if c["metadata"]["name"] != "kube-root-ca.crt"] == []


def _owned_chain(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> dict[str, str]:
    """A Deployment owning a ReplicaSet owning a Pod (written by hand: no deployment controller runs).

    Returns the API paths of the three objects.
    """
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "deploy.yaml", m.deployment("web")))
    paths = {"deployment": f"/apis/apps/v1/namespaces/{ns}/deployments/web",
             "replicaset": f"/apis/apps/v1/namespaces/{ns}/replicasets/web-1",
             "pod": f"/api/v1/namespaces/{ns}/pods/web-1-a"}

    def owned_by(kind: str, name: str, uid: str) -> list[dict[str, object]]:
        return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": True,
                 "blockOwnerDeletion": True}]

    rs = m.replicaset("web-1")
    rs["metadata"]["ownerReferences"] = owned_by("Deployment", "web", http.get(paths["deployment"])["metadata"]["uid"])
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "rs.yaml", rs))
    pod = m.pod("web-1-a")
    pod["metadata"]["ownerReferences"] = owned_by("ReplicaSet", "web-1", http.get(paths["replicaset"])["metadata"]["uid"])
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "pod.yaml", pod))
    return paths


def test_delete_cascade_background_collects_dependents(kubectl: Kubectl, ns: str, http: Http,
                                                       tmp_path: Path) -> None:
    paths = _owned_chain(kubectl, ns, http, tmp_path)
    r = kubectl("delete", "-n", ns, "deployment", "web", "--cascade=background", "-v=8")
    assert r.rc == 0, r
    assert deleted("deployment.apps", "web").fullmatch(r.out.strip()), r
    assert '"propagationPolicy":"Background"' in r.err, "kubectl sends the policy in DeleteOptions"
    assert not http.exists(paths["deployment"]), "the owner goes at once"
    wait_until(lambda: not http.exists(paths["replicaset"]) and not http.exists(paths["pod"]), timeout=10,
               what="the garbage collector to delete the replica set and its pod")


def test_delete_cascade_foreground_deletes_dependents_first(kubectl: Kubectl, ns: str, http: Http,
                                                            tmp_path: Path) -> None:
    paths = _owned_chain(kubectl, ns, http, tmp_path)
    r = kubectl("delete", "-n", ns, "deployment", "web", "--cascade=foreground", "--timeout=30s", "-v=8")
    assert r.rc == 0, r
    assert any(deleted("deployment.apps", "web").fullmatch(line) for line in r.out.splitlines()), r
    assert '"propagationPolicy":"Foreground"' in r.err
    # kubectl waited for the owner to go; in the foreground it goes only after its blocking dependents
    for what in ("deployment", "replicaset", "pod"):
        assert not http.exists(paths[what]), f"{what} still exists after a foreground delete returned"


def test_delete_cascade_foreground_keeps_owner_until_dependents_go(kubectl: Kubectl, ns: str, http: Http,
                                                                   tmp_path: Path) -> None:
    paths = _owned_chain(kubectl, ns, http, tmp_path)
    http.patch(paths["replicaset"], {"metadata": {"finalizers": ["example.com/hold"]}})
    try:
        out = kubectl.ok("delete", "-n", ns, "deployment", "web", "--cascade=foreground", "--wait=false")
        assert deleted("deployment.apps", "web").fullmatch(out.strip()), out
        rs = wait_until(lambda: http.get(paths["replicaset"])["metadata"].get("deletionTimestamp")
                        and http.get(paths["replicaset"]), what="the replica set to be deleted")
        assert "example.com/hold" in rs["metadata"]["finalizers"], rs["metadata"]
        owner = http.get(paths["deployment"])["metadata"]
        assert owner["deletionTimestamp"] and "foregroundDeletion" in owner["finalizers"], owner
        assert kubectl.ok("get", "-n", ns, "deployment", "web", "-o",
                          "jsonpath={.metadata.finalizers}") == '["foregroundDeletion"]'
    finally:
        http.request("PATCH", paths["replicaset"], [{"op": "remove", "path": "/metadata/finalizers"}],
                     "application/json-patch+json")
    wait_until(lambda: not http.exists(paths["deployment"]), timeout=10,
               what="the owner to go once its dependents are gone")


def test_delete_cascade_orphan_keeps_dependents(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    paths = _owned_chain(kubectl, ns, http, tmp_path)
    r = kubectl("delete", "-n", ns, "deployment", "web", "--cascade=orphan", "--timeout=30s", "-v=8")
    assert r.rc == 0, r
    assert any(deleted("deployment.apps", "web").fullmatch(line) for line in r.out.splitlines()), r
    assert '"propagationPolicy":"Orphan"' in r.err
    assert not http.exists(paths["deployment"])
    rs = http.get(paths["replicaset"])
    assert not rs["metadata"].get("ownerReferences"), "the orphaned replica set no longer names its owner"
    assert not rs["metadata"].get("deletionTimestamp")
    assert http.get(paths["pod"])["metadata"]["ownerReferences"][0]["name"] == "web-1"
    assert row(kubectl.ok("get", "-n", ns, "replicaset", "web-1"), "web-1")["DESIRED"] == "1"


def test_delete_wait_blocks_until_finalizers_are_gone(kubectl: Kubectl, ns: str, http: Http,
                                                       tmp_path: Path) -> None:
    held = m.configmap("held", finalizers=["example.com/hold"])
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "cm.yaml", held))
    path = f"/api/v1/namespaces/{ns}/configmaps/held"

    with kubectl_stream(kubectl, "delete", "-n", ns, "configmap", "held", "--wait", "--timeout=30s") as delete:
        line = delete.expect(lambda line: "held" in line)
        assert deleted("configmap", "held").fullmatch(line.strip()), line
        live = wait_until(lambda: http.get(path)["metadata"].get("deletionTimestamp") and http.get(path),
                          what="deletionTimestamp")
        assert live["metadata"]["finalizers"] == ["example.com/hold"]
        assert delete.proc.poll() is None, "kubectl delete --wait returned while the object still exists"

        r = kubectl("get", "-n", ns, "configmap", "held", "-o", "jsonpath={.metadata.deletionTimestamp}")
        assert r.rc == 0 and r.out, r
        http.patch(path, {"metadata": {"finalizers": None}})
        result = delete.wait(timeout=15)
        assert result.rc == 0, result
    assert not http.exists(path)

    # --wait=false returns at once, leaving the object terminating
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "cm.yaml", held))
    out = kubectl.ok("delete", "-n", ns, "configmap", "held", "--wait=false", timeout=10)
    assert deleted("configmap", "held").fullmatch(out.strip()), out
    assert http.get(path)["metadata"]["deletionTimestamp"]
    http.patch(path, {"metadata": {"finalizers": None}})


def test_delete_namespace_removes_its_content(kubectl: Kubectl, fresh_name: str, http: Http,
                                              tmp_path: Path) -> None:
    ns = fresh_name
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    try:
        assert kubectl.ok("create", "-f", m.write(tmp_path / "ns.yaml", namespace)).strip() == f"namespace/{ns} created"
        docs = [m.deployment("web"), m.service("web"), m.pod("p"), m.configmap("settings"),
                m.configmap("held", finalizers=["example.com/hold"])]
        kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "content.yaml", *docs))

        out = kubectl.ok("delete", "namespace", ns, "--wait=false")
        assert deleted("namespace", ns).fullmatch(out.strip()), out
        # the held config map keeps the namespace terminating
        assert row(kubectl.ok("get", "namespace", ns), ns)["STATUS"] == "Terminating"
        r = kubectl("create", "-n", ns, "-f", m.write(tmp_path / "late.yaml", m.configmap("late")))
        assert r.rc == 1, r
        assert r.err.strip() == (
            f'Error from server (Forbidden): error when creating "{tmp_path / "late.yaml"}": configmaps "late" is '
            f"forbidden: unable to create new content in namespace {ns} because it is being terminated"), r

        cms = f"/api/v1/namespaces/{ns}/configmaps"
        wait_until(lambda: [c["metadata"]["name"] for c in http.get(cms)["items"]] == ["held"],
                   timeout=15, what="the namespace controller to delete all but the held config map")
        for path in (f"/apis/apps/v1/namespaces/{ns}/deployments/web", f"/api/v1/namespaces/{ns}/services/web",
                     f"/api/v1/namespaces/{ns}/pods/p"):
            assert not http.exists(path), path
        http.patch(f"{cms}/held", {"metadata": {"finalizers": None}})

        r = kubectl("delete", "namespace", ns, "--ignore-not-found", timeout=60)  # waits for it to go
        assert r.rc == 0, r
        wait_until(lambda: not http.exists(f"/api/v1/namespaces/{ns}"), timeout=30, what=f"namespace {ns} to go")
        r = kubectl("get", "namespace", ns)
        assert r.rc == 1 and r.err.strip() == f'Error from server (NotFound): namespaces "{ns}" not found', r
    finally:
        if http.exists(f"/api/v1/namespaces/{ns}/configmaps/held"):
            http.patch(f"/api/v1/namespaces/{ns}/configmaps/held", {"metadata": {"finalizers": None}})
        http.request("DELETE", f"/api/v1/namespaces/{ns}")


def test_delete_scheduled_pod_is_graceful_until_forced(kubectl: Kubectl, ns: str, http: Http,
                                                       tmp_path: Path) -> None:
    pod = m.pod("bound")
    pod["spec"]["nodeName"] = "nowhere"  # bound to a node: deletion waits for its kubelet (none here)
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "pod.yaml", pod))

    out = kubectl.ok("delete", "-n", ns, "pod", "bound", "--wait=false")
    assert deleted("pod", "bound").fullmatch(out.strip()), out
    got = row(kubectl.ok("get", "-n", ns, "pod", "bound"), "bound")
    assert got["STATUS"] == "Terminating", got
    meta = http.get(f"/api/v1/namespaces/{ns}/pods/bound")["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30 and meta["deletionTimestamp"], meta

    r = kubectl("delete", "-n", ns, "pod", "bound", "--force", "--grace-period=0")
    assert r.rc == 0, r
    assert re.fullmatch(r'pod "bound" force deleted( from \S+ namespace)?', r.out.strip()), r
    assert "Warning: Immediate deletion does not wait for confirmation" in r.err, r
    assert not http.exists(f"/api/v1/namespaces/{ns}/pods/bound")
