"""Printers for Service, Endpoints and EndpointSlice.

Service: CLUSTER-IP is the first of ``clusterIPs`` (``<none>`` for ExternalName
services without one); EXTERNAL-IP depends on the type: ``externalIPs`` or
``<none>`` for ClusterIP/NodePort, the load-balancer ingress IPs/hostnames
(sorted, de-duplicated, then any ``externalIPs``) or ``<pending>`` for
LoadBalancer, ``externalName`` for ExternalName.  The server renders the wide
form, so long load-balancer hostnames are not clipped.  PORT(S) reads
``80/TCP`` or ``80:30080/TCP`` per port.

Endpoints lists ``ip:port`` for ready addresses across subsets and ports, three
at most, then ``+ N more...``; EndpointSlice does the same for its ports and
addresses, printing ``<unset>`` for an empty list.

Objects reach us defaulted by the API server, but a missing Service ``type``
or port ``protocol`` is read as its default (ClusterIP, TCP) rather than printed
as an empty string.

Pure module: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.printers.base import (
    AGE,
    CORE,
    NAME,
    Cells,
    Column,
    Obj,
    Printer,
    name_and_age,
    section,
    wide,
)
from kybernetes.api.printers.text import NONE, format_labels, join_host_port, with_more


def _load_balancer_ips(status: Obj) -> list[str]:
    found: set[str] = set()
    for ingress in section(status, "loadBalancer").get("ingress") or []:
        if not isinstance(ingress, dict):
            continue
        address = ingress.get("ip") or ingress.get("hostname")
        if address:
            found.add(str(address))
    return sorted(found)


def service_external_ip(svc: Obj) -> str:
    spec = section(svc, "spec")
    kind = spec.get("type") or "ClusterIP"
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        ips = _load_balancer_ips(section(svc, "status"))
        if external:
            return ",".join(ips + external)
        return ",".join(ips) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def service_ports(ports: list[Any] | None) -> str:
    pieces = []
    for port in ports or []:
        protocol = port.get("protocol") or "TCP"
        node_port = port.get("nodePort") or 0
        if node_port > 0:
            pieces.append(f"{port.get('port')}:{node_port}/{protocol}")
        else:
            pieces.append(f"{port.get('port')}/{protocol}")
    return ",".join(pieces)


def service_cells(svc: Obj, now: float) -> Cells:
    name, age = name_and_age(svc, now)
    spec = section(svc, "spec")
    cluster_ips = spec.get("clusterIPs") or []
    # clusterIP alone (no clusterIPs) is what an older writer stores; conversion fills clusterIPs from it
    cluster_ip = (cluster_ips[0] if cluster_ips else spec.get("clusterIP")) or NONE
    return [
        name,
        spec.get("type") or "ClusterIP",
        cluster_ip,
        service_external_ip(svc),
        service_ports(spec.get("ports")) or NONE,
        age,
        format_labels(spec.get("selector")),
    ]


def format_endpoints(subsets: list[Any] | None, limit: int = 3) -> str:
    if not subsets:
        return NONE
    shown: list[str] = []
    total = 0
    for subset in subsets:
        addresses = [a.get("ip") or "" for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            # headless services may have no ports: list bare addresses
            total += len(addresses)
            shown.extend(addresses[: limit - len(shown)])
            continue
        for port in ports:
            total += len(addresses)
            for ip in addresses[: limit - len(shown)]:
                shown.append(join_host_port(ip, port.get("port")))
    return with_more(shown, total, limit, empty="")


def endpoints_cells(ep: Obj, now: float) -> Cells:
    name, age = name_and_age(ep, now)
    return [name, format_endpoints(ep.get("subsets")), age]


def _slice_port(port: Obj) -> str:
    if port.get("port") is not None:
        return str(port["port"])
    if port.get("name") is not None:
        return str(port["name"])
    return "*"


def endpointslice_cells(eps: Obj, now: float, limit: int = 3) -> Cells:
    name, age = name_and_age(eps, now)
    ports = eps.get("ports") or []
    addresses = [str(a) for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        name,
        str(eps.get("addressType") or ""),
        with_more([_slice_port(p) for p in ports[:limit]], len(ports), limit),
        with_more(addresses[:limit], len(addresses), limit),
        age,
    ]


_SPEC = CORE + "ServiceSpec"
_SLICE = "io.k8s.api.discovery.v1.EndpointSlice"

SERVICE = Printer(
    (
        NAME,
        Column("Type", "string", (_SPEC, "type")),
        Column("Cluster-IP", "string", (_SPEC, "clusterIP")),
        Column("External-IP", "string", (_SPEC, "externalIPs")),
        Column("Port(s)", "string", (_SPEC, "ports")),
        AGE,
        wide("Selector", "string", (_SPEC, "selector")),
    ),
    service_cells,
)
ENDPOINTS = Printer(
    (NAME, Column("Endpoints", "string", (CORE + "Endpoints", "subsets")), AGE),
    endpoints_cells,
)
ENDPOINTSLICE = Printer(
    (
        NAME,
        Column("AddressType", "string", (_SLICE, "addressType")),
        Column("Ports", "string", (_SLICE, "ports")),
        Column("Endpoints", "string", (_SLICE, "endpoints")),
        AGE,
    ),
    endpointslice_cells,
)
