"""A container's environment as the kubelet resolves it: ``$(VAR)`` expansion, ConfigMap and Secret references,
the downward API's fields and resources, ``envFrom`` with prefixes, and upstream's error texts."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kybernetes.kubelet.envvars import (
    EnvError,
    expand,
    field_ref_value,
    go_quote,
    mapping_for,
    resolve_env,
    resource_field_ref_value,
    secret_data,
)

Obj = dict[str, Any]


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


CONFIGMAPS: dict[str, Obj] = {
    "cfg": {"data": {"HOST": "db", "PORT": "5432", "k": "v"}},
    "other": {"data": {"HOST": "cache", "MODE": "fast"}},
    "odd": {"data": {"GOOD": "1", "a=b": "2", "tab\tkey": "3"}},
}
SECRETS: dict[str, Obj] = {"sec": {"data": {"pw": b64("hunter2"), "USER": b64("admin")}}}
ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


def pod(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "u1",
                     "labels": {"app": "web", "tier": "front"},
                     "annotations": {"note": "hi", "quote": 'say "x"\n'}},
        "spec": {"nodeName": "n1", "serviceAccountName": "sa",
                 "containers": [{"name": "app", "resources": {
                     "requests": {"cpu": "250m", "memory": "64Mi"},
                     "limits": {"cpu": "500m", "memory": "128Mi"}}},
                     {"name": "bare"}], **spec},
        "status": {"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
                   "hostIP": "192.168.1.2", "hostIPs": [{"ip": "192.168.1.2"}]},
    }


def resolve(env: list[Obj] | None = None, env_from: list[Obj] | None = None) -> tuple[dict[str, str], list[str]]:
    the_pod = pod()
    container: Obj = {**the_pod["spec"]["containers"][0], "env": env or [], "envFrom": env_from or []}
    got = resolve_env(the_pod, container, configmap=CONFIGMAPS.get, secret=SECRETS.get,
                      node_allocatable=ALLOCATABLE)
    return got.env, got.warnings


VARS = {"A": "a", "B": "b", "E": ""}


@pytest.mark.parametrize("text,expected", [
    pytest.param("abc", "abc", id="plain"),
    pytest.param("$(A)", "a", id="reference"),
    pytest.param("x$(A)y", "xay", id="reference-in-the-middle"),
    pytest.param("$(A)$(B)", "ab", id="two-references"),
    pytest.param("$$(A)", "$(A)", id="escaped-reference"),
    pytest.param("$$", "$", id="double-dollar"),
    pytest.param("$$$(A)", "$a", id="escape-then-reference"),
    pytest.param("$$$$", "$$", id="two-escapes"),
    pytest.param("$(C)", "$(C)", id="unknown-stays-verbatim"),
    pytest.param("$(A", "$(A", id="unterminated"),
    pytest.param("a$", "a$", id="trailing-dollar"),
    pytest.param("$A", "$A", id="dollar-without-paren"),
    pytest.param("$()", "$()", id="empty-name"),
    pytest.param("$($(A))", "$($(A))", id="nested-is-not-expanded"),
    pytest.param("$(A B)", "$(A B)", id="name-with-space-unknown"),
    pytest.param("[$(E)]", "[]", id="empty-value"),
    pytest.param("$(A)$", "a$", id="reference-then-dollar"),
    pytest.param("", "", id="empty"),
])
def test_expand(text: str, expected: str) -> None:
    assert expand(text, mapping_for(VARS)) == expected


def test_mapping_for_looks_in_contexts_in_order() -> None:
    mapping = mapping_for({"A": "first"}, {"A": "second", "B": "b"})
    assert [mapping("A"), mapping("B"), mapping("Z")] == ["first", "b", "$(Z)"]


@pytest.mark.parametrize("env,env_from,expected", [
    pytest.param([{"name": "X", "value": "1"}], None, {"X": "1"}, id="literal"),
    pytest.param([{"name": "X", "value": "1"}, {"name": "Y", "value": "$(X)-2"}], None, {"X": "1", "Y": "1-2"},
                 id="expands-earlier-variable"),
    pytest.param([{"name": "Y", "value": "$(X)"}, {"name": "X", "value": "1"}], None, {"Y": "$(X)", "X": "1"},
                 id="forward-reference-verbatim"),
    pytest.param([{"name": "HOST", "value": "$(HOST):$(PORT)"}], [{"configMapRef": {"name": "cfg"}}],
                 {"HOST": "db:5432", "PORT": "5432", "k": "v"}, id="self-reference-sees-envfrom"),
    pytest.param([{"name": "X", "value": "$$(X)"}], None, {"X": "$(X)"}, id="escaped"),
    pytest.param([{"name": "X"}], None, {"X": ""}, id="no-value-no-source"),
    pytest.param([{"name": "X", "value": ""}], None, {"X": ""}, id="empty-value"),
    pytest.param([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "HOST"}}}], None,
                 {"X": "db"}, id="configmap-key"),
    pytest.param([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope",
                                                                  "optional": True}}}], None,
                 {}, id="configmap-optional-missing-key-skipped"),
    pytest.param([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k",
                                                                  "optional": True}}}], None,
                 {}, id="configmap-optional-missing-object-skipped"),
    pytest.param([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}}], None,
                 {"X": "hunter2"}, id="secret-key-decoded"),
    pytest.param([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope",
                                                               "optional": True}}}], None,
                 {}, id="secret-optional-missing-key-skipped"),
    pytest.param([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "pw",
                                                               "optional": True}}}], None,
                 {}, id="secret-optional-missing-object-skipped"),
    pytest.param([{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                  {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                  {"name": "URL", "value": "http://$(IP):80/$(N)"}], None,
                 {"N": "web", "IP": "10.0.0.5", "URL": "http://10.0.0.5:80/web"}, id="field-refs-then-expansion"),
    pytest.param([{"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                     "divisor": "1Mi"}}}], None,
                 {"MEM": "128"}, id="resource-field-ref"),
    pytest.param(None, [{"configMapRef": {"name": "cfg"}}], {"HOST": "db", "PORT": "5432", "k": "v"},
                 id="envfrom-configmap"),
    pytest.param(None, [{"configMapRef": {"name": "cfg"}, "prefix": "DB_"}],
                 {"DB_HOST": "db", "DB_PORT": "5432", "DB_k": "v"}, id="envfrom-prefix"),
    pytest.param(None, [{"secretRef": {"name": "sec"}}], {"USER": "admin", "pw": "hunter2"},
                 id="envfrom-secret-decoded"),
    pytest.param(None, [{"configMapRef": {"name": "missing", "optional": True}}], {},
                 id="envfrom-optional-missing"),
    pytest.param(None, [{"configMapRef": {"name": "cfg"}}, {"configMapRef": {"name": "other"}}],
                 {"HOST": "cache", "PORT": "5432", "k": "v", "MODE": "fast"}, id="later-envfrom-wins"),
    pytest.param([{"name": "HOST", "value": "mine"}], [{"configMapRef": {"name": "cfg"}}],
                 {"HOST": "mine", "PORT": "5432", "k": "v"}, id="env-overrides-envfrom"),
    pytest.param([{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}, {"name": "X", "value": "3"}], None,
                 {"X": "3", "Y": "2"}, id="duplicate-later-wins"),
    pytest.param([{"name": "X", "value": "$(pw)"}], [{"secretRef": {"name": "sec"}}],
                 {"USER": "admin", "pw": "hunter2", "X": "hunter2"}, id="expands-secret-envfrom"),
])
def test_resolve_env(env: list[Obj] | None, env_from: list[Obj] | None, expected: dict[str, str]) -> None:
    got, warnings = resolve(env, env_from)
    assert got == expected
    assert list(got) == list(expected)  # declaration order kept
    assert warnings == []


@pytest.mark.parametrize("env,env_from,message", [
    pytest.param([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope"}}}], None,
                 "couldn't find key nope in ConfigMap default/cfg", id="configmap-missing-key"),
    pytest.param([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k"}}}], None,
                 'configmap "missing" not found', id="configmap-missing"),
    pytest.param([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope"}}}], None,
                 "couldn't find key nope in Secret default/sec", id="secret-missing-key"),
    pytest.param([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "pw"}}}], None,
                 'secret "gone" not found', id="secret-missing"),
    pytest.param(None, [{"configMapRef": {"name": "missing"}}], 'configmap "missing" not found',
                 id="envfrom-configmap-missing"),
    pytest.param(None, [{"secretRef": {"name": "gone"}}], 'secret "gone" not found', id="envfrom-secret-missing"),
    pytest.param([{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}], None,
                 "unsupported fieldPath: status.phase", id="field-not-resolved"),
    pytest.param([{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}], None,
                 "unsupported container resource : limits.gpu", id="resource-unsupported"),
])
def test_resolve_env_errors(env: list[Obj] | None, env_from: list[Obj] | None, message: str) -> None:
    with pytest.raises(EnvError) as e:
        resolve(env, env_from)
    assert str(e.value) == message


def test_envfrom_skips_invalid_names_with_the_upstream_warning() -> None:
    got, warnings = resolve(None, [{"configMapRef": {"name": "odd"}}])
    assert got == {"GOOD": "1"}
    assert warnings == ["Keys [a=b, tab\tkey] from the EnvFrom configMap default/odd were skipped since they are "
                        "considered invalid environment variable names."]


def test_as_list_is_k_equals_v_in_order() -> None:
    got = resolve_env(pod(), {"name": "app", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "x=y"}]},
                      configmap=CONFIGMAPS.get, secret=SECRETS.get)
    assert got.as_list() == ["B=2", "A=x=y"]


def test_lookups_happen_once_per_object() -> None:
    calls: list[str] = []

    def configmap(name: str) -> Obj | None:
        calls.append(name)
        return CONFIGMAPS.get(name)

    env = [{"name": k, "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": k}}} for k in ("HOST", "PORT")]
    resolve_env(pod(), {"name": "app", "env": env, "envFrom": [{"configMapRef": {"name": "cfg"}}]},
                configmap=configmap, secret=SECRETS.get)
    assert calls == ["cfg"]


@pytest.mark.parametrize("path,expected", [
    pytest.param("metadata.name", "web", id="name"),
    pytest.param("metadata.namespace", "default", id="namespace"),
    pytest.param("metadata.uid", "u1", id="uid"),
    pytest.param("metadata.labels['app']", "web", id="label"),
    pytest.param("metadata.labels['missing']", "", id="missing-label"),
    pytest.param("metadata.annotations['note']", "hi", id="annotation"),
    pytest.param("metadata.labels", 'app="web"\ntier="front"', id="all-labels"),
    pytest.param("metadata.annotations", 'note="hi"\nquote="say \\"x\\"\\n"', id="all-annotations-quoted"),
    pytest.param("spec.nodeName", "n1", id="node-name"),
    pytest.param("spec.host", "n1", id="legacy-spec-host"),
    pytest.param("spec.serviceAccountName", "sa", id="service-account"),
    pytest.param("status.podIP", "10.0.0.5", id="pod-ip-from-status"),
    pytest.param("status.podIPs", "10.0.0.5,fd00::5", id="pod-ips-from-status"),
    pytest.param("status.hostIP", "192.168.1.2", id="host-ip-from-status"),
    pytest.param("status.hostIPs", "192.168.1.2", id="host-ips-from-status"),
])
def test_field_ref_value(path: str, expected: str) -> None:
    assert field_ref_value(pod(), {"apiVersion": "v1", "fieldPath": path}) == expected


@pytest.mark.parametrize("path,pod_ips,host_ips,expected", [
    pytest.param("status.podIP", ["10.1.1.1"], None, "10.1.1.1", id="given-pod-ip-wins"),
    pytest.param("status.podIPs", ["10.1.1.1", "fd00::1"], None, "10.1.1.1,fd00::1", id="given-pod-ips"),
    pytest.param("status.podIP", [], None, "", id="no-pod-ip-yet"),
    pytest.param("status.hostIP", None, ["172.18.0.3", "fd01::3"], "172.18.0.3", id="given-host-ip"),
    pytest.param("status.hostIPs", None, ["172.18.0.3", "fd01::3"], "172.18.0.3,fd01::3", id="given-host-ips"),
    pytest.param("status.hostIP", None, [], "", id="no-host-ip"),
])
def test_field_ref_value_prefers_the_ips_given(path: str, pod_ips: list[str] | None, host_ips: list[str] | None,
                                               expected: str) -> None:
    assert field_ref_value(pod(), {"fieldPath": path}, pod_ips=pod_ips, host_ips=host_ips) == expected


@pytest.mark.parametrize("ref,message", [
    pytest.param({"apiVersion": "v2", "fieldPath": "metadata.name"}, "unsupported pod version: v2", id="version"),
    pytest.param({"fieldPath": "spec.restartPolicy"}, "unsupported fieldPath: spec.restartPolicy",
                 id="restart-policy"),
    pytest.param({"fieldPath": "spec.schedulerName"}, "unsupported fieldPath: spec.schedulerName",
                 id="scheduler-name"),
    pytest.param({"fieldPath": "metadata.generateName"}, "field label not supported: metadata.generateName",
                 id="not-a-field-label"),
    pytest.param({"fieldPath": "spec.nodeName['x']"}, "field label does not support subscript: spec.nodeName['x']",
                 id="subscript-on-scalar"),
])
def test_field_ref_errors(ref: Obj, message: str) -> None:
    with pytest.raises(EnvError) as e:
        field_ref_value(pod(), ref)
    assert str(e.value) == message


APP = pod()["spec"]["containers"][0]
BARE = pod()["spec"]["containers"][1]


@pytest.mark.parametrize("container,resource,divisor,expected", [
    pytest.param(APP, "limits.cpu", None, "1", id="cpu-limit-rounds-up-to-cores"),
    pytest.param(APP, "limits.cpu", "1m", "500", id="cpu-limit-millicores"),
    pytest.param(APP, "requests.cpu", "1m", "250", id="cpu-request-millicores"),
    pytest.param(APP, "requests.cpu", None, "1", id="cpu-request-cores"),
    pytest.param(APP, "requests.cpu", "100m", "3", id="cpu-request-in-tenths"),
    pytest.param(APP, "limits.memory", None, "134217728", id="memory-limit-bytes"),
    pytest.param(APP, "limits.memory", "1Mi", "128", id="memory-limit-mebibytes"),
    pytest.param(APP, "limits.memory", "1M", "135", id="memory-limit-megabytes-round-up"),
    pytest.param(APP, "requests.memory", "1Mi", "64", id="memory-request"),
    pytest.param(APP, "limits.ephemeral-storage", "1Gi", "100", id="storage-limit-defaults-to-node"),
    pytest.param(APP, "requests.ephemeral-storage", None, "0", id="storage-request-unset"),
    pytest.param(APP, "limits.memory", "0", "134217728", id="zero-divisor-is-one"),
    pytest.param(BARE, "limits.cpu", None, "4", id="no-limit-node-cpu"),
    pytest.param(BARE, "limits.cpu", "1m", "4000", id="no-limit-node-millicores"),
    pytest.param(BARE, "limits.memory", "1Gi", "8", id="no-limit-node-memory"),
    pytest.param(BARE, "requests.memory", None, "0", id="no-request-is-zero"),
])
def test_resource_field_ref_value(container: Obj, resource: str, divisor: str | None, expected: str) -> None:
    ref: Obj = {"resource": resource}
    if divisor is not None:
        ref["divisor"] = divisor
    assert resource_field_ref_value(pod(), container, ref, ALLOCATABLE) == expected


def test_resource_field_ref_names_another_container() -> None:
    ref = {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}
    assert resource_field_ref_value(pod(), BARE, ref, ALLOCATABLE) == "128"
    with pytest.raises(EnvError, match=r"^container ghost not found$"):
        resource_field_ref_value(pod(), BARE, {"containerName": "ghost", "resource": "limits.cpu"})


@pytest.mark.parametrize("text,expected", [
    pytest.param("plain", '"plain"', id="plain"),
    pytest.param('a"b', '"a\\"b"', id="quote"),
    pytest.param("a\\b", '"a\\\\b"', id="backslash"),
    pytest.param("a\nb\tc", '"a\\nb\\tc"', id="newline-tab"),
    pytest.param("café", '"café"', id="printable-unicode-kept"),
    pytest.param("\x01\x7f", '"\\x01\\x7f"', id="control-bytes"),
    pytest.param("\u200b", '"\\u200b"', id="invisible-unicode"),
])
def test_go_quote(text: str, expected: str) -> None:
    assert go_quote(text) == expected


def test_secret_data_decodes_and_rejects_bad_base64() -> None:
    assert secret_data({"data": {"a": b64("x"), "b": ""}}) == {"a": b"x", "b": b""}
    with pytest.raises(EnvError, match="invalid base64 data for key a in Secret"):
        secret_data({"data": {"a": "!!!"}})
