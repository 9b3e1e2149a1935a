"""In-place changes: ``patch`` (json, merge, strategic), ``label``, ``annotate`` and ``scale``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.compat import manifests as m
from tests.compat.conftest import kubectl_stream, row
from tests.conftest import Kubectl

pytestmark = pytest.mark.kubectl


def get_json(kubectl: Kubectl, ns: str, *what: str) -> dict:
    return json.loads(kubectl.ok("get", "-n", ns, *what, "-o", "json"))


def test_patch_json_merge_and_strategic(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "objs.yaml", m.configmap("settings", {"a": "1", "b": "2"}),
                m.deployment("web", env=[{"name": "A", "value": "1"}]))
    kubectl.ok("create", "-n", ns, "-f", f)

    ops = [{"op": "test", "path": "/data/a", "value": "1"},
           {"op": "replace", "path": "/data/a", "value": "10"},
           {"op": "add", "path": "/data/c", "value": "3"},
           {"op": "remove", "path": "/data/b"}]
    out = kubectl.ok("patch", "-n", ns, "configmap", "settings", "--type", "json", "-p", json.dumps(ops))
    assert out.strip() == "configmap/settings patched"
    assert get_json(kubectl, ns, "configmap", "settings")["data"] == {"a": "10", "c": "3"}

    failing = [{"op": "test", "path": "/data/a", "value": "1"}, {"op": "replace", "path": "/data/a", "value": "x"}]
    r = kubectl("patch", "-n", ns, "configmap", "settings", "--type", "json", "-p", json.dumps(failing))
    assert r.rc == 1, r
    # upstream answers a failed ``test`` with a generic 422 (NewGenericServerResponse drops the detail)
    assert r.err.strip() == "The request is invalid: the server rejected our request due to an error in our request", r
    assert get_json(kubectl, ns, "configmap", "settings")["data"] == {"a": "10", "c": "3"}

    out = kubectl.ok("patch", "-n", ns, "configmap", "settings", "--type", "merge",
                     "-p", '{"data":{"c":null,"d":"4"}}')
    assert out.strip() == "configmap/settings patched"
    assert get_json(kubectl, ns, "configmap", "settings")["data"] == {"a": "10", "d": "4"}

    # strategic (kubectl's default for built-in kinds): containers and env merge by name
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}
    out = kubectl.ok("patch", "-n", ns, "deployment", "web", "-p", json.dumps(smp))
    assert out.strip() == "deployment.apps/web patched"
    containers = get_json(kubectl, ns, "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    assert containers[0]["image"] == "nginx:1.25"
    # without $setElementOrder upstream puts patch-only items before server-only ones (mergeSortedSlice)
    assert containers[0]["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]

    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
    kubectl.ok("patch", "-n", ns, "deployment", "web", "--type", "strategic", "-p", json.dumps(sidecar))
    containers = get_json(kubectl, ns, "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert sorted(c["name"] for c in containers) == ["app", "sidecar"]

    delete = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    kubectl.ok("patch", "-n", ns, "deployment", "web", "--type", "strategic", "-p", json.dumps(delete))
    containers = get_json(kubectl, ns, "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app"]

    again = kubectl.ok("patch", "-n", ns, "deployment", "web", "-p", json.dumps(smp))
    assert again.strip() == "deployment.apps/web patched (no change)"


def test_patch_merge_on_deployment_retains_strategy_keys(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "web.yaml", m.deployment("web")))
    recreate = {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}}
    kubectl.ok("patch", "-n", ns, "deployment", "web", "-p", json.dumps(recreate))
    assert get_json(kubectl, ns, "deployment", "web")["spec"]["strategy"] == {"type": "Recreate"}


def test_label_add_overwrite_and_remove(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "cm.yaml", m.configmap("settings")))

    assert kubectl.ok("label", "-n", ns, "configmap", "settings", "env=prod").strip() == "configmap/settings labeled"
    r = kubectl("label", "-n", ns, "configmap", "settings", "env=dev")
    assert r.rc == 1, r
    assert r.err.strip() == "error: 'env' already has a value (prod), and --overwrite is false", r

    out = kubectl.ok("label", "-n", ns, "configmap", "settings", "env=dev", "--overwrite")
    assert out.strip() == "configmap/settings labeled"
    assert get_json(kubectl, ns, "configmap", "settings")["metadata"]["labels"] == {"env": "dev"}

    assert kubectl.ok("label", "-n", ns, "configmap", "settings", "env-").strip() == "configmap/settings unlabeled"
    assert not get_json(kubectl, ns, "configmap", "settings")["metadata"].get("labels")

    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "more.yaml", m.configmap("other")))
    out = kubectl.ok("label", "-n", ns, "configmaps", "--all", "team=core")
    assert {"configmap/settings labeled", "configmap/other labeled"} <= set(out.splitlines()), out


def test_annotate_add_overwrite_and_remove(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "cm.yaml", m.configmap("settings")))

    out = kubectl.ok("annotate", "-n", ns, "configmap", "settings", "owner=alice", "note=hello world")
    assert out.strip() in ("configmap/settings annotated", "configmap/settings annotate")  # 1.27 says "annotate"
    annotations = get_json(kubectl, ns, "configmap", "settings")["metadata"]["annotations"]
    assert annotations == {"owner": "alice", "note": "hello world"}

    r = kubectl("annotate", "-n", ns, "configmap", "settings", "owner=bob")
    assert r.rc == 1, r
    assert "--overwrite is false but found the following declared annotation(s): 'owner' already has a value " \
           "(alice)" in r.err, r

    kubectl.ok("annotate", "-n", ns, "configmap", "settings", "owner=bob", "--overwrite")
    kubectl.ok("annotate", "-n", ns, "configmap", "settings", "note-")
    annotations = get_json(kubectl, ns, "configmap", "settings")["metadata"]["annotations"]
    assert annotations == {"owner": "bob"}


def test_scale_deployment_replicaset_and_rc(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = m.write(tmp_path / "workloads.yaml", m.deployment("web", replicas=1), m.replicaset("cache", replicas=1),
                m.replication_controller("legacy", replicas=1))
    kubectl.ok("create", "-n", ns, "-f", f)

    assert kubectl.ok("scale", "-n", ns, "deployment/web", "--replicas=3").strip() == "deployment.apps/web scaled"
    assert kubectl.ok("scale", "-n", ns, "replicaset", "cache", "--replicas=4").strip() == \
        "replicaset.apps/cache scaled"
    assert kubectl.ok("scale", "-n", ns, "rc", "legacy", "--replicas=5").strip() == \
        "replicationcontroller/legacy scaled"

    assert row(kubectl.ok("get", "-n", ns, "deployment", "web"), "web")["READY"] == "0/3"
    rs = row(kubectl.ok("get", "-n", ns, "replicaset", "cache"), "cache")
    assert rs["DESIRED"] == "4" and rs["CURRENT"] == "0" and rs["READY"] == "0", rs
    rc = row(kubectl.ok("get", "-n", ns, "rc", "legacy"), "legacy")
    assert rc["DESIRED"] == "5" and rc["CURRENT"] == "0" and rc["READY"] == "0", rc

    r = kubectl("scale", "-n", ns, "deployment/web", "--current-replicas=2", "--replicas=6")
    assert r.rc == 1, r
    assert "Expected replicas to be 2, was 3" in r.err, r
    assert get_json(kubectl, ns, "deployment", "web")["spec"]["replicas"] == 3

    scale = json.loads(kubectl.ok("get", "--raw", f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale"))
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"]["selector"] == "app=web"


def test_status_subresource_via_kubectl(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "web.yaml", m.deployment("web", replicas=2)))
    status = {"status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "updatedReplicas": 2}}

    out = kubectl.ok("patch", "-n", ns, "deployment", "web", "--type", "merge", "-p", json.dumps(status))
    assert out.strip() == "deployment.apps/web patched (no change)", "the main resource ignores status"

    out = kubectl.ok("patch", "-n", ns, "deployment", "web", "--subresource=status", "--type", "merge",
                     "-p", json.dumps(status))
    assert out.strip() == "deployment.apps/web patched"
    got = row(kubectl.ok("get", "-n", ns, "deployment", "web"), "web")
    assert (got["READY"], got["UP-TO-DATE"], got["AVAILABLE"]) == ("2/2", "2", "2"), got

    spec_via_status = {"spec": {"replicas": 7}}
    kubectl.ok("patch", "-n", ns, "deployment", "web", "--subresource=status", "--type", "merge",
               "-p", json.dumps(spec_via_status))
    live = get_json(kubectl, ns, "deployment", "web")
    assert live["spec"]["replicas"] == 2, "the status subresource ignores spec"
    assert live["metadata"]["generation"] == 1


def test_set_image_env_and_rollout_restart(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "web.yaml", m.deployment("web")))

    assert kubectl.ok("set", "image", "-n", ns, "deployment/web", "app=nginx:1.27").strip() == \
        "deployment.apps/web image updated"
    assert kubectl.ok("set", "env", "-n", ns, "deployment/web", "MODE=blue").strip() == \
        "deployment.apps/web env updated"
    container = get_json(kubectl, ns, "deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["env"] == [{"name": "MODE", "value": "blue"}]

    assert kubectl.ok("rollout", "pause", "-n", ns, "deployment/web").strip() == "deployment.apps/web paused"
    assert get_json(kubectl, ns, "deployment", "web")["spec"]["paused"] is True
    assert kubectl.ok("rollout", "resume", "-n", ns, "deployment/web").strip() == "deployment.apps/web resumed"
    assert kubectl.ok("rollout", "restart", "-n", ns, "deployment/web").strip() == "deployment.apps/web restarted"
    live = get_json(kubectl, ns, "deployment", "web")
    assert "kubectl.kubernetes.io/restartedAt" in live["spec"]["template"]["metadata"]["annotations"]
    assert not live["spec"].get("paused")
    assert live["metadata"]["generation"] == 6  # image, env, pause, resume, restart


def test_rollout_status_and_wait_follow_status_changes(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    # no deployment controller runs: the test plays it, writing status through the subresource
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "web.yaml", m.deployment("web", replicas=2)))
    with kubectl_stream(kubectl, "rollout", "status", "-n", ns, "deployment/web", "--timeout=30s") as rollout, \
            kubectl_stream(kubectl, "wait", "-n", ns, "deployment/web", "--for=condition=Available",
                           "--timeout=30s") as waiter:
        rollout.expect(lambda line: line.startswith("Waiting for deployment"))
        progress = {"status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                               "availableReplicas": 1, "readyReplicas": 1}}
        kubectl.ok("patch", "-n", ns, "deployment", "web", "--subresource=status", "--type", "merge",
                   "-p", json.dumps(progress))
        rollout.expect(lambda line: line == 'Waiting for deployment "web" rollout to finish: '
                                            "1 of 2 updated replicas are available...")
        assert waiter.proc.poll() is None, "kubectl wait returned before the condition held"

        done = {"status": {"availableReplicas": 2, "readyReplicas": 2, "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability.", "lastUpdateTime": "2026-01-01T00:00:00Z",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
        kubectl.ok("patch", "-n", ns, "deployment", "web", "--subresource=status", "--type", "merge",
                   "-p", json.dumps(done))
        finished = rollout.wait(timeout=15)
        assert finished.rc == 0, finished
        assert finished.out.splitlines()[-1] == 'deployment "web" successfully rolled out', finished
        waited = waiter.wait(timeout=15)
        assert waited.rc == 0, waited
        assert waited.out.strip() == "deployment.apps/web condition met", waited
