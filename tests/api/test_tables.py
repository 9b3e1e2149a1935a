"""Server-side printing: the cells ``kubectl get`` shows, the columns, and the Table envelope.

Every expectation is what ``kubectl get`` (or ``-o wide``) prints for the object
against a real cluster: upstream's ``printers.go`` rules applied to realistic
objects.  The clock is pinned: ``ago(n)`` is a wire timestamp ``n`` seconds
before ``NOW``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from kybernetes.api import errors, registry, tables
from kybernetes.api.printers import human_duration
from kybernetes.api.printers.text import format_label_selector, format_labels
from kybernetes.api.registry import ResourceType

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
Obj = dict[str, Any]


def ago(seconds: float, micro: bool = False) -> str:
    stamp = NOW - timedelta(seconds=seconds)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def rt(kind: str, group: str = "") -> ResourceType:
    found = registry.by_kind(group, "v1", kind)
    assert found is not None
    return found


def cells(kind: str, obj: Obj, group: str = "") -> list[Any]:
    return tables.row_cells(rt(kind, group), obj, NOW)


# ---------------------------------------------------------------- HumanDuration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-3600, "<invalid>"),
        (-2, "<invalid>"),
        (-1.5, "0s"),  # up to a second of clock skew reads as "now"
        (-1, "0s"),
        (0, "0s"),
        (0.9, "0s"),
        (5, "5s"),
        (59, "59s"),
        (119.9, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (599, "9m59s"),
        (600, "10m"),
        (601, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (8 * 3600 - 1, "7h59m"),
        (8 * 3600, "8h"),
        (48 * 3600 - 1, "47h"),
        (48 * 3600, "2d"),
        (52 * 3600, "2d4h"),
        (8 * 86400 - 1, "7d23h"),
        (8 * 86400, "8d"),
        (730 * 86400 - 1, "729d"),
        (730 * 86400, "2y"),
        (742 * 86400, "2y12d"),
        (8 * 365 * 86400 - 1, "7y364d"),
        (8 * 365 * 86400, "8y"),
        (20 * 365 * 86400, "20y"),
    ],
    ids=lambda v: str(v),
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("created", "age"),
    [
        (ago(0), "0s"),
        (ago(42), "42s"),
        (ago(150), "2m30s"),
        (ago(86400 * 3 + 3600), "3d1h"),
        (ago(-1), "0s"),
        (ago(-30), "<invalid>"),
        ("2024-05-01T13:00:00+01:00", "0s"),  # an offset is honoured
        ("2024-05-01T11:59:30.123456Z", "29s"),
        (None, "<unknown>"),
        ("", "<unknown>"),
        ("0001-01-01T00:00:00Z", "<unknown>"),  # Go's zero time is "unset"
        ("not a time", "<unknown>"),
    ],
    ids=["now", "42s", "2m30s", "3d1h", "skew", "future", "offset", "micro", "missing", "empty", "zero", "garbage"],
)
def test_age_cell(created: str | None, age: str) -> None:
    obj = {"metadata": {"name": "cm", "creationTimestamp": created}}
    assert cells("ConfigMap", obj)[2] == age


def test_naive_now_is_utc() -> None:
    obj = {"metadata": {"name": "cm", "creationTimestamp": ago(90)}}
    assert tables.row_cells(rt("ConfigMap"), obj, NOW.replace(tzinfo=None))[2] == "90s"


# ---------------------------------------------------------------- labels and selectors


@pytest.mark.parametrize(
    ("labels", "text"),
    [
        (None, "<none>"),
        ({}, "<none>"),
        ({"app": "nginx"}, "app=nginx"),
        ({"tier": "web", "app": "nginx"}, "app=nginx,tier=web"),
        ({"k8s-app": "kube-dns"}, "k8s-app=kube-dns"),
    ],
    ids=["none", "empty", "one", "sorted", "dash"],
)
def test_format_labels(labels: dict[str, str] | None, text: str) -> None:
    assert format_labels(labels) == text


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        (None, "<none>"),
        ({}, "<none>"),
        ({"matchLabels": {"app": "nginx"}}, "app=nginx"),
        ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "cache"]}]},
            "tier in (cache,web)",
        ),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}, "env notin (dev)"),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "track", "operator": "Exists"},
                ],
            },
            "app=web,!canary,track",
        ),
        ({"matchExpressions": [{"key": "x", "operator": "In", "values": []}]}, "<error>"),
        ({"matchExpressions": [{"key": "x", "operator": "Exists", "values": ["a"]}]}, "<error>"),
        ({"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]}, "<error>"),
    ],
    ids=["nil", "empty", "match-labels", "sorted", "in", "notin", "mixed-sorted-by-key", "in-without-values",
         "exists-with-values", "bad-operator"],
)
def test_format_label_selector(selector: Obj | None, text: str) -> None:
    assert format_label_selector(selector) == text


# ---------------------------------------------------------------- pods


def running(name: str = "app", *, ready: bool = True, restarts: int = 0, last_finished: str | None = None) -> Obj:
    status: Obj = {"name": name, "ready": ready, "restartCount": restarts, "started": True,
                   "state": {"running": {"startedAt": ago(3600)}}}
    if last_finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": last_finished}}
    return status


def waiting(name: str, reason: str, *, restarts: int = 0, last_finished: str | None = None) -> Obj:
    status: Obj = {"name": name, "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}
    if last_finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": last_finished}}
    return status


def terminated(name: str = "app", reason: str | None = "Completed", exit_code: int = 0, signal: int = 0) -> Obj:
    state: Obj = {"exitCode": exit_code, "finishedAt": ago(60)}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def pod(
    *,
    phase: str = "Running",
    containers: tuple[str, ...] = ("app",),
    statuses: list[Obj] | None = None,
    init: tuple[str, ...] = (),
    sidecars: tuple[str, ...] = (),
    init_statuses: list[Obj] | None = None,
    conditions: list[Obj] | None = None,
    reason: str | None = None,
    deleting: bool = False,
) -> Obj:
    init_specs = [{"name": n, "image": "busybox"} for n in init]
    init_specs += [{"name": n, "image": "envoy", "restartPolicy": "Always"} for n in sidecars]
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": ago(3600)},
        "spec": {"containers": [{"name": n, "image": "nginx"} for n in containers], "initContainers": init_specs},
        "status": {"phase": phase, "conditions": conditions or []},
    }
    if statuses is not None:
        obj["status"]["containerStatuses"] = statuses
    if init_statuses is not None:
        obj["status"]["initContainerStatuses"] = init_statuses
    if reason:
        obj["status"]["reason"] = reason
    if deleting:
        obj["metadata"]["deletionTimestamp"] = ago(5)
    return obj


READY_TRUE = [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}]
READY_FALSE = [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"}]

POD_CASES: list[tuple[str, Obj, list[str]]] = [
    ("pending-unscheduled", pod(phase="Pending"), ["0/1", "Pending", "0"]),
    (
        "scheduling-gated",
        pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]),
        ["0/1", "SchedulingGated", "0"],
    ),
    ("container-creating", pod(phase="Pending", statuses=[waiting("app", "ContainerCreating")]),
     ["0/1", "ContainerCreating", "0"]),
    ("running", pod(statuses=[running()], conditions=READY_TRUE), ["1/1", "Running", "0"]),
    (
        "running-one-of-two-ready",
        pod(containers=("app", "sidecar"), statuses=[running("app"), running("sidecar", ready=False)]),
        ["1/2", "Running", "0"],
    ),
    (
        "running-with-restarts",
        pod(statuses=[running(restarts=5, last_finished=ago(300))]),
        ["1/1", "Running", "5 (5m ago)"],
    ),
    ("restarts-without-last-state", pod(statuses=[running(restarts=3)]), ["1/1", "Running", "3"]),
    (
        "crashloop",
        pod(statuses=[waiting("app", "CrashLoopBackOff", restarts=4, last_finished=ago(30))]),
        ["0/1", "CrashLoopBackOff", "4 (30s ago)"],
    ),
    (
        "first-container-reason-wins",
        pod(containers=("a", "b"), statuses=[waiting("a", "ImagePullBackOff"), waiting("b", "ErrImagePull")]),
        ["0/2", "ImagePullBackOff", "0"],
    ),
    (
        "restarts-summed-newest-wins",
        pod(
            containers=("a", "b"),
            statuses=[running("a", restarts=2, last_finished=ago(7200)), running("b", restarts=1, last_finished=ago(90))],
        ),
        ["2/2", "Running", "3 (90s ago)"],
    ),
    ("oom-killed", pod(statuses=[terminated(reason="OOMKilled", exit_code=137)]), ["0/1", "OOMKilled", "0"]),
    ("exit-code", pod(statuses=[terminated(reason=None, exit_code=2)]), ["0/1", "ExitCode:2", "0"]),
    ("signal", pod(statuses=[terminated(reason=None, exit_code=137, signal=9)]), ["0/1", "Signal:9", "0"]),
    (
        "completed",
        pod(phase="Succeeded", statuses=[terminated()], reason=None),
        ["0/1", "Completed", "0"],
    ),
    ("failed-error", pod(phase="Failed", statuses=[terminated(reason="Error", exit_code=1)]), ["0/1", "Error", "0"]),
    (
        "completed-but-one-running-ready",
        pod(containers=("job", "proxy"), statuses=[terminated("job"), running("proxy")], conditions=READY_TRUE),
        ["1/2", "Running", "0"],
    ),
    (
        "completed-but-one-running-not-ready",
        pod(containers=("job", "proxy"), statuses=[terminated("job"), running("proxy")], conditions=READY_FALSE),
        ["1/2", "NotReady", "0"],
    ),
    (
        "init-first-running",
        pod(phase="Pending", init=("migrate", "seed"),
            init_statuses=[running("migrate", ready=False), waiting("seed", "PodInitializing")],
            statuses=[waiting("app", "PodInitializing")]),
        ["0/1", "Init:0/2", "0"],
    ),
    (
        "init-second-running",
        pod(phase="Pending", init=("migrate", "seed"),
            init_statuses=[terminated("migrate"), running("seed", ready=False)],
            statuses=[waiting("app", "PodInitializing")]),
        ["0/1", "Init:1/2", "0"],
    ),
    (
        "init-waiting-pod-initializing-counts-as-progress",
        pod(phase="Pending", init=("migrate",), init_statuses=[waiting("migrate", "PodInitializing")]),
        ["0/1", "Init:0/1", "0"],
    ),
    (
        "init-crashloop",
        pod(phase="Pending", init=("migrate",),
            init_statuses=[waiting("migrate", "CrashLoopBackOff", restarts=3, last_finished=ago(45))],
            statuses=[waiting("app", "PodInitializing", restarts=0)]),
        ["0/1", "Init:CrashLoopBackOff", "3 (45s ago)"],
    ),
    (
        "init-image-pull",
        pod(phase="Pending", init=("migrate",), init_statuses=[waiting("migrate", "ImagePullBackOff")]),
        ["0/1", "Init:ImagePullBackOff", "0"],
    ),
    (
        "init-error",
        pod(phase="Pending", init=("migrate",), init_statuses=[terminated("migrate", "Error", exit_code=1)]),
        ["0/1", "Init:Error", "0"],
    ),
    (
        "init-exit-code",
        pod(phase="Pending", init=("migrate",), init_statuses=[terminated("migrate", None, exit_code=3)]),
        ["0/1", "Init:ExitCode:3", "0"],
    ),
    (
        "init-signal",
        pod(phase="Pending", init=("migrate",), init_statuses=[terminated("migrate", None, exit_code=137, signal=9)]),
        ["0/1", "Init:Signal:9", "0"],
    ),
    (
        "pod-initializing",
        pod(phase="Pending", init=("migrate",), init_statuses=[terminated("migrate")],
            statuses=[waiting("app", "PodInitializing")]),
        ["0/1", "PodInitializing", "0"],
    ),
    (
        "init-restarts-forgotten-once-initialized",
        pod(init=("migrate",),
            init_statuses=[{**terminated("migrate"), "restartCount": 2,
                            "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(600)}}}],
            statuses=[running()], conditions=READY_TRUE),
        ["1/1", "Running", "0"],
    ),
    (
        "sidecar-started-and-ready",
        pod(sidecars=("istio-proxy",),
            init_statuses=[running("istio-proxy", restarts=1, last_finished=ago(120))],
            statuses=[running()], conditions=READY_TRUE),
        ["2/2", "Running", "1 (2m ago)"],
    ),
    (
        "sidecar-not-started-blocks-init",
        pod(phase="Pending", sidecars=("istio-proxy",),
            init_statuses=[waiting("istio-proxy", "ContainerCreating")],
            statuses=[waiting("app", "PodInitializing")]),
        ["0/2", "Init:ContainerCreating", "0"],
    ),
    ("terminating", pod(statuses=[running()], deleting=True), ["1/1", "Terminating", "0"]),
    ("terminating-pending", pod(phase="Pending", deleting=True), ["0/1", "Terminating", "0"]),
    ("deleting-finished-pod-stays-completed", pod(phase="Succeeded", statuses=[terminated()], deleting=True),
     ["0/1", "Completed", "0"]),
    ("node-lost", pod(statuses=[running()], reason="NodeLost", deleting=True), ["1/1", "Unknown", "0"]),
    ("node-lost-not-deleting", pod(statuses=[running()], reason="NodeLost"), ["1/1", "NodeLost", "0"]),
    ("evicted", pod(phase="Failed", reason="Evicted"), ["0/1", "Evicted", "0"]),
    (
        "evicted-with-container-statuses",
        pod(phase="Failed", reason="Evicted", statuses=[terminated(reason="ContainerStatusUnknown", exit_code=137)]),
        ["0/1", "ContainerStatusUnknown", "0"],
    ),
    ("unknown-phase", pod(phase="Unknown"), ["0/1", "Unknown", "0"]),
    ("empty-object", {}, ["0/0", "", "0"]),
]


@pytest.mark.parametrize(("obj", "expected"), [(o, e) for _, o, e in POD_CASES], ids=[i for i, _, _ in POD_CASES])
def test_pod_ready_status_restarts(obj: Obj, expected: list[str]) -> None:
    assert cells("Pod", obj)[1:4] == expected


def test_pod_full_row_narrow_and_wide() -> None:
    obj = pod(statuses=[running()], conditions=READY_TRUE)
    obj["spec"]["nodeName"] = "node-1"
    obj["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]
    obj["status"]["conditions"].append({"type": "example.com/lb", "status": "True"})
    obj["status"]["podIP"] = "10.244.1.7"
    obj["status"]["podIPs"] = [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}]
    obj["status"]["nominatedNodeName"] = "node-2"
    assert cells("Pod", obj) == ["web-1", "1/1", "Running", "0", "60m", "10.244.1.7", "node-1", "node-2", "1/2"]


@pytest.mark.parametrize(
    ("status", "ip"),
    [
        ({}, "<none>"),
        ({"podIP": "10.0.0.9"}, "10.0.0.9"),  # written without podIPs: conversion fills podIPs from podIP
        ({"podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.8"}]}, "10.0.0.8"),
    ],
    ids=["no-ip", "pod-ip-only", "pod-ips-first"],
)
def test_pod_ip(status: Obj, ip: str) -> None:
    assert cells("Pod", {"metadata": {"name": "p"}, "status": status})[5] == ip


def test_pod_wide_placeholders() -> None:
    assert cells("Pod", pod(phase="Pending"))[5:] == ["<none>", "<none>", "<none>", "<none>"]


@pytest.mark.parametrize(
    ("phase", "conditions"),
    [
        ("Running", None),
        ("Pending", None),
        ("Succeeded", [{"type": "Completed", "status": "True", "reason": "Succeeded",
                        "message": "The pod has completed successfully."}]),
        ("Failed", [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
    ],
    ids=["running", "pending", "succeeded", "failed"],
)
def test_pod_row_conditions(phase: str, conditions: list[Obj] | None) -> None:
    assert tables.row_conditions(rt("Pod"), pod(phase=phase)) == conditions
    row = tables.build_table(rt("Pod"), [pod(phase=phase)], NOW)["rows"][0]
    assert row.get("conditions") == conditions
    assert list(row) == (["cells", "conditions", "object"] if conditions else ["cells", "object"])


# ---------------------------------------------------------------- nodes


def node(*, ready: str | None = "True", unschedulable: bool = False, labels: dict[str, str] | None = None,
         info: bool = True) -> Obj:
    obj: Obj = {
        "metadata": {"name": "node-1", "creationTimestamp": ago(86400 * 12), "labels": labels or {}},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}],
            "addresses": [{"type": "Hostname", "address": "node-1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
        },
    }
    if ready is not None:
        obj["status"]["conditions"].append({"type": "Ready", "status": ready})
    if info:
        obj["status"]["nodeInfo"] = {
            "kubeletVersion": "v1.33.0",
            "osImage": "Debian GNU/Linux 12 (bookworm)",
            "kernelVersion": "6.1.0-18-amd64",
            "containerRuntimeVersion": "containerd://1.7.13",
        }
    return obj


NODE_CASES: list[tuple[str, Obj, list[str]]] = [
    ("ready-control-plane", node(labels={"node-role.kubernetes.io/control-plane": ""}),
     ["node-1", "Ready", "control-plane", "12d", "v1.33.0"]),
    ("not-ready", node(ready="False"), ["node-1", "NotReady", "<none>", "12d", "v1.33.0"]),
    ("ready-unknown", node(ready="Unknown"), ["node-1", "NotReady", "<none>", "12d", "v1.33.0"]),
    ("never-reported", node(ready=None), ["node-1", "Unknown", "<none>", "12d", "v1.33.0"]),
    ("cordoned", node(unschedulable=True), ["node-1", "Ready,SchedulingDisabled", "<none>", "12d", "v1.33.0"]),
    ("not-ready-cordoned", node(ready="False", unschedulable=True),
     ["node-1", "NotReady,SchedulingDisabled", "<none>", "12d", "v1.33.0"]),
    (
        "many-roles-sorted-deduplicated",
        node(labels={"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "",
                     "kubernetes.io/role": "master", "node-role.kubernetes.io/": "", "node-role.kubernetes.io/master": "x"}),
        ["node-1", "Ready", "control-plane,master,worker", "12d", "v1.33.0"],
    ),
    ("empty-legacy-role-ignored", node(labels={"kubernetes.io/role": ""}), ["node-1", "Ready", "<none>", "12d", "v1.33.0"]),
    ("no-node-info", node(info=False), ["node-1", "Ready", "<none>", "12d", ""]),
]


@pytest.mark.parametrize(("obj", "expected"), [(o, e) for _, o, e in NODE_CASES], ids=[i for i, _, _ in NODE_CASES])
def test_node_cells(obj: Obj, expected: list[str]) -> None:
    assert cells("Node", obj)[:5] == expected


def test_node_wide() -> None:
    obj = node()
    obj["status"]["addresses"].append({"type": "ExternalIP", "address": "203.0.113.10"})
    assert cells("Node", obj)[5:] == [
        "192.168.1.10", "203.0.113.10", "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "containerd://1.7.13",
    ]
    assert cells("Node", node(info=False))[5:] == ["192.168.1.10", "<none>", "<unknown>", "<unknown>", "<unknown>"]


# ---------------------------------------------------------------- services


def service(kind: str | None = "ClusterIP", *, ports: list[Obj] | None = None, **spec: Any) -> Obj:
    body: Obj = {"ports": ports if ports is not None else [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}
    if kind:
        body["type"] = kind
    body.update(spec)
    return {"metadata": {"name": "web", "creationTimestamp": ago(86400 * 5)}, "spec": body}


SERVICE_CASES: list[tuple[str, Obj, list[str]]] = [
    ("cluster-ip", service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"], selector={"app": "web"}),
     ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "5d", "app=web"]),
    (
        "kubernetes",
        service(clusterIPs=["10.96.0.1"], ports=[{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]),
        ["web", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "5d", "<none>"],
    ),
    (
        "dual-stack-first-ip",
        service(clusterIPs=["10.96.0.20", "fd00:10:96::20"], selector={"tier": "web", "app": "shop"}),
        ["web", "ClusterIP", "10.96.0.20", "<none>", "80/TCP", "5d", "app=shop,tier=web"],
    ),
    ("legacy-cluster-ip-only", service(clusterIP="10.96.0.30"),
     ["web", "ClusterIP", "10.96.0.30", "<none>", "80/TCP", "5d", "<none>"]),
    ("headless", service(clusterIP="None", clusterIPs=["None"]),
     ["web", "ClusterIP", "None", "<none>", "80/TCP", "5d", "<none>"]),
    ("external-ips", service(clusterIPs=["10.96.0.40"], externalIPs=["198.51.100.1", "198.51.100.2"]),
     ["web", "ClusterIP", "10.96.0.40", "198.51.100.1,198.51.100.2", "80/TCP", "5d", "<none>"]),
    (
        "node-port",
        service("NodePort", clusterIPs=["10.96.1.1"], ports=[
            {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
            {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
        ]),
        ["web", "NodePort", "10.96.1.1", "<none>", "80:30080/TCP,53:30053/UDP", "5d", "<none>"],
    ),
    (
        "load-balancer-pending",
        service("LoadBalancer", clusterIPs=["10.96.2.2"], ports=[{"port": 443, "protocol": "TCP", "nodePort": 31443}]),
        ["web", "LoadBalancer", "10.96.2.2", "<pending>", "443:31443/TCP", "5d", "<none>"],
    ),
    (
        "load-balancer-ingress-sorted-unique",
        {**service("LoadBalancer", clusterIPs=["10.96.2.3"], ports=[{"port": 80, "protocol": "TCP", "nodePort": 30001}]),
         "status": {"loadBalancer": {"ingress": [
             {"ip": "203.0.113.9"}, {"hostname": "a1b2c3-1234567890.eu-west-1.elb.amazonaws.com"},
             {"ip": "203.0.113.5"}, {"ip": "203.0.113.9"}]}}},
        ["web", "LoadBalancer", "10.96.2.3",
         "203.0.113.5,203.0.113.9,a1b2c3-1234567890.eu-west-1.elb.amazonaws.com", "80:30001/TCP", "5d", "<none>"],
    ),
    (
        "load-balancer-plus-external-ips",
        {**service("LoadBalancer", clusterIPs=["10.96.2.4"], externalIPs=["198.51.100.7"],
                   ports=[{"port": 80, "protocol": "TCP", "nodePort": 30002}]),
         "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}},
        ["web", "LoadBalancer", "10.96.2.4", "203.0.113.1,198.51.100.7", "80:30002/TCP", "5d", "<none>"],
    ),
    ("load-balancer-external-ips-only", service("LoadBalancer", clusterIPs=["10.96.2.5"], externalIPs=["198.51.100.8"]),
     ["web", "LoadBalancer", "10.96.2.5", "198.51.100.8", "80/TCP", "5d", "<none>"]),
    ("external-name", service("ExternalName", externalName="db.example.com", ports=[]),
     ["web", "ExternalName", "<none>", "db.example.com", "<none>", "5d", "<none>"]),
    ("type-and-protocol-defaulted", service(None, clusterIPs=["10.96.3.3"], ports=[{"port": 8080}]),
     ["web", "ClusterIP", "10.96.3.3", "<none>", "8080/TCP", "5d", "<none>"]),
    ("sctp", service(clusterIPs=["10.96.3.4"], ports=[{"port": 3868, "protocol": "SCTP"}]),
     ["web", "ClusterIP", "10.96.3.4", "<none>", "3868/SCTP", "5d", "<none>"]),
]


@pytest.mark.parametrize(("obj", "expected"), [(o, e) for _, o, e in SERVICE_CASES],
                         ids=[i for i, _, _ in SERVICE_CASES])
def test_service_cells(obj: Obj, expected: list[str]) -> None:
    assert cells("Service", obj) == expected


# ---------------------------------------------------------------- endpoints and slices


def endpoints(*subsets: Obj) -> Obj:
    obj: Obj = {"metadata": {"name": "web", "creationTimestamp": ago(600)}}
    if subsets:
        obj["subsets"] = list(subsets)
    return obj


def addrs(*ips: str) -> list[Obj]:
    return [{"ip": ip} for ip in ips]


ENDPOINTS_CASES: list[tuple[str, Obj, str]] = [
    ("no-subsets", endpoints(), "<none>"),
    ("two-addresses", endpoints({"addresses": addrs("10.0.0.1", "10.0.0.2"), "ports": [{"port": 80}]}),
     "10.0.0.1:80,10.0.0.2:80"),
    ("exactly-three", endpoints({"addresses": addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"), "ports": [{"port": 80}]}),
     "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80"),
    ("five-addresses", endpoints({"addresses": addrs(*(f"10.0.0.{i}" for i in range(1, 6))), "ports": [{"port": 80}]}),
     "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."),
    (
        "two-ports",
        endpoints({"addresses": addrs("10.0.0.1", "10.0.0.2"),
                   "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}),
        "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
    ),
    (
        "two-subsets",
        endpoints({"addresses": addrs("10.0.0.1"), "ports": [{"port": 80}]},
                  {"addresses": addrs("10.0.1.1", "10.0.1.2", "10.0.1.3"), "ports": [{"port": 8080}]}),
        "10.0.0.1:80,10.0.1.1:8080,10.0.1.2:8080 + 1 more...",
    ),
    ("headless-no-ports", endpoints({"addresses": addrs("10.0.0.1", "10.0.0.2")}), "10.0.0.1,10.0.0.2"),
    ("only-not-ready", endpoints({"notReadyAddresses": addrs("10.0.0.1"), "ports": [{"port": 80}]}), ""),
    ("ipv6", endpoints({"addresses": addrs("fd00::1"), "ports": [{"port": 80}]}), "[fd00::1]:80"),
]


@pytest.mark.parametrize(("obj", "expected"), [(o, e) for _, o, e in ENDPOINTS_CASES],
                         ids=[i for i, _, _ in ENDPOINTS_CASES])
def test_endpoints_cells(obj: Obj, expected: str) -> None:
    assert cells("Endpoints", obj) == ["web", expected, "10m"]


def endpoint_slice(ports: list[Obj], addresses: list[list[str]], address_type: str = "IPv4") -> Obj:
    return {
        "metadata": {"name": "web-x7k2p", "creationTimestamp": ago(75)},
        "addressType": address_type,
        "ports": ports,
        "endpoints": [{"addresses": a, "conditions": {"ready": True}} for a in addresses],
    }


SLICE_CASES: list[tuple[str, Obj, list[Any]]] = [
    ("typical", endpoint_slice([{"name": "http", "port": 80, "protocol": "TCP"}], [["10.0.0.1"], ["10.0.0.2"]]),
     ["web-x7k2p", "IPv4", "80", "10.0.0.1,10.0.0.2", "75s"]),
    ("empty", endpoint_slice([], []), ["web-x7k2p", "IPv4", "<unset>", "<unset>", "75s"]),
    ("unspecified-port", endpoint_slice([{"name": "metrics"}, {}], [["10.0.0.1"]]),
     ["web-x7k2p", "IPv4", "metrics,*", "10.0.0.1", "75s"]),
    (
        "many",
        endpoint_slice([{"port": p} for p in (80, 81, 82, 83, 84)],
                       [["10.0.0.1", "10.0.0.2"], ["10.0.0.3"], ["10.0.0.4"]]),
        ["web-x7k2p", "IPv4", "80,81,82 + 2 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "75s"],
    ),
    ("ipv6", endpoint_slice([{"port": 53, "protocol": "UDP"}], [["fd00::a"]], "IPv6"),
     ["web-x7k2p", "IPv6", "53", "fd00::a", "75s"]),
]


@pytest.mark.parametrize(("obj", "expected"), [(o, e) for _, o, e in SLICE_CASES], ids=[i for i, _, _ in SLICE_CASES])
def test_endpointslice_cells(obj: Obj, expected: list[Any]) -> None:
    assert cells("EndpointSlice", obj, "discovery.k8s.io") == expected


# ---------------------------------------------------------------- simple kinds


def meta(name: str, age: float = 4 * 3600) -> Obj:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(age)}


SIMPLE_CASES: list[tuple[str, str, str, Obj, list[Any]]] = [
    ("namespace-active", "", "Namespace", {"metadata": meta("default"), "status": {"phase": "Active"}},
     ["default", "Active", "4h"]),
    ("namespace-terminating", "", "Namespace", {"metadata": meta("old"), "status": {"phase": "Terminating"}},
     ["old", "Terminating", "4h"]),
    ("configmap", "", "ConfigMap",
     {"metadata": meta("kube-root-ca.crt"), "data": {"ca.crt": "..."}},
     ["kube-root-ca.crt", 1, "4h"]),
    ("configmap-binary", "", "ConfigMap",
     {"metadata": meta("blobs"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}, ["blobs", 3, "4h"]),
    ("configmap-empty", "", "ConfigMap", {"metadata": meta("empty")}, ["empty", 0, "4h"]),
    ("secret-opaque", "", "Secret", {"metadata": meta("db"), "type": "Opaque", "data": {"user": "YQ==", "pass": "Yg=="}},
     ["db", "Opaque", 2, "4h"]),
    ("secret-tls", "", "Secret", {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
     ["tls", "kubernetes.io/tls", 2, "4h"]),
    ("secret-empty", "", "Secret", {"metadata": meta("e"), "type": "Opaque"}, ["e", "Opaque", 0, "4h"]),
    ("serviceaccount", "", "ServiceAccount", {"metadata": meta("default")}, ["default", 0, "4h"]),
    ("serviceaccount-secrets", "", "ServiceAccount",
     {"metadata": meta("builder"), "secrets": [{"name": "builder-token"}]}, ["builder", 1, "4h"]),
    ("lease-held", "coordination.k8s.io", "Lease",
     {"metadata": meta("node-1", 86400 * 3), "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}},
     ["node-1", "node-1", "3d"]),
    ("lease-free", "coordination.k8s.io", "Lease", {"metadata": meta("kube-scheduler"), "spec": {}},
     ["kube-scheduler", "", "4h"]),
]


@pytest.mark.parametrize(("group", "kind", "obj", "expected"), [c[1:] for c in SIMPLE_CASES],
                         ids=[c[0] for c in SIMPLE_CASES])
def test_simple_kind_cells(group: str, kind: str, obj: Obj, expected: list[Any]) -> None:
    assert cells(kind, obj, group) == expected


# ---------------------------------------------------------------- events


def core_event(**fields: Any) -> Obj:
    event: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web-1.17c9a3f0", "namespace": "default", "creationTimestamp": ago(600)},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1",
                           "fieldPath": "spec.containers{app}"},
        "reason": "Pulled",
        "message": "Successfully pulled image \"nginx:1.25\" in 1.2s",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
    }
    event.update(fields)
    return event


EVENT_CASES: list[tuple[str, Obj, list[Any]]] = [
    (
        "repeated-kubelet-event",
        core_event(firstTimestamp=ago(600), lastTimestamp=ago(120), count=3),
        ["2m", "Normal", "Pulled", "pod/web-1", "spec.containers{app}", "kubelet, node-1",
         'Successfully pulled image "nginx:1.25" in 1.2s', "10m", 3, "web-1.17c9a3f0"],
    ),
    (
        "no-last-timestamp-uses-first",
        core_event(firstTimestamp=ago(45), count=1),
        ["45s", "Normal", "Pulled", "pod/web-1", "spec.containers{app}", "kubelet, node-1",
         'Successfully pulled image "nginx:1.25" in 1.2s', "45s", 1, "web-1.17c9a3f0"],
    ),
    (
        "new-style-event-time-singleton",
        core_event(eventTime=ago(30, micro=True), source={}, reportingComponent="default-scheduler",
                   reportingInstance="default-scheduler-cp-1", reason="Scheduled", involvedObject={"kind": "Pod", "name": "web-1"},
                   message="Successfully assigned default/web-1 to node-1"),
        ["30s", "Normal", "Scheduled", "pod/web-1", "", "default-scheduler, default-scheduler-cp-1",
         "Successfully assigned default/web-1 to node-1", "30s", 1, "web-1.17c9a3f0"],
    ),
    (
        "series",
        core_event(eventTime=ago(900, micro=True), series={"count": 7, "lastObservedTime": ago(10, micro=True)},
                   type="Warning", reason="BackOff", message="Back-off restarting failed container app"),
        ["10s", "Warning", "BackOff", "pod/web-1", "spec.containers{app}", "kubelet, node-1",
         "Back-off restarting failed container app", "15m", 7, "web-1.17c9a3f0"],
    ),
    (
        "cluster-scoped-object-without-name",
        core_event(involvedObject={"kind": "Node"}, firstTimestamp=ago(200), lastTimestamp=ago(200), count=1,
                   source={"component": "kubelet"}, reason="Starting", message="  Starting kubelet.\n"),
        ["3m20s", "Normal", "Starting", "node", "", "kubelet", "Starting kubelet.", "3m20s", 1, "web-1.17c9a3f0"],
    ),
    (
        "deployment-event",
        core_event(involvedObject={"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                   source={"component": "deployment-controller"}, reason="ScalingReplicaSet",
                   message="Scaled up replica set web-5d8f7c to 3", firstTimestamp=ago(3 * 3600), lastTimestamp=ago(3 * 3600),
                   count=1),
        ["3h", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller",
         "Scaled up replica set web-5d8f7c to 3", "3h", 1, "web-1.17c9a3f0"],
    ),
    (
        "no-timestamps",
        core_event(),
        ["<unknown>", "Normal", "Pulled", "pod/web-1", "spec.containers{app}", "kubelet, node-1",
         'Successfully pulled image "nginx:1.25" in 1.2s', "<unknown>", 1, "web-1.17c9a3f0"],
    ),
]


@pytest.mark.parametrize(("obj", "expected"), [(o, e) for _, o, e in EVENT_CASES], ids=[i for i, _, _ in EVENT_CASES])
def test_event_cells(obj: Obj, expected: list[Any]) -> None:
    assert cells("Event", obj) == expected


def test_events_v1_shape_prints_like_core() -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web-1.17c9a3f0", "namespace": "default", "creationTimestamp": ago(600)},
        "eventTime": ago(600, micro=True),
        "regarding": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
        "note": "Back-off restarting failed container app",
        "reason": "BackOff",
        "type": "Warning",
        "reportingController": "kubelet",
        "reportingInstance": "node-1",
        "series": {"count": 4, "lastObservedTime": ago(20, micro=True)},
    }
    assert cells("Event", event, "events.k8s.io") == [
        "20s", "Warning", "BackOff", "pod/web-1", "spec.containers{app}", "kubelet, node-1",
        "Back-off restarting failed container app", "10m", 4, "web-1.17c9a3f0",
    ]
    legacy = {**event, "deprecatedSource": {"component": "kubelet", "host": "node-2"}, "deprecatedCount": 2,
              "deprecatedFirstTimestamp": ago(300), "deprecatedLastTimestamp": ago(60)}
    del legacy["series"]
    assert cells("Event", legacy, "events.k8s.io")[:9] == [
        "60s", "Warning", "BackOff", "pod/web-1", "spec.containers{app}", "kubelet, node-2",
        "Back-off restarting failed container app", "5m", 2,
    ]


# ---------------------------------------------------------------- workloads


def template(*containers: tuple[str, str]) -> Obj:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": n, "image": i} for n, i in containers]}}


def deployment(replicas: int | None = 3, status: Obj | None = None, selector: Obj | None = None) -> Obj:
    spec: Obj = {"selector": selector if selector is not None else {"matchLabels": {"app": "web"}},
                 "template": template(("nginx", "nginx:1.25"))}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"metadata": {"name": "web", "creationTimestamp": ago(300)}, "spec": spec, "status": status or {}}


DEPLOYMENT_CASES: list[tuple[str, Obj, list[Any]]] = [
    ("just-created", deployment(), ["web", "0/3", 0, 0, "5m", "nginx", "nginx:1.25", "app=web"]),
    ("mid-rollout", deployment(status={"replicas": 4, "readyReplicas": 2, "updatedReplicas": 1, "availableReplicas": 2}),
     ["web", "2/3", 1, 2, "5m", "nginx", "nginx:1.25", "app=web"]),
    ("rolled-out", deployment(status={"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
     ["web", "3/3", 3, 3, "5m", "nginx", "nginx:1.25", "app=web"]),
    ("scaled-to-zero", deployment(0), ["web", "0/0", 0, 0, "5m", "nginx", "nginx:1.25", "app=web"]),
    ("replicas-defaulted", deployment(None), ["web", "0/1", 0, 0, "5m", "nginx", "nginx:1.25", "app=web"]),
    (
        "expressions",
        deployment(selector={"matchLabels": {"app": "web"},
                             "matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend", "backend"]}]}),
        ["web", "0/3", 0, 0, "5m", "nginx", "nginx:1.25", "app=web,tier in (backend,frontend)"],
    ),
    ("empty-selector-prints-empty", deployment(selector={}), ["web", "0/3", 0, 0, "5m", "nginx", "nginx:1.25", ""]),
    ("invalid-selector", deployment(selector={"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
     ["web", "0/3", 0, 0, "5m", "nginx", "nginx:1.25", "<invalid>"]),
]


@pytest.mark.parametrize(("obj", "expected"), [(o, e) for _, o, e in DEPLOYMENT_CASES],
                         ids=[i for i, _, _ in DEPLOYMENT_CASES])
def test_deployment_cells(obj: Obj, expected: list[Any]) -> None:
    assert cells("Deployment", obj, "apps") == expected


def test_replicaset_cells() -> None:
    rs = {
        "metadata": {"name": "web-5d8f7c", "creationTimestamp": ago(86400 * 2 + 3600 * 5)},
        "spec": {"replicas": 3,
                 "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d8f7c"}},
                 "template": template(("nginx", "nginx:1.25"), ("exporter", "nginx/exporter:0.11"))},
        "status": {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2},
    }
    assert cells("ReplicaSet", rs, "apps") == [
        "web-5d8f7c", 3, 3, 2, "2d5h", "nginx,exporter", "nginx:1.25,nginx/exporter:0.11",
        "app=web,pod-template-hash=5d8f7c",
    ]
    old = {"metadata": {"name": "web-old"}, "spec": {"replicas": 0, "selector": {}, "template": template()}}
    assert cells("ReplicaSet", old, "apps") == ["web-old", 0, 0, 0, "<unknown>", "", "", "<none>"]


def test_replicationcontroller_cells() -> None:
    rc = {
        "metadata": {"name": "frontend", "creationTimestamp": ago(40)},
        "spec": {"replicas": 2, "selector": {"app": "frontend", "tier": "web"},
                 "template": template(("php", "php:8-apache"))},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert cells("ReplicationController", rc) == [
        "frontend", 2, 2, 1, "40s", "php", "php:8-apache", "app=frontend,tier=web",
    ]
    bare = {"metadata": {"name": "bare", "creationTimestamp": ago(40)}, "spec": {}}
    assert cells("ReplicationController", bare) == ["bare", 1, 0, 0, "40s", "", "", "<none>"]


# ---------------------------------------------------------------- column definitions


def names_and_priorities(kind: str, group: str = "") -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in tables.column_definitions(rt(kind, group))]


N = 0
W = 1
COLUMN_CASES: list[tuple[str, str, list[tuple[str, int]]]] = [
    ("", "Namespace", [("Name", N), ("Status", N), ("Age", N)]),
    ("", "Pod", [("Name", N), ("Ready", N), ("Status", N), ("Restarts", N), ("Age", N), ("IP", W), ("Node", W),
                 ("Nominated Node", W), ("Readiness Gates", W)]),
    ("", "Node", [("Name", N), ("Status", N), ("Roles", N), ("Age", N), ("Version", N), ("Internal-IP", W),
                  ("External-IP", W), ("OS-Image", W), ("Kernel-Version", W), ("Container-Runtime", W)]),
    ("", "Service", [("Name", N), ("Type", N), ("Cluster-IP", N), ("External-IP", N), ("Port(s)", N), ("Age", N),
                     ("Selector", W)]),
    ("", "Endpoints", [("Name", N), ("Endpoints", N), ("Age", N)]),
    ("", "ConfigMap", [("Name", N), ("Data", N), ("Age", N)]),
    ("", "Secret", [("Name", N), ("Type", N), ("Data", N), ("Age", N)]),
    ("", "ServiceAccount", [("Name", N), ("Secrets", N), ("Age", N)]),
    ("", "Event", [("Last Seen", N), ("Type", N), ("Reason", N), ("Object", N), ("Subobject", W), ("Source", W),
                   ("Message", N), ("First Seen", W), ("Count", W), ("Name", W)]),
    ("events.k8s.io", "Event", [("Last Seen", N), ("Type", N), ("Reason", N), ("Object", N), ("Subobject", W),
                                ("Source", W), ("Message", N), ("First Seen", W), ("Count", W), ("Name", W)]),
    ("", "ReplicationController", [("Name", N), ("Desired", N), ("Current", N), ("Ready", N), ("Age", N),
                                   ("Containers", W), ("Images", W), ("Selector", W)]),
    ("apps", "Deployment", [("Name", N), ("Ready", N), ("Up-to-date", N), ("Available", N), ("Age", N),
                            ("Containers", W), ("Images", W), ("Selector", W)]),
    ("apps", "ReplicaSet", [("Name", N), ("Desired", N), ("Current", N), ("Ready", N), ("Age", N),
                            ("Containers", W), ("Images", W), ("Selector", W)]),
    ("coordination.k8s.io", "Lease", [("Name", N), ("Holder", N), ("Age", N)]),
    ("discovery.k8s.io", "EndpointSlice", [("Name", N), ("AddressType", N), ("Ports", N), ("Endpoints", N),
                                           ("Age", N)]),
]


@pytest.mark.parametrize(("group", "kind", "expected"), COLUMN_CASES, ids=[f"{g or 'core'}/{k}" for g, k, _ in COLUMN_CASES])
def test_columns_names_and_priorities(group: str, kind: str, expected: list[tuple[str, int]]) -> None:
    assert names_and_priorities(kind, group) == expected


@pytest.mark.parametrize("resource", registry.RESOURCES, ids=lambda r: f"{r.group or 'core'}/{r.kind}")
def test_every_served_kind_has_a_printer_and_well_formed_columns(resource: ResourceType) -> None:
    columns = tables.column_definitions(resource)
    assert all(list(c) == ["name", "type", "format", "description", "priority"] for c in columns)
    assert all(c["type"] in ("string", "integer", "date") and c["description"] for c in columns)
    named = [c for c in columns if c["format"] == "name"]
    assert len(named) == 1 and named[0]["name"] == "Name"
    assert named[0]["description"].startswith("Name must be unique within a namespace.")
    assert [c["name"] for c in columns] != ["Name", "Created At"]
    # every kind prints each column for an empty object, and for a minimal one
    assert len(tables.row_cells(resource, {}, NOW)) == len(columns)
    assert len(tables.row_cells(resource, {"metadata": {"name": "x", "creationTimestamp": ago(1)}}, NOW)) == len(columns)


@pytest.mark.parametrize(
    ("group", "kind", "column", "type_", "description"),
    [
        ("", "Pod", "Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        ("", "Pod", "Restarts", "string", "The number of times the containers in this pod have been restarted "
                                          "and when the last container in this pod has restarted."),
        ("", "Pod", "Age", "string", "CreationTimestamp is a timestamp representing the server time"),
        ("", "Pod", "IP", "string", "podIP address allocated to the pod."),
        ("", "Node", "Status", "string", "The status of the node"),
        ("", "Node", "Version", "string", "Kubelet Version reported by the node."),
        ("", "Namespace", "Status", "string", "The status of the namespace"),
        ("", "Event", "Object", "string", "The object that this event is about."),
        ("", "ReplicationController", "Desired", "integer", "Replicas is the number of desired replicas."),
        ("apps", "ReplicaSet", "Ready", "integer", "The number of non-terminating pods targeted by this ReplicaSet"),
        ("apps", "Deployment", "Ready", "string", "Number of the pod with ready state"),
        ("apps", "Deployment", "Containers", "string", "Names of each container in the template."),
        ("apps", "Deployment", "Images", "string", "Images referenced by each container in the template."),
        ("coordination.k8s.io", "Lease", "Holder", "string", "holderIdentity contains the identity of the holder"),
        ("discovery.k8s.io", "EndpointSlice", "AddressType", "string", "addressType specifies the type of address"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 24 else "",
)
def test_column_types_and_descriptions(group: str, kind: str, column: str, type_: str, description: str) -> None:
    found = {c["name"]: c for c in tables.column_definitions(rt(kind, group))}[column]
    assert found["type"] == type_
    assert found["description"].startswith(description)


def test_column_definitions_are_fresh_copies() -> None:
    first = tables.column_definitions(rt("Pod"))
    first[0]["name"] = "mutated"
    assert tables.column_definitions(rt("Pod"))[0]["name"] == "Name"


# ---------------------------------------------------------------- kinds without a printer

WIDGET = ResourceType("example.com", "v1", "Widget", "widgets", True, "com.example.v1.Widget")


def test_default_table_for_kinds_without_a_printer() -> None:
    columns = tables.column_definitions(WIDGET)
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == [
        ("Name", "string", "name", 0), ("Created At", "date", "", 0),
    ]
    assert columns[1]["description"].startswith("CreationTimestamp is a timestamp")


@pytest.mark.parametrize(
    ("created", "cell"),
    [
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05Z"),
        ("2024-01-02T03:04:05.999999Z", "2024-01-02T03:04:05Z"),
        (None, "0001-01-01T00:00:00Z"),
    ],
    ids=["utc", "offset", "fraction", "missing"],
)
def test_default_table_created_at(created: str | None, cell: str) -> None:
    obj = {"metadata": {"name": "w1", "creationTimestamp": created}}
    assert tables.row_cells(WIDGET, obj, NOW) == ["w1", cell]


# ---------------------------------------------------------------- the Table envelope


def a_pod(name: str, rv: str) -> Obj:
    obj = pod(statuses=[running()], conditions=READY_TRUE)
    obj["metadata"].update(name=name, resourceVersion=rv, uid=f"uid-{name}", labels={"app": "web"},
                           managedFields=[{"manager": "kubectl", "operation": "Apply"}])
    return obj


def test_table_default_metadata_rows() -> None:
    pods = [a_pod("web-1", "11"), a_pod("web-2", "12")]
    table = tables.build_table(rt("Pod"), pods, NOW, resource_version="12")
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "12"}
    assert table["columnDefinitions"] == tables.column_definitions(rt("Pod"))
    assert [row["cells"][0] for row in table["rows"]] == ["web-1", "web-2"]
    assert table["rows"][0] == {
        "cells": ["web-1", "1/1", "Running", "0", "60m", "<none>", "<none>", "<none>", "<none>"],
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pods[0]["metadata"]},
    }
    # the full metadata travels, managed fields included
    assert table["rows"][1]["object"]["metadata"]["managedFields"] == [{"manager": "kubectl", "operation": "Apply"}]


@pytest.mark.parametrize("include", ["Metadata", ""], ids=["metadata", "unset"])
def test_table_v1beta1(include: str) -> None:
    table = tables.build_table(rt("Pod"), [a_pod("web-1", "3")], NOW, version="v1beta1", include_object=include)
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_table_include_object() -> None:
    obj = a_pod("web-1", "3")
    whole = tables.build_table(rt("Pod"), [obj], NOW, include_object="Object")
    assert whole["rows"][0]["object"] == obj
    # kubectl decodes whole objects (--sort-by): a stored body lacking kind/apiVersion gets them
    bare = {"metadata": {"name": "lease-1"}, "spec": {"holderIdentity": "me"}}
    filled = tables.build_table(rt("Lease", "coordination.k8s.io"), [bare], NOW, include_object="Object")
    assert filled["rows"][0]["object"] == {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1", **bare}
    assert "kind" not in bare
    none = tables.build_table(rt("Pod"), [obj], NOW, include_object="None")
    assert none["rows"][0] == {"cells": whole["rows"][0]["cells"], "object": None}


def test_table_list_metadata() -> None:
    table = tables.build_table(rt("ConfigMap"), [], NOW, resource_version="99", continue_token="eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ",
                               remaining=0)
    assert table["metadata"] == {"resourceVersion": "99", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ",
                                 "remainingItemCount": 0}
    assert table["rows"] == []
    assert tables.build_table(rt("ConfigMap"), [], NOW)["metadata"] == {}


def test_watch_event_table_without_headers() -> None:
    obj = {"metadata": {"name": "cm", "resourceVersion": "7", "creationTimestamp": ago(3)}, "data": {"k": "v"}}
    first = tables.build_table(rt("ConfigMap"), [obj], NOW, resource_version="7")
    later = tables.build_table(rt("ConfigMap"), [obj], NOW, resource_version="7", with_columns=False)
    assert [c["name"] for c in first["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert later["columnDefinitions"] is None  # upstream encodes the nil slice as null
    assert later["rows"] == first["rows"] == [
        {"cells": ["cm", 1, "3s"], "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                             "metadata": obj["metadata"]}},
    ]


def test_non_pod_rows_have_no_conditions() -> None:
    table = tables.build_table(rt("Deployment", "apps"), [deployment()], NOW)
    assert list(table["rows"][0]) == ["cells", "object"]


@pytest.mark.parametrize(
    ("kwargs", "code", "reason", "message"),
    [
        ({"include_object": "Everything"}, 400, "BadRequest", 'unrecognized includeObject value: "Everything"'),
        ({"version": "v1alpha1"}, 406, "NotAcceptable", "no Table exists in group version meta.k8s.io/v1alpha1"),
    ],
    ids=["bad-include-object", "bad-version"],
)
def test_table_rejects(kwargs: dict[str, Any], code: int, reason: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as caught:
        tables.build_table(rt("Pod"), [], NOW, **kwargs)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (code, reason, message)


def test_table_serializes() -> None:
    table = tables.build_table(rt("Event"), [core_event(count=2, lastTimestamp=ago(1))], NOW, include_object="Object")
    decoded = orjson.loads(orjson.dumps(table))
    assert decoded == table
    assert decoded["rows"][0]["cells"][8] == 2
