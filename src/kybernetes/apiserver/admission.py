"""Built-in admission: the checks and mutations upstream's default plugins make.

* NamespaceLifecycle: objects go only into namespaces that exist and are not
  terminating; the system namespaces cannot be deleted.
* DefaultTolerationSeconds: pods tolerate ``not-ready`` / ``unreachable`` for 300 s.
* ServiceAccount (the part that needs no tokens): pods run as ``default``.
* Priority: pods without a class get priority 0 and the default preemption policy.
* Service address allocation (see :mod:`services`).

The namespace check reads through the watch cache and falls back to the store,
so a namespace created a moment ago is found.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.registry import ResourceType, by_plural
from kybernetes.apiserver.services import ServiceAllocations, Txn
from kybernetes.apiserver.watchcache import WatchCache, decode
from kybernetes.storage.backend import Backend

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
DEFAULT_TOLERATION_SECONDS = 300

_NAMESPACES = by_plural("", "v1", "namespaces")


def _default_tolerations(spec: dict[str, Any]) -> None:
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if any(t.get("key") == key and t.get("effect") in ("NoExecute", None, "") for t in tolerations):
            continue
        if any(not t.get("key") and t.get("operator") == "Exists" for t in tolerations):
            continue  # a wildcard toleration already covers it
        tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})


class Admission:
    def __init__(self, backend: Backend, cache: WatchCache, service_cidr: str):
        self.backend = backend
        self.cache = cache
        self.services = ServiceAllocations(service_cidr)

    def load(self) -> None:
        """Rebuild allocation state from the cache (at startup)."""
        svc = by_plural("", "v1", "services")
        assert svc is not None
        self.services.load(list(self.cache.items(svc.prefix(None))))

    async def _namespace(self, name: str) -> dict[str, Any] | None:
        assert _NAMESPACES is not None
        key = _NAMESPACES.key(None, name)
        obj = self.cache.get(key)
        if obj is not None:
            return obj
        kv = await self.backend.get(key)
        return decode(kv) if kv is not None else None

    async def check_namespace(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if not rt.namespaced or namespace is None:
            return
        ns = await self._namespace(namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        if (ns.get("metadata") or {}).get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            err = errors.forbidden(
                rt.plural, name, rt.group,
                f"unable to create new content in namespace {namespace} because it is being terminated")
            assert err.details is not None
            # client-go controllers look for this cause to stop retrying
            err.details["causes"] = [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                      "message": f"namespace {namespace} is being terminated"}]
            raise err

    def check_delete(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "Namespace" and obj["metadata"].get("name") in IMMORTAL_NAMESPACES:
            raise errors.forbidden("namespaces", obj["metadata"]["name"], "", "this namespace may not be deleted")

    def mutate_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "Pod" and rt.group == "":
            spec = obj.setdefault("spec", {})
            _default_tolerations(spec)
            if not spec.get("tolerations"):
                spec.pop("tolerations", None)
            sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
            spec["serviceAccountName"] = sa
            spec["serviceAccount"] = sa
            if spec.get("priority") is None and not spec.get("priorityClassName"):
                spec["priority"] = 0
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")

    def mutate_update(self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
        if rt.kind == "Pod" and rt.group == "":
            # Fields set at admission stay as they were when an update leaves them out.
            ospec, nspec = old.get("spec") or {}, new.setdefault("spec", {})
            for f in ("serviceAccountName", "serviceAccount", "priority", "preemptionPolicy"):
                if f not in nspec and f in ospec:
                    nspec[f] = ospec[f]

    def allocate_create(self, rt: ResourceType, obj: dict[str, Any]) -> Txn:
        if rt.kind == "Service" and rt.group == "":
            return self.services.on_create(obj)
        return Txn()

    def allocate_update(self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> Txn:
        if rt.kind == "Service" and rt.group == "":
            return self.services.on_update(new, old)
        return Txn()

    def on_deleted(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "Service" and rt.group == "":
            self.services.on_delete(obj)
