"""Validation of Services, ConfigMaps, Secrets, Namespaces, Nodes, ServiceAccounts, Endpoints,
EndpointSlices, Events and Leases."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kybernetes.api import registry
from kybernetes.api.registry import ResourceType
from kybernetes.api.validation import validate_create, validate_status_update, validate_update
from tests.api import manifests as m
from tests.api.manifests import DELETE, patch
from tests.api.test_validation import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    Found,
    found,
    message,
)


def rt(group: str, kind: str) -> ResourceType:
    r = registry.by_kind(group, "v1", kind)
    assert r is not None
    return r


SERVICE, CONFIG_MAP, SECRET = rt("", "Service"), rt("", "ConfigMap"), rt("", "Secret")
NAMESPACE, NODE, SERVICE_ACCOUNT = rt("", "Namespace"), rt("", "Node"), rt("", "ServiceAccount")
ENDPOINTS, ENDPOINT_SLICE = rt("", "Endpoints"), rt("discovery.k8s.io", "EndpointSlice")
EVENT, EVENT_V1, LEASE = rt("", "Event"), rt("events.k8s.io", "Event"), rt("coordination.k8s.io", "Lease")
TOO_MANY = "FieldValueTooMany"

P0 = "spec.ports[0]"

SERVICE_CASES = [
    ("valid", {}, []),
    ("not-yet-allocated", {"spec.clusterIP": DELETE, "spec.clusterIPs": DELETE}, []),
    ("cluster-ip-not-synced", {"spec.clusterIPs": DELETE}, []),
    ("headless-without-ports", {"spec.clusterIP": "None", "spec.clusterIPs": ["None"], "spec.ports": []}, []),
    ("external-name", {"spec": {"type": "ExternalName", "externalName": "db.example.com.",
                                "sessionAffinity": "None"}}, []),
    ("name-not-dns1035", {"metadata.name": "1web"}, [("metadata.name", INVALID)]),
    ("ports-required", {"spec.ports": []}, [("spec.ports", REQUIRED)]),
    ("port-zero", {f"{P0}.port": 0}, [(f"{P0}.port", INVALID)]),
    ("protocol-bad", {f"{P0}.protocol": "HTTP"}, [(f"{P0}.protocol", NOT_SUPPORTED)]),
    ("target-port-name", {f"{P0}.targetPort": "http"}, []),
    ("target-port-bad-name", {f"{P0}.targetPort": "8080"}, [(f"{P0}.targetPort", INVALID)]),
    ("second-port-needs-name", {"spec.ports[1]": {"protocol": "TCP", "port": 443, "targetPort": 443}},
     [("spec.ports[1].name", REQUIRED)]),
    ("port-names-unique", {"spec.ports[1]": {"name": "http", "protocol": "TCP", "port": 443, "targetPort": 443}},
     [("spec.ports[1].name", DUPLICATE)]),
    ("duplicate-port", {"spec.ports[1]": {"name": "web", "protocol": "TCP", "port": 80, "targetPort": 8080}},
     [("spec.ports[1]", DUPLICATE)]),
    ("same-port-other-protocol", {"spec.ports[1]": {"name": "dns", "protocol": "UDP", "port": 80, "targetPort": 80}},
     []),
    ("type-unknown", {"spec.type": "Ingress"}, [("spec.type", NOT_SUPPORTED)]),
    ("node-port-on-cluster-ip", {f"{P0}.nodePort": 30080}, [(f"{P0}.nodePort", FORBIDDEN)]),
    ("selector-bad-value", {"spec.selector": {"app": "a b"}}, [("spec.selector", INVALID)]),
    ("session-affinity-bad", {"spec.sessionAffinity": "Sticky"}, [("spec.sessionAffinity", NOT_SUPPORTED)]),
    ("client-ip-needs-config", {"spec.sessionAffinity": "ClientIP"}, [("spec.sessionAffinityConfig", REQUIRED)]),
    ("client-ip-config-ok", {"spec.sessionAffinity": "ClientIP",
                             "spec.sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}, []),
    ("cluster-ips-mismatch", {"spec.clusterIPs": ["10.96.0.21"]}, [("spec.clusterIPs", INVALID)]),
    ("cluster-ip-invalid", {"spec.clusterIP": "10.96.0.300", "spec.clusterIPs": ["10.96.0.300"]},
     [("spec.clusterIPs[0]", INVALID)]),
    ("family-mismatch", {"spec.ipFamilies": ["IPv6"]}, [("spec.clusterIPs[0]", INVALID)]),
    ("external-ip-loopback", {"spec.externalIPs": ["127.0.0.1"], "spec.externalTrafficPolicy": "Cluster"},
     [("spec.externalIPs[0]", INVALID)]),
    ("traffic-policy-on-cluster-ip", {"spec.externalTrafficPolicy": "Local"},
     [("spec.externalTrafficPolicy", INVALID)]),
    ("internal-traffic-policy-missing", {"spec.internalTrafficPolicy": DELETE},
     [("spec.internalTrafficPolicy", REQUIRED)]),
    ("source-ranges-not-lb", {"spec.loadBalancerSourceRanges": ["10.0.0.0/8"]},
     [("spec.LoadBalancerSourceRanges", FORBIDDEN)]),
    ("external-name-missing", {"spec": {"type": "ExternalName", "sessionAffinity": "None"}},
     [("spec.externalName", REQUIRED)]),
    ("external-name-with-cluster-ip", {"spec.type": "ExternalName", "spec.externalName": "db.example.com"},
     [("spec.clusterIPs", FORBIDDEN), ("spec.ipFamilies", FORBIDDEN), ("spec.ipFamilyPolicy", FORBIDDEN)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in SERVICE_CASES])
def test_service_create(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(SERVICE, patch(m.service(), changes))) == expected


NODE_PORT_CASES = [
    ("valid", {}, []),
    ("load-balancer-local", {"spec.type": "LoadBalancer", "spec.externalTrafficPolicy": "Local",
                             "spec.allocateLoadBalancerNodePorts": True, "spec.healthCheckNodePort": 31500,
                             "spec.loadBalancerSourceRanges": ["203.0.113.0/24"],
                             "spec.loadBalancerClass": "example.com/lb"}, []),
    ("lb-class-on-node-port", {"spec.loadBalancerClass": "example.com/lb"}, [("spec.loadBalancerClass", FORBIDDEN)]),
    ("source-range-bad", {"spec.type": "LoadBalancer", "spec.allocateLoadBalancerNodePorts": True,
                          "spec.loadBalancerSourceRanges": ["203.0.113.0"]},
     [("spec.LoadBalancerSourceRanges[0]", INVALID)]),
    ("needs-traffic-policy", {"spec.externalTrafficPolicy": DELETE}, [("spec.externalTrafficPolicy", REQUIRED)]),
    ("headless-node-port", {"spec.clusterIP": "None", "spec.clusterIPs": ["None"]},
     [("spec.clusterIPs[0]", INVALID)]),
    ("duplicate-node-port", {"spec.ports[1]": {"name": "b", "protocol": "TCP", "port": 81, "targetPort": 81,
                                               "nodePort": 30080}}, [("spec.ports[1].nodePort", DUPLICATE)]),
    ("load-balancer-kubelet-port", {"spec.type": "LoadBalancer", f"{P0}.port": 10250,
                                    "spec.allocateLoadBalancerNodePorts": True}, [(P0, INVALID)]),
    ("lb-health-check-on-cluster", {"spec.healthCheckNodePort": 31000}, [("spec.healthCheckNodePort", INVALID)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in NODE_PORT_CASES])
def test_node_port_service(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(SERVICE, patch(m.node_port_service(), changes))) == expected


SERVICE_MESSAGES = [
    ("ports-required", {"spec.ports": []}, 'Service "web" is invalid: spec.ports: Required value'),
    ("name", {"metadata.name": "1web"},
     "Service \"1web\" is invalid: metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower "
     "case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric "
     "character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
    ("duplicate-port", {"spec.ports[1]": {"name": "web", "protocol": "TCP", "port": 80, "targetPort": 8080}},
     'Service "web" is invalid: spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
     'AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, '
     "NodePort:0}"),
    ("type", {"spec.type": "Ingress"},
     'Service "web" is invalid: spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", '
     '"ExternalName", "LoadBalancer", "NodePort"'),
]


@pytest.mark.parametrize(("changes", "text"), [pytest.param(c, t, id=i) for i, c, t in SERVICE_MESSAGES])
def test_service_messages(changes: dict[str, Any], text: str) -> None:
    obj = patch(m.service(), changes)
    assert message(SERVICE, obj, validate_create(SERVICE, obj)) == text


def test_service_update_cluster_ip_is_fixed() -> None:
    old = m.service()
    new = patch(old, {"spec.clusterIP": "10.96.0.99", "spec.clusterIPs": ["10.96.0.99"]})
    assert message(SERVICE, new, validate_update(SERVICE, new, old)) == (
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set')
    assert found(validate_update(SERVICE, patch(old, {"spec.selector": {"app": "v2"}}), old)) == []
    # PUT without the allocated IP: the allocator refills it before validation
    assert found(validate_update(SERVICE, patch(old, {"spec.ports[0].port": 8080}), old)) == []


def test_service_status() -> None:
    old = patch(m.service(), {"spec.type": "LoadBalancer", "spec.externalTrafficPolicy": "Cluster",
                              "spec.allocateLoadBalancerNodePorts": True})
    ok = patch(old, {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7", "ipMode": "VIP"}]}}})
    assert found(validate_status_update(SERVICE, ok, old)) == []
    bad = patch(old, {"status": {"loadBalancer": {"ingress": [{"ip": "x", "hostname": "1.2.3.4"}]}}})
    assert found(validate_status_update(SERVICE, bad, old)) == [
        ("status.loadBalancer.ingress[0].ip", INVALID), ("status.loadBalancer.ingress[0].hostname", INVALID)]
    not_lb = patch(m.service(), {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}})
    assert found(validate_status_update(SERVICE, not_lb, m.service())) == [("status.loadBalancer.ingress", FORBIDDEN)]


# -- ConfigMaps and Secrets ------------------------------------------------------------------


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


CONFIG_MAP_CASES = [
    ("valid", {}, []),
    ("key-with-slash", {"data[a/b]": "x"}, [("data[a/b]", INVALID)]),
    ("key-dotdot", {"data[..x]": "x"}, [("data[..x]", INVALID)]),
    ("binary-key-bad", {"binaryData": {"a b": b64("x")}}, [("binaryData[a b]", INVALID)]),
    ("key-in-both", {"binaryData": {"LOG_LEVEL": b64("x")}}, [("data[LOG_LEVEL]", INVALID)]),
    ("too-big", {"data[big]": "x" * (1024 * 1024)}, [("[]", TOO_LONG)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in CONFIG_MAP_CASES])
def test_config_map(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(CONFIG_MAP, patch(m.config_map(), changes))) == expected


def test_config_map_messages() -> None:
    obj = patch(m.config_map(), {"data[big]": "x" * (1024 * 1024)})
    assert message(CONFIG_MAP, obj, validate_create(CONFIG_MAP, obj)) == (
        'ConfigMap "nginx-conf" is invalid: []: Too long: must have at most 1048576 bytes')
    obj = patch(m.config_map(), {"data[a/b]": "x"})
    assert message(CONFIG_MAP, obj, validate_create(CONFIG_MAP, obj)) == (
        "ConfigMap \"nginx-conf\" is invalid: data[a/b]: Invalid value: \"a/b\": a valid config key must consist of "
        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
        "for validation is '[-._a-zA-Z0-9]+')")


@pytest.mark.parametrize(("old_changes", "new_changes", "expected"), [
    pytest.param({}, {"data.LOG_LEVEL": "debug"}, [], id="mutable"),
    pytest.param({"immutable": True}, {"data.LOG_LEVEL": "debug"}, [("data", FORBIDDEN)], id="immutable-data"),
    pytest.param({"immutable": True}, {"immutable": False}, [("immutable", FORBIDDEN)], id="unset-immutable"),
    pytest.param({"immutable": True}, {"metadata.labels": {"a": "b"}}, [], id="immutable-labels-ok"),
])
def test_config_map_update(old_changes: dict[str, Any], new_changes: dict[str, Any], expected: Found) -> None:
    old = patch(m.config_map(), old_changes)
    assert found(validate_update(CONFIG_MAP, patch(old, new_changes), old)) == expected


SECRET_CASES = [
    ("valid", {}, []),
    ("string-data-merged", {"stringData": {"token": "abc"}}, []),
    ("string-data-bad-key", {"stringData": {"a/b": "abc"}}, [("data[a/b]", INVALID)]),
    ("too-big", {"stringData": {"big": "x" * (1024 * 1024 + 1)}}, [("data", TOO_LONG)]),
    ("tls-missing-key", {"type": "kubernetes.io/tls", "data": {"tls.crt": b64("cert")}}, [("data[tls.key]", REQUIRED)]),
    ("tls-ok", {"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c"), "tls.key": b64("k")}}, []),
    ("dockerconfigjson-missing", {"type": "kubernetes.io/dockerconfigjson"}, [("data[.dockerconfigjson]", REQUIRED)]),
    ("dockerconfigjson-not-json", {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64("{")}},
     [("data[.dockerconfigjson]", INVALID)]),
    ("dockerconfigjson-ok", {"type": "kubernetes.io/dockerconfigjson",
                             "data": {".dockerconfigjson": b64('{"auths": {}}')}}, []),
    ("basic-auth-empty", {"type": "kubernetes.io/basic-auth", "data": {}},
     [("data[username]", REQUIRED), ("data[password]", REQUIRED)]),
    ("ssh-auth-empty", {"type": "kubernetes.io/ssh-auth", "data": {}}, [("data[ssh-privatekey]", REQUIRED)]),
    ("sa-token-needs-annotation", {"type": "kubernetes.io/service-account-token"},
     [("metadata.annotations[kubernetes.io/service-account.name]", REQUIRED)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in SECRET_CASES])
def test_secret(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(SECRET, patch(m.secret(), changes))) == expected


def test_secret_update() -> None:
    old = m.secret()
    assert found(validate_update(SECRET, patch(old, {"type": "kubernetes.io/tls"}), old))[0] == ("type", INVALID)
    frozen = patch(old, {"immutable": True})
    assert found(validate_update(SECRET, patch(frozen, {"data.password": b64("new")}), frozen)) == [
        ("data", FORBIDDEN)]
    new = patch(old, {"type": "kubernetes.io/basic-auth"})
    assert [str(e) for e in validate_update(SECRET, new, old)] == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable']


# -- Namespaces, Nodes, ServiceAccounts ------------------------------------------------------

NAMESPACE_CASES = [
    ("valid", {}, []),
    ("name-with-dots", {"metadata.name": "team.a"}, [("metadata.name", INVALID)]),
    ("finalizer-unknown", {"spec.finalizers": ["cleanup"]}, [("spec.finalizers", INVALID)]),
    ("finalizer-qualified", {"spec.finalizers": ["example.com/cleanup"]}, []),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in NAMESPACE_CASES])
def test_namespace(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(NAMESPACE, patch(m.namespace(), changes))) == expected


def test_namespace_message_and_status() -> None:
    obj = patch(m.namespace(), {"metadata.name": "team.a"})
    assert message(NAMESPACE, obj, validate_create(NAMESPACE, obj)) == (
        'Namespace "team.a" is invalid: metadata.name: Invalid value: "team.a": must not contain dots')
    old = m.namespace()
    assert found(validate_status_update(NAMESPACE, patch(old, {"status.phase": "Terminating"}), old)) == [
        ("status.Phase", INVALID)]
    deleting = patch(old, {"metadata.deletionTimestamp": "2024-05-01T11:00:00Z"})
    assert found(validate_status_update(NAMESPACE, patch(deleting, {"status.phase": "Terminating"}), deleting)) == []


NODE_CASES = [
    ("valid", {}, []),
    ("taint-effect-bad", {"spec.taints[0].effect": "Evict"}, [("metadata.taints[0].effect", NOT_SUPPORTED)]),
    ("taint-effect-missing", {"spec.taints[0].effect": ""}, [("metadata.taints[0].effect", REQUIRED)]),
    ("taint-duplicate", {"spec.taints[1]": {"key": "dedicated", "value": "cpu", "effect": "NoSchedule"}},
     [("metadata.taints[1]", DUPLICATE)]),
    ("capacity-negative", {"status.capacity.cpu": "-1"}, [("status.capacity.cpu", INVALID)]),
    ("pods-not-integer", {"status.allocatable.pods": "1500m"}, [("status.allocatable.pods", INVALID)]),
    ("pod-cidr-bad", {"spec.podCIDRs": ["10.244.1.0"]}, [("spec.podCIDRs[0]", INVALID)]),
    ("dual-stack-cidrs", {"spec.podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]}, []),
    ("namespace-forbidden", {"metadata.namespace": "default"}, [("metadata.namespace", FORBIDDEN)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in NODE_CASES])
def test_node(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(NODE, patch(m.node(), changes))) == expected


def test_node_update() -> None:
    old = m.node()
    assert found(validate_update(NODE, patch(old, {"spec.unschedulable": True}), old)) == []
    assert found(validate_update(NODE, patch(old, {"spec.podCIDRs": ["10.244.9.0/24"]}), old)) == [
        ("spec.podCIDRs", FORBIDDEN)]
    unset = patch(old, {"spec.podCIDRs": DELETE})
    assert found(validate_update(NODE, old, unset)) == []  # assigning a CIDR the first time is fine
    assert found(validate_status_update(NODE, patch(old, {"status.addresses[1]": {
        "type": "InternalIP", "address": "192.168.1.10"}}), old)) == [("status.addresses[1]", DUPLICATE)]


def test_service_account() -> None:
    assert found(validate_create(SERVICE_ACCOUNT, m.service_account())) == []
    bad = patch(m.service_account(), {"metadata.name": "Builder"})
    assert found(validate_create(SERVICE_ACCOUNT, bad)) == [("metadata.name", INVALID)]
    assert found(validate_update(SERVICE_ACCOUNT, patch(m.service_account(), {"metadata.labels": {"a": "b"}}),
                                 m.service_account())) == []


# -- Endpoints and EndpointSlices -------------------------------------------------------------

S0 = "subsets[0]"

ENDPOINTS_CASES = [
    ("valid", {}, []),
    ("no-addresses", {f"{S0}.addresses": []}, [(S0, REQUIRED)]),
    ("not-ready-only", {f"{S0}.addresses": [], f"{S0}.notReadyAddresses": [{"ip": "10.244.1.6"}]}, []),
    ("bad-ip", {f"{S0}.addresses[0].ip": "10.244.1"}, [(f"{S0}.addresses[0].ip", INVALID)] * 2),
    ("loopback", {f"{S0}.addresses[0].ip": "127.0.0.1"}, [(f"{S0}.addresses[0].ip", INVALID)]),
    ("link-local", {f"{S0}.addresses[0].ip": "169.254.169.254"}, [(f"{S0}.addresses[0].ip", INVALID)]),
    ("hostname-bad", {f"{S0}.addresses[0].hostname": "a.b"}, [(f"{S0}.addresses[0].hostname", INVALID)]),
    ("second-port-unnamed", {f"{S0}.ports[1]": {"port": 443, "protocol": "TCP"}},
     [(f"{S0}.ports[1].name", REQUIRED)]),
    ("port-protocol-bad", {f"{S0}.ports[0].protocol": "HTTP"}, [(f"{S0}.ports[0].protocol", NOT_SUPPORTED)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in ENDPOINTS_CASES])
def test_endpoints(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(ENDPOINTS, patch(m.endpoints(), changes))) == expected


def test_endpoints_loopback_message() -> None:
    obj = patch(m.endpoints(), {f"{S0}.addresses[0].ip": "127.0.0.1"})
    assert message(ENDPOINTS, obj, validate_create(ENDPOINTS, obj)) == (
        'Endpoints "web" is invalid: subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the '
        "loopback range (127.0.0.0/8, ::1/128)")


SLICE_CASES = [
    ("valid", {}, []),
    ("address-type-missing", {"addressType": DELETE}, [("addressType", REQUIRED)]),
    ("address-type-bad", {"addressType": "IP"}, [("addressType", NOT_SUPPORTED)]),
    ("no-addresses", {"endpoints[0].addresses": []}, [("endpoints[0].addresses", REQUIRED)]),
    ("ipv6-in-ipv4-slice", {"endpoints[0].addresses": ["fd00::5"]}, [("endpoints[0].addresses[0]", INVALID)]),
    ("ipv6-slice", {"addressType": "IPv6", "endpoints[0].addresses": ["fd00::5"]}, []),
    ("fqdn", {"addressType": "FQDN", "endpoints[0].addresses": ["db.example.com"]}, []),
    ("fqdn-one-label", {"addressType": "FQDN", "endpoints[0].addresses": ["db"]},
     [("endpoints[0].addresses[0]", INVALID)]),
    ("too-many-addresses", {"endpoints[0].addresses": [f"10.244.1.{i}" for i in range(1, 102)]},
     [("endpoints[0].addresses", TOO_MANY)]),
    ("port-name-duplicate", {"ports[1]": {"name": "http", "port": 81, "protocol": "TCP"}},
     [("ports[1].name", DUPLICATE)]),
    ("port-protocol-missing", {"ports[0].protocol": DELETE}, [("ports[0].protocol", REQUIRED)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in SLICE_CASES])
def test_endpoint_slice(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(ENDPOINT_SLICE, patch(m.endpoint_slice(), changes))) == expected


def test_endpoint_slice_address_type_immutable() -> None:
    old = m.endpoint_slice()
    new = patch(old, {"addressType": "IPv6", "endpoints[0].addresses": ["fd00::5"]})
    assert found(validate_update(ENDPOINT_SLICE, new, old)) == [("addressType", INVALID)]


# -- Events and Leases -------------------------------------------------------------------------

EVENT_CASES = [
    ("valid", {}, []),
    ("any-path-segment-name", {"metadata.name": "Web_Pod.17c2"}, []),
    ("name-with-slash", {"metadata.name": "a/b"}, [("metadata.name", INVALID)]),
    ("namespace-mismatch", {"involvedObject.namespace": "other"}, [("involvedObject.namespace", INVALID)]),
    ("cluster-object-in-default", {"involvedObject": {"kind": "Node", "name": "worker-1"}}, []),
    ("cluster-object-elsewhere", {"involvedObject": {"kind": "Node", "name": "worker-1"},
                                  "metadata.namespace": "team-a"}, [("involvedObject.namespace", INVALID)]),
    ("new-style-needs-reporting", {"eventTime": "2024-05-01T10:00:00.000000Z"},
     [("reportingController", REQUIRED), ("reportingController", INVALID), ("reportingController", INVALID),
      ("reportingInstance", REQUIRED), ("action", REQUIRED)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in EVENT_CASES])
def test_core_event(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(EVENT, patch(m.core_event(), changes))) == expected


EVENT_V1_CASES = [
    ("valid", {}, []),
    ("name-must-be-subdomain", {"metadata.name": "Web_Pod"}, [("metadata.name", INVALID)]),
    ("event-time-required", {"eventTime": DELETE}, [("eventTime", REQUIRED)]),
    ("type-bad", {"type": "Error"}, [("type", INVALID)]),
    ("deprecated-count-set", {"deprecatedCount": 3}, [("count", INVALID)]),
    ("note-too-long", {"note": "x" * 1025}, [("message", INVALID)]),
    ("series-count-low", {"series": {"count": 1, "lastObservedTime": "2024-05-01T10:05:00.000000Z"}},
     [("series.count", INVALID)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in EVENT_V1_CASES])
def test_events_v1_event(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(EVENT_V1, patch(m.events_v1_event(), changes))) == expected


def test_event_updates() -> None:
    old = m.events_v1_event()
    series = {"series": {"count": 2, "lastObservedTime": "2024-05-01T10:05:00.000000Z"}}
    assert found(validate_update(EVENT_V1, patch(old, series), old)) == []
    assert found(validate_update(EVENT_V1, patch(old, {"note": "changed"}), old)) == [("message", INVALID)]
    core_old = m.core_event()
    assert found(validate_update(EVENT, patch(core_old, {"count": 2, "message": "again"}), core_old)) == []


LEASE_CASES = [
    ("valid", {}, []),
    ("zero-duration", {"spec.leaseDurationSeconds": 0}, [("spec.leaseDurationSeconds", INVALID)]),
    ("negative-transitions", {"spec.leaseTransitions": -1}, [("spec.leaseTransitions", INVALID)]),
    ("preferred-holder-without-strategy", {"spec.preferredHolder": "worker-2"}, [("spec.preferredHolder", FORBIDDEN)]),
    ("unknown-strategy", {"spec.strategy": "Random"}, [("spec.strategy.strategy", NOT_SUPPORTED)]),
    ("finalizer-without-domain-ok", {"metadata.finalizers": ["cleanup"]}, []),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in LEASE_CASES])
def test_lease(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(LEASE, patch(m.lease(), changes))) == expected


def test_lease_renewal_update() -> None:
    old = m.lease()
    assert found(validate_update(LEASE, patch(old, {"spec.renewTime": "2024-05-01T10:00:10.000000Z"}), old)) == []
