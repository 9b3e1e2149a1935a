"""The smaller core kinds, and coordination.k8s.io Leases.

* ReplicationController: a non-empty map selector (defaulted from the
  template's labels) that selects the template, a template whose
  ``restartPolicy`` is ``Always``.
* Namespace: a DNS-1123 label name; ``spec.finalizers`` qualified names;
  status phase consistent with deletion.
* Node: cluster scoped; taints (reported under ``metadata.taints``, an
  upstream quirk kept), pod CIDRs, resource quantities; ``podCIDRs`` and
  ``providerID`` fixed once set.
* ConfigMap and Secret: keys are config keys, 1 MiB of data in total, a
  secret's ``type`` is fixed and some types require keys; ``immutable: true``
  freezes the data.
* ServiceAccount: metadata only.  Lease: positive duration, non-negative
  transitions, a preferred holder only with a strategy.

Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import names
from kybernetes.api.validation.apps import validate_replica_counts, validate_template_for_selector
from kybernetes.api.validation.field import (
    Errs,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dicts,
    immutable,
    index,
    key,
    nonnegative,
)
from kybernetes.api.validation.meta import (
    validate_finalizers,
    validate_label_name,
    validate_object_meta,
    validate_object_meta_update,
)
from kybernetes.api.validation.resources import quantity_errors, validate_quantity_value
from kybernetes.api.validation.scheduling import validate_taint_effect

MAX_DATA_SIZE = 1024 * 1024  # core.MaxSecretSize, shared by ConfigMaps
IMMUTABLE_SET = "field is immutable when `immutable` is set"


# -- ReplicationController -------------------------------------------------------------


def _rc_spec(spec: Any) -> Errs:
    spec = as_dict(spec)
    errs = nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = {k: v for k, v in as_dict(spec.get("selector")).items()}
    if not selector:
        errs.append(errors.required("spec.selector"))
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    template = spec.get("template")
    if not isinstance(template, dict):
        return [*errs, errors.required("spec.template")]
    # a map selector: an empty one selects everything and skips the match
    as_label_selector = {"matchLabels": selector} if selector else {}
    return errs + validate_template_for_selector(template, as_label_selector, "spec.template",
                                                 owner="ReplicationController")


def validate_replication_controller(obj: dict[str, Any]) -> Errs:
    return validate_object_meta(obj, True, names.name_is_dns_subdomain) + _rc_spec(obj.get("spec"))


def validate_replication_controller_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    return validate_object_meta_update(new, old) + _rc_spec(new.get("spec"))


def validate_replication_controller_status_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    return validate_object_meta_update(new, old) + validate_replica_counts(
        new.get("status"), "status", ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))


# -- Namespace -------------------------------------------------------------------------------


def validate_namespace(obj: dict[str, Any]) -> Errs:
    errs = validate_object_meta(obj, False, names.name_is_dns_label)
    for f in as_list(as_dict(obj.get("spec")).get("finalizers")):
        # upstream reports each at the list's path, without an index
        errs += validate_finalizers([f], "spec.finalizers", kube_names=False)
        if "/" not in as_str(f) and f not in ("kubernetes", "orphan", "foregroundDeletion"):
            errs.append(errors.invalid_value("spec.finalizers", f,
                                             "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_namespace_status_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    phase = as_str(as_dict(new.get("status")).get("phase"))
    if not as_dict(new.get("metadata")).get("deletionTimestamp"):
        if phase != "Active":
            errs.append(errors.invalid_value("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty"))
    elif phase != "Terminating":
        errs.append(errors.invalid_value("status.Phase", phase,
                                         "may only be 'Terminating' if `deletionTimestamp` is not empty"))
    return errs


# -- Node -------------------------------------------------------------------------------------


def _node_taints(taints: Any, path: str) -> Errs:
    errs: Errs = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(dicts(taints)):
        p = index(path, i)
        k, value, effect = as_str(t.get("key")), as_str(t.get("value")), as_str(t.get("effect"))
        errs += validate_label_name(k, child(p, "key"))
        msgs = names.is_label_value(value)
        if msgs:
            errs.append(errors.invalid_value(child(p, "value"), value, ";".join(msgs)))
        errs += validate_taint_effect(effect, False, child(p, "effect"))
        if (k, effect) in seen:
            dup = errors.duplicate(p, t)
            dup.detail = "taints must be unique by key and effect pair"
            errs.append(dup)
            continue
        seen.add((k, effect))
    return errs


def _node_resources(status: Any) -> Errs:
    errs: Errs = []
    for section in ("capacity", "allocatable"):
        for name, value in as_dict(as_dict(status).get(section)).items():
            p = child("status", section, name)
            amount, qerrs = quantity_errors(value, p)
            errs += qerrs
            if amount is not None:
                errs += validate_quantity_value(name, value, amount, p)
    return errs


def _pod_cidrs(spec: dict[str, Any]) -> Errs:
    cidrs = [as_str(c) for c in as_list(spec.get("podCIDRs"))]
    errs: Errs = []
    for i, c in enumerate(cidrs):
        errs += [errors.invalid_value(index("spec.podCIDRs", i), c, m) for m in names.is_valid_cidr(c)]
    if len(cidrs) > 1:
        addresses = [names.parse_ip(c.split("/")[0]) for c in cidrs]
        families = {a.version for a in addresses if a is not None}
        if len(cidrs) > 2 or len(families) != 2:
            errs.append(errors.invalid_value("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"))
        for i, c in enumerate(cidrs):
            if c in cidrs[:i]:
                errs.append(errors.duplicate(index("spec.podCIDRs", i), c))
    return errs


def validate_node(obj: dict[str, Any]) -> Errs:
    errs = validate_object_meta(obj, False, names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    errs += _node_taints(spec.get("taints"), "metadata.taints")
    errs += _node_resources(obj.get("status"))
    return errs + _pod_cidrs(spec)


def validate_node_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    errs += _node_resources(new.get("status"))
    seen: list[Any] = []
    for i, a in enumerate(dicts(as_dict(new.get("status")).get("addresses"))):
        if a in seen:
            errs.append(errors.duplicate(index("status.addresses", i), a))
        seen.append(a)
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    old_cidrs, new_cidrs = as_list(os_.get("podCIDRs")), as_list(ns.get("podCIDRs"))
    if old_cidrs:
        # one error for a changed length, else one per changed entry, as upstream
        if len(old_cidrs) != len(new_cidrs):
            changes = 1
        else:
            changes = sum(1 for c, n in zip(old_cidrs, new_cidrs, strict=True) if c != n)
        errs += [errors.forbidden_field("spec.podCIDRs",
                                        'node updates may not change podCIDR except from "" to valid')] * changes
    old_provider = as_str(os_.get("providerID"))
    if old_provider and old_provider != as_str(ns.get("providerID")):
        errs.append(errors.forbidden_field("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    errs += _node_taints(ns.get("taints"), "metadata.taints")
    if as_str(ns.get("externalID")) != as_str(os_.get("externalID")):
        errs.append(errors.forbidden_field("spec.externalID", "may not be updated"))
    return errs


# -- ConfigMap and Secret ---------------------------------------------------------------------


def _decoded_len(value: Any) -> int:
    """Bytes of a base64 ``data`` value (its raw length if it is not base64: decoding reports that)."""
    text = as_str(value)
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return len(text.encode())


def validate_config_map(obj: dict[str, Any]) -> Errs:
    errs = validate_object_meta(obj, True, names.name_is_dns_subdomain)
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    total = 0
    for k, v in data.items():
        errs += [errors.invalid_value(key("data", k), k, m) for m in names.is_config_map_key(k)]
        if k in binary:
            errs.append(errors.invalid_value(key("data", k), k, "duplicate of key present in binaryData"))
        total += len(as_str(v).encode())
    for k, v in binary.items():
        errs += [errors.invalid_value(key("binaryData", k), k, m) for m in names.is_config_map_key(k)]
        total += _decoded_len(v)
    if total > MAX_DATA_SIZE:
        # upstream's path is the empty root, which prints as "[]"
        errs.append(errors.too_long("[]", MAX_DATA_SIZE))
    return errs


def _immutable_data(new: dict[str, Any], old: dict[str, Any], fields: tuple[str, ...]) -> Errs:
    if old.get("immutable") is not True:
        return []
    errs: Errs = []
    if new.get("immutable") is not True:
        errs.append(errors.forbidden_field("immutable", IMMUTABLE_SET))
    for f in fields:
        if as_dict(new.get(f)) != as_dict(old.get(f)):
            errs.append(errors.forbidden_field(f, IMMUTABLE_SET))
    return errs


def validate_config_map_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    return errs + _immutable_data(new, old, ("data", "binaryData")) + validate_config_map(new)


def _go_json_error(raw: bytes) -> str | None:
    """None for a JSON object; otherwise roughly the error Go's encoding/json gives."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return "unexpected end of JSON input"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        if e.pos >= len(text):
            return "unexpected end of JSON input"
        return f"invalid character {text[e.pos]!r} looking for beginning of value"
    if not isinstance(value, dict):
        kind = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return None


def _secret_data(obj: dict[str, Any]) -> dict[str, bytes]:
    """data (base64) merged with stringData, as upstream's conversion does before validation."""
    out: dict[str, bytes] = {}
    for k, v in as_dict(obj.get("data")).items():
        try:
            out[k] = base64.b64decode(as_str(v), validate=True)
        except (binascii.Error, ValueError):
            out[k] = as_str(v).encode()
    for k, v in as_dict(obj.get("stringData")).items():
        out[k] = as_str(v).encode()
    return out


_REQUIRED_KEYS = {
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}
_JSON_KEYS = {"kubernetes.io/dockercfg": ".dockercfg", "kubernetes.io/dockerconfigjson": ".dockerconfigjson"}


def validate_secret(obj: dict[str, Any]) -> Errs:
    errs = validate_object_meta(obj, True, names.name_is_dns_subdomain)
    data = _secret_data(obj)
    for k in data:
        errs += [errors.invalid_value(key("data", k), k, m) for m in names.is_config_map_key(k)]
    if sum(len(v) for v in data.values()) > MAX_DATA_SIZE:
        errs.append(errors.too_long("data", MAX_DATA_SIZE))
    kind = as_str(obj.get("type"))
    annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    if kind == "kubernetes.io/service-account-token":
        if not as_str(annotations.get("kubernetes.io/service-account.name")):
            errs.append(errors.required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind in _JSON_KEYS:
        k = _JSON_KEYS[kind]
        if k not in data:
            errs.append(errors.required(key("data", k)))
        else:
            problem = _go_json_error(data[k])
            if problem:
                errs.append(errors.invalid_value(key("data", k), "<secret contents redacted>", problem))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs += [errors.required("data[username]"), errors.required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(errors.required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        errs += [errors.required(key("data", k)) for k in _REQUIRED_KEYS[kind] if k not in data]
    return errs


def validate_secret_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    errs += immutable(as_str(new.get("type")), as_str(old.get("type")), "type")
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(errors.forbidden_field("immutable", IMMUTABLE_SET))
        if _secret_data(new) != _secret_data(old):
            errs.append(errors.forbidden_field("data", IMMUTABLE_SET))
    return errs + validate_secret(new)


# -- ServiceAccount and Lease -----------------------------------------------------------------


def validate_service_account(obj: dict[str, Any]) -> Errs:
    return validate_object_meta(obj, True, names.name_is_dns_subdomain)


def validate_service_account_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    return validate_object_meta_update(new, old) + validate_service_account(new)


def _lease_spec(spec: Any) -> Errs:
    spec = as_dict(spec)
    errs: Errs = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (as_int(duration) or 0) <= 0:
        errs.append(errors.invalid_value("spec.leaseDurationSeconds", as_int(duration) or 0, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and (as_int(transitions) or 0) < 0:
        errs.append(errors.invalid_value("spec.leaseTransitions", as_int(transitions), "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None:
        s = as_str(strategy)
        if "/" not in s:
            if s != "OldestEmulationVersion":
                errs.append(errors.not_supported("spec.strategy.strategy", s, ["OldestEmulationVersion"]))
        else:
            errs += [errors.invalid_value("spec.strategy.strategy", s, m) for m in names.is_qualified_name(s)]
    if as_str(spec.get("preferredHolder")) and not as_str(strategy):
        errs.append(errors.forbidden_field("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return errs


def validate_lease(obj: dict[str, Any]) -> Errs:
    # Leases use apimachinery's ObjectMeta rules: no check for standard finalizer names
    return validate_object_meta(obj, True, names.name_is_dns_subdomain, kube_finalizers=False) + _lease_spec(obj.get("spec"))


def validate_lease_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    return validate_object_meta_update(new, old, kube_finalizers=False) + _lease_spec(new.get("spec"))

