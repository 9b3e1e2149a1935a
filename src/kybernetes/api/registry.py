"""The table of resource types the API serves.

One :class:`ResourceType` per (group, version, resource): its kind, scope,
short names, categories, verbs and subresources as upstream discovery lists
them, the schema definition that describes it, and the fields its field
selectors understand.  Discovery, OpenAPI, routing, storage keys and printing
are all driven from this table, so adding a kind starts here.

Pure module: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE = ("create", "delete", "get", "list", "patch", "update", "watch")

FieldGetter = Callable[[dict[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class Subresource:
    name: str
    verbs: tuple[str, ...]
    # response kind when it differs from the parent (scale -> autoscaling/v1 Scale)
    group: str | None = None
    version: str | None = None
    kind: str | None = None
    # a "connect" subresource (log, exec, attach, portforward): proxied to the node, not stored
    connect: bool = False


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    definition: str  # schema definition name, e.g. io.k8s.api.core.v1.Pod
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    # extra field-selector fields beyond metadata.name / metadata.namespace
    selectable: FieldGetter | None = field(default=None, compare=False)
    # the storage resource (two group versions may share one, e.g. events)
    storage_resource: str | None = None

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``: the name errors use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_prefix(self) -> str:
        """Key prefix in the store: ``/registry/<group>/<resource>/``."""
        # a resource served in several groups (events) is stored once, under core
        grp = "core" if (self.storage_resource or not self.group) else self.group
        return f"/registry/{grp}/{self.storage_resource or self.plural}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return f"{self.storage_prefix}{name}"

    def prefix(self, namespace: str | None) -> str:
        if self.namespaced and namespace:
            return f"{self.storage_prefix}{namespace}/"
        return self.storage_prefix

    @property
    def has_status(self) -> bool:
        return any(s.name == "status" for s in self.subresources)

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None

    @property
    def storage_version_hash(self) -> str:
        digest = hashlib.sha256(f"{self.group}/{self.version}/{self.kind}".encode()).digest()
        return base64.b64encode(digest[:8]).decode()

    def field_set(self, obj: dict[str, Any]) -> dict[str, str]:
        """The fields a field selector may test, as strings (fields.Set)."""
        meta = obj.get("metadata") or {}
        fields = {"metadata.name": meta.get("name", "")}
        if self.namespaced:
            fields["metadata.namespace"] = meta.get("namespace", "")
        if self.selectable is not None:
            fields.update(self.selectable(obj))
        return fields

    def selectable_fields(self) -> list[str]:
        names = ["metadata.name"]
        if self.namespaced:
            names.append("metadata.namespace")
        if self.selectable is not None:
            names.extend(self.selectable({}).keys())
        return names


def _s(obj: dict[str, Any], *path: str) -> str:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _pod_fields(o: dict[str, Any]) -> dict[str, str]:
    return {
        "spec.nodeName": _s(o, "spec", "nodeName"),
        "spec.restartPolicy": _s(o, "spec", "restartPolicy"),
        "spec.schedulerName": _s(o, "spec", "schedulerName"),
        "spec.serviceAccountName": _s(o, "spec", "serviceAccountName"),
        "spec.hostNetwork": _s(o, "spec", "hostNetwork") or "false",
        "status.phase": _s(o, "status", "phase"),
        "status.podIP": _s(o, "status", "podIP"),
        "status.nominatedNodeName": _s(o, "status", "nominatedNodeName"),
    }


def _event_fields(o: dict[str, Any]) -> dict[str, str]:
    source = _s(o, "reportingComponent") or _s(o, "source", "component")
    return {
        "involvedObject.kind": _s(o, "involvedObject", "kind"),
        "involvedObject.namespace": _s(o, "involvedObject", "namespace"),
        "involvedObject.name": _s(o, "involvedObject", "name"),
        "involvedObject.uid": _s(o, "involvedObject", "uid"),
        "involvedObject.apiVersion": _s(o, "involvedObject", "apiVersion"),
        "involvedObject.resourceVersion": _s(o, "involvedObject", "resourceVersion"),
        "involvedObject.fieldPath": _s(o, "involvedObject", "fieldPath"),
        "reason": _s(o, "reason"),
        "reportingComponent": _s(o, "reportingComponent"),
        "source": source,
        "type": _s(o, "type"),
    }


def _events_v1_fields(o: dict[str, Any]) -> dict[str, str]:
    return {
        "regarding.kind": _s(o, "regarding", "kind"),
        "regarding.namespace": _s(o, "regarding", "namespace"),
        "regarding.name": _s(o, "regarding", "name"),
        "regarding.uid": _s(o, "regarding", "uid"),
        "reason": _s(o, "reason"),
        "reportingController": _s(o, "reportingController"),
        "type": _s(o, "type"),
    }


def _namespace_fields(o: dict[str, Any]) -> dict[str, str]:
    return {"status.phase": _s(o, "status", "phase")}


def _node_fields(o: dict[str, Any]) -> dict[str, str]:
    return {"spec.unschedulable": _s(o, "spec", "unschedulable") or "false"}


def _secret_fields(o: dict[str, Any]) -> dict[str, str]:
    return {"type": _s(o, "type")}


def _service_fields(o: dict[str, Any]) -> dict[str, str]:
    return {"spec.clusterIP": _s(o, "spec", "clusterIP"), "spec.type": _s(o, "spec", "type")}


def _replicas_fields(o: dict[str, Any]) -> dict[str, str]:
    return {"status.replicas": _s(o, "status", "replicas") or "0"}


_STATUS = Subresource("status", ("get", "patch", "update"))
_SCALE = Subresource("scale", ("get", "patch", "update"), "autoscaling", "v1", "Scale")

RESOURCES: tuple[ResourceType, ...] = (
    # core/v1
    ResourceType("", "v1", "Namespace", "namespaces", False, "io.k8s.api.core.v1.Namespace",
                 ("ns",), (), NO_COLLECTION_DELETE,
                 (Subresource("finalize", ("update",)), _STATUS), _namespace_fields),
    ResourceType("", "v1", "Pod", "pods", True, "io.k8s.api.core.v1.Pod",
                 ("po",), ("all",), ALL_VERBS,
                 (Subresource("attach", ("create", "get"), "", "v1", "PodAttachOptions", connect=True),
                  Subresource("binding", ("create",), "", "v1", "Binding"),
                  Subresource("eviction", ("create",), "policy", "v1", "Eviction"),
                  Subresource("exec", ("create", "get"), "", "v1", "PodExecOptions", connect=True),
                  Subresource("log", ("get",), connect=True),
                  Subresource("portforward", ("create", "get"), "", "v1", "PodPortForwardOptions",
                              connect=True),
                  _STATUS), _pod_fields),
    ResourceType("", "v1", "Node", "nodes", False, "io.k8s.api.core.v1.Node",
                 ("no",), (), ALL_VERBS, (_STATUS,), _node_fields),
    ResourceType("", "v1", "Service", "services", True, "io.k8s.api.core.v1.Service",
                 ("svc",), ("all",), ALL_VERBS, (_STATUS,), _service_fields),
    ResourceType("", "v1", "Endpoints", "endpoints", True, "io.k8s.api.core.v1.Endpoints", ("ep",)),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, "io.k8s.api.core.v1.ConfigMap", ("cm",)),
    ResourceType("", "v1", "Secret", "secrets", True, "io.k8s.api.core.v1.Secret",
                 selectable=_secret_fields),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True,
                 "io.k8s.api.core.v1.ServiceAccount", ("sa",)),
    ResourceType("", "v1", "Event", "events", True, "io.k8s.api.core.v1.Event", ("ev",),
                 selectable=_event_fields),
    ResourceType("", "v1", "ReplicationController", "replicationcontrollers", True,
                 "io.k8s.api.core.v1.ReplicationController", ("rc",), ("all",), ALL_VERBS,
                 (_SCALE, _STATUS), _replicas_fields),
    # apps/v1
    ResourceType("apps", "v1", "Deployment", "deployments", True, "io.k8s.api.apps.v1.Deployment",
                 ("deploy",), ("all",), ALL_VERBS, (_SCALE, _STATUS)),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", True, "io.k8s.api.apps.v1.ReplicaSet",
                 ("rs",), ("all",), ALL_VERBS, (_SCALE, _STATUS), _replicas_fields),
    # coordination.k8s.io/v1
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True,
                 "io.k8s.api.coordination.v1.Lease"),
    # events.k8s.io/v1: the same stored events, converted on the way in and out
    ResourceType("events.k8s.io", "v1", "Event", "events", True, "io.k8s.api.events.v1.Event",
                 ("ev",), selectable=_events_v1_fields, storage_resource="events"),
    # discovery.k8s.io/v1
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True,
                 "io.k8s.api.discovery.v1.EndpointSlice"),
)

# Preferred order of groups in discovery, as upstream lists them.
GROUP_ORDER = ("", "apps", "events.k8s.io", "coordination.k8s.io", "discovery.k8s.io")


def groups() -> list[str]:
    seen = {r.group for r in RESOURCES}
    return [g for g in GROUP_ORDER if g in seen]


def versions(group: str) -> list[str]:
    out: list[str] = []
    for r in RESOURCES:
        if r.group == group and r.version not in out:
            out.append(r.version)
    return out


def in_group_version(group: str, version: str) -> list[ResourceType]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


_BY_PLURAL = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.group, r.version, r.kind): r for r in RESOURCES}


def by_plural(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_PLURAL.get((group, version, plural))


def by_kind(group: str, version: str, kind: str) -> ResourceType | None:
    return _BY_KIND.get((group, version, kind))


def sharing_storage(rt: ResourceType) -> Iterable[ResourceType]:
    """Every served resource (including ``rt``) stored under the same prefix."""
    return [r for r in RESOURCES if r.storage_prefix == rt.storage_prefix]
