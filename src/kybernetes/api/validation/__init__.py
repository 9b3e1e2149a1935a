"""Validation of API objects, with upstream's field paths and messages.

Three entry points, called by the store after defaulting and admission:

* :func:`validate_create` — a new object (its name already generated);
* :func:`validate_update` — a replacement of the main resource: the create
  rules a kind re-checks on update, plus its immutability and transition
  rules (and the ObjectMeta update rules every kind shares);
* :func:`validate_status_update` — a write through the ``status``
  subresource.

Each returns a list of :class:`~kybernetes.api.errors.FieldError`; an empty
list means valid.  ``errors.invalid(kind, name, errs, group)`` turns them into
the 422 Status kubectl prints, e.g.::

    Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value:
    map[string]string{"app":"nginx"}: `selector` does not match template `labels`

The package mirrors upstream's layout: :mod:`names` (formats and messages),
:mod:`quantity`, :mod:`meta`, the pod family (:mod:`containers`,
:mod:`volumes`, :mod:`resources`, :mod:`scheduling`, :mod:`podspec`,
:mod:`pod`), then one module per kind family (:mod:`apps`, :mod:`service`,
:mod:`core`, :mod:`endpoints`, :mod:`events`).  A kind without rules of its own
gets the ObjectMeta rules.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api.errors import FieldError
from kybernetes.api.registry import ResourceType
from kybernetes.api.validation import apps, core, endpoints, events, names, pod, service
from kybernetes.api.validation.meta import validate_object_meta, validate_object_meta_update
from kybernetes.api.validation.quantity import QuantityError, parse_quantity

__all__ = ["QuantityError", "parse_quantity", "validate_create", "validate_status_update", "validate_update"]

Obj = dict[str, Any]
CreateFn = Callable[[Obj], list[FieldError]]
UpdateFn = Callable[[Obj, Obj], list[FieldError]]

# (group, kind) -> validator; events are dispatched by group separately.
_CREATE: dict[tuple[str, str], CreateFn] = {
    ("", "Pod"): pod.validate_pod_create,
    ("", "Service"): service.validate_service,
    ("", "ReplicationController"): core.validate_replication_controller,
    ("", "Namespace"): core.validate_namespace,
    ("", "Node"): core.validate_node,
    ("", "ConfigMap"): core.validate_config_map,
    ("", "Secret"): core.validate_secret,
    ("", "ServiceAccount"): core.validate_service_account,
    ("", "Endpoints"): endpoints.validate_endpoints,
    ("apps", "Deployment"): apps.validate_deployment,
    ("apps", "ReplicaSet"): apps.validate_replica_set,
    ("coordination.k8s.io", "Lease"): core.validate_lease,
    ("discovery.k8s.io", "EndpointSlice"): endpoints.validate_endpoint_slice,
}


def _meta_only_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_object_meta_update(new, old)


_UPDATE: dict[tuple[str, str], UpdateFn] = {
    ("", "Pod"): pod.validate_pod_update,
    ("", "Service"): service.validate_service_update,
    ("", "ReplicationController"): core.validate_replication_controller_update,
    ("", "Namespace"): _meta_only_update,
    ("", "Node"): core.validate_node_update,
    ("", "ConfigMap"): core.validate_config_map_update,
    ("", "Secret"): core.validate_secret_update,
    ("", "ServiceAccount"): core.validate_service_account_update,
    ("", "Endpoints"): endpoints.validate_endpoints_update,
    ("apps", "Deployment"): apps.validate_deployment_update,
    ("apps", "ReplicaSet"): apps.validate_replica_set_update,
    ("coordination.k8s.io", "Lease"): core.validate_lease_update,
    ("discovery.k8s.io", "EndpointSlice"): endpoints.validate_endpoint_slice_update,
}

_STATUS: dict[tuple[str, str], UpdateFn] = {
    ("", "Pod"): pod.validate_pod_status_update,
    ("", "Service"): service.validate_service_status_update,
    ("", "ReplicationController"): core.validate_replication_controller_status_update,
    ("", "Namespace"): core.validate_namespace_status_update,
    ("", "Node"): core.validate_node_update,
    ("apps", "Deployment"): apps.validate_deployment_status_update,
    ("apps", "ReplicaSet"): apps.validate_replica_set_status_update,
}


def validate_create(rt: ResourceType, obj: Obj) -> list[FieldError]:
    """Errors in a new object of type ``rt``; empty when it may be stored."""
    if rt.kind == "Event":
        return events.validate_event(obj, rt.group)
    fn = _CREATE.get((rt.group, rt.kind))
    if fn is not None:
        return fn(obj)
    return validate_object_meta(obj, rt.namespaced, names.name_func(rt.kind))


def validate_update(rt: ResourceType, new: Obj, old: Obj) -> list[FieldError]:
    """Errors in replacing ``old`` by ``new`` through the main resource."""
    if rt.kind == "Event":
        return events.validate_event_update(new, old, rt.group)
    fn = _UPDATE.get((rt.group, rt.kind), _meta_only_update)
    return fn(new, old)


def validate_status_update(rt: ResourceType, new: Obj, old: Obj) -> list[FieldError]:
    """Errors in a write through the ``status`` subresource."""
    fn = _STATUS.get((rt.group, rt.kind), _meta_only_update)
    return fn(new, old)
