"""REST handlers for resources: one entry point that routes by verb and subresource.

``/api/v1/...`` and ``/apis/<group>/<version>/...`` requests are parsed by
:mod:`requestinfo`, resolved against the resource registry, then handled here:
get, list, watch, create, update, patch, delete and deletecollection on the
main resource, and the subresources in :mod:`subresources`.  Each handler only
translates HTTP to :class:`Store` calls and back; the semantics live in the store.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api import errors, selectors
from kybernetes.api import tables as printing
from kybernetes.api.meta import labels
from kybernetes.api.meta import now as wall_clock
from kybernetes.api.registry import ResourceType, by_plural
from kybernetes.apiserver import decoding, patching, requestinfo
from kybernetes.apiserver.http import (
    Accept,
    negotiate,
    parse_object,
    query_bool,
    query_int,
    read_body,
    render,
    success_status,
)
from kybernetes.apiserver.listing import Filter, parse_rv
from kybernetes.apiserver.store import DeleteOptions, Store
from kybernetes.apiserver.subresources import Subresources
from kybernetes.apiserver.watch import Watcher, WatchRequest, watch_timeout

# Kinds whose delete answers with the object rather than a Status (ReturnDeletedObject).
RETURNS_DELETED = {"Pod", "ServiceAccount", "Service", "Namespace", "Node"}


def not_found_path() -> errors.StatusError:
    return errors.StatusError(404, errors.NOT_FOUND, "the server could not find the requested resource",
                              {})


def build_filter(rt: ResourceType, request: web.Request) -> Filter:
    ls = request.query.get("labelSelector", "")
    fs = request.query.get("fieldSelector", "")
    lsel = selectors.parse_label_selector(ls) if ls.strip() else None
    fsel = selectors.parse_field_selector(fs) if fs.strip() else None
    if fsel is not None:
        fsel = selectors.check_fields(fsel, rt.selectable_fields(), rt.kind, rt.version)
    if lsel is None and fsel is None:
        return lambda obj: True

    def keep(obj: dict[str, Any]) -> bool:
        if lsel is not None and not lsel.matches(labels(obj)):
            return False
        return fsel is None or fsel.matches(rt.field_set(obj))

    return keep


def dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def with_warnings(resp: web.StreamResponse, warnings: decoding.Warnings) -> web.StreamResponse:
    for w in warnings.header_values():
        resp.headers.add("Warning", w)
    return resp


class ResourceHandlers:
    def __init__(self, store: Store):
        self.store = store
        self.sub = Subresources(store, self.view)

    def table(self, rt: ResourceType, objs: list[dict[str, Any]], accept: Accept, request: web.Request,
              rv: str, continue_token: str = "", remaining: int | None = None,
              with_columns: bool = True) -> dict[str, Any]:
        include = request.query.get("includeObject", "Metadata")
        return printing.build_table(rt, objs, wall_clock(), include_object=include, resource_version=rv,
                                    continue_token=continue_token, remaining=remaining,
                                    with_columns=with_columns, version=accept.version)

    def view(self, rt: ResourceType, obj: dict[str, Any], accept: Accept, request: web.Request) -> Any:
        """One object in the negotiated form."""
        if accept.form == "table":
            return self.table(rt, [obj], accept, request, obj["metadata"].get("resourceVersion", ""))
        if accept.form == "metadata":
            return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{accept.version}",
                    "metadata": obj.get("metadata", {})}
        return obj

    async def handle(self, request: web.Request) -> web.StreamResponse:
        info = requestinfo.parse(request.method, request.path, query_bool(request, "watch"))
        if info is None:
            raise not_found_path()
        rt = by_plural(info.group, info.version, info.resource)
        if rt is None:
            raise not_found_path()
        if rt.namespaced != (info.namespace is not None) and (info.name is not None or info.verb == "create"):
            raise not_found_path()
        if not rt.namespaced and info.namespace is not None:
            raise not_found_path()
        if info.subresource is not None:
            if rt.subresource(info.subresource) is None:
                raise not_found_path()
            return await self.sub.handle(request, rt, info)
        verb = info.verb
        if verb not in rt.verbs:
            raise errors.method_not_allowed(rt.plural, verb.upper() if verb != "deletecollection" else "DELETE",
                                            rt.group)
        ns, name = info.namespace, info.name
        if verb == "get":
            assert name is not None
            accept = negotiate(request)
            return render(self.view(rt, await self.store.get(rt, ns, name), accept, request), accept)
        if verb == "list":
            return await self.list(request, rt, ns)
        if verb == "watch":
            return await self.watch(request, rt, ns, info.name)
        if verb == "create":
            return await self.create(request, rt, ns, name)
        if verb == "update":
            assert name is not None
            return await self.update(request, rt, ns, name)
        if verb == "patch":
            assert name is not None
            return await self.patch(request, rt, ns, name)
        if verb == "delete":
            assert name is not None
            return await self.delete(request, rt, ns, name)
        if verb == "deletecollection":
            return await self.delete_collection(request, rt, ns)
        raise errors.method_not_allowed(rt.plural, request.method, rt.group)

    async def list(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.StreamResponse:
        accept = negotiate(request)
        keep = build_filter(rt, request)
        res = await self.store.lister.list(
            rt, ns, keep, limit=query_int(request, "limit"), continue_token=request.query.get("continue", ""),
            resource_version=request.query.get("resourceVersion", ""),
            match=request.query.get("resourceVersionMatch", ""))
        if accept.form == "table":
            body = self.table(rt, res.items, accept, request, res.resource_version, res.continue_token,
                              res.remaining)
            return render(body, accept)
        meta: dict[str, Any] = {"resourceVersion": res.resource_version}
        if res.continue_token:
            meta["continue"] = res.continue_token
        if res.remaining is not None:
            meta["remainingItemCount"] = res.remaining
        if accept.form == "metadata":
            items: list[Any] = [{"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{accept.version}",
                                 "metadata": o.get("metadata", {})} for o in res.items]
            return render({"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{accept.version}",
                           "metadata": meta, "items": items}, accept)
        return render({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta,
                       "items": res.items}, accept)

    async def watch(self, request: web.Request, rt: ResourceType, ns: str | None,
                    name: str | None) -> web.StreamResponse:
        accept = negotiate(request)
        keep = build_filter(rt, request)
        if name is not None:  # legacy /watch/.../name
            inner = keep
            keep = lambda o: o["metadata"].get("name") == name and inner(o)  # noqa: E731
        rv = request.query.get("resourceVersion", "")
        if rv not in ("", "0"):
            parse_rv(rv)  # a bad one is a 400 now, before the stream has started
        sie = request.query.get("sendInitialEvents")
        if sie is not None and request.query.get("resourceVersionMatch") != "NotOlderThan":
            raise errors.invalid("ListOptions", "", [errors.forbidden_field(
                "sendInitialEvents", "sendInitialEvents is forbidden for watch unless resourceVersionMatch "
                "is set to NotOlderThan")], "meta.k8s.io")

        def rendered(obj: dict[str, Any], first: bool) -> Any:
            if accept.form == "table":
                return self.table(rt, [obj], accept, request, obj["metadata"].get("resourceVersion", ""),
                                  with_columns=first)
            return self.view(rt, obj, accept, request)

        wr = WatchRequest(rt, ns, keep, request.query.get("resourceVersion", ""), watch_timeout(request),
                          query_bool(request, "allowWatchBookmarks"), sie == "true", accept, rendered)
        return await Watcher(request, wr, self.store.cache, self.store.backend).run()

    async def read_decoded(self, request: web.Request, rt: ResourceType, ns: str | None,
                           warnings: decoding.Warnings) -> dict[str, Any]:
        """The request body decoded, checked against the URL's namespace, and defaulted."""
        fv = decoding.field_validation(request.query.get("fieldValidation"))
        raw = await read_body(request)
        body = parse_object(request, raw, rt.kind)
        obj = decoding.decode_object(rt, body, fv, warnings, raw)
        meta = obj["metadata"]
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != ns:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request")
        return obj

    async def create(self, request: web.Request, rt: ResourceType, ns: str | None,
                     name: str | None) -> web.StreamResponse:
        accept = negotiate(request)
        dr = dry_run(request)
        warnings = decoding.Warnings()
        obj = await self.read_decoded(request, rt, ns, warnings)
        if name is not None:
            raise errors.method_not_allowed(rt.plural, "POST", rt.group)
        created = await self.store.create(rt, ns, obj, dry_run=dr)
        return with_warnings(render(self.view(rt, created, accept, request), accept, 201), warnings)

    async def update(self, request: web.Request, rt: ResourceType, ns: str | None,
                     name: str) -> web.StreamResponse:
        accept = negotiate(request)
        dr = dry_run(request)
        warnings = decoding.Warnings()
        obj = await self.read_decoded(request, rt, ns, warnings)
        meta = obj["metadata"]
        if meta.get("name") != name:
            if not meta.get("name"):
                raise errors.invalid(rt.kind, name, [errors.required(
                    "metadata.name", "name or generateName is required")], rt.group)
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        updated = await self.store.update(rt, ns, name, obj, dry_run=dr)
        return with_warnings(render(self.view(rt, updated, accept, request), accept), warnings)

    async def patch(self, request: web.Request, rt: ResourceType, ns: str | None,
                    name: str) -> web.StreamResponse:
        accept = negotiate(request)
        dr = dry_run(request)
        fv = decoding.field_validation(request.query.get("fieldValidation"))
        warnings = decoding.Warnings()
        mutate = await patching.patcher(request, rt, fv, warnings)
        updated = await self.store.update(rt, ns, name, mutate, dry_run=dr)
        return with_warnings(render(self.view(rt, updated, accept, request), accept), warnings)

    async def delete_options(self, request: web.Request) -> DeleteOptions:
        opts = DeleteOptions(dry_run=dry_run(request))
        raw = await read_body(request)
        body: dict[str, Any] = {}
        if raw.strip():
            body = decoding.decode_as(ResourceType("meta.k8s.io", "v1", "DeleteOptions", "", False, ""),
                                      parse_object(request, raw, "DeleteOptions"),
                                      "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "DeleteOptions")
        q = request.query
        grace = body.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
        if grace is not None and grace != "":
            try:
                opts.grace_period = int(grace)
            except (TypeError, ValueError):
                raise errors.bad_request(f'invalid value for gracePeriodSeconds: "{grace}"') from None
            if not -(2**63) <= opts.grace_period < 2**63:
                raise errors.bad_request(f'invalid value for gracePeriodSeconds: "{grace}": value out of range')
        prop = body.get("propagationPolicy") or q.get("propagationPolicy")
        orphan = body.get("orphanDependents", q.get("orphanDependents"))
        if prop is not None and prop not in ("Orphan", "Background", "Foreground"):
            raise errors.invalid("DeleteOptions", "", [errors.not_supported(
                "propagationPolicy", prop, ["Foreground", "Background", "Orphan", "nil"])], "meta.k8s.io")
        if prop is not None and orphan is not None:
            raise errors.invalid("DeleteOptions", "", [errors.invalid_value(
                "propagationPolicy", prop, "orphanDependents and deletionPropagation cannot be both set")],
                "meta.k8s.io")
        if orphan is not None:
            prop = "Orphan" if str(orphan).lower() == "true" else "Background"
        opts.propagation = prop
        pre = body.get("preconditions") or {}
        opts.uid = pre.get("uid")
        opts.resource_version = pre.get("resourceVersion")
        if body.get("dryRun"):
            opts.dry_run = True
        return opts

    async def delete(self, request: web.Request, rt: ResourceType, ns: str | None,
                     name: str) -> web.StreamResponse:
        accept = negotiate(request)
        opts = await self.delete_options(request)
        obj, gone = await self.store.delete(rt, ns, name, opts)
        if gone and rt.kind not in RETURNS_DELETED:
            return render(success_status({"name": name, "group": rt.group, "kind": rt.plural,
                                          "uid": obj["metadata"].get("uid")}), accept)
        return render(self.view(rt, obj, accept, request), accept)

    async def delete_collection(self, request: web.Request, rt: ResourceType,
                                ns: str | None) -> web.StreamResponse:
        accept = negotiate(request)
        opts = await self.delete_options(request)
        keep = build_filter(rt, request)
        res = await self.store.lister.list(rt, ns, keep)
        deleted = []
        for obj in res.items:
            m = obj["metadata"]
            try:
                out, _ = await self.store.delete(rt, m.get("namespace") or None, m["name"], opts)
            except errors.StatusError as e:
                if e.code == 404:
                    continue
                raise
            deleted.append(out)
        return render({"kind": rt.list_kind, "apiVersion": rt.api_version,
                       "metadata": {"resourceVersion": res.resource_version}, "items": deleted}, accept)
