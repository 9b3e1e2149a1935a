"""Defaulting as upstream's 1.33 defaulters: every default, and explicit values left alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults, prepare_namespace_for_create, service_ip_family_defaults
from kybernetes.api.defaults_pod import image_tag, pull_policy
from kybernetes.api.registry import ResourceType, by_kind

MISSING = object()


def rt(kind: str) -> ResourceType:
    for group in ("", "apps", "coordination.k8s.io", "discovery.k8s.io"):
        found = by_kind(group, "v1", kind)
        if found is not None:
            return found
    raise LookupError(kind)


def dig(obj: Any, path: str) -> Any:
    for part in path.split("/"):
        if isinstance(obj, list):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return MISSING
    return obj


def defaulted(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(body)
    apply_defaults(rt(kind), obj)
    return obj


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx:1.25"}]}
    base.update(spec)
    return {"metadata": {"name": "p"}, "spec": base}


def ctr(**fields: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "c", "image": "nginx:1.25", **fields}]}}


def vol(**source: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "c"}], "volumes": [{"name": "v", **source}]}}


def deploy(**spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"metadata": {"labels": {"app": "a"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


# --------------------------------------------------------------------------- every default

DEFAULT_CASES = [
    # pod spec
    pytest.param("Pod", pod(), "spec/restartPolicy", "Always", id="pod-restartPolicy"),
    pytest.param("Pod", pod(), "spec/dnsPolicy", "ClusterFirst", id="pod-dnsPolicy"),
    pytest.param("Pod", pod(), "spec/terminationGracePeriodSeconds", 30, id="pod-grace"),
    pytest.param("Pod", pod(), "spec/schedulerName", "default-scheduler", id="pod-scheduler"),
    pytest.param("Pod", pod(), "spec/securityContext", {}, id="pod-securityContext"),
    pytest.param("Pod", pod(), "spec/enableServiceLinks", True, id="pod-enableServiceLinks"),
    pytest.param("Pod", pod(restartPolicy=""), "spec/restartPolicy", "Always", id="pod-empty-string-is-unset"),
    pytest.param("Pod", {}, "spec/dnsPolicy", "ClusterFirst", id="pod-without-spec"),
    # containers
    pytest.param("Pod", pod(), "spec/containers/0/terminationMessagePath", "/dev/termination-log", id="c-msg-path"),
    pytest.param("Pod", pod(), "spec/containers/0/terminationMessagePolicy", "File", id="c-msg-policy"),
    pytest.param("Pod", pod(), "spec/containers/0/imagePullPolicy", "IfNotPresent", id="c-pull-tagged"),
    pytest.param("Pod", ctr(image="nginx"), "spec/containers/0/imagePullPolicy", "Always", id="c-pull-untagged"),
    pytest.param("Pod", ctr(image="nginx:latest"), "spec/containers/0/imagePullPolicy", "Always", id="c-pull-latest"),
    pytest.param("Pod", ctr(image="nginx@sha256:" + "a" * 64), "spec/containers/0/imagePullPolicy", "IfNotPresent",
                 id="c-pull-digest"),
    pytest.param("Pod", ctr(ports=[{"containerPort": 80}]), "spec/containers/0/ports/0/protocol", "TCP",
                 id="c-port-protocol"),
    pytest.param("Pod", ctr(env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]),
                 "spec/containers/0/env/0/valueFrom/fieldRef/apiVersion", "v1", id="c-env-fieldRef"),
    pytest.param("Pod", {"spec": {"initContainers": [{"name": "i", "image": "busybox"}]}},
                 "spec/initContainers/0/imagePullPolicy", "Always", id="init-container"),
    pytest.param("Pod", {"spec": {"ephemeralContainers": [{"name": "e", "image": "busybox:1"}]}},
                 "spec/ephemeralContainers/0/terminationMessagePolicy", "File", id="ephemeral-container"),
    # probes and handlers
    pytest.param("Pod", ctr(livenessProbe={"exec": {"command": ["true"]}}), "spec/containers/0/livenessProbe",
                 {"exec": {"command": ["true"]}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                  "failureThreshold": 3}, id="probe-numbers"),
    pytest.param("Pod", ctr(readinessProbe={"httpGet": {"port": 80}}), "spec/containers/0/readinessProbe/httpGet",
                 {"port": 80, "path": "/", "scheme": "HTTP"}, id="probe-httpGet"),
    pytest.param("Pod", ctr(startupProbe={"grpc": {"port": 9000}}), "spec/containers/0/startupProbe/grpc",
                 {"port": 9000, "service": ""}, id="probe-grpc-service"),
    pytest.param("Pod", ctr(lifecycle={"preStop": {"httpGet": {"port": 8080}}}),
                 "spec/containers/0/lifecycle/preStop/httpGet/scheme", "HTTP", id="lifecycle-httpGet"),
    # pod-only
    pytest.param("Pod", ctr(resources={"limits": {"cpu": "1", "memory": "1Gi"}}),
                 "spec/containers/0/resources/requests", {"cpu": "1", "memory": "1Gi"}, id="requests-from-limits"),
    pytest.param("Pod", ctr(resources={"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}),
                 "spec/containers/0/resources/requests", {"cpu": "500m", "memory": "1Gi"}, id="requests-partial"),
    pytest.param("Pod", {"spec": {"hostNetwork": True, "containers": [{"name": "c", "ports": [{"containerPort": 53}]}]}},
                 "spec/containers/0/ports/0/hostPort", 53, id="hostNetwork-hostPort"),
    # volumes
    pytest.param("Pod", vol(), "spec/volumes/0/emptyDir", {}, id="vol-emptyDir"),
    pytest.param("Pod", vol(configMap={"name": "cm"}), "spec/volumes/0/configMap/defaultMode", 420, id="vol-configMap"),
    pytest.param("Pod", vol(secret={"secretName": "s"}), "spec/volumes/0/secret/defaultMode", 420, id="vol-secret"),
    pytest.param("Pod", vol(hostPath={"path": "/x"}), "spec/volumes/0/hostPath/type", "", id="vol-hostPath"),
    pytest.param("Pod", vol(downwardAPI={"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}),
                 "spec/volumes/0/downwardAPI", {"defaultMode": 420, "items": [
                     {"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}]}, id="vol-downward"),
    pytest.param("Pod", vol(projected={"sources": [{"serviceAccountToken": {"path": "t"}}]}), "spec/volumes/0/projected",
                 {"defaultMode": 420, "sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}]},
                 id="vol-projected-token"),
    pytest.param("Pod", vol(projected={"sources": [{"downwardAPI": {"items": [{"path": "a", "fieldRef": {}}]}}]}),
                 "spec/volumes/0/projected/sources/0/downwardAPI/items/0/fieldRef/apiVersion", "v1",
                 id="vol-projected-downward"),
    pytest.param("Pod", vol(ephemeral={"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}),
                 "spec/volumes/0/ephemeral/volumeClaimTemplate/spec/volumeMode", "Filesystem", id="vol-ephemeral"),
    pytest.param("Pod", vol(image={"reference": "repo/tool"}), "spec/volumes/0/image/pullPolicy", "Always",
                 id="vol-image"),
    pytest.param("Pod", vol(iscsi={"targetPortal": "t", "iqn": "q", "lun": 0}), "spec/volumes/0/iscsi/iscsiInterface",
                 "default", id="vol-iscsi"),
    pytest.param("Pod", vol(rbd={"monitors": ["m"], "image": "i"}), "spec/volumes/0/rbd",
                 {"monitors": ["m"], "image": "i", "pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"},
                 id="vol-rbd"),
    pytest.param("Pod", vol(azureDisk={"diskName": "d", "diskURI": "u"}), "spec/volumes/0/azureDisk",
                 {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False,
                  "kind": "Shared"}, id="vol-azureDisk"),
    pytest.param("Pod", vol(scaleIO={"gateway": "g", "system": "s", "secretRef": {}}), "spec/volumes/0/scaleIO/fsType",
                 "xfs", id="vol-scaleIO"),
    pytest.param("Pod", {"spec": {"serviceAccount": "robot"}}, "spec/serviceAccountName", "robot",
                 id="serviceAccount-alias"),
    # workloads
    pytest.param("Deployment", deploy(), "spec/replicas", 1, id="deploy-replicas"),
    pytest.param("Deployment", deploy(), "spec/strategy", {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": "25%", "maxSurge": "25%"}}, id="deploy-strategy"),
    pytest.param("Deployment", deploy(strategy={"rollingUpdate": {"maxSurge": 2}}), "spec/strategy/rollingUpdate",
                 {"maxSurge": 2, "maxUnavailable": "25%"}, id="deploy-strategy-partial"),
    pytest.param("Deployment", deploy(), "spec/revisionHistoryLimit", 10, id="deploy-history"),
    pytest.param("Deployment", deploy(), "spec/progressDeadlineSeconds", 600, id="deploy-deadline"),
    pytest.param("Deployment", deploy(), "spec/template/spec/containers/0/imagePullPolicy", "Always",
                 id="deploy-template-container"),
    pytest.param("Deployment", deploy(), "spec/template/spec/restartPolicy", "Always", id="deploy-template-spec"),
    pytest.param("ReplicaSet", deploy(), "spec/replicas", 1, id="rs-replicas"),
    pytest.param("ReplicaSet", deploy(), "spec/template/spec/dnsPolicy", "ClusterFirst", id="rs-template"),
    pytest.param("ReplicationController", deploy(), "spec/replicas", 1, id="rc-replicas"),
    pytest.param("ReplicationController", deploy(), "spec/selector", {"app": "a"}, id="rc-selector"),
    pytest.param("ReplicationController", deploy(), "metadata/labels", {"app": "a"}, id="rc-labels"),
    pytest.param("ReplicationController", deploy(), "spec/template/spec/schedulerName", "default-scheduler",
                 id="rc-template"),
    # services
    pytest.param("Service", {"spec": {"ports": [{"port": 80}]}}, "spec/type", "ClusterIP", id="svc-type"),
    pytest.param("Service", {"spec": {}}, "spec/sessionAffinity", "None", id="svc-affinity"),
    pytest.param("Service", {"spec": {"ports": [{"port": 80}]}}, "spec/ports/0",
                 {"port": 80, "protocol": "TCP", "targetPort": 80}, id="svc-port"),
    pytest.param("Service", {"spec": {"ports": [{"port": 80, "targetPort": 0}]}}, "spec/ports/0/targetPort", 80,
                 id="svc-targetPort-zero"),
    pytest.param("Service", {"spec": {"ports": [{"port": 80, "targetPort": ""}]}}, "spec/ports/0/targetPort", 80,
                 id="svc-targetPort-empty"),
    pytest.param("Service", {"spec": {}}, "spec/internalTrafficPolicy", "Cluster", id="svc-internal-policy"),
    pytest.param("Service", {"spec": {"type": "NodePort"}}, "spec/externalTrafficPolicy", "Cluster",
                 id="svc-external-policy-nodeport"),
    pytest.param("Service", {"spec": {"externalIPs": ["1.2.3.4"]}}, "spec/externalTrafficPolicy", "Cluster",
                 id="svc-external-policy-externalIPs"),
    pytest.param("Service", {"spec": {"type": "LoadBalancer"}}, "spec/allocateLoadBalancerNodePorts", True,
                 id="svc-lb-nodeports"),
    pytest.param("Service", {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}}},
                 "status/loadBalancer/ingress/0/ipMode", "VIP", id="svc-lb-ipMode"),
    pytest.param("Service", {"spec": {"sessionAffinity": "ClientIP"}}, "spec/sessionAffinityConfig",
                 {"clientIP": {"timeoutSeconds": 10800}}, id="svc-clientip-timeout"),
    pytest.param("Service", {"spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}},
                 "spec/sessionAffinityConfig", MISSING, id="svc-affinity-config-cleared"),
    # other kinds
    pytest.param("Namespace", {"metadata": {"name": "team"}}, "metadata/labels",
                 {"kubernetes.io/metadata.name": "team"}, id="ns-name-label"),
    pytest.param("Namespace", {"metadata": {"name": "team"}}, "status/phase", "Active", id="ns-phase"),
    pytest.param("Node", {"status": {"capacity": {"cpu": "4"}}}, "status/allocatable", {"cpu": "4"},
                 id="node-allocatable"),
    pytest.param("Secret", {"data": {}}, "type", "Opaque", id="secret-type"),
    pytest.param("Secret", {"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "zz"}}, "data",
                 {"a": "eA==", "b": "eno="}, id="secret-stringData"),
    pytest.param("Endpoints", {"subsets": [{"ports": [{"port": 80}]}]}, "subsets/0/ports/0/protocol", "TCP",
                 id="endpoints-protocol"),
    pytest.param("EndpointSlice", {"ports": [{"port": 80}]}, "ports/0", {"port": 80, "name": "", "protocol": "TCP"},
                 id="endpointslice-port"),
]


@pytest.mark.parametrize(("kind", "body", "path", "expected"), DEFAULT_CASES)
def test_default_is_applied(kind: str, body: dict[str, Any], path: str, expected: Any) -> None:
    assert dig(defaulted(kind, body), path) == expected


# --------------------------------------------------------------------------- explicit values stay

EXPLICIT_CASES = [
    pytest.param("Pod", pod(restartPolicy="Never"), "spec/restartPolicy", id="restartPolicy"),
    pytest.param("Pod", pod(dnsPolicy="Default"), "spec/dnsPolicy", id="dnsPolicy"),
    pytest.param("Pod", pod(terminationGracePeriodSeconds=0), "spec/terminationGracePeriodSeconds", id="grace-zero"),
    pytest.param("Pod", pod(schedulerName="mine"), "spec/schedulerName", id="schedulerName"),
    pytest.param("Pod", pod(securityContext={"runAsUser": 1}), "spec/securityContext", id="securityContext"),
    pytest.param("Pod", pod(enableServiceLinks=False), "spec/enableServiceLinks", id="enableServiceLinks-false"),
    pytest.param("Pod", ctr(imagePullPolicy="Never"), "spec/containers/0/imagePullPolicy", id="imagePullPolicy"),
    pytest.param("Pod", ctr(terminationMessagePath="/t"), "spec/containers/0/terminationMessagePath", id="msg-path"),
    pytest.param("Pod", ctr(terminationMessagePolicy="FallbackToLogsOnError"),
                 "spec/containers/0/terminationMessagePolicy", id="msg-policy"),
    pytest.param("Pod", ctr(ports=[{"containerPort": 53, "protocol": "UDP"}]), "spec/containers/0/ports/0/protocol",
                 id="port-protocol"),
    pytest.param("Pod", ctr(livenessProbe={"tcpSocket": {"port": 1}, "timeoutSeconds": 5, "periodSeconds": 2,
                                           "successThreshold": 1, "failureThreshold": 9}),
                 "spec/containers/0/livenessProbe", id="probe"),
    pytest.param("Pod", ctr(readinessProbe={"httpGet": {"port": 1, "path": "/healthz", "scheme": "HTTPS"}}),
                 "spec/containers/0/readinessProbe/httpGet", id="httpGet"),
    pytest.param("Pod", ctr(env=[{"name": "N", "valueFrom": {"fieldRef": {"apiVersion": "v2", "fieldPath": "x"}}}]),
                 "spec/containers/0/env/0/valueFrom/fieldRef/apiVersion", id="fieldRef-apiVersion"),
    pytest.param("Pod", ctr(resources={"limits": {"cpu": "2"}, "requests": {"cpu": "1"}}),
                 "spec/containers/0/resources/requests", id="requests"),
    pytest.param("Pod", vol(configMap={"name": "c", "defaultMode": 0}), "spec/volumes/0/configMap/defaultMode",
                 id="defaultMode-zero"),
    pytest.param("Pod", vol(hostPath={"path": "/x", "type": "Directory"}), "spec/volumes/0/hostPath/type",
                 id="hostPath-type"),
    pytest.param("Pod", vol(nfs={"server": "s", "path": "/"}), "spec/volumes/0", id="volume-source-no-emptyDir"),
    pytest.param("Pod", {"spec": {"hostNetwork": True, "containers": [{"name": "c", "ports": [
        {"containerPort": 53, "hostPort": 5353}]}]}}, "spec/containers/0/ports/0/hostPort", id="hostPort"),
    pytest.param("Deployment", deploy(replicas=0), "spec/replicas", id="deploy-replicas-zero"),
    pytest.param("Deployment", deploy(strategy={"type": "Recreate"}), "spec/strategy", id="deploy-recreate"),
    pytest.param("Deployment", deploy(revisionHistoryLimit=0), "spec/revisionHistoryLimit", id="deploy-history-zero"),
    pytest.param("Deployment", deploy(progressDeadlineSeconds=30), "spec/progressDeadlineSeconds", id="deploy-deadline"),
    pytest.param("ReplicaSet", deploy(replicas=0), "spec/replicas", id="rs-replicas-zero"),
    pytest.param("ReplicationController", deploy(selector={"x": "y"}), "spec/selector", id="rc-selector"),
    pytest.param("ReplicationController", {**deploy(), "metadata": {"labels": {"own": "1"}}}, "metadata/labels",
                 id="rc-labels"),
    pytest.param("Service", {"spec": {"type": "NodePort", "externalTrafficPolicy": "Local"}},
                 "spec/externalTrafficPolicy", id="svc-external-policy"),
    pytest.param("Service", {"spec": {"internalTrafficPolicy": "Local"}}, "spec/internalTrafficPolicy",
                 id="svc-internal-policy"),
    pytest.param("Service", {"spec": {"ports": [{"port": 80, "targetPort": "http", "protocol": "UDP"}]}},
                 "spec/ports/0", id="svc-port"),
    pytest.param("Service", {"spec": {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {
        "clientIP": {"timeoutSeconds": 60}}}}, "spec/sessionAffinityConfig", id="svc-affinity-timeout"),
    pytest.param("Service", {"spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False}},
                 "spec/allocateLoadBalancerNodePorts", id="svc-lb-nodeports"),
    pytest.param("Secret", {"type": "kubernetes.io/tls"}, "type", id="secret-type"),
    pytest.param("Node", {"status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3"}}}, "status/allocatable",
                 id="node-allocatable"),
    pytest.param("Namespace", {"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}, "status/phase",
                 id="ns-phase"),
    pytest.param("EndpointSlice", {"ports": [{"name": "http", "protocol": "UDP"}]}, "ports/0", id="endpointslice"),
]


@pytest.mark.parametrize(("kind", "body", "path"), EXPLICIT_CASES)
def test_explicit_value_is_never_overwritten(kind: str, body: dict[str, Any], path: str) -> None:
    assert dig(defaulted(kind, body), path) == dig(body, path)


# --------------------------------------------------------------------------- what is not defaulted

ABSENT_CASES = [
    pytest.param("Deployment", deploy(), "spec/template/spec/enableServiceLinks", id="template-no-serviceLinks"),
    pytest.param("Deployment", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "resources": {"limits": {"cpu": "1"}}}]}}}},
                 "spec/template/spec/containers/0/resources/requests", id="template-no-requests-from-limits"),
    pytest.param("Pod", ctr(ports=[{"containerPort": 80}]), "spec/containers/0/ports/0/hostPort",
                 id="no-hostPort-without-hostNetwork"),
    pytest.param("Service", {"spec": {}}, "spec/externalTrafficPolicy", id="clusterip-no-external-policy"),
    pytest.param("Service", {"spec": {"type": "ExternalName"}}, "spec/internalTrafficPolicy",
                 id="externalname-no-internal-policy"),
    pytest.param("ReplicaSet", deploy(), "spec/selector", id="rs-no-selector"),
    pytest.param("Secret", {"stringData": {"a": "b"}}, "stringData", id="stringData-folded"),
    pytest.param("Pod", ctr(livenessProbe={"tcpSocket": {"port": 1}}), "spec/containers/0/livenessProbe/httpGet",
                 id="probe-no-handler-invented"),
]


@pytest.mark.parametrize(("kind", "body", "path"), ABSENT_CASES)
def test_not_defaulted(kind: str, body: dict[str, Any], path: str) -> None:
    assert dig(defaulted(kind, body), path) is MISSING


@pytest.mark.parametrize("kind", ["ConfigMap", "ServiceAccount", "Event", "Lease"])
def test_kinds_without_defaults_are_untouched(kind: str) -> None:
    body = {"metadata": {"name": "x"}, "data": {"a": "b"}}
    assert defaulted(kind, body) == body


def test_defaulting_twice_changes_nothing() -> None:
    for kind, body in [("Pod", pod(volumes=[{"name": "v"}])), ("Deployment", deploy()),
                       ("Service", {"spec": {"ports": [{"port": 1}]}})]:
        once = defaulted(kind, body)
        assert defaulted(kind, once) == once


def test_namespace_name_label_always_follows_the_name() -> None:
    # upstream overwrites this one label unconditionally
    obj = defaulted("Namespace", {"metadata": {"name": "a", "labels": {"kubernetes.io/metadata.name": "b"}}})
    assert obj["metadata"]["labels"]["kubernetes.io/metadata.name"] == "a"


def test_rc_selector_is_a_copy_of_the_template_labels() -> None:
    obj = defaulted("ReplicationController", deploy())
    obj["spec"]["selector"]["x"] = "y"
    assert obj["spec"]["template"]["metadata"]["labels"] == {"app": "a"}


# --------------------------------------------------------------------------- image references

IMAGE_CASES = [
    pytest.param("nginx", "latest", "Always", id="bare"),
    pytest.param("nginx:latest", "latest", "Always", id="latest"),
    pytest.param("nginx:1.25", "1.25", "IfNotPresent", id="tag"),
    pytest.param("library/nginx:1.25-alpine", "1.25-alpine", "IfNotPresent", id="path-tag"),
    pytest.param("localhost:5000/app", "latest", "Always", id="registry-port-untagged"),
    pytest.param("localhost:5000/app:v2", "v2", "IfNotPresent", id="registry-port-tag"),
    pytest.param("registry.example.com/team/app:latest", "latest", "Always", id="registry-latest"),
    pytest.param("nginx@sha256:" + "0" * 64, "", "IfNotPresent", id="digest"),
    pytest.param("nginx:1.25@sha256:" + "0" * 64, "1.25", "IfNotPresent", id="tag-and-digest"),
    pytest.param("nginx:latest@sha256:" + "0" * 64, "latest", "Always", id="latest-and-digest"),
    pytest.param("Nginx", "", "IfNotPresent", id="invalid-uppercase"),
    pytest.param("", "", "IfNotPresent", id="empty"),
]


@pytest.mark.parametrize(("image", "tag", "policy"), IMAGE_CASES)
def test_image_pull_policy_follows_the_tag(image: str, tag: str, policy: str) -> None:
    assert image_tag(image) == tag
    assert pull_policy(image) == policy


def test_missing_image_pulls_if_not_present() -> None:
    assert pull_policy(None) == "IfNotPresent"


# --------------------------------------------------------------------------- service IP families

IP_FAMILY_CASES = [
    pytest.param({"selector": {"a": "b"}}, None, "SingleStack", ["IPv4"], id="plain"),
    pytest.param({"clusterIP": "None", "selector": {"a": "b"}}, None, "SingleStack", ["IPv4"], id="headless"),
    pytest.param({"clusterIP": "None"}, None, "RequireDualStack", ["IPv4", "IPv6"], id="headless-selectorless"),
    pytest.param({"clusterIP": "None", "ipFamilyPolicy": "SingleStack"}, None, "SingleStack", ["IPv4"],
                 id="headless-selectorless-single"),
    pytest.param({"clusterIP": "fd00::10", "selector": {"a": "b"}}, None, "SingleStack", ["IPv6"],
                 id="family-from-cluster-ip"),
    pytest.param({"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4"]}, None, "PreferDualStack", ["IPv4"],
                 id="explicit-kept"),
    pytest.param({}, {"spec": {"ipFamilyPolicy": "PreferDualStack"}}, "PreferDualStack", ["IPv4"],
                 id="update-keeps-old-policy"),
]


@pytest.mark.parametrize(("spec", "old", "policy", "families"), IP_FAMILY_CASES)
def test_service_ip_family_defaults(spec: dict[str, Any], old: dict[str, Any] | None, policy: str,
                                    families: list[str]) -> None:
    obj = {"spec": dict(spec)}
    service_ip_family_defaults(obj, old)
    assert obj["spec"]["ipFamilyPolicy"] == policy
    assert obj["spec"]["ipFamilies"] == families


def test_service_ip_family_defaults_fill_cluster_ips_from_cluster_ip() -> None:
    obj = {"spec": {"clusterIP": "10.96.0.10"}}
    service_ip_family_defaults(obj)
    assert obj["spec"]["clusterIPs"] == ["10.96.0.10"]


def test_external_name_services_get_no_ip_families() -> None:
    obj = {"spec": {"type": "ExternalName", "externalName": "example.com"}}
    service_ip_family_defaults(obj)
    assert obj == {"spec": {"type": "ExternalName", "externalName": "example.com"}}


def test_ip_family_defaults_are_not_part_of_apply_defaults() -> None:
    assert dig(defaulted("Service", {"spec": {}}), "spec/ipFamilyPolicy") is MISSING


# --------------------------------------------------------------------------- namespace create

NAMESPACE_CREATE_CASES = [
    pytest.param({}, ["kubernetes"], id="added"),
    pytest.param({"finalizers": ["example.com/x"]}, ["example.com/x", "kubernetes"], id="appended"),
    pytest.param({"finalizers": ["kubernetes"]}, ["kubernetes"], id="not-repeated"),
]


@pytest.mark.parametrize(("spec", "finalizers"), NAMESPACE_CREATE_CASES)
def test_prepare_namespace_for_create(spec: dict[str, Any], finalizers: list[str]) -> None:
    obj = {"metadata": {"name": "n"}, "spec": copy.deepcopy(spec), "status": {"phase": "Terminating"}}
    prepare_namespace_for_create(obj)
    assert obj["spec"]["finalizers"] == finalizers
    assert obj["status"] == {"phase": "Active"}


def test_finalizer_is_not_part_of_apply_defaults() -> None:
    # finalizing removes it; an update must not bring it back
    assert dig(defaulted("Namespace", {"metadata": {"name": "n"}, "spec": {}}), "spec/finalizers") is MISSING
