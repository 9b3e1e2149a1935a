"""PodSpec and PodTemplateSpec, shared by pods and every workload kind.

``validate_pod_spec`` is upstream's ``ValidatePodSpec``: volumes first (their
valid names are what mounts may reference), then containers, init
containers, the pod-wide policies and the placement fields of
:mod:`scheduling`.  ``validate_pod_template_spec`` adds what templates get:
labels and annotations at ``<template>.labels`` (upstream's path, without
``metadata``), the pod-specific annotations, and no ephemeral containers.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import names, scheduling
from kybernetes.api.validation.containers import (
    validate_containers,
    validate_dns1123_label,
    validate_init_containers,
    validate_security_context,
)
from kybernetes.api.validation.field import Errs, as_dict, as_int, as_list, as_str, child, dicts, index
from kybernetes.api.validation.meta import validate_annotations, validate_labels
from kybernetes.api.validation.resources import validate_resource_requirements
from kybernetes.api.validation.volumes import validate_volumes

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
MAX_INT32 = 2**31 - 1
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
MIRROR_POD = "kubernetes.io/config.mirror"
SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _validate_seccomp_profile(profile: str, path: str) -> Errs:
    if profile in ("runtime/default", "docker/default", "unconfined"):
        return []
    if profile.startswith("localhost/"):
        local = profile.removeprefix("localhost/")
        errs: Errs = []
        if local.startswith("/"):
            errs.append(errors.invalid_value(path, local, "must be a relative path"))
        if ".." in local.split("/"):
            errs.append(errors.invalid_value(path, local, "must not contain '..'"))
        return errs
    return [errors.invalid_value(path, profile, "must be a valid seccomp profile")]


def _container_names(spec: dict[str, Any]) -> set[str]:
    return {as_str(c.get("name")) for f in ("containers", "initContainers", "ephemeralContainers")
            for c in dicts(spec.get(f))}


def validate_pod_specific_annotations(annotations: Any, spec: dict[str, Any], path: str) -> Errs:
    ann = {k: as_str(v) for k, v in as_dict(annotations).items()}
    errs: Errs = []
    if MIRROR_POD in ann and not as_str(spec.get("nodeName")):
        errs.append(errors.invalid_value(f"{path}[{MIRROR_POD}]", ann[MIRROR_POD],
                                         "must set spec.nodeName if mirror pod annotation is set"))
    if DELETION_COST in ann:
        cost = ann[DELETION_COST]
        ok = (cost.lstrip("+-").isdigit() and cost.isascii() and len(cost) <= 12  # no int() of huge texts
              and -(2**31) <= int(cost) < 2**31)
        if not ok:
            errs.append(errors.invalid_value(f"{path}[{DELETION_COST}]", cost, "must be a 32bit integer"))
    for k, v in ann.items():
        if k == SECCOMP_POD or k.startswith(SECCOMP_CONTAINER_PREFIX):
            errs += _validate_seccomp_profile(v, child(path, k))
        if k.startswith(APPARMOR_PREFIX):
            container = k.removeprefix(APPARMOR_PREFIX)
            if container not in _container_names(spec):
                errs.append(errors.invalid_value(f"{path}[{k}]", container, "container not found"))
            if v not in ("", "runtime/default", "unconfined") and not v.startswith("localhost/"):
                errs.append(errors.invalid_value(f"{path}[{k}]", v, f"invalid AppArmor profile name: {errors.go_quote(v)}"))
    return errs


def _validate_host_network_ports(spec: dict[str, Any], path: str, is_pod: bool) -> Errs:
    if spec.get("hostNetwork") is not True:
        return []
    errs: Errs = []
    for i, c in enumerate(dicts(spec.get("containers"))):
        for j, port in enumerate(dicts(c.get("ports"))):
            hp, cp = as_int(port.get("hostPort")) or 0, as_int(port.get("containerPort")) or 0
            # templates may leave hostPort 0: it is defaulted when the pod is made
            if (is_pod or hp != 0) and hp != cp:
                p = child(index(child(index(child(path, "containers"), i), "ports"), j), "hostPort")
                errs.append(errors.invalid_value(p, hp, "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _validate_os(spec: dict[str, Any], path: str) -> Errs:
    os_spec = spec.get("os")
    if not isinstance(os_spec, dict):
        return []
    name = as_str(os_spec.get("name"))
    if not name:
        return [errors.required(child(path, "os", "name"), "cannot be empty")]
    if name not in ("linux", "windows"):
        return [errors.not_supported(child(path, "os"), name, ["linux", "windows"])]
    return []


def validate_pod_spec(spec: Any, pod_name: str, path: str, is_pod: bool = False) -> Errs:
    """ValidatePodSpec; ``pod_name`` is set for real pods (ephemeral volume claim names)."""
    spec = as_dict(spec)
    errs: Errs = []
    grace = as_int(spec.get("terminationGracePeriodSeconds"))
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(errors.required(child(path, "terminationGracePeriodSeconds")))
    volumes, verrs = validate_volumes(spec.get("volumes"), pod_name, child(path, "volumes"))
    errs += verrs
    claims = {as_str(c.get("name")) for c in dicts(spec.get("resourceClaims")) if c.get("name")}
    errs += _validate_resource_claims(spec.get("resourceClaims"), child(path, "resourceClaims"))
    restart = as_str(spec.get("restartPolicy"))
    errs += validate_containers(spec.get("containers"), volumes, claims, grace, child(path, "containers"), restart)
    errs += validate_init_containers(spec.get("initContainers"), spec.get("containers"), volumes, claims, grace,
                                     child(path, "initContainers"), restart)
    errs += _validate_host_network_ports(spec, path, is_pod)
    if not restart:
        errs.append(errors.required(child(path, "restartPolicy")))
    elif restart not in RESTART_POLICIES:
        errs.append(errors.not_supported(child(path, "restartPolicy"), restart, RESTART_POLICIES))
    dns = as_str(spec.get("dnsPolicy"))
    if not dns:
        errs.append(errors.required(child(path, "dnsPolicy")))
    elif dns not in DNS_POLICIES:
        errs.append(errors.not_supported(child(path, "dnsPolicy"), dns, DNS_POLICIES))
    errs += validate_labels(spec.get("nodeSelector"), child(path, "nodeSelector"))
    errs += scheduling.validate_pod_security_context(spec.get("securityContext"), child(path, "securityContext"))
    errs += scheduling.validate_image_pull_secrets(spec.get("imagePullSecrets"), child(path, "imagePullSecrets"))
    errs += scheduling.validate_affinity(spec.get("affinity"), child(path, "affinity"))
    errs += scheduling.validate_dns_config(spec.get("dnsConfig"), dns, child(path, "dnsConfig"))
    errs += scheduling.validate_readiness_gates(spec.get("readinessGates"), child(path, "readinessGates"))
    errs += scheduling.validate_scheduling_gates(spec.get("schedulingGates"), child(path, "schedulingGates"))
    errs += scheduling.validate_topology_spread(spec.get("topologySpreadConstraints"),
                                                child(path, "topologySpreadConstraints"))
    for f in ("serviceAccountName", "nodeName"):
        errs += _subdomain_field(spec, f, path)
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None:
        n = as_int(deadline) or 0
        if not 1 <= n <= MAX_INT32:
            errs.append(errors.invalid_value(child(path, "activeDeadlineSeconds"), n,
                                             names.inclusive_range_error(1, MAX_INT32)))
    for f in ("hostname", "subdomain"):
        if as_str(spec.get(f)):
            errs += validate_dns1123_label(as_str(spec.get(f)), child(path, f))
    errs += scheduling.validate_tolerations(spec.get("tolerations"), child(path, "tolerations"))
    errs += scheduling.validate_host_aliases(spec.get("hostAliases"), child(path, "hostAliases"))
    errs += _subdomain_field(spec, "priorityClassName", path)
    runtime_class = spec.get("runtimeClassName")
    if runtime_class is not None:
        errs += [errors.invalid_value(child(path, "runtimeClassName"), runtime_class, m)
                 for m in names.is_dns1123_subdomain(as_str(runtime_class))]
    preemption = spec.get("preemptionPolicy")
    if preemption is not None and preemption not in ("PreemptLowerPriority", "Never"):
        errs.append(errors.not_supported(child(path, "preemptionPolicy"), preemption,
                                         ["PreemptLowerPriority", "Never"]))
    if isinstance(spec.get("overhead"), dict):
        errs += validate_resource_requirements({"limits": spec["overhead"]}, child(path, "overhead"), claims)
    errs += _validate_os(spec, path)
    for i, c in enumerate(dicts(spec.get("ephemeralContainers"))):
        errs += validate_security_context(c.get("securityContext"),
                                          child(index(child(path, "ephemeralContainers"), i), "securityContext"))
    return errs


def _subdomain_field(spec: dict[str, Any], f: str, path: str) -> Errs:
    value = as_str(spec.get(f))
    if not value:
        return []
    return [errors.invalid_value(child(path, f), value, m) for m in names.is_dns1123_subdomain(value)]


def _validate_resource_claims(claims: Any, path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, c in enumerate(dicts(claims)):
        p = index(path, i)
        name = as_str(c.get("name"))
        if not name:
            errs.append(errors.required(child(p, "name")))
        elif name in seen:
            errs.append(errors.duplicate(child(p, "name"), name))
        else:
            errs += validate_dns1123_label(name, child(p, "name"))
            seen.add(name)
        has_claim, has_template = c.get("resourceClaimName") is not None, c.get("resourceClaimTemplateName") is not None
        if has_claim and has_template:
            errs.append(errors.invalid_value(p, c, "at most one of `resourceClaimName` or "
                                                   "`resourceClaimTemplateName` may be specified"))
        if not has_claim and not has_template:
            errs.append(errors.invalid_value(p, c, "must specify one of: `resourceClaimName`, "
                                                   "`resourceClaimTemplateName`"))
    return errs


def validate_pod_template_spec(template: Any, path: str) -> Errs:
    """ValidatePodTemplateSpec (labels and annotations at ``<path>.labels``, as upstream reports)."""
    t = as_dict(template)
    meta = as_dict(t.get("metadata"))
    spec = as_dict(t.get("spec"))
    errs = validate_labels(meta.get("labels"), child(path, "labels"))
    errs += validate_annotations(meta.get("annotations"), child(path, "annotations"))
    errs += validate_pod_specific_annotations(meta.get("annotations"), spec, child(path, "annotations"))
    errs += validate_pod_spec(spec, "", child(path, "spec"))
    if as_list(spec.get("ephemeralContainers")):
        errs.append(errors.forbidden_field(child(path, "spec", "ephemeralContainers"),
                                           "ephemeral containers not allowed in pod template"))
    return errs
