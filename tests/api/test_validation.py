"""Validation of ObjectMeta and Pods: valid objects pass, each rule fails at its path with its type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kybernetes.api import errors, registry
from kybernetes.api.registry import ResourceType
from kybernetes.api.validation import validate_create, validate_status_update, validate_update
from tests.api import manifests as m
from tests.api.manifests import DELETE, patch

POD = registry.by_kind("", "v1", "Pod")
CONFIG_MAP = registry.by_kind("", "v1", "ConfigMap")
NAMESPACE = registry.by_kind("", "v1", "Namespace")
assert POD and CONFIG_MAP and NAMESPACE

REQUIRED, INVALID, NOT_SUPPORTED = "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported"
DUPLICATE, FORBIDDEN, NOT_FOUND, TOO_LONG = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueNotFound",
                                             "FieldValueTooLong")

Found = list[tuple[str, str]]


def found(errs: list[errors.FieldError]) -> Found:
    return [(e.field, e.reason) for e in errs]


def message(rt: ResourceType, obj: dict[str, Any], errs: list[errors.FieldError]) -> str:
    return errors.invalid(rt.kind, obj["metadata"].get("name", ""), errs, rt.group).message


# -- ObjectMeta (through ConfigMaps, whose only other rules are about data) -------------------

META_CASES = [
    ("valid", {}, []),
    ("name-missing", {"metadata.name": DELETE}, [("metadata.name", REQUIRED)]),
    ("name-uppercase", {"metadata.name": "Web"}, [("metadata.name", INVALID)]),
    ("name-too-long", {"metadata.name": "a" * 254}, [("metadata.name", INVALID)]),
    ("namespace-missing", {"metadata.namespace": DELETE}, [("metadata.namespace", REQUIRED)]),
    ("namespace-not-label", {"metadata.namespace": "a.b"}, [("metadata.namespace", INVALID)]),
    ("label-key-bad", {"metadata.labels": {"-bad": "x"}}, [("metadata.labels", INVALID)]),
    ("label-value-bad", {"metadata.labels": {"app": "a b"}}, [("metadata.labels", INVALID)]),
    ("label-prefix-ok", {"metadata.labels": {"app.kubernetes.io/name": "web"}}, []),
    ("annotation-key-any-case", {"metadata.annotations": {"Example.COM/Key": "v"}}, []),
    ("annotation-key-bad", {"metadata.annotations": {"a b": "v"}}, [("metadata.annotations", INVALID)]),
    ("annotations-too-big", {"metadata.annotations": {"big": "x" * (256 * 1024)}},
     [("metadata.annotations", TOO_LONG)]),
    ("generation-negative", {"metadata.generation": -1}, [("metadata.generation", INVALID)]),
    ("finalizer-not-standard", {"metadata.finalizers": ["cleanup"]}, [("metadata.finalizers[0]", INVALID)]),
    ("finalizer-qualified-ok", {"metadata.finalizers": ["example.com/cleanup", "foregroundDeletion"]}, []),
    ("finalizers-orphan-and-foreground", {"metadata.finalizers": ["orphan", "foregroundDeletion"]},
     [("metadata.finalizers", INVALID)]),
    ("owner-ref-empty-fields", {"metadata.ownerReferences": [{"apiVersion": "apps/", "kind": "", "name": "",
                                                              "uid": ""}]},
     [("metadata.ownerReferences.apiVersion", INVALID), ("metadata.ownerReferences.kind", INVALID),
      ("metadata.ownerReferences.name", INVALID), ("metadata.ownerReferences.uid", INVALID)]),
    ("owner-ref-two-controllers", {"metadata.ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": True}]},
     [("metadata.ownerReferences", INVALID)]),
    ("owner-ref-event-banned", {"metadata.ownerReferences": [
        {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"}]}, [("metadata.ownerReferences", INVALID)]),
    ("managed-fields-bad-operation", {"metadata.managedFields": [{"manager": "kubectl", "operation": "Patch",
                                                                  "fieldsType": "FieldsV1"}]},
     [("metadata.managedFields[0].operation", INVALID)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in META_CASES])
def test_object_meta_on_create(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(CONFIG_MAP, patch(m.config_map(), changes))) == expected


def test_cluster_scoped_kind_forbids_namespace() -> None:
    ns = patch(m.namespace(), {"metadata.namespace": "default"})
    assert found(validate_create(NAMESPACE, ns)) == [("metadata.namespace", FORBIDDEN)]


META_UPDATE_CASES = [
    ("labels-may-change", {"metadata.labels": {"new": "label"}}, []),
    ("name", {"metadata.name": "other"}, [("metadata.name", INVALID)]),
    ("namespace", {"metadata.namespace": "other"}, [("metadata.namespace", INVALID)]),
    ("uid", {"metadata.uid": "other"}, [("metadata.uid", INVALID)]),
    ("creation-timestamp", {"metadata.creationTimestamp": "2030-01-01T00:00:00Z"},
     [("metadata.creationTimestamp", INVALID)]),
    ("generation-decremented", {"metadata.generation": 0}, [("metadata.generation", INVALID)]),
    # ConfigMaps re-run the create rules on update, so upstream reports this twice (the message shows it once)
    ("bad-label-on-update", {"metadata.labels": {"x": "-"}}, [("metadata.labels", INVALID)] * 2),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in META_UPDATE_CASES])
def test_object_meta_on_update(changes: dict[str, Any], expected: Found) -> None:
    old = patch(m.config_map(), {"metadata.generation": 1})
    assert found(validate_update(CONFIG_MAP, patch(old, changes), old)) == expected


def test_no_new_finalizer_while_deleting() -> None:
    old = patch(m.config_map(), {"metadata.deletionTimestamp": "2024-05-01T11:00:00Z",
                                 "metadata.finalizers": ["example.com/a"]})
    new = patch(old, {"metadata.finalizers": ["example.com/a", "example.com/b"]})
    errs = validate_update(CONFIG_MAP, new, old)
    assert [str(e) for e in errs] == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, '
        'found new finalizers []string{"example.com/b"}']


def test_immutable_timestamp_renders_as_go_time() -> None:
    old = m.config_map()
    new = patch(old, {"metadata.creationTimestamp": "2030-01-02T03:04:05Z"})
    assert [str(e) for e in validate_update(CONFIG_MAP, new, old)] == [
        "metadata.creationTimestamp: Invalid value: 2030-01-02 03:04:05 +0000 UTC: field is immutable"]


# -- Pods ----------------------------------------------------------------------------------

C0 = "spec.containers[0]"

POD_CASES = [
    ("valid", {}, []),
    ("no-containers", {"spec.containers": []}, [("spec.containers", REQUIRED)]),
    ("container-name-missing", {f"{C0}.name": ""}, [(f"{C0}.name", REQUIRED)]),
    ("container-name-not-label", {f"{C0}.name": "Web_1"}, [(f"{C0}.name", INVALID)]),
    ("image-missing", {f"{C0}.image": ""}, [(f"{C0}.image", REQUIRED)]),
    ("image-whitespace", {f"{C0}.image": " nginx"}, [(f"{C0}.image", INVALID)]),
    ("duplicate-container", {"spec.containers[1]": m.container()}, [("spec.containers[1].name", DUPLICATE)]),
    ("init-name-clashes", {"spec.initContainers": [patch(m.container(), {"readinessProbe": DELETE})]},
     [("spec.initContainers[0].name", DUPLICATE)]),
    ("init-probe-forbidden", {"spec.initContainers": [m.container("init")]},
     [("spec.initContainers[0].readinessProbe", FORBIDDEN)]),
    ("sidecar-may-probe", {"spec.initContainers": [patch(m.container("sidecar"), {"restartPolicy": "Always",
                                                                                  "ports[0].name": "side"})]}, []),
    ("init-restart-policy-never", {"spec.initContainers": [patch(m.container("init"), {"restartPolicy": "Never",
                                                                                       "readinessProbe": DELETE})]},
     [("spec.initContainers[0].restartPolicy", NOT_SUPPORTED)]),
    ("regular-restart-policy", {f"{C0}.restartPolicy": "Always"}, [(f"{C0}.restartPolicy", FORBIDDEN)]),
    ("port-zero", {f"{C0}.ports[0].containerPort": 0}, [(f"{C0}.ports[0].containerPort", REQUIRED)]),
    ("port-too-big", {f"{C0}.ports[0].containerPort": 70000}, [(f"{C0}.ports[0].containerPort", INVALID)]),
    ("host-port-too-big", {f"{C0}.ports[0].hostPort": 65536}, [(f"{C0}.ports[0].hostPort", INVALID)]),
    ("protocol-bad", {f"{C0}.ports[0].protocol": "ICMP"}, [(f"{C0}.ports[0].protocol", NOT_SUPPORTED)]),
    ("protocol-missing", {f"{C0}.ports[0].protocol": DELETE}, [(f"{C0}.ports[0].protocol", REQUIRED)]),
    ("port-name-bad", {f"{C0}.ports[0].name": "HTTP"}, [(f"{C0}.ports[0].name", INVALID)] * 2),
    ("port-name-duplicate", {f"{C0}.ports[1]": {"name": "http", "containerPort": 81, "protocol": "TCP"}},
     [(f"{C0}.ports[1].name", DUPLICATE)]),
    ("host-port-conflict", {"spec.containers[1]": patch(m.container("b"), {"ports[0].hostPort": 8080}),
                            f"{C0}.ports[0].hostPort": 8080}, [("spec.containers[1].ports[0].hostPort", DUPLICATE)]),
    ("env-name-missing", {f"{C0}.env[0].name": ""}, [(f"{C0}.env[0].name", REQUIRED)]),
    ("env-name-equals", {f"{C0}.env[0].name": "A=B"}, [(f"{C0}.env[0].name", INVALID)]),
    ("env-value-from-empty", {f"{C0}.env[0]": {"name": "X", "valueFrom": {}}}, [(f"{C0}.env[0].valueFrom", INVALID)]),
    ("env-value-and-value-from", {f"{C0}.env[0]": {"name": "X", "value": "v", "valueFrom": {
        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}}, [(f"{C0}.env[0].valueFrom", INVALID)]),
    ("env-field-ref-unsupported", {f"{C0}.env[0]": {"name": "X", "valueFrom": {
        "fieldRef": {"apiVersion": "v1", "fieldPath": "spec.containers"}}}},
     [(f"{C0}.env[0].valueFrom.fieldRef.fieldPath", NOT_SUPPORTED)]),
    ("env-secret-key-ref-bad-key", {f"{C0}.env[0]": {"name": "X", "valueFrom": {
        "secretKeyRef": {"name": "db", "key": "a/b"}}}}, [(f"{C0}.env[0].valueFrom.secretKeyRef.key", INVALID)]),
    ("env-from-no-source", {f"{C0}.envFrom": [{"prefix": "APP_"}]}, [(f"{C0}.envFrom", INVALID)]),
    ("mount-unknown-volume", {f"{C0}.volumeMounts[0].name": "nope"}, [(f"{C0}.volumeMounts[0].name", NOT_FOUND)]),
    ("mount-path-missing", {f"{C0}.volumeMounts[0].mountPath": ""}, [(f"{C0}.volumeMounts[0].mountPath", REQUIRED)]),
    ("mount-subpath-escapes", {f"{C0}.volumeMounts[0].subPath": "../etc"}, [(f"{C0}.volumeMounts.subPath", INVALID)]),
    ("volume-name-bad", {"spec.volumes[0].name": "Config"}, [("spec.volumes[0].name", INVALID),
                                                            (f"{C0}.volumeMounts[0].name", NOT_FOUND)]),
    ("volume-duplicate", {"spec.volumes[1]": {"name": "config", "emptyDir": {}}}, [("spec.volumes[1].name", DUPLICATE)]),
    ("volume-no-source", {"spec.volumes[0]": {"name": "config"}}, [("spec.volumes[0]", REQUIRED),
                                                                   (f"{C0}.volumeMounts[0].name", NOT_FOUND)]),
    ("volume-two-sources", {"spec.volumes[0].emptyDir": {}}, [("spec.volumes[0].configMap", FORBIDDEN),
                                                              (f"{C0}.volumeMounts[0].name", NOT_FOUND)]),
    ("volume-downward-api-typo-kept", {"spec.volumes[0].downwardAPI": {"items": []}},
     [("spec.volumes[0].configMap", FORBIDDEN), (f"{C0}.volumeMounts[0].name", NOT_FOUND)]),
    ("volume-host-path-missing-path", {"spec.volumes[0]": {"name": "config", "hostPath": {}}},
     [("spec.volumes[0].hostPath.path", REQUIRED), (f"{C0}.volumeMounts[0].name", NOT_FOUND)]),
    ("volume-secret-bad-mode", {"spec.volumes[0]": {"name": "config", "secret": {"secretName": "s",
                                                                                  "defaultMode": 1000}}},
     [("spec.volumes[0].secret.defaultMode", INVALID), (f"{C0}.volumeMounts[0].name", NOT_FOUND)]),
    ("volume-pvc-ok", {"spec.volumes[0]": {"name": "config", "persistentVolumeClaim": {"claimName": "data"}}}, []),
    ("pull-policy-bad", {f"{C0}.imagePullPolicy": "Sometimes"}, [(f"{C0}.imagePullPolicy", NOT_SUPPORTED)]),
    ("pull-policy-missing", {f"{C0}.imagePullPolicy": DELETE}, [(f"{C0}.imagePullPolicy", REQUIRED)]),
    ("termination-message-policy", {f"{C0}.terminationMessagePolicy": "Log"},
     [(f"{C0}.terminationMessagePolicy", NOT_SUPPORTED)]),
    ("request-above-limit", {f"{C0}.resources.requests.memory": "1Gi"}, [(f"{C0}.resources.requests", INVALID)]),
    ("quantity-malformed", {f"{C0}.resources.limits.cpu": "lots"}, [(f"{C0}.resources.limits[cpu]", INVALID)]),
    ("quantity-negative", {f"{C0}.resources.requests.cpu": "-1"}, [(f"{C0}.resources.requests[cpu]", INVALID)]),
    ("resource-name-unknown", {f"{C0}.resources.limits.gpu": "1"}, [(f"{C0}.resources.limits[gpu]", INVALID)] * 2),
    ("extended-resource-needs-limit", {f"{C0}.resources.requests[example.com/gpu]": "1"},
     [(f"{C0}.resources.limits", REQUIRED)]),
    ("extended-resource-equal-ok", {f"{C0}.resources.requests[example.com/gpu]": "1",
                                    f"{C0}.resources.limits[example.com/gpu]": "1"}, []),
    ("extended-resource-whole", {f"{C0}.resources.requests[example.com/gpu]": "500m",
                                 f"{C0}.resources.limits[example.com/gpu]": "500m"},
     [(f"{C0}.resources.limits[example.com/gpu]", INVALID), (f"{C0}.resources.requests[example.com/gpu]", INVALID)]),
    ("probe-no-handler", {f"{C0}.readinessProbe": {"periodSeconds": 10}}, [(f"{C0}.readinessProbe", REQUIRED)]),
    ("probe-two-handlers", {f"{C0}.readinessProbe.tcpSocket": {"port": 80}},
     [(f"{C0}.readinessProbe.tcpSocket", FORBIDDEN)]),
    ("probe-negative-period", {f"{C0}.readinessProbe.periodSeconds": -1},
     [(f"{C0}.readinessProbe.periodSeconds", INVALID)]),
    ("probe-bad-port", {f"{C0}.readinessProbe.httpGet.port": 0}, [(f"{C0}.readinessProbe.httpGet.port", INVALID)]),
    ("probe-named-port-ok", {f"{C0}.readinessProbe.httpGet.port": "http"}, []),
    ("liveness-success-threshold", {f"{C0}.livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2}},
     [(f"{C0}.livenessProbe.successThreshold", INVALID)]),
    ("exec-without-command", {f"{C0}.livenessProbe": {"exec": {}}}, [(f"{C0}.livenessProbe.exec.command", REQUIRED)]),
    ("prestop-sleep-too-long", {f"{C0}.lifecycle": {"preStop": {"sleep": {"seconds": 60}}}},
     [(f"{C0}.lifecycle.preStop.sleep", INVALID)]),
    ("restart-policy-bad", {"spec.restartPolicy": "Sometimes"}, [("spec.restartPolicy", NOT_SUPPORTED)]),
    ("dns-policy-bad", {"spec.dnsPolicy": "Google"}, [("spec.dnsPolicy", NOT_SUPPORTED)]),
    ("dns-none-needs-config", {"spec.dnsPolicy": "None"}, [("spec.dnsConfig", REQUIRED)]),
    ("grace-period-missing", {"spec.terminationGracePeriodSeconds": DELETE},
     [("spec.terminationGracePeriodSeconds", REQUIRED)]),
    ("active-deadline-zero", {"spec.activeDeadlineSeconds": 0}, [("spec.activeDeadlineSeconds", INVALID)]),
    ("node-selector-bad-value", {"spec.nodeSelector": {"disk": "ssd fast"}}, [("spec.nodeSelector", INVALID)]),
    ("service-account-bad", {"spec.serviceAccountName": "Builder"}, [("spec.serviceAccountName", INVALID)]),
    ("hostname-not-label", {"spec.hostname": "a.b"}, [("spec.hostname", INVALID)]),
    ("toleration-bad-operator", {"spec.tolerations[0].operator": "Maybe"},
     [("spec.tolerations[0].operator", NOT_SUPPORTED)]),
    ("toleration-seconds-needs-noexecute", {"spec.tolerations[0].effect": "NoSchedule"},
     [("spec.tolerations[0].effect", INVALID)]),
    ("toleration-empty-key-equal", {"spec.tolerations[0]": {"operator": "Equal", "value": "x"}},
     [("spec.tolerations[0].operator", INVALID)]),
    ("affinity-bad-operator", {"spec.affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["a"]}]}]}}}},
     [("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
       ".matchExpressions[0].operator", INVALID)]),
    ("pod-affinity-no-topology-key", {"spec.affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "nginx"}}}]}}},
     [("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", REQUIRED),
      ("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", INVALID),
      ("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", INVALID)]),
    ("topology-spread-skew", {"spec.topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "zone",
                                                                  "whenUnsatisfiable": "DoNotSchedule"}]},
     [("spec.topologySpreadConstraints[0].maxSkew", INVALID)]),
    ("host-network-port-mismatch", {"spec.hostNetwork": True, f"{C0}.ports[0].hostPort": 8080},
     [(f"{C0}.ports[0].hostPort", INVALID)]),
    ("ephemeral-on-create", {"spec.ephemeralContainers": [{"name": "debug", "image": "busybox"}]},
     [("spec.ephemeralContainers", FORBIDDEN)]),
    ("node-name-with-gates", {"spec.nodeName": "worker-1", "spec.schedulingGates": [{"name": "example.com/wait"}]},
     [("spec.nodeName", FORBIDDEN)]),
    ("deletion-cost-not-int", {"metadata.annotations": {"controller.kubernetes.io/pod-deletion-cost": "high"}},
     [("metadata.annotations[controller.kubernetes.io/pod-deletion-cost]", INVALID)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in POD_CASES])
def test_pod_create(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(POD, patch(m.pod(), changes))) == expected


POD_MESSAGES = [
    ("image-required", {f"{C0}.image": ""},
     'Pod "web" is invalid: spec.containers[0].image: Required value'),
    ("bad-container-name", {f"{C0}.name": "Web"},
     "Pod \"web\" is invalid: spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must "
     "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character "
     "(e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
    ("restart-policy", {"spec.restartPolicy": "Sometimes"},
     'Pod "web" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
     '"OnFailure", "Never"'),
    ("request-above-limit", {f"{C0}.resources.requests.cpu": "1"},
     'Pod "web" is invalid: spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal '
     "to cpu limit of 500m"),
    ("malformed-quantity", {f"{C0}.resources.limits.memory": "1Gb"},
     "Pod \"web\" is invalid: spec.containers[0].resources.limits[memory]: Invalid value: \"1Gb\": quantities must "
     "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ("mount-not-found", {f"{C0}.volumeMounts[0].name": "data"},
     'Pod "web" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "data"'),
]


@pytest.mark.parametrize(("changes", "text"), [pytest.param(c, t, id=i) for i, c, t in POD_MESSAGES])
def test_pod_messages(changes: dict[str, Any], text: str) -> None:
    obj = patch(m.pod(), changes)
    assert message(POD, obj, validate_create(POD, obj)) == text


# -- Pod updates -------------------------------------------------------------------------

POD_UPDATE_CASES = [
    ("same", {}, []),
    ("image", {f"{C0}.image": "nginx:1.26"}, []),
    ("labels", {"metadata.labels": {"app": "nginx", "canary": "true"}}, []),
    ("active-deadline-set", {"spec.activeDeadlineSeconds": 600}, []),
    ("toleration-added", {"spec.tolerations[1]": {"key": "gpu", "operator": "Exists"}}, []),
    ("toleration-seconds-changed", {"spec.tolerations[0].tolerationSeconds": 60}, []),
    ("toleration-removed", {"spec.tolerations": []}, [("spec.tolerations", FORBIDDEN)]),
    ("container-added", {"spec.containers[1]": m.container("b")}, [("spec.containers", FORBIDDEN)]),
    ("image-cleared", {f"{C0}.image": ""}, [(f"{C0}.image", REQUIRED), (f"{C0}.image", REQUIRED)]),
    ("restart-policy", {"spec.restartPolicy": "Never"}, [("spec", FORBIDDEN)]),
    ("env", {f"{C0}.env[0].value": "dev"}, [("spec", FORBIDDEN)]),
    ("quantity-spelling-only", {f"{C0}.resources.limits.cpu": "0.5"}, []),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in POD_UPDATE_CASES])
def test_pod_update(changes: dict[str, Any], expected: Found) -> None:
    old = m.pod()
    assert found(validate_update(POD, patch(old, changes), old)) == expected


def test_pod_update_forbidden_message() -> None:
    old = m.pod()
    new = patch(old, {"spec.restartPolicy": "Never"})
    text = message(POD, new, validate_update(POD, new, old))
    assert text.startswith(
        'Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than '
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
        "(allow it to be set to 1 if it was previously negative)\n")
    assert '- \tRestartPolicy: "Always",' in text and '+ \tRestartPolicy: "Never",' in text


@pytest.mark.parametrize(("old_deadline", "new_deadline", "expected"), [
    pytest.param(600, 300, [], id="lowered"),
    pytest.param(300, 600, [("spec.activeDeadlineSeconds", INVALID)], id="raised"),
    pytest.param(300, DELETE, [("spec.activeDeadlineSeconds", INVALID)], id="removed"),
])
def test_pod_update_active_deadline(old_deadline: int, new_deadline: Any, expected: Found) -> None:
    old = patch(m.pod(), {"spec.activeDeadlineSeconds": old_deadline})
    new = patch(old, {"spec.activeDeadlineSeconds": new_deadline})
    assert found(validate_update(POD, new, old)) == expected


def test_gated_pod_may_gain_node_selector() -> None:
    old = patch(m.pod(), {"spec.schedulingGates": [{"name": "example.com/quota"}], "spec.nodeSelector": {"a": "1"}})
    assert found(validate_update(POD, patch(old, {"spec.nodeSelector": {"a": "1", "b": "2"}}), old)) == []
    assert found(validate_update(POD, patch(old, {"spec.nodeSelector": {"a": "2"}}), old)) == [
        ("spec.nodeSelector", INVALID)]


StatusChange = Callable[[dict[str, Any]], dict[str, Any]]

POD_STATUS_CASES = [
    ("running", {"status.phase": "Running", "status.podIP": "10.244.1.5", "status.podIPs": [{"ip": "10.244.1.5"}],
                 "status.hostIP": "192.168.1.10", "status.hostIPs": [{"ip": "192.168.1.10"}]}, []),
    ("dual-stack", {"status.podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}]}, []),
    ("two-ipv4", {"status.podIPs": [{"ip": "10.244.1.5"}, {"ip": "10.244.1.6"}]}, [("status.podIPs", INVALID)]),
    ("bad-pod-ip", {"status.podIPs": [{"ip": "10.244.1.500"}]}, [("status.podIPs[0]", INVALID)]),
    ("host-ip-mismatch", {"status.hostIP": "192.168.1.10", "status.hostIPs": [{"ip": "192.168.1.11"}]},
     [("status.hostIPs[0].ip", INVALID)]),
    ("node-name-changed", {"spec.nodeName": "worker-2"}, [("status.nodeName", FORBIDDEN)]),
    ("custom-condition-bad", {"status.conditions": [{"type": "bad type", "status": "True"}]},
     [("metadata.conditions[0].Type", INVALID)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in POD_STATUS_CASES])
def test_pod_status_update(changes: dict[str, Any], expected: Found) -> None:
    old = m.pod()
    assert found(validate_status_update(POD, patch(old, changes), old)) == expected


def test_terminated_container_stays_terminated_under_never() -> None:
    old = patch(m.pod(), {"spec.restartPolicy": "Never", "status.containerStatuses": [
        {"name": "nginx", "state": {"terminated": {"exitCode": 0}}}]})
    new = patch(old, {"status.containerStatuses[0].state": {"running": {"startedAt": "2024-05-01T10:01:00Z"}}})
    assert found(validate_status_update(POD, new, old)) == [("status.containerStatuses[0].state", FORBIDDEN)]


def test_rich_pod_is_valid() -> None:
    """Many optional fields at once, as a production manifest sets them: no false positives."""
    sidecar = patch(m.container("log-shipper", "fluent/fluent-bit:3.0"), {
        "restartPolicy": "Always", "ports": [], "volumeMounts": [{"name": "logs", "mountPath": "/var/log/app"}],
        "readinessProbe": DELETE, "startupProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5,
                                                   "successThreshold": 1, "failureThreshold": 30, "timeoutSeconds": 1}})
    init = patch(m.container("migrate", "app:1.0"), {"ports": [], "readinessProbe": DELETE,
                                                     "command": ["./migrate"], "volumeMounts": []})
    app = patch(m.container(), {
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "TIER", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels['tier']"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}},
            {"name": "spring.profiles.active", "value": "prod"},
        ],
        "envFrom": [{"configMapRef": {"name": "app-env"}, "prefix": "APP_"}],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/nginx/conf.d", "readOnly": True},
                         {"name": "logs", "mountPath": "/var/log/app"},
                         {"name": "token", "mountPath": "/var/run/secrets/tokens"},
                         {"name": "config", "mountPath": "/etc/extra", "subPath": "extra.conf"}],
        "livenessProbe": {"tcpSocket": {"port": "http"}, "initialDelaySeconds": 10, "timeoutSeconds": 1,
                          "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True},
    })
    spec = patch(m.pod_spec(), {
        "containers": [app],
        "initContainers": [init, sidecar],
        "volumes": [
            {"name": "config", "configMap": {"name": "nginx-conf", "items": [{"key": "default.conf",
                                                                             "path": "default.conf"}]}},
            {"name": "logs", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token",
                                                                                 "expirationSeconds": 3600}}]}},
        ],
        "serviceAccountName": "web",
        "securityContext": {"fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "nginx"}},
                                                    "topologyKey": "kubernetes.io/hostname"}}]},
        },
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "ScheduleAnyway",
                                       "labelSelector": {"matchLabels": {"app": "nginx"}}}],
        "dnsConfig": {"options": [{"name": "ndots", "value": "2"}], "searches": ["svc.cluster.local."]},
        "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["db.internal"]}],
        "priorityClassName": "high-priority",
        "readinessGates": [{"conditionType": "example.com/ready"}],
        "nodeSelector": {"kubernetes.io/arch": "amd64"},
        "imagePullSecrets": [{"name": "registry"}],
        "os": {"name": "linux"},
    })
    pod = patch(m.pod(), {"spec": spec, "metadata.labels": {"app": "nginx", "tier": "web"},
                          "metadata.annotations": {"prometheus.io/scrape": "true",
                                                   "kubectl.kubernetes.io/default-container": "nginx"},
                          "metadata.ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                        "name": "web-7d9c5b8f4", "uid": "1c2d",
                                                        "controller": True, "blockOwnerDeletion": True}]})
    assert found(validate_create(POD, pod)) == []
    assert found(validate_update(POD, patch(pod, {"spec.containers[0].image": "nginx:1.26"}), pod)) == []
