"""Realistic, already-defaulted manifests for validation tests, and a patch helper.

Each builder returns what the API server holds after defaulting a typical
``kubectl apply`` manifest (restartPolicy, dnsPolicy, imagePullPolicy,
terminationMessagePolicy, protocols, rollout strategy... all filled), so a
test starts from a valid object and changes one thing.
"""

from __future__ import annotations

import copy
import re
from typing import Any

DELETE = object()

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^\]]+)\]")


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for name, idx, key in _STEP.findall(path):
        out.append(int(idx) if idx else (name or key))
    return out


def patch(obj: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``obj`` with ``{"a.b[0].c": value}`` set (``DELETE`` removes; ``x[key]`` is a map key)."""
    out = copy.deepcopy(obj)
    for path, value in changes.items():
        steps = _steps(path)
        cur: Any = out
        for s in steps[:-1]:
            if isinstance(s, str) and s not in cur:
                cur[s] = {}
            cur = cur[s]
        last = steps[-1]
        if value is DELETE:
            del cur[last]
        elif isinstance(cur, list) and last == len(cur):
            cur.append(copy.deepcopy(value))
        else:
            cur[last] = copy.deepcopy(value)
    return out


def meta(name: str = "web", namespace: str | None = "default", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "uid": "0b6d1c5e-4f3a-4c5e-9d7a-2f1e8b9c0a11",
                         "creationTimestamp": "2024-05-01T10:00:00Z"}
    if namespace is not None:
        m["namespace"] = namespace
    m.update(extra)
    return m


def container(name: str = "nginx", image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "MODE", "value": "production"}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/nginx/conf.d"}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1,
                           "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }


def pod_spec() -> dict[str, Any]:
    return {
        "containers": [container()],
        "volumes": [{"name": "config", "configMap": {"name": "nginx-conf", "defaultMode": 420}}],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": True,
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
        ],
    }


def pod() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(labels={"app": "nginx"}), "spec": pod_spec(),
            "status": {"phase": "Pending", "qosClass": "Burstable"}}


def template(labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"labels": labels or {"app": "nginx"}}, "spec": pod_spec()}


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(generation=1),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": template(),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }


def replica_set() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta("web-7d9c5b8f4"),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "nginx", "pod-template-hash": "7d9c5b8f4"}},
                 "template": template({"app": "nginx", "pod-template-hash": "7d9c5b8f4"})},
    }


def replication_controller() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": meta("legacy"),
            "spec": {"replicas": 1, "selector": {"app": "nginx"}, "template": template()}}


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": meta("web"),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "nginx"},
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80}],
            "sessionAffinity": "None",
            "clusterIP": "10.96.0.20",
            "clusterIPs": ["10.96.0.20"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
    }


def node_port_service() -> dict[str, Any]:
    return patch(service(), {"spec.type": "NodePort", "spec.externalTrafficPolicy": "Cluster",
                             "spec.ports[0].nodePort": 30080})


def config_map() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("nginx-conf"),
            "data": {"default.conf": "server { listen 80; }", "LOG_LEVEL": "info"}}


def secret() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta("db-creds"), "type": "Opaque",
            "data": {"username": "YWRtaW4=", "password": "czNjcjN0"}}


def namespace() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta("team-a", None),
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def node() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": meta("worker-1", None, labels={"kubernetes.io/hostname": "worker-1"}),
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"],
                 "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                   "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
                   "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}]},
    }


def service_account() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("builder")}


def endpoints() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta("web"),
            "subsets": [{"addresses": [{"ip": "10.244.1.5", "nodeName": "worker-1"}],
                         "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]}


def endpoint_slice() -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta("web-abc12"),
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}, "nodeName": "worker-1"}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}


def lease() -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta("worker-1", "kube-node-lease"),
            "spec": {"holderIdentity": "worker-1", "leaseDurationSeconds": 40,
                     "renewTime": "2024-05-01T10:00:00.000000Z"}}


def core_event() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": meta("web-5d8f.17c2a3b4e5f6a7b8"),
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-5d8f", "apiVersion": "v1"},
            "reason": "Scheduled", "message": "Successfully assigned default/web-5d8f to worker-1",
            "source": {"component": "default-scheduler"}, "firstTimestamp": "2024-05-01T10:00:00Z",
            "lastTimestamp": "2024-05-01T10:00:00Z", "count": 1, "type": "Normal"}


def events_v1_event() -> dict[str, Any]:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("web-5d8f.17c2a3b4e5f6a7b9"),
            "eventTime": "2024-05-01T10:00:00.000000Z", "reportingController": "kybernetes.io/scheduler",
            "reportingInstance": "scheduler-1", "action": "Binding", "reason": "Scheduled",
            "regarding": {"kind": "Pod", "namespace": "default", "name": "web-5d8f"},
            "note": "Successfully assigned default/web-5d8f to worker-1", "type": "Normal"}
