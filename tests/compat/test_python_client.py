"""The official ``kubernetes`` Python client against a real ``kyb server``.

Everything here goes through the client exactly as an application would use
it: typed API classes built from the server's kubeconfig, its content-type
selection for patches, ``kubernetes.watch.Watch`` with resume.  Each test works
in a namespace of its own, so the tests are independent of each other and of
the other suites sharing the session server.  Waiting is by polling, never by
sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

from tests.serverproc import ServerProc

Body = dict[str, Any]

LABELS = {"app": "web"}
POD_SPEC: Body = {"containers": [{"name": "app", "image": "nginx:1.25"}]}


def conflict_message(resource: str, name: str) -> str:
    return (f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again")


def status_of(e: ApiException) -> Body:
    body: Body = json.loads(e.body)
    return body


def wait_until(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def gone(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as e:
        if e.status == 404:
            return True
        raise
    return False


# -- fixtures ----------------------------------------------------------------------------------------------


class Clients:
    def __init__(self, api: kubernetes.client.ApiClient):
        self.api = api
        self.core = kubernetes.client.CoreV1Api(api)
        self.apps = kubernetes.client.AppsV1Api(api)
        self.coordination = kubernetes.client.CoordinationV1Api(api)
        self.events = kubernetes.client.EventsV1Api(api)
        self.discovery = kubernetes.client.DiscoveryV1Api(api)


@pytest.fixture(scope="module")
def k8s(server: ServerProc) -> Iterator[Clients]:
    api = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    try:
        yield Clients(api)
    finally:
        api.close()


@pytest.fixture
def ns(k8s: Clients) -> Iterator[str]:
    name = "py-" + uuid.uuid4().hex[:10]
    k8s.core.create_namespace({"metadata": {"name": name}})
    yield name
    try:
        k8s.core.delete_namespace(name)
    except ApiException as e:
        if e.status != 404:
            raise


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> Body:
    meta: Body = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"metadata": meta, "data": data or {"k": "v"}}


def deployment(name: str, replicas: int = 1) -> Body:
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                     "template": {"metadata": {"labels": LABELS}, "spec": POD_SPEC}}}


# -- create / read / list / delete every served kind ------------------------------------------------------

Kind = tuple[str, str, Callable[[str, str], Body]]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _micro_now() -> str:
    # Non-zero microseconds: the client re-serializes the time with isoformat(), which drops a zero
    # fraction, and a MicroTime without one is refused (upstream too: RFC3339Micro needs six digits).
    return time.strftime("%Y-%m-%dT%H:%M:%S.123456Z", time.gmtime())


NAMESPACED_KINDS: list[Kind] = [
    ("core", "pod", lambda n, ns: {"metadata": {"name": n}, "spec": POD_SPEC}),
    ("core", "service", lambda n, ns: {"metadata": {"name": n},
                                   "spec": {"selector": LABELS, "ports": [{"port": 80}]}}),
    ("core", "config_map", lambda n, ns: configmap(n)),
    ("core", "secret", lambda n, ns: {"metadata": {"name": n}, "stringData": {"password": "s3cret"}}),
    ("core", "service_account", lambda n, ns: {"metadata": {"name": n}}),
    ("core", "endpoints", lambda n, ns: {"metadata": {"name": n}, "subsets": [
        {"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 8080, "protocol": "TCP"}]}]}),
    ("core", "event", lambda n, ns: {"metadata": {"name": n}, "reason": "Tested", "message": "hello",
                                 "type": "Normal", "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
                                 "firstTimestamp": _now(), "lastTimestamp": _now(), "count": 1,
                                 "source": {"component": "test"}}),
    ("core", "replication_controller", lambda n, ns: {"metadata": {"name": n}, "spec": {
        "replicas": 1, "selector": LABELS, "template": {"metadata": {"labels": LABELS}, "spec": POD_SPEC}}}),
    ("apps", "deployment", lambda n, ns: deployment(n)),
    ("apps", "replica_set", lambda n, ns: {"metadata": {"name": n}, "spec": {
        "replicas": 1, "selector": {"matchLabels": LABELS},
        "template": {"metadata": {"labels": LABELS}, "spec": POD_SPEC}}}),
    ("coordination", "lease", lambda n, ns: {"metadata": {"name": n},
                                         "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}),
    ("events", "event", lambda n, ns: {"metadata": {"name": n}, "eventTime": _micro_now(),
                                   "reportingController": "example.com/test", "reportingInstance": "i-1",
                                   "action": "Testing", "reason": "Tested", "type": "Normal",
                                   "note": "hello", "regarding": {"kind": "Pod", "name": "p", "namespace": ns}}),
    ("discovery", "endpoint_slice", lambda n, ns: {"metadata": {"name": n}, "addressType": "IPv4",
                                               "endpoints": [{"addresses": ["10.1.2.3"]}],
                                               "ports": [{"name": "http", "port": 8080}]}),
]


@pytest.mark.parametrize("group,kind,manifest", NAMESPACED_KINDS,
                         ids=[f"{g}-{k}" for g, k, _ in NAMESPACED_KINDS])
def test_namespaced_kind_create_read_list_delete(k8s: Clients, ns: str, group: str, kind: str,
                                                 manifest: Callable[[str, str], Body]) -> None:
    api = getattr(k8s, group)
    created = getattr(api, f"create_namespaced_{kind}")(ns, manifest("obj-1", ns))
    assert created.metadata.name == "obj-1"
    assert created.metadata.namespace == ns
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None

    read = getattr(api, f"read_namespaced_{kind}")("obj-1", ns)
    assert read.metadata.uid == created.metadata.uid
    assert read.metadata.resource_version == created.metadata.resource_version

    listed = getattr(api, f"list_namespaced_{kind}")(ns)
    assert "obj-1" in [i.metadata.name for i in listed.items]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    everywhere = getattr(api, f"list_{kind}_for_all_namespaces")(field_selector=f"metadata.namespace={ns}")
    assert "obj-1" in [i.metadata.name for i in everywhere.items]

    getattr(api, f"delete_namespaced_{kind}")("obj-1", ns, grace_period_seconds=0)
    wait_until(lambda: gone(lambda: getattr(api, f"read_namespaced_{kind}")("obj-1", ns)),
               what=f"{kind} to be deleted")


def test_cluster_scoped_node_and_namespace(k8s: Clients) -> None:
    node_name = "node-" + uuid.uuid4().hex[:8]
    node = k8s.core.create_node({"metadata": {"name": node_name, "labels": {"kubernetes.io/os": "linux"}},
                                 "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}})
    try:
        assert node.metadata.namespace is None
        assert k8s.core.read_node(node_name).metadata.uid == node.metadata.uid
        assert node_name in [n.metadata.name for n in
                             k8s.core.list_node(label_selector="kubernetes.io/os=linux").items]
    finally:
        k8s.core.delete_node(node_name)
    assert gone(lambda: k8s.core.read_node(node_name))

    system = {n.metadata.name for n in k8s.core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= system


# -- lists ----------------------------------------------------------------------------------------------


def test_list_pagination_sees_every_item_once_at_one_resource_version(k8s: Clients, ns: str) -> None:
    names = {f"cm-{i:02d}" for i in range(23)}
    for n in names:
        k8s.core.create_namespaced_config_map(ns, configmap(n))

    seen: list[str] = []
    rvs: set[str] = set()
    token: str | None = None
    pages = 0
    while True:
        page = k8s.core.list_namespaced_config_map(ns, limit=5, _continue=token,
                                                   label_selector=None)
        pages += 1
        assert len(page.items) <= 5
        seen += [i.metadata.name for i in page.items]
        rvs.add(page.metadata.resource_version)
        if pages == 1:
            # Written after the first page: a paginated list is one snapshot, so it must not appear.
            k8s.core.create_namespaced_config_map(ns, configmap("cm-99-late"))
            k8s.core.delete_namespaced_config_map("cm-22", ns)
        token = page.metadata._continue
        if not token:
            break
    mine = [n for n in seen if n.startswith("cm-")]
    assert sorted(mine) == sorted(names), "every item exactly once, as of the first page"
    assert len(mine) == len(set(mine))
    assert len(rvs) == 1, f"pages served at different resourceVersions: {rvs}"
    assert pages >= 5


def test_label_and_field_selectors(k8s: Clients, ns: str) -> None:
    k8s.core.create_namespaced_config_map(ns, configmap("a", {"tier": "front", "env": "prod"}))
    k8s.core.create_namespaced_config_map(ns, configmap("b", {"tier": "back", "env": "prod"}))
    k8s.core.create_namespaced_config_map(ns, configmap("c", {"tier": "back"}))

    def names(**kw: Any) -> list[str]:
        return sorted(i.metadata.name for i in k8s.core.list_namespaced_config_map(ns, **kw).items
                      if i.metadata.name in ("a", "b", "c"))

    assert names(label_selector="tier=back") == ["b", "c"]
    assert names(label_selector="tier!=back") == ["a"]
    assert names(label_selector="tier in (front,back),env") == ["a", "b"]
    assert names(label_selector="!env") == ["c"]
    assert names(label_selector="env notin (prod)") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b") == ["a", "c"]
    assert names(field_selector="metadata.name!=b", label_selector="tier=back") == ["c"]

    with pytest.raises(ApiException) as err:
        k8s.core.list_namespaced_config_map(ns, field_selector="data.k=v")
    assert err.value.status == 400
    assert status_of(err.value)["reason"] == "BadRequest"
    assert '"data.k"' in status_of(err.value)["message"] or "data.k" in status_of(err.value)["message"]


def test_pod_field_selectors_node_name_and_phase(k8s: Clients, ns: str) -> None:
    k8s.core.create_namespaced_pod(ns, {"metadata": {"name": "bound"},
                                        "spec": {**POD_SPEC, "nodeName": "n1"}})
    k8s.core.create_namespaced_pod(ns, {"metadata": {"name": "pending"}, "spec": POD_SPEC})

    def names(fs: str) -> list[str]:
        return sorted(p.metadata.name for p in k8s.core.list_namespaced_pod(ns, field_selector=fs).items)

    assert names("spec.nodeName=n1") == ["bound"]
    assert names("spec.nodeName=") == ["pending"]
    assert names("status.phase=Pending") == ["bound", "pending"]
    assert names("status.phase!=Pending") == []


def test_events_field_selectors_and_both_api_groups(k8s: Clients, ns: str) -> None:
    for name, kind, obj in (("e1", "Pod", "web-0"), ("e2", "Pod", "web-1"), ("e3", "Node", "n1")):
        k8s.core.create_namespaced_event(ns, {
            "metadata": {"name": name}, "reason": "Started", "message": f"about {obj}", "type": "Normal",
            "involvedObject": {"kind": kind, "name": obj, "namespace": ns}, "count": 1,
            "firstTimestamp": _now(), "lastTimestamp": _now(), "source": {"component": "kubelet"}})

    def names(fs: str) -> list[str]:
        return sorted(e.metadata.name for e in k8s.core.list_namespaced_event(ns, field_selector=fs).items)

    assert names("involvedObject.kind=Pod") == ["e1", "e2"]
    assert names("involvedObject.kind=Pod,involvedObject.name=web-1") == ["e2"]
    assert names(f"involvedObject.namespace={ns},involvedObject.name!=web-0") == ["e2", "e3"]

    # The same events through events.k8s.io/v1.  A core event has no eventTime, which that version
    # serializes as null (MicroTime without omitempty) and this client's model refuses, so read raw JSON.
    resp = k8s.events.read_namespaced_event("e2", ns, _preload_content=False)
    ev = json.loads(resp.data)
    assert ev["apiVersion"] == "events.k8s.io/v1" and ev["kind"] == "Event"
    assert ev["regarding"]["name"] == "web-1" and ev["regarding"]["kind"] == "Pod"
    assert ev["note"] == "about web-1"
    assert ev["reason"] == "Started"
    assert ev["deprecatedCount"] == 1
    assert ev["deprecatedSource"] == {"component": "kubelet"}
    assert ev.get("eventTime") is None
    listed = json.loads(k8s.events.list_namespaced_event(ns, _preload_content=False).data)
    assert sorted(e["metadata"]["name"] for e in listed["items"]) == ["e1", "e2", "e3"]


# -- updates, conflicts, patches -----------------------------------------------------------------------


def test_replace_with_stale_resource_version_is_a_conflict(k8s: Clients, ns: str) -> None:
    cm = k8s.core.create_namespaced_config_map(ns, configmap("cfg", k="1"))
    stale_rv = cm.metadata.resource_version
    cm.data = {"k": "2"}
    updated = k8s.core.replace_namespaced_config_map("cfg", ns, cm)
    assert int(updated.metadata.resource_version) > int(stale_rv)

    cm.data = {"k": "3"}
    cm.metadata.resource_version = stale_rv
    with pytest.raises(ApiException) as err:
        k8s.core.replace_namespaced_config_map("cfg", ns, cm)
    assert err.value.status == 409
    st = status_of(err.value)
    assert st["reason"] == "Conflict"
    assert st["message"] == conflict_message("configmaps", "cfg")
    assert k8s.core.read_namespaced_config_map("cfg", ns).data == {"k": "2"}


def test_replace_without_resource_version_is_unconditional(k8s: Clients, ns: str) -> None:
    k8s.core.create_namespaced_config_map(ns, configmap("cfg", k="1"))
    out = k8s.core.replace_namespaced_config_map("cfg", ns, configmap("cfg", k="2"))
    assert out.data == {"k": "2"}


def test_patch_types_merge_strategic_and_json(k8s: Clients, ns: str) -> None:
    k8s.core.create_namespaced_config_map(ns, configmap("cfg", a="1", b="2"))
    merged = k8s.core.patch_namespaced_config_map(
        "cfg", ns, {"data": {"a": None, "c": "3"}}, _content_type="application/merge-patch+json")
    assert merged.data == {"b": "2", "c": "3"}

    # A list body: the client sends a JSON patch.
    patched = k8s.core.patch_namespaced_config_map(
        "cfg", ns, [{"op": "test", "path": "/data/b", "value": "2"},
                    {"op": "replace", "path": "/data/b", "value": "20"},
                    {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}])
    assert patched.data == {"b": "20", "c": "3"}
    assert patched.metadata.labels == {"x": "y"}

    # A dict body: the client sends a strategic merge patch; containers merge by name.
    k8s.apps.create_namespaced_deployment(ns, {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": LABELS}, "template": {"metadata": {"labels": LABELS}, "spec": {
            "containers": [{"name": "app", "image": "nginx:1.25"},
                           {"name": "sidecar", "image": "busybox:1.36"}]}}}})
    dep = k8s.apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}}})
    images = {c.name: c.image for c in dep.spec.template.spec.containers}
    assert images == {"app": "nginx:1.25", "sidecar": "busybox:1.37"}

    # The same body as a merge patch replaces the list.
    dep = k8s.apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "only", "image": "busybox:1.37"}]}}}},
        _content_type="application/merge-patch+json")
    assert [c.name for c in dep.spec.template.spec.containers] == ["only"]


def test_json_patch_failing_test_op_changes_nothing(k8s: Clients, ns: str) -> None:
    cm = k8s.core.create_namespaced_config_map(ns, configmap("cfg", a="1"))
    with pytest.raises(ApiException) as err:
        k8s.core.patch_namespaced_config_map("cfg", ns, [
            {"op": "replace", "path": "/data/a", "value": "2"},
            {"op": "test", "path": "/data/a", "value": "1"}])
    assert err.value.status == 422
    after = k8s.core.read_namespaced_config_map("cfg", ns)
    assert after.data == {"a": "1"}
    assert after.metadata.resource_version == cm.metadata.resource_version


def test_generation_bumps_on_spec_changes_only(k8s: Clients, ns: str) -> None:
    dep = k8s.apps.create_namespaced_deployment(ns, deployment("web"))
    assert dep.metadata.generation == 1
    dep = k8s.apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"a": "b"}}})
    assert dep.metadata.generation == 1
    dep = k8s.apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    assert dep.metadata.generation == 2
    dep = k8s.apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    assert dep.metadata.generation == 2, "a no-op patch is no spec change"


def test_deployment_defaults(k8s: Clients, ns: str) -> None:
    dep = k8s.apps.create_namespaced_deployment(ns, {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": LABELS}, "spec": POD_SPEC}}})
    assert dep.spec.replicas == 1
    assert dep.spec.revision_history_limit == 10
    assert dep.spec.progress_deadline_seconds == 600
    assert dep.spec.strategy.type == "RollingUpdate"
    assert dep.spec.strategy.rolling_update.max_surge == "25%"
    assert dep.spec.strategy.rolling_update.max_unavailable == "25%"
    pod_spec = dep.spec.template.spec
    assert pod_spec.restart_policy == "Always"
    assert pod_spec.dns_policy == "ClusterFirst"
    assert pod_spec.termination_grace_period_seconds == 30
    assert pod_spec.containers[0].image_pull_policy == "IfNotPresent"


# -- subresources ---------------------------------------------------------------------------------------


def test_deployment_status_subresource_ignores_spec_and_main_ignores_status(k8s: Clients, ns: str) -> None:
    k8s.apps.create_namespaced_deployment(ns, deployment("web", replicas=2))

    out = k8s.apps.patch_namespaced_deployment_status(
        "web", ns, {"spec": {"replicas": 7}, "status": {"replicas": 2, "observedGeneration": 1}},
        _content_type="application/merge-patch+json")
    assert out.spec.replicas == 2, "the status subresource must not change spec"
    assert out.status.replicas == 2
    assert out.status.observed_generation == 1
    assert out.metadata.generation == 1

    out = k8s.apps.patch_namespaced_deployment(
        "web", ns, {"spec": {"replicas": 3}, "status": {"replicas": 99}},
        _content_type="application/merge-patch+json")
    assert out.spec.replicas == 3
    assert out.status.replicas == 2, "the main resource must not change status"
    assert out.metadata.generation == 2

    status = k8s.apps.read_namespaced_deployment_status("web", ns)
    assert status.status.replicas == 2 and status.spec.replicas == 3


def test_pod_replace_status(k8s: Clients, ns: str) -> None:
    pod = k8s.core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": POD_SPEC})
    assert pod.status.phase == "Pending"
    pod.status.phase = "Running"
    pod.status.pod_ip = "10.244.0.5"
    pod.spec.active_deadline_seconds = 5  # ignored by the status subresource
    out = k8s.core.replace_namespaced_pod_status("p", ns, pod)
    assert out.status.phase == "Running"
    assert out.status.pod_ip == "10.244.0.5"
    assert out.spec.active_deadline_seconds is None

    # The main resource ignores status.
    cur = k8s.core.read_namespaced_pod("p", ns)
    cur.status.phase = "Failed"
    cur.metadata.labels = {"x": "y"}
    out = k8s.core.replace_namespaced_pod("p", ns, cur)
    assert out.metadata.labels == {"x": "y"}
    assert out.status.phase == "Running"


def test_deployment_scale_subresource(k8s: Clients, ns: str) -> None:
    k8s.apps.create_namespaced_deployment(ns, deployment("web", replicas=2))
    scale = k8s.apps.read_namespaced_deployment_scale("web", ns)
    assert scale.kind == "Scale" and scale.api_version == "autoscaling/v1"
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=web"

    out = k8s.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 5}},
                                                     _content_type="application/merge-patch+json")
    assert out.spec.replicas == 5
    assert k8s.apps.read_namespaced_deployment("web", ns).spec.replicas == 5

    scale = k8s.apps.read_namespaced_deployment_scale("web", ns)
    scale.spec.replicas = 1
    assert k8s.apps.replace_namespaced_deployment_scale("web", ns, scale).spec.replicas == 1

    scale.spec.replicas = 4  # stale resourceVersion now
    with pytest.raises(ApiException) as err:
        k8s.apps.replace_namespaced_deployment_scale("web", ns, scale)
    assert err.value.status == 409


# -- deletion -------------------------------------------------------------------------------------------


def test_delete_preconditions_and_propagation(k8s: Clients, ns: str) -> None:
    cm = k8s.core.create_namespaced_config_map(ns, configmap("cfg"))
    with pytest.raises(ApiException) as err:
        k8s.core.delete_namespaced_config_map("cfg", ns, body={"preconditions": {"uid": "not-the-uid"}})
    assert err.value.status == 409
    assert status_of(err.value)["message"] == (
        f'Operation cannot be fulfilled on configmaps "cfg": Precondition failed: UID in precondition: '
        f"not-the-uid, UID in object meta: {cm.metadata.uid}")
    with pytest.raises(ApiException) as err:
        k8s.core.delete_namespaced_config_map("cfg", ns, body={"preconditions": {"resourceVersion": "1"}})
    assert err.value.status == 409
    k8s.core.delete_namespaced_config_map(
        "cfg", ns, body={"preconditions": {"uid": cm.metadata.uid,
                                           "resourceVersion": cm.metadata.resource_version}})
    assert gone(lambda: k8s.core.read_namespaced_config_map("cfg", ns))

    # Background: gone at once.  Foreground and Orphan: the garbage collector's finalizer holds the
    # owner until the collector has dealt with its dependents (here: none), then it goes.
    k8s.apps.create_namespaced_deployment(ns, deployment("bg"))
    k8s.apps.delete_namespaced_deployment("bg", ns, propagation_policy="Background")
    assert gone(lambda: k8s.apps.read_namespaced_deployment("bg", ns))
    for policy, finalizer in (("Foreground", "foregroundDeletion"), ("Orphan", "orphan")):
        name = policy.lower()
        k8s.apps.create_namespaced_deployment(ns, deployment(name))
        # The typed client reads a deployment delete as a Status; read the raw body instead.
        raw = k8s.apps.delete_namespaced_deployment(name, ns, propagation_policy=policy,
                                                    _preload_content=False)
        resp = json.loads(raw.data)
        assert resp["kind"] == "Deployment"
        assert resp["metadata"]["deletionTimestamp"]
        assert finalizer in resp["metadata"]["finalizers"]
        wait_until(lambda n=name: gone(lambda: k8s.apps.read_namespaced_deployment(n, ns)),
                   what=f"the garbage collector to finish the {policy} deletion")

    with pytest.raises(ApiException) as err:
        k8s.core.delete_namespaced_config_map("nothing-here", ns)
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'configmaps "nothing-here" not found'


def test_finalizers_hold_deletion_until_removed(k8s: Clients, ns: str) -> None:
    k8s.core.create_namespaced_config_map(ns, {"metadata": {"name": "held", "finalizers": ["example.com/x"]}})
    k8s.core.delete_namespaced_config_map("held", ns)
    cm = k8s.core.read_namespaced_config_map("held", ns)
    assert cm.metadata.deletion_timestamp is not None
    assert cm.metadata.deletion_grace_period_seconds == 0
    assert cm.metadata.finalizers == ["example.com/x"]

    # While deleting, other changes still go through; the deletion timestamp stays.
    cm = k8s.core.patch_namespaced_config_map("held", ns, {"data": {"still": "writable"}})
    assert cm.data == {"still": "writable"}
    assert cm.metadata.deletion_timestamp is not None

    # No new finalizers once deletion started; removing the last one completes the deletion.
    with pytest.raises(ApiException) as err:
        k8s.core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": ["example.com/x", "example.com/y"]}})
    assert err.value.status == 422
    assert [c["field"] for c in status_of(err.value)["details"]["causes"]] == ["metadata.finalizers"]
    k8s.core.patch_namespaced_config_map("held", ns, [{"op": "remove", "path": "/metadata/finalizers"}])
    assert gone(lambda: k8s.core.read_namespaced_config_map("held", ns))


def test_delete_collection_with_label_selector(k8s: Clients, ns: str) -> None:
    for i in range(4):
        k8s.core.create_namespaced_config_map(ns, configmap(f"drop-{i}", {"drop": "yes"}))
    k8s.core.create_namespaced_config_map(ns, configmap("keep", {"drop": "no"}))
    k8s.core.delete_collection_namespaced_config_map(ns, label_selector="drop=yes")
    left = {c.metadata.name for c in k8s.core.list_namespaced_config_map(ns).items}
    assert "keep" in left
    assert not {n for n in left if n.startswith("drop-")}


def test_dry_run_stores_nothing(k8s: Clients, ns: str) -> None:
    out = k8s.core.create_namespaced_config_map(ns, configmap("dry"), dry_run="All")
    assert out.metadata.name == "dry"
    assert gone(lambda: k8s.core.read_namespaced_config_map("dry", ns))

    cm = k8s.core.create_namespaced_config_map(ns, configmap("wet", k="1"))
    out = k8s.core.patch_namespaced_config_map("wet", ns, {"data": {"k": "2"}}, dry_run="All")
    assert out.data == {"k": "2"}
    cur = k8s.core.read_namespaced_config_map("wet", ns)
    assert cur.data == {"k": "1"}
    assert cur.metadata.resource_version == cm.metadata.resource_version

    k8s.core.delete_namespaced_config_map("wet", ns, dry_run="All")
    assert k8s.core.read_namespaced_config_map("wet", ns).metadata.uid == cm.metadata.uid

    # A dry-run Service allocates nothing: the same explicit ClusterIP is free afterwards.
    svc = k8s.core.create_namespaced_service(ns, {"metadata": {"name": "s"},
                                                  "spec": {"ports": [{"port": 80}]}}, dry_run="All")
    ip = svc.spec.cluster_ip
    assert ip and ip != "None"
    real = k8s.core.create_namespaced_service(ns, {"metadata": {"name": "s2"},
                                                   "spec": {"clusterIP": ip, "ports": [{"port": 80}]}})
    assert real.spec.cluster_ip == ip


def test_generate_name(k8s: Clients, ns: str) -> None:
    made = [k8s.core.create_namespaced_config_map(ns, {"metadata": {"generateName": "gen-"},
                                                       "data": {"k": "v"}}) for _ in range(5)]
    names = [m.metadata.name for m in made]
    assert len(set(names)) == 5
    for n in names:
        assert n.startswith("gen-") and len(n) == len("gen-") + 5
    assert all(m.metadata.generate_name == "gen-" for m in made)


# -- services -------------------------------------------------------------------------------------------


def test_service_cluster_ips_unique_and_released_on_delete(k8s: Clients, ns: str) -> None:
    ips = []
    for i in range(30):
        svc = k8s.core.create_namespaced_service(ns, {"metadata": {"name": f"s{i}"},
                                                      "spec": {"ports": [{"port": 80}]}})
        ips.append(svc.spec.cluster_ip)
        assert svc.spec.cluster_ips == [svc.spec.cluster_ip]
    assert len(set(ips)) == 30, "a ClusterIP handed out twice"
    net = ipaddress.ip_network("10.96.0.0/12")
    assert all(ipaddress.ip_address(ip) in net for ip in ips)
    everything = k8s.core.list_service_for_all_namespaces().items
    all_ips = [s.spec.cluster_ip for s in everything if s.spec.cluster_ip not in (None, "None")]
    assert len(all_ips) == len(set(all_ips))

    taken = ips[0]
    with pytest.raises(ApiException) as err:
        k8s.core.create_namespaced_service(ns, {"metadata": {"name": "dup"},
                                                "spec": {"clusterIP": taken, "ports": [{"port": 80}]}})
    assert err.value.status == 422
    assert "provided IP is already allocated" in status_of(err.value)["message"]

    k8s.core.delete_namespaced_service("s0", ns)
    again = k8s.core.create_namespaced_service(ns, {"metadata": {"name": "reuse"},
                                                    "spec": {"clusterIP": taken, "ports": [{"port": 80}]}})
    assert again.spec.cluster_ip == taken

    headless = k8s.core.create_namespaced_service(ns, {"metadata": {"name": "headless"},
                                                       "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})
    assert headless.spec.cluster_ip == "None"


def test_service_node_ports_in_range_and_unique(k8s: Clients, ns: str) -> None:
    ports = []
    for i in range(10):
        svc = k8s.core.create_namespaced_service(ns, {"metadata": {"name": f"np{i}"}, "spec": {
            "type": "NodePort", "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}})
        ports += [p.node_port for p in svc.spec.ports]
    assert all(30000 <= p <= 32767 for p in ports)
    assert len(set(ports)) == len(ports)

    with pytest.raises(ApiException) as err:
        k8s.core.create_namespaced_service(ns, {"metadata": {"name": "dup"}, "spec": {
            "type": "NodePort", "ports": [{"port": 80, "nodePort": ports[0]}]}})
    assert err.value.status == 422
    assert status_of(err.value)["details"]["causes"][0]["field"] == "spec.ports[0].nodePort"
    assert "provided port is already allocated" in status_of(err.value)["message"]

    k8s.core.delete_namespaced_service("np0", ns)
    svc = k8s.core.create_namespaced_service(ns, {"metadata": {"name": "reuse"}, "spec": {
        "type": "NodePort", "ports": [{"port": 80, "nodePort": ports[0]}]}})
    assert svc.spec.ports[0].node_port == ports[0]


# -- namespaces -----------------------------------------------------------------------------------------


def test_namespace_deletion_removes_contents(k8s: Clients) -> None:
    name = "py-del-" + uuid.uuid4().hex[:8]
    k8s.core.create_namespace({"metadata": {"name": name}})
    k8s.core.create_namespaced_config_map(name, configmap("c1"))
    k8s.core.create_namespaced_secret(name, {"metadata": {"name": "s1"}, "stringData": {"a": "b"}})
    k8s.apps.create_namespaced_deployment(name, deployment("d1"))
    k8s.core.create_namespaced_pod(name, {"metadata": {"name": "p1"}, "spec": POD_SPEC})

    k8s.core.delete_namespace(name)
    wait_until(lambda: gone(lambda: k8s.core.read_namespace(name)), timeout=20,
               what=f"namespace {name} to be removed")
    assert not [c for c in k8s.core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={name}").items]
    assert not k8s.apps.list_deployment_for_all_namespaces(field_selector=f"metadata.namespace={name}").items
    assert not k8s.core.list_pod_for_all_namespaces(field_selector=f"metadata.namespace={name}").items


def test_terminating_namespace_refuses_new_objects(k8s: Clients) -> None:
    name = "py-term-" + uuid.uuid4().hex[:8]
    k8s.core.create_namespace({"metadata": {"name": name}})
    # A finalizer nobody removes keeps the namespace terminating for as long as we need.
    k8s.core.create_namespaced_config_map(name, {"metadata": {"name": "held", "finalizers": ["example.com/x"]}})
    k8s.core.delete_namespace(name)
    try:
        ns = k8s.core.read_namespace(name)
        assert ns.metadata.deletion_timestamp is not None
        assert ns.status.phase == "Terminating"
        with pytest.raises(ApiException) as err:
            k8s.core.create_namespaced_config_map(name, configmap("new"))
        assert err.value.status == 403
        st = status_of(err.value)
        assert st["reason"] == "Forbidden"
        assert st["message"] == (f'configmaps "new" is forbidden: unable to create new content in namespace '
                                 f"{name} because it is being terminated")
        assert {"reason": "NamespaceTerminating", "message": f"namespace {name} is being terminated",
                "field": "metadata.namespace"} in st["details"].get("causes", [])
    finally:
        k8s.core.patch_namespaced_config_map("held", name, {"metadata": {"finalizers": None}},
                                             _content_type="application/merge-patch+json")
    wait_until(lambda: gone(lambda: k8s.core.read_namespace(name)), timeout=20,
               what=f"namespace {name} to be removed")


def test_create_in_missing_namespace_is_not_found(k8s: Clients) -> None:
    with pytest.raises(ApiException) as err:
        k8s.core.create_namespaced_config_map("no-such-ns-" + uuid.uuid4().hex[:6], configmap("c"))
    assert err.value.status == 404
    assert status_of(err.value)["message"].startswith('namespaces "no-such-ns-')


# -- watch ----------------------------------------------------------------------------------------------


def _watch(k8s: Clients, ns: str, **kw: Any) -> Iterator[Body]:
    return kubernetes.watch.Watch().stream(k8s.core.list_namespaced_config_map, ns, **kw)


def test_watch_resume_from_last_resource_version_misses_nothing(k8s: Clients, ns: str) -> None:
    start_rv = k8s.core.list_namespaced_config_map(ns).metadata.resource_version
    first = [f"w{i}" for i in range(5)]
    for n in first:
        k8s.core.create_namespaced_config_map(ns, configmap(n))

    w = kubernetes.watch.Watch()
    got: list[tuple[str, str, str]] = []
    for ev in w.stream(k8s.core.list_namespaced_config_map, ns, resource_version=start_rv, timeout_seconds=10):
        obj = ev["object"]
        got.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
        if len(got) == 3:
            w.stop()
            break
    assert [g[1] for g in got] == first[:3]
    assert all(t == "ADDED" for t, _, _ in got)
    last_rv = got[-1][2]
    assert w.resource_version == last_rv

    later = [f"x{i}" for i in range(4)]
    for n in later:
        k8s.core.create_namespaced_config_map(ns, configmap(n))
    k8s.core.patch_namespaced_config_map("w0", ns, {"data": {"k": "changed"}})
    k8s.core.delete_namespaced_config_map("w1", ns)

    want = [("ADDED", n) for n in first[3:] + later] + [("MODIFIED", "w0"), ("DELETED", "w1")]
    resumed: list[tuple[str, str, str]] = []
    w2 = kubernetes.watch.Watch()
    for ev in w2.stream(k8s.core.list_namespaced_config_map, ns, resource_version=last_rv, timeout_seconds=10):
        obj = ev["object"]
        resumed.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
        if len(resumed) == len(want):
            w2.stop()
            break
    assert [(t, n) for t, n, _ in resumed] == want
    rvs = [int(r) for _, _, r in resumed]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs), "events in resourceVersion order, once each"
    assert rvs[0] > int(last_rv)

    # Nothing more is pending after the last event: a watch from there stays quiet until its timeout.
    quiet = list(_watch(k8s, ns, resource_version=resumed[-1][2], timeout_seconds=1))
    assert quiet == []


def test_watch_without_resource_version_starts_with_current_state(k8s: Clients, ns: str) -> None:
    for n in ("a", "b"):
        k8s.core.create_namespaced_config_map(ns, configmap(n))
    w = kubernetes.watch.Watch()
    seen = []
    for ev in w.stream(k8s.core.list_namespaced_config_map, ns, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 2:
            k8s.core.create_namespaced_config_map(ns, configmap("c"))
        if len(seen) == 3:
            w.stop()
            break
    assert sorted(seen[:2]) == [("ADDED", "a"), ("ADDED", "b")]
    assert seen[2] == ("ADDED", "c")


def test_watch_with_label_selector(k8s: Clients, ns: str) -> None:
    rv = k8s.core.list_namespaced_config_map(ns).metadata.resource_version
    k8s.core.create_namespaced_config_map(ns, configmap("other", {"app": "db"}))
    k8s.core.create_namespaced_config_map(ns, configmap("mine", {"app": "web"}))
    # Leaving the selection is a DELETED event for the watcher; entering it an ADDED one.
    k8s.core.patch_namespaced_config_map("mine", ns, {"metadata": {"labels": {"app": "db"}}})
    k8s.core.patch_namespaced_config_map("other", ns, {"metadata": {"labels": {"app": "web"}}})
    events = []
    w = kubernetes.watch.Watch()
    for ev in w.stream(k8s.core.list_namespaced_config_map, ns, label_selector="app=web",
                       resource_version=rv, timeout_seconds=5):
        events.append((ev["type"], ev["object"].metadata.name))
        if len(events) == 3:
            w.stop()
            break
    assert events == [("ADDED", "mine"), ("DELETED", "mine"), ("ADDED", "other")]


def test_watch_timeout_seconds_ends_the_stream(k8s: Clients, ns: str) -> None:
    rv = k8s.core.list_namespaced_config_map(ns).metadata.resource_version
    started = time.monotonic()
    events = list(_watch(k8s, ns, resource_version=rv, timeout_seconds=1))
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.8 <= elapsed < 4, f"the watch ended after {elapsed:.2f}s"


def test_watch_bookmarks_before_the_timeout(k8s: Clients, ns: str) -> None:
    rv = k8s.core.list_namespaced_config_map(ns).metadata.resource_version
    k8s.core.create_namespaced_config_map(ns, configmap("a"))
    # Upstream sends a bookmark 2 s before a watch's deadline, so a 4 s watch gets one.
    events = list(kubernetes.watch.Watch().stream(
        k8s.core.list_namespaced_config_map, ns, resource_version=rv, allow_watch_bookmarks=True,
        timeout_seconds=4, deserialize=False))
    types = [e["type"] for e in events]
    assert types[0] == "ADDED"
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, f"no BOOKMARK in {types}"
    bm = bookmarks[-1]["object"]
    assert bm["kind"] == "ConfigMap" and bm["apiVersion"] == "v1"
    assert int(bm["metadata"]["resourceVersion"]) >= int(events[0]["object"]["metadata"]["resourceVersion"])
    assert set(bm) == {"kind", "apiVersion", "metadata"}


def test_watch_from_compacted_resource_version_is_410_expired(tmp_path: Path) -> None:
    """Compaction runs every minute in the server, so compact its store offline between two runs."""
    from kybernetes.storage import open_backend

    proc = ServerProc(tmp_path / "data", tmp_path / "kubeconfig", extra_args=["--no-controllers"])
    proc.start()
    api = None
    try:
        api = kubernetes.config.new_client_from_config(config_file=str(proc.kubeconfig))
        core = kubernetes.client.CoreV1Api(api)
        first = core.create_namespaced_config_map("default", configmap("c0"))
        for i in range(1, 6):
            core.create_namespaced_config_map("default", configmap(f"c{i}"))
        old_rv = first.metadata.resource_version
        assert proc.stop() == 0

        async def compact() -> int:
            backend = open_backend(str(tmp_path / "data" / "state.db"))
            await backend.start()
            try:
                rev = await backend.current_revision()
                await backend.compact(rev)
                return rev
            finally:
                await backend.close()

        compacted = asyncio.run(compact())
        proc.start()
        api.close()
        api = kubernetes.config.new_client_from_config(config_file=str(proc.kubeconfig))
        core = kubernetes.client.CoreV1Api(api)
        with pytest.raises(ApiException) as err:
            list(kubernetes.watch.Watch().stream(core.list_namespaced_config_map, "default",
                                                 resource_version=old_rv, timeout_seconds=5))
        assert err.value.status == 410
        assert re.fullmatch(rf"Expired: too old resource version: {old_rv} \(\d+\)", err.value.reason), \
            err.value.reason
        assert compacted > int(old_rv)

        # A list at an exact compacted revision is 410 too.
        with pytest.raises(ApiException) as err:
            core.list_namespaced_config_map("default", resource_version=old_rv,
                                            resource_version_match="Exact")
        assert err.value.status == 410
        assert status_of(err.value)["reason"] == "Expired"
    finally:
        if api is not None:
            api.close()
        proc.stop()
