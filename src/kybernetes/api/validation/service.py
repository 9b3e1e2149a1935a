"""Services: ports, type-dependent fields, cluster IPs and their update rules.

Mirrors upstream's ``ValidateService``: ports are required unless the
service is headless or an ExternalName; with more than one port each needs a
unique DNS-label name; (protocol, port) pairs and node ports are unique;
``type``, ``sessionAffinity``, traffic policies and ``loadBalancer*`` fields
must fit the type.  On update the cluster IPs may not change once set, nor
the IP families or the load balancer class.

Node port ranges and IP allocation are the allocator's business, and in this
server they run *after* validation (upstream allocates first).  So a service
whose ``clusterIP`` is set but ``clusterIPs`` not yet synced, or a
LoadBalancer with ``externalTrafficPolicy: Local`` whose health check port is
still 0, is not an error here.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import golang, names
from kybernetes.api.validation.containers import (
    validate_dns1123_label,
    validate_port_num_or_name,
    validate_protocol,
)
from kybernetes.api.validation.endpoints import validate_non_special_ip
from kybernetes.api.validation.field import Errs, as_dict, as_int, as_list, as_str, child, dicts, index
from kybernetes.api.validation.meta import validate_labels, validate_object_meta, validate_object_meta_update
from kybernetes.api.validation.scheduling import validate_qualified_name

TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
AFFINITIES = ["ClientIP", "None"]
IP_FAMILIES = ["IPv4", "IPv6"]
IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]
TRAFFIC_POLICIES = ["Cluster", "Local"]
KUBELET_PORT = 10250
MAX_AFFINITY_SECONDS = 86400
SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


def cluster_ips(spec: dict[str, Any]) -> list[str]:
    """``clusterIPs``, or ``[clusterIP]`` when only the singular field is set (not yet synced)."""
    ips = [as_str(ip) for ip in as_list(spec.get("clusterIPs"))]
    if not ips and as_str(spec.get("clusterIP")):
        ips = [as_str(spec.get("clusterIP"))]
    return ips


def is_headless(spec: dict[str, Any]) -> bool:
    return cluster_ips(spec) == ["None"]


def _externally_accessible(spec: dict[str, Any]) -> bool:
    t = spec.get("type")
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(as_list(spec.get("externalIPs"))))


def _validate_port(port: dict[str, Any], require_name: bool, seen: set[str], path: str) -> Errs:
    errs: Errs = []
    name = as_str(port.get("name"))
    if require_name and not name:
        errs.append(errors.required(child(path, "name")))
    elif name:
        errs += validate_dns1123_label(name, child(path, "name"))
        if name in seen:
            errs.append(errors.duplicate(child(path, "name"), name))
        seen.add(name)
    number = as_int(port.get("port")) or 0
    errs += [errors.invalid_value(child(path, "port"), number, m) for m in names.is_valid_port_num(number)]
    errs += validate_protocol(port.get("protocol"), child(path, "protocol"))
    errs += validate_port_num_or_name(port.get("targetPort"), child(path, "targetPort"))
    if port.get("appProtocol") is not None:
        errs += validate_qualified_name(as_str(port.get("appProtocol")), child(path, "appProtocol"))
    return errs


def _validate_type_fields(spec: dict[str, Any]) -> Errs:
    errs: Errs = []
    kind, ports, ips = spec.get("type"), dicts(spec.get("ports")), cluster_ips(spec)
    if kind == "LoadBalancer":
        for i, port in enumerate(ports):
            if as_int(port.get("port")) == KUBELET_PORT:
                errs.append(errors.invalid_value(index("spec.ports", i), KUBELET_PORT, "may not expose port 10250 "
                                                 "externally since it is used by kubelet"))
    if kind in ("LoadBalancer", "NodePort") and is_headless(spec):
        errs.append(errors.invalid_value("spec.clusterIPs[0]", ips[0],
                                         f"may not be set to 'None' for {kind} services"))
    if kind == "ExternalName":
        for f in ("clusterIPs", "ipFamilies"):
            if as_list(spec.get(f)):
                errs.append(errors.forbidden_field(f"spec.{f}", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(errors.forbidden_field("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = as_str(spec.get("externalName")).removesuffix(".")  # a trailing dot marks it fully qualified
        if cname:
            errs += [errors.invalid_value("spec.externalName", cname, m) for m in names.is_dns1123_subdomain(cname)]
        else:
            errs.append(errors.required("spec.externalName"))
    return errs


def _validate_session_affinity(spec: dict[str, Any]) -> Errs:
    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity:
        return [errors.required("spec.sessionAffinity")]
    if affinity not in AFFINITIES:
        return [errors.not_supported("spec.sessionAffinity", affinity, AFFINITIES)]
    config = spec.get("sessionAffinityConfig")
    if affinity == "None":
        if config is not None:
            return [errors.forbidden_field("spec.sessionAffinityConfig", "must not be set when session affinity is None")]
        return []
    when = "when session affinity type is ClientIP"
    if not isinstance(config, dict):
        return [errors.required("spec.sessionAffinityConfig", when)]
    client_ip = config.get("clientIP")
    if not isinstance(client_ip, dict):
        return [errors.required("spec.sessionAffinityConfig.clientIP", when)]
    timeout = client_ip.get("timeoutSeconds")
    if timeout is None:
        return [errors.required("spec.sessionAffinityConfig.clientIP.timeoutSeconds", when)]
    t = as_int(timeout) or 0
    if not 0 < t <= MAX_AFFINITY_SECONDS:
        return [errors.invalid_value("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
                                     f"must be greater than 0 and less than {MAX_AFFINITY_SECONDS}")]
    return []


def validate_cluster_ips(spec: dict[str, Any]) -> Errs:
    """ValidateServiceClusterIPsRelatedFields."""
    if spec.get("type") == "ExternalName":
        return []
    errs: Errs = []
    ips = cluster_ips(spec)
    cluster_ip = as_str(spec.get("clusterIP"))
    if cluster_ip and ips and ips[0] != cluster_ip:
        errs.append(errors.invalid_value("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    elif not cluster_ip and ips:
        errs.append(errors.invalid_value("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified"))
    families = [as_str(f) for f in as_list(spec.get("ipFamilies"))]
    for i, fam in enumerate(families):
        if fam not in IP_FAMILIES:
            errs.append(errors.not_supported(index("spec.ipFamilies", i), fam, IP_FAMILIES))
        if fam in families[:i]:
            errs.append(errors.duplicate(index("spec.ipFamilies", i), fam))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(errors.not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    bad = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad = True
                errs.append(errors.invalid_value("spec.clusterIPs", ips, "'None' must be the first and only value"))
            continue
        msgs = names.is_valid_ip(ip)
        bad = bad or bool(msgs)
        errs += [errors.invalid_value(index("spec.clusterIPs", i), ip, m) for m in msgs]
    if len(ips) > 2:
        errs.append(errors.invalid_value("spec.clusterIPs", ips, "may only hold up to 2 values"))
    if bad:
        return errs
    parsed = [names.parse_ip(ip) for ip in ips]
    if len(ips) > 1 and len({p.version for p in parsed if p is not None}) != len(ips):
        errs.append(errors.invalid_value("spec.clusterIPs", ips, "may specify no more than one IP for each IP family"))
    if not is_headless(spec):
        for i, (ip, p) in enumerate(zip(ips, parsed, strict=True)):
            if i >= len(families) or p is None:
                break
            want = 4 if families[i] == "IPv4" else 6
            if families[i] in IP_FAMILIES and p.version != want:
                errs.append(errors.invalid_value(index("spec.clusterIPs", i), ip,
                                                 f"expected an IPv{want} value as indicated by `ipFamilies[{i}]`"))
    return errs


def _validate_traffic_policies(spec: dict[str, Any]) -> Errs:
    errs: Errs = []
    etp = as_str(spec.get("externalTrafficPolicy"))
    if not _externally_accessible(spec):
        if etp:
            errs.append(errors.invalid_value("spec.externalTrafficPolicy", etp,
                                             "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(errors.required("spec.externalTrafficPolicy"))
    elif etp not in TRAFFIC_POLICIES:
        errs.append(errors.not_supported("spec.externalTrafficPolicy", etp, TRAFFIC_POLICIES))
    health = as_int(spec.get("healthCheckNodePort")) or 0
    needs_health = spec.get("type") == "LoadBalancer" and etp == "Local"
    if not needs_health and health:
        errs.append(errors.invalid_value("spec.healthCheckNodePort", health,
                                         "may only be set when `type` is 'LoadBalancer' and "
                                         "`externalTrafficPolicy` is 'Local'"))
    elif needs_health and health:
        errs += [errors.invalid_value("spec.healthCheckNodePort", health, m) for m in names.is_valid_port_num(health)]
    itp = spec.get("internalTrafficPolicy")
    if itp is None and spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
        errs.append(errors.required("spec.internalTrafficPolicy"))
    elif itp is not None and itp not in TRAFFIC_POLICIES:
        errs.append(errors.not_supported("spec.internalTrafficPolicy", itp, TRAFFIC_POLICIES))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution != "PreferClose":
        errs.append(errors.not_supported("spec.trafficDistribution", distribution, ["PreferClose"]))
    return errs


def _validate_load_balancer_fields(spec: dict[str, Any], annotations: dict[str, Any]) -> Errs:
    errs: Errs = []
    is_lb = spec.get("type") == "LoadBalancer"
    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    if ranges:
        if not is_lb:
            errs.append(errors.forbidden_field("spec.LoadBalancerSourceRanges",
                                               "may only be used when `type` is 'LoadBalancer'"))
        for i, r in enumerate(ranges):
            value = as_str(r).strip()  # space padding is tolerated for historical reasons
            errs += [errors.invalid_value(index("spec.LoadBalancerSourceRanges", i), value, m)
                     for m in names.is_valid_cidr(value)]
    elif SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"
        if not is_lb:
            errs.append(errors.forbidden_field(path, "may only be used when `type` is 'LoadBalancer'"))
        value = as_str(annotations[SOURCE_RANGES_ANNOTATION]).strip()
        for cidr in value.split(",") if value else []:
            errs += [errors.invalid_value(path, cidr.strip(), m) for m in names.is_valid_cidr(cidr.strip())]
    if spec.get("allocateLoadBalancerNodePorts") is not None and not is_lb:
        errs.append(errors.forbidden_field("spec.allocateLoadBalancerNodePorts",
                                           "may only be used when `type` is 'LoadBalancer'"))
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if is_lb:
            errs += validate_qualified_name(as_str(lb_class), "spec.loadBalancerClass")
        else:
            errs.append(errors.forbidden_field("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
    return errs


def validate_service(svc: dict[str, Any]) -> Errs:
    annotations = as_dict(as_dict(svc.get("metadata")).get("annotations"))
    spec = as_dict(svc.get("spec"))
    errs = validate_object_meta(svc, True, names.name_is_dns1035_label)
    ports = dicts(spec.get("ports"))
    kind = as_str(spec.get("type"))
    if not ports and not is_headless(spec) and kind != "ExternalName":
        errs.append(errors.required("spec.ports"))
    errs += _validate_type_fields(spec)
    seen: set[str] = set()
    for i, port in enumerate(ports):
        errs += _validate_port(port, len(ports) > 1, seen, index("spec.ports", i))
    if spec.get("selector") is not None:
        errs += validate_labels(spec.get("selector"), "spec.selector")
    errs += _validate_session_affinity(spec)
    errs += validate_cluster_ips(spec)
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        p = index("spec.externalIPs", i)
        msgs = names.is_valid_ip(as_str(ip))
        errs += [errors.invalid_value(p, ip, m) for m in msgs] if msgs else validate_non_special_ip(as_str(ip), p)
    if not kind:
        errs.append(errors.required("spec.type"))
    elif kind not in TYPES:
        errs.append(errors.not_supported("spec.type", kind, TYPES))
    node_ports: set[tuple[str, int]] = set()
    port_keys: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        p, proto = index("spec.ports", i), as_str(port.get("protocol"))
        node_port, number = as_int(port.get("nodePort")) or 0, as_int(port.get("port")) or 0
        if kind == "ClusterIP" and node_port:
            errs.append(errors.forbidden_field(child(p, "nodePort"), "may not be used when `type` is 'ClusterIP'"))
        if node_port:
            if (proto, node_port) in node_ports:
                errs.append(errors.duplicate(child(p, "nodePort"), node_port))
            node_ports.add((proto, node_port))
        if (proto, number) in port_keys:
            errs.append(errors.duplicate(p, golang.service_port(proto, number)))
        port_keys.add((proto, number))
    errs += _validate_load_balancer_fields(spec, annotations)
    return errs + _validate_traffic_policies(spec)


def _validate_ip_updates(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    if "ExternalName" in (new.get("type"), old.get("type")) or (is_headless(new) and is_headless(old)):
        return []
    errs: Errs = []
    new_ips, old_ips = cluster_ips(new), cluster_ips(old)
    if len(new_ips) == len(old_ips):
        for i, ip in enumerate(old_ips):
            if ip != new_ips[i]:
                errs.append(errors.invalid_value(index("spec.clusterIPs", i), new_ips, "may not change once set"))
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(errors.invalid_value("spec.clusterIPs[0]", new_ips, "primary clusterIP can not be unset"))
        elif new_ips[0] != old_ips[0]:
            errs.append(errors.invalid_value("spec.clusterIPs[0]", new_ips, "may not change once set"))
        if len(new_ips) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            errs.append(errors.invalid_value("spec.ipFamilyPolicy", new.get("ipFamilyPolicy"),
                                             "must be set to 'SingleStack' when releasing the secondary clusterIP"))
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(errors.invalid_value("spec.clusterIPs[0]", new_ips, "may not change once set"))
    if is_headless(new) != is_headless(old) or is_headless(new):
        return errs
    new_fams, old_fams = as_list(new.get("ipFamilies")), as_list(old.get("ipFamilies"))
    if len(new_fams) == len(old_fams):
        if new_fams != old_fams:
            errs.append(errors.invalid_value("spec.ipFamilies[0]", new_fams, "may not change once set"))
    elif len(old_fams) > len(new_fams):
        if new_fams and new_fams[0] != old_fams[0]:
            errs.append(errors.invalid_value("spec.ipFamilies[0]", new_ips, "may not change once set"))
        if len(new_fams) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            errs.append(errors.invalid_value("spec.ipFamilyPolicy", new.get("ipFamilyPolicy"),
                                             "must be set to 'SingleStack' when releasing the secondary ipFamily"))
    elif old_fams and new_fams[0] != old_fams[0]:
        errs.append(errors.invalid_value("spec.ipFamilies[0]", new_ips, "may not change once set"))
    return errs


def validate_service_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    errs = validate_object_meta_update(new, old)
    errs += _validate_ip_updates(ns, os_)
    if ns.get("type") == os_.get("type") == "LoadBalancer" and ns.get("loadBalancerClass") != os_.get("loadBalancerClass"):
        errs.append(errors.invalid_value("spec.loadBalancerClass", ns.get("loadBalancerClass"), "may not change once set"))
    old_health = os_.get("type") == "LoadBalancer" and os_.get("externalTrafficPolicy") == "Local"
    new_health = ns.get("type") == "LoadBalancer" and ns.get("externalTrafficPolicy") == "Local"
    if old_health and new_health and ns.get("healthCheckNodePort") != os_.get("healthCheckNodePort"):
        errs.append(errors.forbidden_field("spec.healthCheckNodePort", "field is immutable"))
    return errs + validate_service(new)


def validate_service_status_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    spec = as_dict(new.get("spec"))
    ingress = dicts(as_dict(as_dict(new.get("status")).get("loadBalancer")).get("ingress"))
    if ingress and spec.get("type") != "LoadBalancer":
        return [*errs, errors.forbidden_field("status.loadBalancer.ingress", "may only be used when `spec.type` is 'LoadBalancer'")]
    for i, ing in enumerate(ingress):
        p = index("status.loadBalancer.ingress", i)
        ip, mode, host = as_str(ing.get("ip")), ing.get("ipMode"), as_str(ing.get("hostname"))
        if ip:
            errs += [errors.invalid_value(child(p, "ip"), ip, m) for m in names.is_valid_ip(ip)]
        if mode is not None and not ip:
            errs.append(errors.forbidden_field(child(p, "ipMode"), "may not be specified when `ip` is not set"))
        elif mode is not None and mode not in ("Proxy", "VIP"):
            errs.append(errors.not_supported(child(p, "ipMode"), mode, ["Proxy", "VIP"]))
        if host:
            errs += [errors.invalid_value(child(p, "hostname"), host, m) for m in names.is_dns1123_subdomain(host)]
            if names.parse_ip(host) is not None:
                errs.append(errors.invalid_value(child(p, "hostname"), host, "must be a DNS name, not an IP address"))
    return errs
