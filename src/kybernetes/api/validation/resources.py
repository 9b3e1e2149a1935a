"""Compute resource names and quantities (``resources.limits`` / ``requests``).

Upstream's ``ValidateResourceRequirements``: every name is a qualified name
and, without a domain, one of the standard container resources (``cpu``,
``memory``, ``ephemeral-storage``, ``hugepages-*``); every amount is a
non-negative quantity (whole for extended resources); a request never exceeds
its limit, and for resources that cannot be overcommitted (extended resources,
hugepages) a request needs a limit equal to it.

A malformed quantity is a decoding error upstream (a 400 "cannot be handled
as a Pod" before validation).  Here, where objects are wire JSON, it becomes
an ``Invalid value`` at the quantity's path carrying upstream's parse message;
the API server may turn :class:`~kybernetes.api.validation.quantity.QuantityError`
into the 400 itself by parsing first.

Pure: no I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import names
from kybernetes.api.validation.field import IS_NEGATIVE, Errs, as_dict, child, dicts, index, key, not_found
from kybernetes.api.validation.quantity import QuantityError, canonical, parse

# helper.IsStandardResourceName: names valid without a domain prefix anywhere.
STANDARD_RESOURCES = {
    "cpu", "memory", "ephemeral-storage", "storage", "pods", "services", "replicationcontrollers",
    "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "services.nodeports",
    "services.loadbalancers", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
}
STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
HUGEPAGES_PREFIX = "hugepages-"


def is_hugepages(name: str) -> bool:
    return name.startswith(HUGEPAGES_PREFIX)


def is_native(name: str) -> bool:
    """No domain, or a kubernetes.io domain."""
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    if is_native(name) or name.startswith("requests."):
        return False
    return not names.is_qualified_name("requests." + name)


def overcommit_allowed(name: str) -> bool:
    return is_native(name) and not is_hugepages(name)


def is_integer_resource(name: str) -> bool:
    return is_extended(name) or name in {"pods", "services", "replicationcontrollers", "resourcequotas", "secrets",
                                         "configmaps", "persistentvolumeclaims", "services.nodeports",
                                         "services.loadbalancers"}


def _is_standard(name: str) -> bool:
    return name in STANDARD_RESOURCES or is_hugepages(name) or name.startswith(("requests.hugepages-",
                                                                                "limits.hugepages-"))


def validate_resource_name(name: str, path: str) -> Errs:
    errs = [errors.invalid_value(path, name, m) for m in names.is_qualified_name(name)]
    if errs:
        return errs
    if "/" not in name and not _is_standard(name):
        return [errors.invalid_value(path, name, "must be a standard resource type or fully qualified")]
    return []


def validate_container_resource_name(name: str, path: str) -> Errs:
    errs = validate_resource_name(name, path)
    if "/" not in name:
        if name not in STANDARD_CONTAINER_RESOURCES and not is_hugepages(name):
            errs.append(errors.invalid_value(path, name, "must be a standard resource for containers"))
    elif not is_native(name) and not is_extended(name):
        errs.append(errors.invalid_value(path, name, "doesn't follow extended resource name standard"))
    return errs


def quantity_errors(value: Any, path: str) -> tuple[Decimal | None, Errs]:
    """Parse a quantity; an unparsable one is reported at ``path``."""
    try:
        return parse(value).value, []
    except QuantityError as e:
        return None, [errors.invalid_value(path, value if isinstance(value, str) else str(value), str(e))]


def validate_quantity_value(name: str, value: Any, amount: Decimal, path: str) -> Errs:
    """ValidateResourceQuantityValue: not negative; whole for integer resources."""
    errs: Errs = []
    if amount < 0:
        errs.append(errors.invalid_value(path, canonical(value), IS_NEGATIVE))
    if is_integer_resource(name) and amount != amount.to_integral_value():
        errs.append(errors.invalid_value(path, canonical(value), "must be an integer"))
    return errs


def validate_resource_requirements(resources: Any, path: str, pod_claims: set[str]) -> Errs:
    res = as_dict(resources)
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    limits: dict[str, Decimal] = {}
    errs: Errs = []
    has_cpu_mem = has_hugepages = False
    for name, value in as_dict(res.get("limits")).items():
        p = key(lim_path, name)
        errs += validate_container_resource_name(name, p)
        amount, qerrs = quantity_errors(value, p)
        errs += qerrs
        if amount is None:
            continue
        limits[name] = amount
        errs += validate_quantity_value(name, value, amount, p)
        has_hugepages |= is_hugepages(name)
        has_cpu_mem |= name in ("cpu", "memory")
    raw_limits = as_dict(res.get("limits"))
    for name, value in as_dict(res.get("requests")).items():
        p = key(req_path, name)
        errs += validate_container_resource_name(name, p)
        amount, qerrs = quantity_errors(value, p)
        errs += qerrs
        if amount is None:
            continue
        errs += validate_quantity_value(name, value, amount, p)
        shown = canonical(value)
        if name in limits:
            limit = canonical(raw_limits[name])
            if amount != limits[name] and not overcommit_allowed(name):
                errs.append(errors.invalid_value(req_path, shown, f"must be equal to {name} limit of {limit}"))
            elif amount > limits[name]:
                errs.append(errors.invalid_value(req_path, shown,
                                                 f"must be less than or equal to {name} limit of {limit}"))
        elif not overcommit_allowed(name) and name not in raw_limits:
            errs.append(errors.required(lim_path, "Limit must be set for non overcommitable resources"))
        has_hugepages |= is_hugepages(name)
        has_cpu_mem |= name in ("cpu", "memory")
    if has_hugepages and not has_cpu_mem:
        errs.append(errors.forbidden_field(path, "HugePages require cpu or memory"))
    errs += _validate_claims(res.get("claims"), child(path, "claims"), pod_claims)
    return errs


def _validate_claims(claims: Any, path: str, pod_claims: set[str]) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, c in enumerate(dicts(claims)):
        name = c.get("name") or ""
        if not name:
            errs.append(errors.required(index(path, i)))
            continue
        if name in seen:
            errs.append(errors.duplicate(index(path, i), name))
        seen.add(name)
        if name not in pod_claims:
            detail = "must be one of the names in pod.spec.resourceClaims"
            detail += ": " + ", ".join(sorted(pod_claims)) if pod_claims else " which is empty"
            errs.append(not_found(index(path, i), name, detail))
    return errs
