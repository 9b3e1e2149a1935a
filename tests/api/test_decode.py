"""Strict decoding against the upstream schemas: pruning, Go type errors, duplicates."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kybernetes.api.decode import (
    MAX_STRICT_ERRORS,
    decode,
    find_duplicate_fields,
    strict_error_text,
    strict_errors,
)
from kybernetes.api.registry import ResourceType, by_kind

QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def rt(kind: str) -> ResourceType:
    for group in ("", "apps", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io"):
        found = by_kind(group, "v1", kind)
        if found is not None:
            return found
    raise LookupError(kind)


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": base}


def dig(obj: Any, path: str) -> Any:
    for part in path.split("/"):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


# --------------------------------------------------------------------------- unknown fields

UNKNOWN_CASES = [
    pytest.param("Pod", {"foo": 1}, ["foo"], id="top-level"),
    pytest.param("Pod", {"metadata": {"name": "p", "foo": 1}}, ["metadata.foo"], id="metadata"),
    pytest.param("Pod", pod(foo=1), ["spec.foo"], id="spec"),
    pytest.param("Pod", pod(containers=[{"name": "c", "bar": True}]), ["spec.containers[0].bar"],
                 id="list-item"),
    pytest.param("Pod", pod(containers=[{"name": "a"}, {"name": "b", "ports": [{"containerPort": 1, "x": 1}]}]),
                 ["spec.containers[1].ports[0].x"], id="list-in-list"),
    pytest.param("Pod", pod(volumes=[{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "p",
                                                                                       "zzz": 1}]}}]),
                 ["spec.volumes[0].configMap.items[0].zzz"], id="deep-volume"),
    pytest.param("Pod", {"status": {"phase": "Running", "foo": "x"}}, ["status.foo"], id="status"),
    pytest.param("Pod", pod(foo=1, bar=2), ["spec.foo", "spec.bar"], id="two-in-order"),
    pytest.param("Deployment", {"spec": {"template": {"spec": {"containers": [{"name": "c", "x": 1}]}}}},
                 ["spec.template.spec.containers[0].x"], id="template"),
    pytest.param("Deployment", {"spec": {"strategy": {"type": "Recreate", "x": 1}}}, ["spec.strategy.x"],
                 id="strategy"),
    pytest.param("Service", {"spec": {"ports": [{"port": 80, "nodeport": 1}]}}, ["spec.ports[0].nodeport"],
                 id="case-sensitive"),
    pytest.param("Lease", {"spec": {"holderIdentity": "a", "foo": 1}}, ["spec.foo"], id="lease"),
    pytest.param("Event", {"involvedObject": {"kind": "Pod", "x": 1}}, ["involvedObject.x"], id="event"),
    pytest.param("EndpointSlice", {"endpoints": [{"addresses": ["1.2.3.4"], "conditions": {"ready": True, "q": 1}}]},
                 ["endpoints[0].conditions.q"], id="endpointslice"),
    pytest.param("ConfigMap", {"data": {"a": "b"}, "foo": {"bar": 1}}, ["foo"], id="no-descent-into-unknown"),
    pytest.param("Pod", {"metadata": {"ownerReferences": [{"uid": "u", "x": 1}]}}, ["metadata.ownerReferences[0].x"],
                 id="owner-reference"),
]


@pytest.mark.parametrize(("kind", "body", "unknown"), UNKNOWN_CASES)
def test_unknown_fields_are_reported_and_pruned(kind: str, body: dict[str, Any], unknown: list[str]) -> None:
    result = decode(rt(kind), body)
    assert result.unknown == unknown
    assert result.errors == []
    encoded = json.dumps(result.obj)
    for path in unknown:
        leaf = path.rsplit(".", 1)[-1]
        assert f'"{leaf}"' not in encoded


def test_unknown_field_inside_a_map_of_structs() -> None:
    body = {"name": "s", "counters": {"gpu": {"value": "1", "bogus": 1}}}
    result = decode(rt("Pod"), body, definition="io.k8s.api.resource.v1beta1.CounterSet")
    assert result.unknown == ["counters.gpu.bogus"]
    assert result.obj == {"name": "s", "counters": {"gpu": {"value": "1"}}}


def test_decode_does_not_mutate_its_input() -> None:
    body = pod(foo=1, containers=[{"name": "c", "x": None, "ports": [{"containerPort": 80.0}]}])
    before = copy.deepcopy(body)
    decode(rt("Pod"), body)
    assert body == before


# --------------------------------------------------------------------------- kept as sent

PRESERVED_CASES = [
    pytest.param("Pod", {"metadata": {"annotations": {"a": "{\"json\": [1, 2]}", "b": ""}}}, "metadata/annotations",
                 id="annotations"),
    pytest.param("Pod", {"metadata": {"labels": {"app": "web", "x.io/y": "z"}}}, "metadata/labels", id="labels"),
    pytest.param("ConfigMap", {"data": {"k": "v", "foo": "bar"}}, "data", id="configmap-data"),
    pytest.param("ConfigMap", {"binaryData": {"k": "AAEC"}}, "binaryData", id="configmap-binary"),
    pytest.param("Secret", {"data": {"password": "cGFzcw==", "e": ""}}, "data", id="secret-data"),
    pytest.param("Secret", {"stringData": {"x": "plain"}}, "stringData", id="secret-string-data"),
    pytest.param("Pod", {"metadata": {"managedFields": [{"manager": "m", "fieldsType": "FieldsV1",
                                                         "fieldsV1": {"f:spec": {"f:x": {}, "any": [1]}}}]}},
                 "metadata/managedFields", id="fieldsV1-free-form"),
    pytest.param("Pod", {"status": {"phase": "Running", "podIP": "10.0.0.1", "hostIP": "1.2.3.4",
                                    "qosClass": "BestEffort"}}, "status", id="pod-status"),
    pytest.param("Pod", pod(nodeSelector={"disk": "ssd"}), "spec/nodeSelector", id="node-selector"),
    pytest.param("Node", {"status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}, "status/capacity",
                 id="resource-list"),
    pytest.param("Service", {"spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}},
                 "spec", id="service-spec"),
    pytest.param("Deployment", {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "50%"}}}},
                 "spec/strategy", id="int-or-string"),
    pytest.param("Lease", {"spec": {"renewTime": "2024-05-01T10:00:00.123456Z", "leaseDurationSeconds": 15}},
                 "spec", id="micro-time"),
]


@pytest.mark.parametrize(("kind", "body", "where"), PRESERVED_CASES)
def test_free_form_and_typed_values_are_kept_as_sent(kind: str, body: dict[str, Any], where: str) -> None:
    result = decode(rt(kind), body)
    assert (result.unknown, result.errors) == ([], [])
    assert dig(result.obj, where) == dig(body, where)


def test_raw_extension_keeps_anything() -> None:
    body = {"revision": 1, "data": {"spec": {"template": {"weird": [None, 1, {"x": True}]}}}}
    result = decode(rt("Pod"), body, definition="io.k8s.api.apps.v1.ControllerRevision")
    assert result.obj["data"] == body["data"]
    assert result.unknown == []


def test_api_version_and_kind_are_kept() -> None:
    out = decode(rt("Deployment"), {"apiVersion": "apps/v1", "kind": "Deployment"}).obj
    assert out == {"apiVersion": "apps/v1", "kind": "Deployment"}


# --------------------------------------------------------------------------- type errors

TYPE_ERROR_CASES = [
    pytest.param("Pod", {"spec": "x"}, "json: cannot unmarshal string into Go struct field Pod.spec of type v1.PodSpec",
                 id="string-into-struct"),
    pytest.param("Pod", {"spec": {"containers": "x"}},
                 "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container",
                 id="string-into-slice"),
    pytest.param("Pod", {"spec": {"containers": [{"image": 5}]}},
                 "json: cannot unmarshal number into Go struct field Container.spec.containers.image of type string",
                 id="number-into-string"),
    pytest.param("Pod", {"spec": {"containers": [{"ports": [{"containerPort": "80"}]}]}},
                 "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort"
                 " of type int32", id="string-into-int32"),
    pytest.param("Pod", {"spec": {"containers": [{"ports": [{"containerPort": 3.5}]}]}},
                 "json: cannot unmarshal number 3.5 into Go struct field ContainerPort.spec.containers.ports."
                 "containerPort of type int32", id="fraction-into-int32"),
    pytest.param("Pod", {"spec": {"activeDeadlineSeconds": True}},
                 "json: cannot unmarshal bool into Go struct field PodSpec.spec.activeDeadlineSeconds of type int64",
                 id="bool-into-int64"),
    pytest.param("Pod", {"spec": {"containers": [{"ports": [{"containerPort": 3000000000}]}]}},
                 "json: cannot unmarshal number 3000000000 into Go struct field ContainerPort.spec.containers.ports."
                 "containerPort of type int32", id="int32-overflow"),
    pytest.param("Pod", {"spec": {"hostNetwork": "true"}},
                 "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool",
                 id="string-into-bool"),
    pytest.param("Pod", {"metadata": {"labels": {"a": 1}}},
                 "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
                 id="map-value"),
    pytest.param("Pod", {"metadata": {"labels": ["a"]}},
                 "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type "
                 "map[string]string", id="array-into-map"),
    pytest.param("Pod", {"spec": {"containers": [{"args": [1]}]}},
                 "json: cannot unmarshal number into Go struct field Container.spec.containers.args of type string",
                 id="list-item-scalar"),
    pytest.param("Pod", {"spec": {"containers": [{"resources": {"limits": []}}]}},
                 "json: cannot unmarshal array into Go struct field ResourceRequirements.spec.containers.resources."
                 "limits of type v1.ResourceList", id="resource-list"),
    pytest.param("Pod", {"spec": {"containers": [{"env": {"a": "b"}}]}},
                 "json: cannot unmarshal object into Go struct field Container.spec.containers.env of type []v1.EnvVar",
                 id="object-into-slice"),
    pytest.param("Service", {"spec": {"ports": [{"targetPort": True}]}},
                 "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32",
                 id="int-or-string-bool"),
    pytest.param("Service", {"spec": {"ports": [{"targetPort": 8.5}]}},
                 "json: cannot unmarshal number 8.5 into Go struct field ServicePort.spec.ports.targetPort of type "
                 "int32", id="int-or-string-fraction"),
    pytest.param("Pod", {"spec": {"containers": [{"resources": {"limits": {"cpu": "abc"}}}]}}, QUANTITY_ERROR,
                 id="quantity-format"),
    pytest.param("Pod", {"spec": {"containers": [{"resources": {"limits": {"cpu": True}}}]}}, QUANTITY_ERROR,
                 id="quantity-bool"),
    pytest.param("Pod", {"spec": {"containers": [{"resources": {"requests": {"memory": "1Ki2"}}}]}},
                 "unable to parse quantity's suffix", id="quantity-suffix"),
    pytest.param("Pod", {"metadata": {"creationTimestamp": 5}},
                 "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type "
                 "string", id="time-number"),
    pytest.param("Pod", {"metadata": {"creationTimestamp": "yesterday"}},
                 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"',
                 id="time-text"),
    pytest.param("Pod", {"metadata": {"creationTimestamp": "2024-13-01T00:00:00Z"}},
                 'parsing time "2024-13-01T00:00:00Z": month out of range', id="time-month"),
    pytest.param("Pod", {"metadata": {"creationTimestamp": "2024-02-30T00:00:00Z"}},
                 'parsing time "2024-02-30T00:00:00Z": day out of range', id="time-day"),
    pytest.param("Pod", {"metadata": {"creationTimestamp": "2024-01-01T00:00:00"}},
                 'parsing time "2024-01-01T00:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"',
                 id="time-no-zone"),
    pytest.param("Pod", {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Zx"}},
                 'parsing time "2024-01-01T00:00:00Zx": extra text: "x"', id="time-extra"),
    pytest.param("Lease", {"spec": {"renewTime": "2024-01-01T00:00:00Z"}},
                 'parsing time "2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as '
                 '".000000"', id="micro-time-precision"),
    pytest.param("Secret", {"data": {"k": "not base64!"}}, "illegal base64 data at input byte 3", id="base64-char"),
    pytest.param("Secret", {"data": {"k": "aGVsbG8"}}, "illegal base64 data at input byte 4", id="base64-padding"),
    pytest.param("Secret", {"data": {"k": 5}},
                 "json: cannot unmarshal number into Go struct field Secret.data of type []uint8", id="bytes-number"),
    pytest.param("Namespace", {"spec": {"finalizers": "kubernetes"}},
                 "json: cannot unmarshal string into Go struct field NamespaceSpec.spec.finalizers of type []string",
                 id="string-slice"),
]


@pytest.mark.parametrize(("kind", "body", "message"), TYPE_ERROR_CASES)
def test_type_errors_read_like_go(kind: str, body: dict[str, Any], message: str) -> None:
    result = decode(rt(kind), body)
    assert result.error == message
    assert result.errors[0] == message


def test_body_that_is_not_an_object() -> None:
    assert decode(rt("Pod"), ["x"]).error == "json: cannot unmarshal array into Go value of type v1.Pod"


def test_all_type_errors_are_collected_in_document_order() -> None:
    result = decode(rt("Pod"), {"spec": {"hostNetwork": 1, "hostPID": "x"}})
    assert len(result.errors) == 2
    assert "hostNetwork" in result.errors[0] and "hostPID" in result.errors[1]


def test_a_failing_custom_unmarshaler_wins_over_earlier_type_errors() -> None:
    # Go saves plain type errors and goes on, but an UnmarshalJSON error aborts at once
    body = {"spec": {"hostNetwork": 1, "containers": [{"resources": {"limits": {"cpu": "abc"}}}]}}
    result = decode(rt("Pod"), body)
    assert result.error == QUANTITY_ERROR
    assert len(result.errors) == 2


# --------------------------------------------------------------------------- numbers

NUMBER_CASES = [
    pytest.param("Deployment", {"spec": {"replicas": 3.0}}, "spec/replicas", 3, id="int32-from-float"),
    pytest.param("Pod", pod(terminationGracePeriodSeconds=30.0), "spec/terminationGracePeriodSeconds", 30,
                 id="int64-from-float"),
    pytest.param("Pod", pod(containers=[{"name": "c", "ports": [{"containerPort": 80.0}]}]),
                 "spec/containers/0/ports/0/containerPort", 80, id="in-list"),
    pytest.param("Service", {"spec": {"ports": [{"port": 80, "targetPort": 8080.0}]}}, "spec/ports/0/targetPort", 8080,
                 id="int-or-string-from-float"),
    pytest.param("Deployment", {"spec": {"replicas": -1}}, "spec/replicas", -1, id="negative-kept"),
    pytest.param("Pod", pod(activeDeadlineSeconds=2**40), "spec/activeDeadlineSeconds", 2**40, id="int64-large"),
    pytest.param("Pod", {"spec": {"containers": [{"resources": {"limits": {"cpu": 0.5}}}]}},
                 "spec/containers/0/resources/limits/cpu", 0.5, id="quantity-number"),
    pytest.param("Pod", {"spec": {"containers": [{"resources": {"limits": {"memory": " 1Gi "}}}]}},
                 "spec/containers/0/resources/limits/memory", " 1Gi ", id="quantity-spaces"),
]


@pytest.mark.parametrize(("kind", "body", "where", "expected"), NUMBER_CASES)
def test_numbers(kind: str, body: dict[str, Any], where: str, expected: Any) -> None:
    result = decode(rt(kind), body)
    assert result.errors == []
    value = dig(result.obj, where)
    assert value == expected and type(value) is type(expected)


# --------------------------------------------------------------------------- nulls and empties

NULL_CASES = [
    pytest.param("Pod", {"metadata": {"name": "p", "creationTimestamp": None}}, {"metadata": {"name": "p"}},
                 id="null-field-dropped"),
    pytest.param("Pod", {"spec": None}, {}, id="null-struct-dropped"),
    pytest.param("Pod", {"metadata": {"labels": {"a": None}}}, {"metadata": {"labels": {"a": ""}}},
                 id="null-map-value-zero"),
    pytest.param("Pod", {"spec": {"containers": [{"name": "c", "args": ["a", None]}]}},
                 {"spec": {"containers": [{"name": "c", "args": ["a", ""]}]}}, id="null-list-item-zero"),
    pytest.param("Pod", {"spec": {"containers": [None]}}, {"spec": {"containers": [{}]}}, id="null-struct-item"),
    pytest.param("Node", {"status": {"capacity": {"cpu": None}}}, {"status": {"capacity": {"cpu": "0"}}},
                 id="null-quantity-zero"),
    pytest.param("Pod", {"metadata": {"labels": {}, "finalizers": []}}, {"metadata": {}},
                 id="empty-optional-collections-omitted"),
    pytest.param("Pod", {"spec": {"containers": []}}, {"spec": {"containers": []}}, id="empty-required-kept"),
    pytest.param("Pod", {"spec": {"securityContext": {}}}, {"spec": {"securityContext": {}}}, id="empty-struct-kept"),
    pytest.param("Pod", {"metadata": {"creationTimestamp": "0001-01-01T00:00:00Z"}}, {"metadata": {}},
                 id="zero-time-is-null"),
]


@pytest.mark.parametrize(("kind", "body", "expected"), NULL_CASES)
def test_nulls_and_empties_follow_go_zero_values(kind: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
    result = decode(rt(kind), body)
    assert result.errors == []
    assert result.obj == expected


TIME_CASES = [
    pytest.param("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", id="canonical"),
    pytest.param("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z", id="offset-to-utc"),
    pytest.param("2024-05-01T10:00:00.987654Z", "2024-05-01T10:00:00Z", id="fraction-dropped"),
    pytest.param("2024-05-01T9:00:00-01:00", "2024-05-01T10:00:00Z", id="one-digit-hour"),
    pytest.param("2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z", id="across-new-year"),
]


@pytest.mark.parametrize(("sent", "stored"), TIME_CASES)
def test_times_are_reencoded_in_utc(sent: str, stored: str) -> None:
    out = decode(rt("Pod"), {"metadata": {"creationTimestamp": sent}}).obj
    assert out["metadata"]["creationTimestamp"] == stored


def test_micro_time_keeps_microseconds_in_utc() -> None:
    out = decode(rt("Lease"), {"spec": {"acquireTime": "2024-05-01T12:00:00.000123+02:00"}}).obj
    assert out["spec"]["acquireTime"] == "2024-05-01T10:00:00.000123Z"


# --------------------------------------------------------------------------- duplicates

DUPLICATE_CASES = [
    pytest.param(b'{"a":1,"b":2}', [], id="none"),
    pytest.param(b'{"kind":"Pod","kind":"Pod"}', ["kind"], id="top-level"),
    pytest.param(b'{"metadata":{"name":"a","name":"b"}}', ["metadata.name"], id="nested"),
    pytest.param(b'{"spec":{"containers":[{"name":"a"},{"name":"b","image":"x","image":"y"}]}}',
                 ["spec.containers[1].image"], id="list-item"),
    pytest.param(b'{"metadata":{"labels":{"a":"1","a":"2"}}}', ["metadata.labels.a"], id="map-key"),
    pytest.param(b'{"a":{"x":1,"x":2},"a":{"y":1,"y":2}}', ["a.x", "a", "a.y"], id="document-order"),
    pytest.param(b'{"a":[[{"k":1,"k":1}]]}', ["a[0][0].k"], id="nested-arrays"),
    pytest.param(b"not json", [], id="invalid-json"),
    pytest.param('{"\u00e9":1,"\u00e9":2}', ["\u00e9"], id="text-input"),
]


@pytest.mark.parametrize(("raw", "expected"), DUPLICATE_CASES)
def test_find_duplicate_fields(raw: bytes | str, expected: list[str]) -> None:
    assert find_duplicate_fields(raw) == expected


STRICT_TEXT_CASES = [
    pytest.param(["spec.foo"], [], 'strict decoding error: unknown field "spec.foo"', id="one-unknown"),
    pytest.param(["spec.foo", "spec.bar"], [],
                 'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"', id="two-unknown"),
    pytest.param([], ["metadata.name"], 'strict decoding error: duplicate field "metadata.name"', id="duplicate"),
    pytest.param(["spec.x"], ["kind"], 'strict decoding error: unknown field "spec.x", duplicate field "kind"',
                 id="both"),
    pytest.param(["spec.x"], ["spec.x", "spec.x.y", "spec.x[0].z", "spec.xy"],
                 'strict decoding error: unknown field "spec.x", duplicate field "spec.xy"', id="under-unknown-skipped"),
    pytest.param(["a", "a"], [], 'strict decoding error: unknown field "a"', id="deduplicated"),
    pytest.param(['we"ird'], [], 'strict decoding error: unknown field "we\\"ird"', id="quoted"),
    pytest.param([], [], "", id="clean"),
]


@pytest.mark.parametrize(("unknown", "duplicates", "text"), STRICT_TEXT_CASES)
def test_strict_error_text(unknown: list[str], duplicates: list[str], text: str) -> None:
    assert strict_error_text(unknown, duplicates) == text


def test_strict_errors_are_capped_like_upstream() -> None:
    messages = strict_errors([f"f{i}" for i in range(150)])
    assert len(messages) == MAX_STRICT_ERRORS
    assert messages[0] == 'unknown field "f0"'


def test_strict_errors_for_a_whole_request() -> None:
    raw = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"p"},"spec":{"foo":{"a":1,"a":2}}}'
    result = decode(rt("Pod"), json.loads(raw))
    text = strict_error_text(result.unknown, find_duplicate_fields(raw))
    assert text == 'strict decoding error: unknown field "spec.foo", duplicate field "metadata.name"'
