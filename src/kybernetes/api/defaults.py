"""Defaulting of the served kinds, as upstream's generated defaulters do it.

:func:`apply_defaults` runs after :func:`kybernetes.api.decode.decode` on every
write (create, update, patch result), like the defaulting step of upstream's
decoder.  One small function per kind below restates upstream's
``SetDefaults_*`` functions and ``+default=`` markers for API 1.33 (core/v1,
apps/v1, discovery/v1; coordination, events, ConfigMap and ServiceAccount
have none).  Pod and pod template defaults live in
:mod:`kybernetes.api.defaults_pod`.

Two things upstream does outside the defaulters are offered separately, for
the registry layer to call at the right moment:

* :func:`service_ip_family_defaults` - ``ipFamilyPolicy`` / ``ipFamilies``,
  chosen by the service IP allocator on create and update;
* :func:`prepare_namespace_for_create` - the ``kubernetes`` finalizer and the
  Active phase, set by the namespace strategy on create only (the finalizer
  must not come back once namespace deletion has removed it).

Conversion-time rewrites with the same visible effect as defaults are done
here too: Secret ``stringData`` folds into ``data``; ``serviceAccount`` and
``serviceAccountName`` mirror each other.

Every function mutates the object it is given; none does I/O.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable

from kybernetes.api.defaults_pod import (
    Obj,
    child,
    dicts,
    pod,
    pod_template,
    set_if_absent,
    set_if_empty,
)
from kybernetes.api.registry import ResourceType

CLIENT_IP_TIMEOUT_SECONDS = 10800  # three hours of ClientIP session affinity
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
NAMESPACE_FINALIZER = "kubernetes"


def apply_defaults(rt: ResourceType, obj: Obj) -> None:
    """Default ``obj`` (a decoded object of kind ``rt``) in place."""
    defaulter = DEFAULTERS.get((rt.group, rt.kind))
    if defaulter is not None:
        defaulter(obj)


def _section(obj: Obj, key: str) -> Obj:
    """``obj[key]`` as a dict, created when absent (Go's non-pointer struct fields)."""
    sub = obj.get(key)
    if not isinstance(sub, dict):
        sub = obj[key] = {}
    return sub


# --------------------------------------------------------------------------- core/v1


def service(obj: Obj) -> None:
    """SetDefaults_Service plus the port protocol marker."""
    spec = _section(obj, "spec")
    set_if_empty(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = child(spec, "sessionAffinityConfig")
        client_ip = child(config, "clientIP") if config else None
        if client_ip is None or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": CLIENT_IP_TIMEOUT_SECONDS}}
    set_if_empty(spec, "type", "ClusterIP")
    kind = spec["type"]
    for port in dicts(spec.get("ports")):
        set_if_empty(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    externally_accessible = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs")))
    if externally_accessible:
        set_if_empty(spec, "externalTrafficPolicy", "Cluster")
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        set_if_absent(spec, "internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        set_if_absent(spec, "allocateLoadBalancerNodePorts", True)
        status = child(obj, "status")
        balancer = child(status, "loadBalancer") if status else None
        for ingress in dicts(balancer.get("ingress") if balancer else None):
            if ingress.get("ip"):
                set_if_absent(ingress, "ipMode", "VIP")


def service_ip_family_defaults(obj: Obj, old: Obj | None = None, *, default_family: str = "IPv4") -> None:
    """``ipFamilyPolicy`` and ``ipFamilies`` as the allocator settles them on a single-stack cluster.

    ``old`` is the stored service on update: an unset policy keeps the old one.
    Headless services without a selector default to ``RequireDualStack`` and
    list both families, which upstream allows even on a single-stack cluster.
    """
    spec = _section(obj, "spec")
    if spec.get("type") == "ExternalName":
        return
    if not spec.get("clusterIPs") and spec.get("clusterIP"):
        spec["clusterIPs"] = [spec["clusterIP"]]  # v1 conversion fills the plural from the singular
    headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        old_spec = child(old, "spec") if old else None
        if old_spec is not None and old_spec.get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
        else:
            spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
    families: list[str] = list(spec.get("ipFamilies") or [])
    for i, ip in enumerate(spec.get("clusterIPs") or []):
        if ip == "None":
            break
        if i >= len(families) and isinstance(ip, str):
            families.append("IPv6" if ":" in ip else "IPv4")
    if not families:
        families = [default_family]
    if headless_selectorless and len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
        families.append("IPv6" if families[0] == "IPv4" else "IPv4")
    spec["ipFamilies"] = families


def namespace(obj: Obj) -> None:
    """SetDefaults_Namespace (the name label, always overwritten) and the status phase."""
    meta = _section(obj, "metadata")
    name = meta.get("name")
    if name:
        _section(meta, "labels")[NAMESPACE_NAME_LABEL] = name
    set_if_empty(_section(obj, "status"), "phase", "Active")


def prepare_namespace_for_create(obj: Obj) -> None:
    """The namespace strategy on create: status reset to Active, ``kubernetes`` finalizer added."""
    obj["status"] = {"phase": "Active"}
    spec = _section(obj, "spec")
    finalizers = spec.get("finalizers")
    if not isinstance(finalizers, list):
        finalizers = spec["finalizers"] = []
    if NAMESPACE_FINALIZER not in finalizers:
        finalizers.append(NAMESPACE_FINALIZER)


def node(obj: Obj) -> None:
    """SetDefaults_NodeStatus: allocatable starts as a copy of capacity."""
    status = child(obj, "status")
    if status is None:
        return
    capacity = child(status, "capacity")
    if capacity is not None and status.get("allocatable") is None:
        status["allocatable"] = copy.deepcopy(capacity)


def secret(obj: Obj) -> None:
    """SetDefaults_Secret (type Opaque) and the v1 conversion of ``stringData``."""
    set_if_empty(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, text in string_data.items():  # stringData wins over data
            data[key] = base64.b64encode(str(text).encode()).decode()


def endpoints(obj: Obj) -> None:
    for subset in dicts(obj.get("subsets")):
        for port in dicts(subset.get("ports")):
            set_if_empty(port, "protocol", "TCP")


def replication_controller(obj: Obj) -> None:
    """Selector and object labels follow the template's labels when left empty."""
    spec = _section(obj, "spec")
    template = child(spec, "template")
    template_meta = child(template, "metadata") if template else None
    labels = child(template_meta, "labels") if template_meta else None
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _section(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    set_if_absent(spec, "replicas", 1)
    pod_template(template)


# --------------------------------------------------------------------------- apps/v1


def replica_set(obj: Obj) -> None:
    spec = _section(obj, "spec")
    set_if_absent(spec, "replicas", 1)
    pod_template(child(spec, "template"))


def deployment(obj: Obj) -> None:
    """SetDefaults_Deployment: one replica, 25%/25% rolling update, history 10, deadline 600s."""
    spec = _section(obj, "spec")
    set_if_absent(spec, "replicas", 1)
    strategy = _section(spec, "strategy")
    set_if_empty(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _section(strategy, "rollingUpdate")
        set_if_absent(rolling, "maxUnavailable", "25%")
        set_if_absent(rolling, "maxSurge", "25%")
    set_if_absent(spec, "revisionHistoryLimit", 10)
    set_if_absent(spec, "progressDeadlineSeconds", 600)
    pod_template(child(spec, "template"))


# --------------------------------------------------------------------------- discovery.k8s.io/v1


def endpoint_slice(obj: Obj) -> None:
    """SetDefaults_EndpointPort: both fields are pointers, so ``name: ""`` is written out."""
    for port in dicts(obj.get("ports")):
        set_if_absent(port, "name", "")
        set_if_absent(port, "protocol", "TCP")


DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): pod,
    ("", "Service"): service,
    ("", "Namespace"): namespace,
    ("", "Node"): node,
    ("", "Secret"): secret,
    ("", "Endpoints"): endpoints,
    ("", "ReplicationController"): replication_controller,
    ("apps", "ReplicaSet"): replica_set,
    ("apps", "Deployment"): deployment,
    ("discovery.k8s.io", "EndpointSlice"): endpoint_slice,
}
# Kinds without defaults upstream: ConfigMap (its empty data map never reaches the
# wire), ServiceAccount, Event (both groups), Lease.
