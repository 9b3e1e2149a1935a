"""``kubectl delete``: by name, label and ``--all``; cascade policies; ``--wait``; missing objects; namespaces.

There is no garbage collector yet, so ``--cascade=foreground|orphan`` leave the object with the
``foregroundDeletion``/``orphan`` finalizer (as upstream does until its GC acts); the tests then remove the
finalizer themselves and see the object go.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.compat import manifests as m
from tests.compat.conftest import Http, kubectl_stream, row, wait_until
from tests.conftest import Kubectl


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


def test_delete_cascade_background(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "d.yaml", m.deployment("bg")))
    r = kubectl("delete", "-n", ns, "deployment", "bg", "--cascade=background", "-v=8")
    assert r.rc == 0, r
    assert deleted("deployment.apps", "bg").fullmatch(r.out.strip()), r
    assert '"propagationPolicy":"Background"' in r.err, "kubectl sends the policy in DeleteOptions"
    assert not http.exists(f"/apis/apps/v1/namespaces/{ns}/deployments/bg")


def _delete_with_finalizer_policy(kubectl: Kubectl, ns: str, http: Http, cascade: str, policy: str,
                                  finalizer: str) -> None:
    r = kubectl("delete", "-n", ns, "deployment", cascade, f"--cascade={cascade}", "--wait=false", "-v=8")
    assert r.rc == 0, r
    assert deleted("deployment.apps", cascade).fullmatch(r.out.strip()), r
    assert f'"propagationPolicy":"{policy}"' in r.err
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/{cascade}"
    code, live = http.request("GET", path)
    if code == 200:  # no garbage collector has removed the finalizer yet
        assert live["metadata"].get("deletionTimestamp"), live["metadata"]
        assert finalizer in live["metadata"].get("finalizers", []), live["metadata"]
        out = kubectl.ok("get", "-n", ns, "deployment", cascade, "-o", "jsonpath={.metadata.finalizers}")
        assert finalizer in out
        kubectl.ok("patch", "-n", ns, "deployment", cascade, "--type", "json",
                   "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    else:
        assert code == 404, live
    wait_until(lambda: not http.exists(path), timeout=5, what=f"deployment {cascade} to go")


def test_delete_cascade_foreground(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "d.yaml", m.deployment("foreground")))
    _delete_with_finalizer_policy(kubectl, ns, http, "foreground", "Foreground", "foregroundDeletion")


def test_delete_cascade_orphan(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "d.yaml", m.deployment("orphan")))
    _delete_with_finalizer_policy(kubectl, ns, http, "orphan", "Orphan", "orphan")


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
