"""Service address allocation on the write path (upstream's service REST storage).

``on_create`` / ``on_update`` fill in ``spec.clusterIP(s)`` and node ports,
honouring values the client asked for, and return a :class:`Txn` whose
``rollback`` frees what was taken if the write then fails and whose
``commit`` frees what the update gave up.  ``on_delete`` frees everything.
Errors are 422 Invalid, as upstream reports allocation failures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import defaults, errors
from kybernetes.apiserver.allocators import AllocationError, IPAllocator, PortAllocator


@dataclass
class Txn:
    undo: list[Callable[[], None]] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)

    def rollback(self) -> None:
        for f in reversed(self.undo):
            f()
        self.undo.clear()

    def commit(self) -> None:
        for f in self.after:
            f()
        self.after.clear()


def _wants_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None"


def _wants_node_ports(spec: dict[str, Any]) -> bool:
    t = spec.get("type")
    if t == "NodePort":
        return True
    return t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


_EXTERNAL = ("NodePort", "LoadBalancer")


def drop_type_dependent_fields(spec: dict[str, Any], old: dict[str, Any]) -> None:
    """Clear fields the new type has no use for, when the update left them as they were.

    Upstream's dropTypeDependentFields: ``kubectl apply`` switching a NodePort Service
    to ClusterIP carries the old externalTrafficPolicy along; it must go, not fail validation.
    """
    if spec.get("type") == old.get("type"):
        return
    def same(field: str) -> bool:
        return field in spec and spec.get(field) == old.get(field)
    if spec.get("type") not in _EXTERNAL and same("externalTrafficPolicy"):
        del spec["externalTrafficPolicy"]
    if spec.get("type") != "LoadBalancer":
        for field in ("allocateLoadBalancerNodePorts", "loadBalancerClass", "healthCheckNodePort"):
            if same(field):
                del spec[field]


class ServiceAllocations:
    def __init__(self, service_cidr: str):
        self.ips = IPAllocator.from_cidr(service_cidr)
        self.ports = PortAllocator()

    def load(self, services: list[dict[str, Any]]) -> None:
        """Mark what stored Services hold (at startup)."""
        for svc in services:
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip and ip != "None":
                    self.ips.mark(ip)
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    self.ports.mark(int(p["nodePort"]))

    def _invalid(self, svc: dict[str, Any], path: str, value: Any, detail: str) -> errors.StatusError:
        name = (svc.get("metadata") or {}).get("name", "")
        return errors.invalid("Service", name, [errors.invalid_value(path, value, detail)])

    def _alloc_ip(self, svc: dict[str, Any], txn: Txn) -> None:
        spec = svc["spec"]
        requested = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0] or None
        try:
            ip = self.ips.allocate(requested)
        except AllocationError as e:
            txn.rollback()
            raise self._invalid(svc, "spec.clusterIPs", [requested] if requested else [], str(e)) from None
        txn.undo.append(lambda: self.ips.release(ip))
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    def _alloc_ports(self, svc: dict[str, Any], txn: Txn, old: dict[str, Any]) -> None:
        """Give every port a node port: the one asked for, the old one, or a new one."""
        old_ports = [p for p in (old.get("spec") or {}).get("ports") or [] if p.get("nodePort")]
        ours = {int(p["nodePort"]) for p in old_ports}
        ports = svc["spec"].get("ports") or []
        # As upstream's patchAllocatedValues: a port left without a node port gets the one the
        # old port of the same name had, unless another port of the new spec still uses it.
        by_name = {p.get("name", ""): int(p["nodePort"]) for p in old_ports}
        asked = {int(p["nodePort"]) for p in ports if p.get("nodePort")}
        for p in ports:
            if not p.get("nodePort"):
                reuse = by_name.get(p.get("name", ""))
                if reuse is not None and reuse not in asked:
                    p["nodePort"] = reuse
                    asked.add(reuse)
        for i, p in enumerate(ports):
            want = p.get("nodePort")
            if want and int(want) in ours:
                continue  # already allocated to this service
            try:
                port = self.ports.allocate(int(want) if want else None)
            except AllocationError as e:
                txn.rollback()
                raise self._invalid(svc, f"spec.ports[{i}].nodePort", want, str(e)) from None
            txn.undo.append(lambda port=port: self.ports.release(port))  # type: ignore[misc]
            p["nodePort"] = port

    def on_create(self, svc: dict[str, Any]) -> Txn:
        txn = Txn()
        spec = svc.setdefault("spec", {})
        if _wants_ip(spec):
            self._alloc_ip(svc, txn)
        elif spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
        defaults.service_ip_family_defaults(svc)
        if _wants_node_ports(spec):
            self._alloc_ports(svc, txn, {})
        else:
            for p in spec.get("ports") or []:
                p.pop("nodePort", None)
        return txn

    def on_update(self, new: dict[str, Any], old: dict[str, Any]) -> Txn:
        txn = Txn()
        spec, ospec = new.setdefault("spec", {}), old.get("spec") or {}
        drop_type_dependent_fields(spec, ospec)
        old_ips = [ip for ip in ospec.get("clusterIPs") or [ospec.get("clusterIP")] if ip and ip != "None"]
        if _wants_ip(spec):
            if old_ips and not spec.get("clusterIP") and not spec.get("clusterIPs"):
                # An update that leaves the address out keeps the allocated one.
                spec["clusterIP"], spec["clusterIPs"] = old_ips[0], list(old_ips)
            elif not old_ips:
                self._alloc_ip(new, txn)
        else:
            for ip in old_ips:
                txn.after.append(lambda ip=ip: self.ips.release(ip))  # type: ignore[misc]
            if spec.get("type") == "ExternalName":
                spec.pop("clusterIP", None)
                spec.pop("clusterIPs", None)
        defaults.service_ip_family_defaults(new, old)
        old_ports = [int(p["nodePort"]) for p in ospec.get("ports") or [] if p.get("nodePort")]
        if _wants_node_ports(spec):
            self._alloc_ports(new, txn, old)
        else:
            for p in spec.get("ports") or []:
                p.pop("nodePort", None)
        still = {p.get("nodePort") for p in spec.get("ports") or []}
        for port in old_ports:
            if port not in still:
                txn.after.append(lambda port=port: self.ports.release(port))  # type: ignore[misc]
        return txn

    def on_delete(self, svc: dict[str, Any]) -> None:
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
            if ip and ip != "None":
                self.ips.release(ip)
        for p in spec.get("ports") or []:
            if p.get("nodePort"):
                self.ports.release(int(p["nodePort"]))
