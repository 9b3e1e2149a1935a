"""Containers: names, images, ports, env, mounts, probes, lifecycle hooks.

Mirrors upstream's ``validateContainerCommon`` (run for regular, init and
ephemeral containers) plus the checks only regular containers get
(probes, lifecycle, no ``restartPolicy``) and those init containers get
(probes and hooks only when restartable, i.e. sidecars).  Name uniqueness
spans regular and init containers; host ports must not collide.

Environment variable names follow 1.33's default relaxed rule (any printable
ASCII but ``=``).  The fields defaulting fills (``imagePullPolicy``,
``terminationMessagePolicy``, port ``protocol``, probe thresholds) are still
required here, as upstream does, so a skipped default shows up loudly.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import names
from kybernetes.api.validation.field import (
    Errs,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dicts,
    index,
    nonnegative,
    not_found,
)
from kybernetes.api.validation.resources import validate_resource_requirements

PROTOCOLS = ["SCTP", "TCP", "UDP"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
ENV_FIELD_PATHS = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                   "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
RESOURCE_FIELD_PATHS = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                        "requests.ephemeral-storage", "requests.memory"]


def validate_dns1123_label(value: str, path: str) -> Errs:
    return [errors.invalid_value(path, value, m) for m in names.is_dns1123_label(value)]


# -- ports ---------------------------------------------------------------------------


def validate_container_ports(ports: Any, path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, port in enumerate(dicts(ports)):
        p = index(path, i)
        name = as_str(port.get("name"))
        if name:
            msgs = names.is_valid_port_name(name)
            if msgs:
                errs += [errors.invalid_value(child(p, "name"), name, m) for m in msgs]
            elif name in seen:
                errs.append(errors.duplicate(child(p, "name"), name))
            else:
                seen.add(name)
        container_port = as_int(port.get("containerPort")) or 0
        if container_port == 0:
            errs.append(errors.required(child(p, "containerPort")))
        else:
            errs += [errors.invalid_value(child(p, "containerPort"), container_port, m)
                     for m in names.is_valid_port_num(container_port)]
        host_port = as_int(port.get("hostPort")) or 0
        if host_port:
            errs += [errors.invalid_value(child(p, "hostPort"), host_port, m) for m in names.is_valid_port_num(host_port)]
        errs += validate_protocol(port.get("protocol"), child(p, "protocol"))
    return errs


def validate_protocol(protocol: Any, path: str) -> Errs:
    proto = as_str(protocol)
    if not proto:
        return [errors.required(path)]
    if proto not in PROTOCOLS:
        return [errors.not_supported(path, proto, PROTOCOLS)]
    return []


def validate_port_num_or_name(port: Any, path: str) -> Errs:
    """An IntOrString port: 1-65535, or an IANA service name."""
    if isinstance(port, str):
        return [errors.invalid_value(path, port, m) for m in names.is_valid_port_name(port)]
    n = as_int(port) or 0
    return [errors.invalid_value(path, n, m) for m in names.is_valid_port_num(n)]


def host_port_conflicts(containers: list[dict[str, Any]], path: str) -> Errs:
    """AccumulateUniqueHostPorts: one (protocol, hostIP, hostPort) per pod."""
    errs: Errs = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(dicts(c.get("ports"))):
            host_port = as_int(port.get("hostPort")) or 0
            if not host_port:
                continue
            k = f"{as_str(port.get('protocol'))}/{as_str(port.get('hostIP'))}/{host_port}"
            if k in seen:
                errs.append(errors.duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), k))
            seen.add(k)
    return errs


# -- environment ----------------------------------------------------------------------


def validate_env(env: Any, path: str) -> Errs:
    errs: Errs = []
    for i, ev in enumerate(dicts(env)):
        p = index(path, i)
        name = as_str(ev.get("name"))
        if not name:
            errs.append(errors.required(child(p, "name")))
        else:
            errs += [errors.invalid_value(child(p, "name"), name, m) for m in names.is_relaxed_env_var_name(name)]
        errs += _validate_value_from(ev, child(p, "valueFrom"))
    return errs


def _validate_value_from(ev: dict[str, Any], path: str) -> Errs:
    value_from = ev.get("valueFrom")
    if not isinstance(value_from, dict):
        return []
    errs: Errs = []
    sources = 0
    if isinstance(value_from.get("fieldRef"), dict):
        sources += 1
        ref = value_from["fieldRef"]
        fp = child(path, "fieldRef")
        if not as_str(ref.get("apiVersion")):
            errs.append(errors.required(child(fp, "apiVersion")))
        elif not as_str(ref.get("fieldPath")):
            errs.append(errors.required(child(fp, "fieldPath")))
        else:
            errs += _validate_field_ref_path(as_str(ref.get("fieldPath")), fp)
    if isinstance(value_from.get("resourceFieldRef"), dict):
        sources += 1
        res = as_str(value_from["resourceFieldRef"].get("resource"))
        rp = child(path, "resourceFieldRef")
        if not res:
            errs.append(errors.required(child(rp, "resource")))
        elif res not in RESOURCE_FIELD_PATHS and not res.startswith(("requests.hugepages-", "limits.hugepages-")):
            errs.append(errors.not_supported(child(rp, "resource"), res, RESOURCE_FIELD_PATHS))
    for ref_kind in ("configMapKeyRef", "secretKeyRef"):
        if isinstance(value_from.get(ref_kind), dict):
            sources += 1
            errs += _validate_key_selector(value_from[ref_kind], child(path, ref_kind))
    if sources == 0:
        errs.append(errors.invalid_value(
            path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
    elif as_str(ev.get("value")):
        errs.append(errors.invalid_value(path, "", "may not be specified when `value` is not empty"))
    elif sources > 1:
        errs.append(errors.invalid_value(path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_field_ref_path(field_path: str, path: str) -> Errs:
    if field_path.endswith("]") and "[" in field_path:
        base, _, subscript = field_path[:-1].partition("[")
        subscript = subscript.strip("'\"")
        if base == "metadata.annotations":
            return [errors.invalid_value(path, subscript.lower(), m) for m in names.is_qualified_name(subscript.lower())]
        if base == "metadata.labels":
            return [errors.invalid_value(path, subscript, m) for m in names.is_qualified_name(subscript)]
        return [errors.invalid_value(path, base, "does not support subscript")]
    if field_path not in ENV_FIELD_PATHS:
        return [errors.not_supported(child(path, "fieldPath"), field_path, ENV_FIELD_PATHS)]
    return []


def _validate_key_selector(sel: dict[str, Any], path: str) -> Errs:
    name = as_str(sel.get("name"))
    errs = [errors.invalid_value(child(path, "name"), name, m) for m in names.is_dns1123_subdomain(name)]
    k = as_str(sel.get("key"))
    if not k:
        errs.append(errors.required(child(path, "key")))
    else:
        errs += [errors.invalid_value(child(path, "key"), k, m) for m in names.is_config_map_key(k)]
    return errs


def validate_env_from(env_from: Any, path: str) -> Errs:
    errs: Errs = []
    for i, ev in enumerate(dicts(env_from)):
        p = index(path, i)
        prefix = as_str(ev.get("prefix"))
        if prefix:
            errs += [errors.invalid_value(child(p, "prefix"), prefix, m) for m in names.is_relaxed_env_var_name(prefix)]
        sources = 0
        for ref_kind in ("configMapRef", "secretRef"):
            ref = ev.get(ref_kind)
            if isinstance(ref, dict):
                sources += 1
                name = as_str(ref.get("name"))
                if not name:
                    errs.append(errors.required(child(p, ref_kind, "name")))
                else:
                    # checked as a generateName prefix upstream: a trailing '-' is allowed
                    masked = name[:-1] + "a" if name.endswith("-") else name
                    errs += [errors.invalid_value(child(p, ref_kind, "name"), name, m)
                             for m in names.is_dns1123_subdomain(masked)]
        if sources == 0:
            errs.append(errors.invalid_value(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif sources > 1:
            errs.append(errors.invalid_value(path, "", "may not have more than one field specified at a time"))
    return errs


# -- volume mounts ---------------------------------------------------------------------


def validate_volume_mounts(container: dict[str, Any], volumes: set[str], path: str) -> Errs:
    errs: Errs = []
    mount_points: set[str] = set()
    devices = {as_str(d.get("name")): as_str(d.get("devicePath")) for d in dicts(container.get("volumeDevices"))}
    for i, m in enumerate(dicts(container.get("volumeMounts"))):
        p = index(path, i)
        name, mount_path = as_str(m.get("name")), as_str(m.get("mountPath"))
        if not name:
            errs.append(errors.required(child(p, "name")))
        if name not in volumes:
            errs.append(not_found(child(p, "name"), name))
        if not mount_path:
            errs.append(errors.required(child(p, "mountPath")))
        if mount_path in mount_points:
            errs.append(errors.invalid_value(child(p, "mountPath"), mount_path, "must be unique"))
        mount_points.add(mount_path)
        if name in devices:
            errs.append(errors.invalid_value(child(p, "name"), name, "must not already exist in volumeDevices"))
        if mount_path in devices.values():
            errs.append(errors.invalid_value(child(p, "mountPath"), mount_path,
                                             "must not already exist as a path in volumeDevices"))
        # upstream reports sub-path problems at the list's path, not the item's
        sub_path, sub_expr = as_str(m.get("subPath")), as_str(m.get("subPathExpr"))
        if sub_path:
            errs += validate_local_descending_path(sub_path, child(path, "subPath"))
        if sub_expr:
            if sub_path:
                errs.append(errors.invalid_value(child(p, "subPathExpr"), sub_expr,
                                                 "subPathExpr and subPath are mutually exclusive"))
            errs += validate_local_descending_path(sub_expr, child(path, "subPathExpr"))
        propagation = m.get("mountPropagation")
        if propagation is not None:
            allowed = ["Bidirectional", "HostToContainer", "None"]
            if propagation not in allowed:
                errs.append(errors.not_supported(child(path, "mountPropagation"), propagation, allowed))
            privileged = as_dict(container.get("securityContext")).get("privileged") is True
            if propagation == "Bidirectional" and not privileged:
                errs.append(errors.forbidden_field(
                    child(path, "mountPropagation"),
                    "Bidirectional mount propagation is available only to privileged containers"))
    return errs


def validate_local_descending_path(target: str, path: str) -> Errs:
    """A relative path without '..' elements."""
    errs: Errs = []
    if target.startswith("/"):
        errs.append(errors.invalid_value(path, target, "must be a relative path"))
    if ".." in target.replace("\\", "/").split("/"):
        errs.append(errors.invalid_value(path, target, "must not contain '..'"))
    return errs


# -- probes and lifecycle ----------------------------------------------------------------


def _validate_handler(handler: dict[str, Any], grace: int | None, path: str, kinds: tuple[str, ...]) -> Errs:
    errs: Errs = []
    count = 0
    for kind in kinds:
        action = handler.get(kind)
        if not isinstance(action, dict):
            continue
        p = child(path, kind)
        if count:
            errs.append(errors.forbidden_field(p, "may not specify more than 1 handler type"))
            continue
        count += 1
        if kind == "exec" and not as_list(action.get("command")):
            errs.append(errors.required(child(p, "command")))
        elif kind == "httpGet":
            if not as_str(action.get("path")):
                errs.append(errors.required(child(p, "path")))
            errs += validate_port_num_or_name(action.get("port"), child(p, "port"))
            scheme = as_str(action.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                errs.append(errors.not_supported(child(p, "scheme"), scheme, ["HTTP", "HTTPS"]))
            for h in dicts(action.get("httpHeaders")):
                hn = as_str(h.get("name"))
                errs += [errors.invalid_value(child(p, "httpHeaders"), hn, m) for m in names.is_http_header_name(hn)]
        elif kind == "tcpSocket":
            errs += validate_port_num_or_name(action.get("port"), child(p, "port"))
        elif kind == "grpc":
            errs += validate_port_num_or_name(as_int(action.get("port")) or 0, child(p, "port"))
        elif kind == "sleep":
            seconds = as_int(action.get("seconds")) or 0
            if grace is not None and (seconds < 0 or seconds > grace):
                errs.append(errors.invalid_value(
                    p, seconds, f"must be non-negative and less than terminationGracePeriodSeconds ({grace})"))
    if count == 0:
        errs.append(errors.required(path, "must specify a handler type"))
    return errs


PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")


def validate_probe(probe: Any, grace: int | None, path: str, kind: str) -> Errs:
    """A liveness, readiness or startup probe (``kind``)."""
    if not isinstance(probe, dict):
        return []
    errs = _validate_handler(probe, grace, path, PROBE_HANDLERS)
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += nonnegative(probe.get(f), child(path, f))
    tgp = as_int(probe.get("terminationGracePeriodSeconds"))
    if tgp is not None and tgp <= 0:
        errs.append(errors.invalid_value(child(path, "terminationGracePeriodSeconds"), tgp, "must be greater than 0"))
    if kind in ("liveness", "startup"):
        success = as_int(probe.get("successThreshold"))
        if success is not None and success != 1:
            errs.append(errors.invalid_value(child(path, "successThreshold"), success, "must be 1"))
    elif "terminationGracePeriodSeconds" in probe and probe["terminationGracePeriodSeconds"] is not None:
        errs.append(errors.invalid_value(child(path, "terminationGracePeriodSeconds"),
                                         probe["terminationGracePeriodSeconds"],
                                         "must not be set for readinessProbes"))
    return errs


def validate_probes_and_hooks(c: dict[str, Any], grace: int | None, path: str) -> Errs:
    errs: Errs = []
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                errs += _validate_handler(lifecycle[hook], grace, child(path, "lifecycle", hook), LIFECYCLE_HANDLERS)
    for kind in ("liveness", "readiness", "startup"):
        errs += validate_probe(c.get(f"{kind}Probe"), grace, child(path, f"{kind}Probe"), kind)
    return errs


# -- the container as a whole -------------------------------------------------------------


def validate_security_context(sc: Any, path: str) -> Errs:
    if not isinstance(sc, dict):
        return []
    errs: Errs = []
    for f in ("runAsUser", "runAsGroup"):
        n = as_int(sc.get(f))
        if n is not None:
            errs += [errors.invalid_value(child(path, f), n, m) for m in names.is_valid_user_id(n)]
    proc_mount = sc.get("procMount")
    if proc_mount is not None and proc_mount not in ("Default", "Unmasked"):
        errs.append(errors.not_supported(child(path, "procMount"), proc_mount, ["Default", "Unmasked"]))
    if sc.get("allowPrivilegeEscalation") is False and sc.get("privileged") is True:
        errs.append(errors.invalid_value(path, sc, "cannot set `allowPrivilegeEscalation` to false and "
                                                   "`privileged` to true"))
    return errs


def validate_container_common(c: dict[str, Any], volumes: set[str], pod_claims: set[str], path: str,
                              restart_policy: str) -> Errs:
    errs: Errs = []
    name = as_str(c.get("name"))
    if not name:
        errs.append(errors.required(child(path, "name")))
    else:
        errs += validate_dns1123_label(name, child(path, "name"))
    if not as_str(c.get("image")):
        errs.append(errors.required(child(path, "image")))
    policy = as_str(c.get("terminationMessagePolicy"))
    if not policy:
        errs.append(errors.required(child(path, "terminationMessagePolicy")))
    elif policy not in TERMINATION_MESSAGE_POLICIES:
        errs.append(errors.not_supported(child(path, "terminationMessagePolicy"), policy, TERMINATION_MESSAGE_POLICIES))
    errs += validate_container_ports(c.get("ports"), child(path, "ports"))
    errs += validate_env(c.get("env"), child(path, "env"))
    errs += validate_env_from(c.get("envFrom"), child(path, "envFrom"))
    errs += validate_volume_mounts(c, volumes, child(path, "volumeMounts"))
    pull = as_str(c.get("imagePullPolicy"))
    if not pull:
        errs.append(errors.required(child(path, "imagePullPolicy")))
    elif pull not in PULL_POLICIES:
        errs.append(errors.not_supported(child(path, "imagePullPolicy"), pull, PULL_POLICIES))
    errs += validate_resource_requirements(c.get("resources"), child(path, "resources"), pod_claims)
    errs += _validate_resize_policy(c.get("resizePolicy"), child(path, "resizePolicy"), restart_policy)
    errs += validate_security_context(c.get("securityContext"), child(path, "securityContext"))
    return errs


def _validate_resize_policy(policies: Any, path: str, restart_policy: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, p in enumerate(dicts(policies)):
        resource, restart = as_str(p.get("resourceName")), as_str(p.get("restartPolicy"))
        if resource in seen:
            errs.append(errors.duplicate(index(path, i), resource))
        seen.add(resource)
        if not resource:
            errs.append(errors.required(path))
        elif resource not in ("cpu", "memory"):
            errs.append(errors.not_supported(path, resource, ["cpu", "memory"]))
        if not restart:
            errs.append(errors.required(path))
        elif restart not in ("NotRequired", "RestartContainer"):
            errs.append(errors.not_supported(path, restart, ["NotRequired", "RestartContainer"]))
        if restart_policy == "Never" and restart != "NotRequired":
            errs.append(errors.invalid_value(path, restart, "must be 'NotRequired' when `restartPolicy` is 'Never'"))
    return errs


def validate_containers(containers: Any, volumes: set[str], pod_claims: set[str], grace: int | None, path: str,
                        restart_policy: str) -> Errs:
    items = dicts(containers)
    if not items:
        return [errors.required(path)]
    errs: Errs = []
    seen: set[str] = set()
    for i, c in enumerate(items):
        p = index(path, i)
        errs += validate_container_common(c, volumes, pod_claims, p, restart_policy)
        name = as_str(c.get("name"))
        if name in seen:
            errs.append(errors.duplicate(child(p, "name"), name))
        seen.add(name)
        errs += validate_probes_and_hooks(c, grace, p)
        if c.get("restartPolicy") is not None:
            errs.append(errors.forbidden_field(child(p, "restartPolicy"), "may not be set for non-init containers"))
    return errs + host_port_conflicts(items, path)


def validate_init_containers(init: Any, regular: Any, volumes: set[str], pod_claims: set[str], grace: int | None,
                             path: str, restart_policy: str) -> Errs:
    errs: Errs = []
    seen = {as_str(c.get("name")) for c in dicts(regular)}
    for i, c in enumerate(dicts(init)):
        p = index(path, i)
        errs += validate_container_common(c, volumes, pod_claims, p, restart_policy)
        restartable = False
        if c.get("restartPolicy") is not None:
            if c["restartPolicy"] != "Always":
                errs.append(errors.not_supported(child(p, "restartPolicy"), c["restartPolicy"], ["Always"]))
            restartable = c["restartPolicy"] == "Always"
        name = as_str(c.get("name"))
        if name in seen:
            errs.append(errors.duplicate(child(p, "name"), name))
        elif name:
            seen.add(name)
        # init containers run one at a time: their host ports only collide with themselves
        errs += host_port_conflicts([c], path)
        if restartable:
            errs += validate_probes_and_hooks(c, grace, p)
        else:
            for f in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(f) is not None:
                    errs.append(errors.forbidden_field(child(p, f),
                                                       "may not be set for init containers without restartPolicy=Always"))
        if as_list(c.get("resizePolicy")):
            errs.append(errors.invalid_value(child(p, "resizePolicy"), c["resizePolicy"],
                                             "must not be set for init containers"))
    return errs
