"""apps/v1 Deployments and ReplicaSets, and the shared workload-template checks.

Both kinds need a non-empty, well-formed ``spec.selector`` that selects the
template's labels, a valid pod template whose ``restartPolicy`` is
``Always``, and non-negative counts.  Deployments add their rollout strategy
(``RollingUpdate`` needs maxSurge and maxUnavailable not both zero, each an
integer or a percentage, maxUnavailable at most 100%; ``Recreate`` forbids a
``rollingUpdate`` block), ``revisionHistoryLimit`` and a
``progressDeadlineSeconds`` longer than ``minReadySeconds``.

The selector is immutable on update in apps/v1 (upstream keeps that check in
the registry strategy because older group versions allowed changes; apps/v1
is the only version served here).

Bad values print as Go prints them (``map[string]string{...}``,
``v1.LabelSelector{...}``, ``intstr.IntOrString{...}``), see :mod:`golang`.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import golang, names
from kybernetes.api.validation.field import Errs, as_dict, as_int, child, immutable, nonnegative
from kybernetes.api.validation.meta import (
    selector_is_convertible,
    selector_is_empty,
    selector_matches,
    validate_label_selector,
    validate_object_meta,
    validate_object_meta_update,
)
from kybernetes.api.validation.podspec import validate_pod_template_spec

NO_MATCH = "`selector` does not match template `labels`"


def validate_template_for_selector(template: Any, selector: Any, path: str, owner: str = "ReplicaSet") -> Errs:
    """ValidatePodTemplateSpecForReplicaSet: labels selected, template valid, restartPolicy Always.

    A missing template reads as empty, as Go's non-pointer template field does
    (ReplicationController's pointer template is checked by its caller).
    """
    template = as_dict(template)
    labels = as_dict(template.get("metadata")).get("labels")
    errs: Errs = []
    # an empty (select-everything) selector skips the match; a missing one matches nothing
    if not selector_is_empty(selector) and not selector_matches(selector, labels):
        errs.append(errors.invalid_value(child(path, "metadata", "labels"), golang.string_map(labels), NO_MATCH))
    errs += validate_pod_template_spec(template, path)
    spec = as_dict(template.get("spec"))
    restart = spec.get("restartPolicy")
    if restart != "Always":
        errs.append(errors.not_supported(child(path, "spec", "restartPolicy"), restart or "", ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        errs.append(errors.forbidden_field(child(path, "spec", "activeDeadlineSeconds"),
                                           f"activeDeadlineSeconds in {owner} is not Supported"))
    return errs


def _validate_selector_and_template(spec: dict[str, Any], kind: str) -> Errs:
    errs: Errs = []
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        errs.append(errors.required("spec.selector"))
    else:
        errs += validate_label_selector(selector, "spec.selector")
        if selector_is_empty(selector):
            errs.append(errors.invalid_value("spec.selector", golang.label_selector(selector),
                                             f"empty selector is invalid for {kind}"))
    convertible = selector_is_convertible(selector)
    if not convertible:
        errs.append(errors.invalid_value("spec.selector", golang.label_selector(selector), "invalid label selector"))
        return errs
    return errs + validate_template_for_selector(spec.get("template"), selector, "spec.template")


_MAX_INT64 = 2**63 - 1


def _int_or_percent(value: Any) -> tuple[int, bool]:
    """(amount, is_percent) of an IntOrString; a malformed percent counts as zero."""
    if isinstance(value, str):
        if names.is_valid_percent(value):
            return 0, False
        # strconv.Atoi saturates at the int64 bounds, and Python's int() refuses huge texts
        digits = value[:-1].lstrip("0")
        return (min(int(digits or "0"), _MAX_INT64) if len(digits) <= 19 else _MAX_INT64), True
    return as_int(value) or 0, False


def validate_positive_int_or_percent(value: Any, path: str) -> Errs:
    if isinstance(value, str):
        return [errors.invalid_value(path, golang.int_or_string(value), m) for m in names.is_valid_percent(value)]
    n = as_int(value) or 0
    if n < 0:
        return [errors.invalid_value(path, n, "must be greater than or equal to 0")]
    return []


def _validate_rolling_update(ru: dict[str, Any], path: str) -> Errs:
    surge, unavailable = ru.get("maxSurge"), ru.get("maxUnavailable")
    errs = validate_positive_int_or_percent(unavailable, child(path, "maxUnavailable"))
    errs += validate_positive_int_or_percent(surge, child(path, "maxSurge"))
    unavailable_amount, unavailable_percent = _int_or_percent(unavailable)
    if unavailable_amount == 0 and _int_or_percent(surge)[0] == 0:
        errs.append(errors.invalid_value(child(path, "maxUnavailable"), golang.int_or_string(unavailable),
                                         "may not be 0 when `maxSurge` is 0"))
    if unavailable_percent and unavailable_amount > 100:
        errs.append(errors.invalid_value(child(path, "maxUnavailable"), golang.int_or_string(unavailable),
                                         "must not be greater than 100%"))
    return errs


def validate_deployment_strategy(strategy: Any, path: str) -> Errs:
    s = as_dict(strategy)
    kind = s.get("type")
    if kind == "Recreate":
        if s.get("rollingUpdate") is not None:
            return [errors.forbidden_field(child(path, "rollingUpdate"),
                                           "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        if not isinstance(s.get("rollingUpdate"), dict):
            return [errors.required(child(path, "rollingUpdate"), "this should be defaulted and never be nil")]
        return _validate_rolling_update(s["rollingUpdate"], child(path, "rollingUpdate"))
    rolling = "(nil)" if s.get("rollingUpdate") is None else "(0xc000000000)"
    shown = errors.GoValue(f"apps.DeploymentStrategy{{Type:{errors.go_quote(str(kind or ''))}, "
                           f"RollingUpdate:(*apps.RollingUpdateDeployment){rolling}}}")
    return [errors.not_supported(path, shown, ["Recreate", "RollingUpdate"])]


def validate_deployment_spec(spec: Any) -> Errs:
    spec = as_dict(spec)
    errs = nonnegative(spec.get("replicas"), "spec.replicas")
    errs += _validate_selector_and_template(spec, "deployment")
    errs += validate_deployment_strategy(spec.get("strategy"), "spec.strategy")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errs += nonnegative(deadline, "spec.progressDeadlineSeconds")
        d = as_int(deadline) or 0
        if d <= (as_int(spec.get("minReadySeconds")) or 0):
            errs.append(errors.invalid_value("spec.progressDeadlineSeconds", d, "must be greater than minReadySeconds"))
    return errs


def validate_deployment(obj: dict[str, Any]) -> Errs:
    return validate_object_meta(obj, True, names.name_is_dns_subdomain) + validate_deployment_spec(obj.get("spec"))


def _selector_immutable(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    ns, os_ = as_dict(new.get("spec")).get("selector"), as_dict(old.get("spec")).get("selector")
    return immutable(ns, os_, "spec.selector", shown=golang.label_selector(ns))


def validate_deployment_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    errs += validate_deployment_spec(new.get("spec"))
    return errs + _selector_immutable(new, old)


def validate_replica_set_spec(spec: Any) -> Errs:
    spec = as_dict(spec)
    errs = nonnegative(spec.get("replicas"), "spec.replicas")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    # upstream says "deployment" here too: the message was copied, and kept
    return errs + _validate_selector_and_template(spec, "deployment")


def validate_replica_set(obj: dict[str, Any]) -> Errs:
    return validate_object_meta(obj, True, names.name_is_dns_subdomain) + validate_replica_set_spec(obj.get("spec"))


def validate_replica_set_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    errs += validate_replica_set_spec(new.get("spec"))
    return errs + _selector_immutable(new, old)


# -- status ------------------------------------------------------------------------------


def validate_replica_counts(status: Any, path: str, fields: tuple[str, ...], generation_first: bool = False) -> Errs:
    """Non-negative counters, none above ``replicas``, ``availableReplicas`` at most ``readyReplicas``."""
    st = as_dict(status)
    errs: Errs = []
    order = ("observedGeneration", "replicas", *fields) if generation_first else ("replicas", *fields, "observedGeneration")
    for f in order:
        errs += nonnegative(st.get(f), child(path, f))
    replicas = as_int(st.get("replicas")) or 0
    for f in fields:
        n = as_int(st.get(f)) or 0
        if f != "unavailableReplicas" and n > replicas:
            errs.append(errors.invalid_value(child(path, f), n, "cannot be greater than status.replicas"))
    available, ready = as_int(st.get("availableReplicas")) or 0, as_int(st.get("readyReplicas")) or 0
    if available > ready:
        errs.append(errors.invalid_value(child(path, "availableReplicas"), available,
                                         "cannot be greater than readyReplicas"))
    return errs


def validate_deployment_status_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    status = as_dict(new.get("status"))
    errs += validate_replica_counts(status, "status", ("updatedReplicas", "readyReplicas", "availableReplicas",
                                                       "unavailableReplicas"), generation_first=True)
    errs += nonnegative(status.get("collisionCount"), "status.collisionCount")
    new_count, old_count = status.get("collisionCount"), as_dict(old.get("status")).get("collisionCount")
    if old_count is not None and (new_count is None or (as_int(new_count) or 0) < (as_int(old_count) or 0)):
        errs.append(errors.invalid_value("status.collisionCount", as_int(new_count) or 0, "cannot be decremented"))
    return errs


def validate_replica_set_status_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    return errs + validate_replica_counts(new.get("status"), "status",
                                          ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
