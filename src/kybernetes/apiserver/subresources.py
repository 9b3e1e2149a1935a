"""Subresources: status, scale, binding, eviction, namespace finalize; pods/log|exec|attach|portforward.

* ``status``: GET returns the object; PUT/PATCH change only ``status``.
* ``scale``: an ``autoscaling/v1 Scale`` view of ``spec.replicas`` and
  ``status.replicas``/``selector``; writes go to the parent's ``spec.replicas``.
* ``binding``: ``pods/<name>/binding`` assigns a node once (the scheduler's write).
* ``eviction``: ``policy/v1 Eviction`` deletes the pod with its delete options
  (no PodDisruptionBudgets are served yet, so nothing blocks an eviction).
* ``finalize``: ``namespaces/<name>/finalize`` replaces ``spec.finalizers``.
* connect subresources (``pods/log``, ``exec``, ``attach``, ``portforward``): proxied to the node (`podproxy`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.meta import format_time
from kybernetes.api.meta import now as wall_clock
from kybernetes.api.printers import format_label_selector, format_labels
from kybernetes.api.registry import ResourceType
from kybernetes.apiserver import decoding, patching
from kybernetes.apiserver.http import negotiate, parse_object, query_bool, read_body, render, success_status
from kybernetes.apiserver.podproxy import PodProxy
from kybernetes.apiserver.requestinfo import RequestInfo

if TYPE_CHECKING:
    from kybernetes.apiserver.http import Accept
    from kybernetes.apiserver.store import Store

# Renders one object in the negotiated form (JSON, Table, metadata): the handlers' ``view``.
View = Callable[[ResourceType, dict[str, Any], "Accept", web.Request], Any]


def scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    sel = spec.get("selector")
    if rt.kind == "ReplicationController":
        selector = format_labels(sel or {})
    else:
        selector = format_label_selector(sel) if sel else ""
    out_status: dict[str, Any] = {"replicas": status.get("replicas", 0)}
    if selector:
        out_status["selector"] = selector
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": out_status,
    }


def _scale_replicas(scale: Any, name: str) -> int:
    replicas = (scale.get("spec") or {}).get("replicas", 0) if isinstance(scale, dict) else None
    if isinstance(replicas, float) and replicas.is_integer():
        replicas = int(replicas)
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise errors.bad_request('Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
                                 'into Go struct field ScaleSpec.spec.replicas of type int32')
    if replicas < 0:
        raise errors.invalid("Scale", name, [errors.invalid_value(
            "spec.replicas", replicas, "must be greater than or equal to 0")], "autoscaling")
    return replicas


# The Scale kind, for printing (it is served only as a subresource).
SCALE = ResourceType("autoscaling", "v1", "Scale", "scale", True, "io.k8s.api.autoscaling.v1.Scale")


class Subresources:
    def __init__(self, store: Store, view: View):
        self.store = store
        self.view = view
        self.proxy = PodProxy(store)

    async def handle(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.StreamResponse:
        sub = rt.subresource(info.subresource or "")
        assert sub is not None and info.name is not None
        verb = info.verb
        if verb not in sub.verbs:
            raise errors.method_not_allowed(f"{rt.plural}/{sub.name}", request.method, rt.group)
        ns, name = info.namespace, info.name
        if sub.connect:
            assert ns is not None
            return await self.proxy.handle(request, sub.name, ns, name)
        if sub.name == "status":
            return await self.status(request, rt, ns, name, verb)
        if sub.name == "scale":
            return await self.scale(request, rt, ns, name, verb)
        if sub.name == "binding":
            return await self.binding(request, rt, ns, name)
        if sub.name == "eviction":
            return await self.eviction(request, rt, ns, name)
        if sub.name == "finalize":
            return await self.finalize(request, rt, name)
        raise errors.method_not_allowed(f"{rt.plural}/{sub.name}", request.method, rt.group)

    async def status(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                     verb: str) -> web.StreamResponse:
        accept = negotiate(request)
        if verb == "get":
            return render(self.view(rt, await self.store.get(rt, ns, name), accept, request), accept)
        dr = query_bool(request, "dryRun") or bool(request.query.getall("dryRun", []))
        fv = decoding.field_validation(request.query.get("fieldValidation"))
        warnings = decoding.Warnings()
        if verb == "patch":
            mutate = await patching.patcher(request, rt, fv, warnings)
            out = await self.store.update(rt, ns, name, mutate, subresource="status", dry_run=dr)
        else:
            raw = await read_body(request)
            obj = decoding.decode_object(rt, parse_object(request, raw, rt.kind), fv, warnings, raw)
            if obj["metadata"].get("name") != name:
                raise errors.bad_request(
                    f"the name of the object ({obj['metadata'].get('name')}) does not match the name on the URL ({name})")
            out = await self.store.update(rt, ns, name, obj, subresource="status", dry_run=dr)
        resp = render(out, accept)
        for w in warnings.header_values():
            resp.headers.add("Warning", w)
        return resp

    async def scale(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                    verb: str) -> web.StreamResponse:
        accept = negotiate(request)
        if verb == "get":
            return render(self.view(SCALE, scale_of(rt, await self.store.get(rt, ns, name)), accept, request),
                          accept)
        dr = bool(request.query.getall("dryRun", []))
        if verb == "patch":
            ctype, body = await patching.read_patch(request)
        else:
            raw = await read_body(request)
            body = parse_object(request, raw, "Scale")
            decoding.check_type(rt, body, "Scale", "autoscaling/v1")
            body = decoding.decode_as(rt, body, "io.k8s.api.autoscaling.v1.Scale", "Scale")

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            scale = scale_of(rt, current)
            if verb == "patch":
                new_scale = patching.apply_patch(ctype, scale, body, "io.k8s.api.autoscaling.v1.Scale")
                if not isinstance(new_scale, dict):
                    raise errors.bad_request("the patched object is not a JSON object")
                new_scale = decoding.decode_as(rt, new_scale, "io.k8s.api.autoscaling.v1.Scale", "Scale")
            else:
                new_scale = body
            replicas = _scale_replicas(new_scale, name)
            want_rv = ((new_scale.get("metadata") or {}).get("resourceVersion")) if verb != "patch" else \
                ((body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None)
            out = copy.deepcopy(current)
            out.setdefault("spec", {})["replicas"] = replicas
            out["metadata"]["resourceVersion"] = want_rv or ""
            return out

        updated = await self.store.update(rt, ns, name, mutate, dry_run=dr)
        return render(self.view(SCALE, scale_of(rt, updated), accept, request), accept)

    async def binding(self, request: web.Request, rt: ResourceType, ns: str | None,
                      name: str) -> web.StreamResponse:
        accept = negotiate(request, allow_table=False)
        raw = await read_body(request)
        body = parse_object(request, raw, "Binding")
        decoding.check_type(rt, body, "Binding", "v1")
        body = decoding.decode_as(rt, body, "io.k8s.api.core.v1.Binding", "Binding")
        target = body.get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.invalid("Binding", name, [errors.required("target.name")])
        if target.get("kind") not in (None, "", "Node"):
            raise errors.invalid("Binding", name, [errors.not_supported("target.kind", target.get("kind"), ["Node"])])

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            spec = current.setdefault("spec", {})
            if current["metadata"].get("deletionTimestamp"):
                raise errors.conflict("pods", name, "", f"pod {name} is being deleted, cannot be assigned to a host")
            if spec.get("nodeName"):
                raise errors.conflict("pods", name, "",
                                      f"pod {name} is already assigned to node \"{spec['nodeName']}\"")
            spec["nodeName"] = node
            conditions = current.setdefault("status", {}).setdefault("conditions", [])
            conditions[:] = [c for c in conditions if c.get("type") != "PodScheduled"]
            conditions.append(scheduled_condition())
            current["metadata"]["resourceVersion"] = ""
            return current

        # The binding writes spec.nodeName and the PodScheduled condition, which neither
        # the main resource nor the status subresource would let through.
        await self.store.update(rt, ns, name, mutate, subresource="binding")
        return render(success_status(), accept, 201)

    async def eviction(self, request: web.Request, rt: ResourceType, ns: str | None,
                       name: str) -> web.StreamResponse:
        from kybernetes.apiserver.store import DeleteOptions

        accept = negotiate(request, allow_table=False)
        raw = await read_body(request)
        body = parse_object(request, raw, "Eviction")
        decoding.check_type(rt, body, "Eviction", "policy/v1")
        body = decoding.decode_as(rt, body, "io.k8s.api.policy.v1.Eviction", "Eviction")
        if (body.get("metadata") or {}).get("name") not in (None, name):
            raise errors.bad_request("name in URL does not match name in Eviction object")
        do = body.get("deleteOptions") or {}
        opts = DeleteOptions(grace_period=do.get("gracePeriodSeconds"),
                             propagation=do.get("propagationPolicy"),
                             uid=(do.get("preconditions") or {}).get("uid"),
                             resource_version=(do.get("preconditions") or {}).get("resourceVersion"),
                             dry_run=bool(do.get("dryRun")))
        await self.store.delete(rt, ns, name, opts)
        return render(success_status(), accept, 201)

    async def finalize(self, request: web.Request, rt: ResourceType, name: str) -> web.StreamResponse:
        accept = negotiate(request, allow_table=False)
        raw = await read_body(request)
        body = parse_object(request, raw, rt.kind)
        body = decoding.decode_object(rt, body, "Ignore", decoding.Warnings(), apply_defaults=False)
        finalizers = (body.get("spec") or {}).get("finalizers") or []

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            current.setdefault("spec", {})["finalizers"] = list(finalizers)
            if not finalizers:
                del current["spec"]["finalizers"]
            current["metadata"]["resourceVersion"] = (body.get("metadata") or {}).get("resourceVersion", "")
            return current

        out = await self.store.update(rt, None, name, mutate, subresource="finalize")
        return render(out, accept)


def scheduled_condition(now: str | None = None) -> dict[str, Any]:
    return {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
            "lastTransitionTime": now or format_time(wall_clock())}
