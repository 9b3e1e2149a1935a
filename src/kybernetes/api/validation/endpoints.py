"""Endpoints (core/v1) and EndpointSlices (discovery.k8s.io/v1).

Both carry addresses the service proxy will route to, so besides format they
reject "special" IPs: unspecified, loopback, link-local unicast and
link-local multicast addresses make no sense as a backend (and link-local is
where cloud metadata services live).

Endpoints: every subset needs an address (ready or not); each address is a
valid non-special IP with optional DNS-label hostname and node name; ports are
named when there is more than one.  EndpointSlices: an ``addressType``
(IPv4, IPv6 or FQDN, immutable), at most 1000 endpoints of 1 to 100 addresses
each checked by that type, at most 100 uniquely named ports.

Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import names
from kybernetes.api.validation.containers import validate_dns1123_label, validate_protocol
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
)
from kybernetes.api.validation.meta import validate_labels, validate_object_meta, validate_object_meta_update
from kybernetes.api.validation.scheduling import validate_qualified_name

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
MAX_ENDPOINTS, MAX_ADDRESSES, MAX_PORTS, MAX_TOPOLOGY_LABELS = 1000, 100, 100, 16

_LINK_LOCAL_MULTICAST = (ipaddress.ip_network("224.0.0.0/24"), ipaddress.ip_network("ff02::/16"))


def validate_non_special_ip(value: str, path: str) -> Errs:
    ip = names.parse_ip(value)
    if ip is None:
        return [errors.invalid_value(path, value, "must be a valid IP address")]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # Go judges ::ffff:a.b.c.d as the IPv4 address
    errs: Errs = []
    if ip.is_unspecified:
        errs.append(errors.invalid_value(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(errors.invalid_value(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local and not ip.is_multicast:
        errs.append(errors.invalid_value(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if any(ip in net for net in _LINK_LOCAL_MULTICAST if net.version == ip.version):
        errs.append(errors.invalid_value(path, value,
                                         "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def _validate_port(port: dict[str, Any], require_name: bool, path: str) -> Errs:
    errs: Errs = []
    name = as_str(port.get("name"))
    if require_name and not name:
        errs.append(errors.required(child(path, "name")))
    elif name:
        errs += validate_dns1123_label(name, child(path, "name"))
    number = as_int(port.get("port")) or 0
    errs += [errors.invalid_value(child(path, "port"), number, m) for m in names.is_valid_port_num(number)]
    errs += validate_protocol(port.get("protocol"), child(path, "protocol"))
    if port.get("appProtocol") is not None:
        errs += validate_qualified_name(as_str(port.get("appProtocol")), child(path, "appProtocol"))
    return errs


def _validate_address(addr: dict[str, Any], path: str) -> Errs:
    ip = as_str(addr.get("ip"))
    errs = [errors.invalid_value(child(path, "ip"), ip, m) for m in names.is_valid_ip(ip)]
    hostname = as_str(addr.get("hostname"))
    if hostname:
        errs += validate_dns1123_label(hostname, child(path, "hostname"))
    node = addr.get("nodeName")
    if node is not None:
        errs += [errors.invalid_value(child(path, "nodeName"), node, m) for m in names.is_dns1123_subdomain(as_str(node))]
    return errs + validate_non_special_ip(ip, child(path, "ip"))


def validate_endpoints(obj: dict[str, Any]) -> Errs:
    errs = validate_object_meta(obj, True, names.name_is_dns_subdomain)
    for i, subset in enumerate(dicts(obj.get("subsets"))):
        p = index("subsets", i)
        addresses, not_ready = dicts(subset.get("addresses")), dicts(subset.get("notReadyAddresses"))
        if not addresses and not not_ready:
            errs.append(errors.required(p, "must specify `addresses` or `notReadyAddresses`"))
        for j, a in enumerate(addresses):
            errs += _validate_address(a, index(child(p, "addresses"), j))
        for j, a in enumerate(not_ready):
            errs += _validate_address(a, index(child(p, "notReadyAddresses"), j))
        ports = dicts(subset.get("ports"))
        for j, port in enumerate(ports):
            errs += _validate_port(port, len(ports) > 1, index(child(p, "ports"), j))
    return errs


def validate_endpoints_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    return validate_object_meta_update(new, old) + validate_endpoints(new)


# -- EndpointSlice ------------------------------------------------------------------------


def _slice_address(address: str, address_type: str, path: str) -> Errs:
    if address_type in ("IPv4", "IPv6"):
        ip = names.parse_ip(address)
        want = 4 if address_type == "IPv4" else 6
        if ip is None or ip.version != want:
            return [errors.invalid_value(path, address, f"must be a valid {address_type} address")]
        return validate_non_special_ip(address, path)
    if address_type == "FQDN":
        if not address:
            return [errors.required(path)]
        return [errors.invalid_value(path, address, m) for m in names.is_fully_qualified_domain_name(address)]
    return []  # unknown types are reported at addressType and not judged further


def _validate_slice_endpoints(endpoints: Any, address_type: str) -> Errs:
    items = dicts(endpoints)
    if len(items) > MAX_ENDPOINTS:
        return [errors.too_many("endpoints", len(items), MAX_ENDPOINTS)]
    errs: Errs = []
    for i, ep in enumerate(items):
        p = index("endpoints", i)
        addresses = as_list(ep.get("addresses"))
        if not addresses:
            errs.append(errors.required(child(p, "addresses"), "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(errors.too_many(child(p, "addresses"), len(addresses), MAX_ADDRESSES))
        for j, a in enumerate(addresses):
            errs += _slice_address(as_str(a), address_type, index(child(p, "addresses"), j))
        topology = as_dict(ep.get("deprecatedTopology"))
        if len(topology) > MAX_TOPOLOGY_LABELS:
            errs.append(errors.too_many(child(p, "deprecatedTopology"), len(topology), MAX_TOPOLOGY_LABELS))
        errs += validate_labels(topology, child(p, "deprecatedTopology"))
        if ep.get("hostname") is not None:
            errs += validate_dns1123_label(as_str(ep.get("hostname")), child(p, "hostname"))
        if ep.get("nodeName") is not None:
            node = as_str(ep.get("nodeName"))
            errs += [errors.invalid_value(child(p, "nodeName"), node, m) for m in names.is_dns1123_subdomain(node)]
    return errs


def _validate_slice_ports(ports: Any) -> Errs:
    items = dicts(ports)
    if len(items) > MAX_PORTS:
        return [errors.too_many("ports", len(items), MAX_PORTS)]
    errs: Errs = []
    seen: set[str] = set()
    for i, port in enumerate(items):
        p = index("ports", i)
        name = as_str(port.get("name"))
        if name:
            errs += validate_dns1123_label(name, child(p, "name"))
        if name in seen:
            errs.append(errors.duplicate(child(p, "name"), name))
        seen.add(name)
        errs += validate_protocol(port.get("protocol"), child(p, "protocol"))
        if port.get("appProtocol") is not None:
            errs += validate_qualified_name(as_str(port.get("appProtocol")), child(p, "appProtocol"))
    return errs


def validate_endpoint_slice(obj: dict[str, Any]) -> Errs:
    errs = validate_object_meta(obj, True, names.name_is_dns_subdomain)
    address_type = as_str(obj.get("addressType"))
    if not address_type:
        errs.append(errors.required("addressType"))
    elif address_type not in ADDRESS_TYPES:
        errs.append(errors.not_supported("addressType", address_type, ADDRESS_TYPES))
    errs += _validate_slice_endpoints(obj.get("endpoints"), address_type)
    return errs + _validate_slice_ports(obj.get("ports"))


def validate_endpoint_slice_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old) + validate_endpoint_slice(new)
    # the deprecated "IP" type may stay on slices created when it was allowed
    if old.get("addressType") == "IP" and new.get("addressType") == "IP":
        errs = [e for e in errs if e.field != "addressType"]
    return errs + immutable(as_str(new.get("addressType")), as_str(old.get("addressType")), "addressType")
