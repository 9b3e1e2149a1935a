"""Discovery: what the server serves, in the aggregated and the legacy forms.

Aggregated discovery (``apidiscovery.k8s.io`` ``v2`` and ``v2beta1``) answers
``/api`` and ``/apis`` with every resource in one document when the client asks
for it in ``Accept``; the answer is in the version asked for (1.27-1.29 know
only v2beta1).  Legacy discovery (``APIVersions``, ``APIGroupList``,
``APIResourceList``) answers otherwise and at ``/api/v1`` and ``/apis/<g>/<v>``.
All documents are built once from the resource registry.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api.registry import ResourceType, groups, in_group_version, versions
from kybernetes.apiserver.http import json_response

AGGREGATED = "apidiscovery.k8s.io"


def _aggregated_resource(r: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": sorted(r.verbs),
    }
    if r.short_names:
        out["shortNames"] = list(r.short_names)
    if r.categories:
        out["categories"] = list(r.categories)
    subs = []
    for s in r.subresources:
        subs.append({
            "subresource": s.name,
            "responseKind": {"group": s.group if s.group is not None else r.group,
                             "version": s.version or r.version, "kind": s.kind or r.kind},
            "verbs": sorted(s.verbs),
        })
    if subs:
        out["subresources"] = subs
    return out


def _aggregated_group(group: str) -> dict[str, Any]:
    return {
        "metadata": {"name": group, "creationTimestamp": None},
        "versions": [
            {"version": v, "resources": [_aggregated_resource(r) for r in in_group_version(group, v)],
             "freshness": "Current"}
            for v in versions(group)
        ],
    }


@functools.cache
def aggregated(legacy: bool, version: str) -> bytes:
    items = [_aggregated_group("")] if legacy else [_aggregated_group(g) for g in groups() if g]
    return orjson.dumps({"kind": "APIGroupDiscoveryList", "apiVersion": f"{AGGREGATED}/{version}",
                         "metadata": {}, "items": items})


@functools.cache
def api_versions(server_address: str) -> bytes:
    return orjson.dumps({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})


def _group(group: str) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions(group)]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


@functools.cache
def api_group_list() -> bytes:
    return orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1",
                         "groups": [_group(g) for g in groups() if g]})


@functools.cache
def api_group(group: str) -> bytes:
    return orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **_group(group)})


def _legacy_resource(r: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": list(r.verbs)}
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    main["storageVersionHash"] = r.storage_version_hash
    out = [main]
    for s in r.subresources:
        sub: dict[str, Any] = {"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced,
                               "kind": s.kind or r.kind, "verbs": list(s.verbs)}
        group = s.group if s.group is not None else r.group
        version = s.version or r.version
        if (group, version) != (r.group, r.version):
            # another group version: both are named, as upstream does
            sub["group"] = group
            sub["version"] = version
        out.append(sub)
    return out


@functools.cache
def resource_list(group: str, version: str) -> bytes | None:
    rts = in_group_version(group, version)
    if not rts:
        return None
    resources: list[dict[str, Any]] = []
    for r in sorted(rts, key=lambda r: r.plural):
        resources.extend(_legacy_resource(r))
    gv = f"{group}/{version}" if group else version
    return orjson.dumps({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                         "resources": resources})


def wants_aggregated(request: web.Request) -> str | None:
    """The aggregated discovery version the client asked for first, if any."""
    for part in request.headers.get("Accept", "").split(","):
        fields = [f.strip() for f in part.split(";")]
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        if params.get("g") == AGGREGATED and params.get("as") == "APIGroupDiscoveryList":
            v = params.get("v")
            if v in ("v2", "v2beta1"):
                return v
    return None


def _aggregated_response(request: web.Request, body: bytes, version: str) -> web.Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32].upper() + '"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    ctype = f"application/json;g={AGGREGATED};v={version};as=APIGroupDiscoveryList"
    return web.Response(body=body, headers={"Content-Type": ctype, "ETag": etag, "Vary": "Accept"})


async def handle_api(request: web.Request) -> web.Response:
    version = wants_aggregated(request)
    if version:
        return _aggregated_response(request, aggregated(True, version), version)
    addr = request.host or "127.0.0.1"
    return web.Response(body=api_versions(addr), content_type="application/json", headers={"Vary": "Accept"})


async def handle_apis(request: web.Request) -> web.Response:
    version = wants_aggregated(request)
    if version:
        return _aggregated_response(request, aggregated(False, version), version)
    return web.Response(body=api_group_list(), content_type="application/json", headers={"Vary": "Accept"})


def add_routes(app: web.Application, not_found: Any) -> None:
    async def core_v1(request: web.Request) -> web.Response:
        body = resource_list("", "v1")
        assert body is not None
        return web.Response(body=body, content_type="application/json")

    async def group(request: web.Request) -> web.Response:
        g = request.match_info["group"]
        if g not in groups() or not g:
            return json_response(not_found().status(), 404)
        return web.Response(body=api_group(g), content_type="application/json")

    async def group_version(request: web.Request) -> web.Response:
        body = resource_list(request.match_info["group"], request.match_info["version"])
        if body is None:
            return json_response(not_found().status(), 404)
        return web.Response(body=body, content_type="application/json")

    app.router.add_get("/api", handle_api)
    app.router.add_get("/api/", handle_api)
    app.router.add_get("/api/v1", core_v1)
    app.router.add_get("/api/v1/", core_v1)
    app.router.add_get("/apis", handle_apis)
    app.router.add_get("/apis/", handle_apis)
    app.router.add_get("/apis/{group}", group)
    app.router.add_get("/apis/{group}/", group)
    app.router.add_get("/apis/{group}/{version}", group_version)
    app.router.add_get("/apis/{group}/{version}/", group_version)
