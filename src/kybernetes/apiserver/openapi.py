"""The OpenAPI documents the API server publishes: ``/openapi/v2`` and ``/openapi/v3``.

Clients learn the shape of every kind from these documents: ``kubectl
explain`` renders them, ``kubectl create/apply`` validates manifests against
them (1.27 and 1.28 load the v2 document eagerly, as protobuf), client-side
apply finds patch strategies and merge keys in them, and kubectl decides from
the PATCH operation of a kind whether the server validates fields itself.

The documents are built from two sources and nothing else:

* the operations, from the resource registry
  (:mod:`kybernetes.apiserver.openapi_paths`);
* the object schemas, from the upstream definitions shipped in
  ``kubernetes-validate`` (:mod:`kybernetes.apiserver.openapi_defs`),
  restricted to what the operations reach.

So a document describes exactly the API this server serves, in upstream's
shapes: Swagger 2.0 with ``#/definitions/`` for v2; for v3 one OpenAPI 3.0
document per path group (``api``, ``api/v1``, ``apis``, ``apis/apps``,
``apis/apps/v1``, ``version`` ...) with ``#/components/schemas/`` and an index
whose ``serverRelativeURL`` carries ``?hash=`` -- the uppercase hex SHA-512 of
the document's bytes, which is also its ETag, so clients may cache a
document forever.

Differences from a real 1.33 server, because the shipped definitions lack
them: no ``enum`` lists on string fields and no ``default`` values in v3.
Upstream also folds repeated v2 parameters into ``#/parameters/``; we keep
them inline (equivalent, and what kubectl's checks read anyway).

The documents never change within a process: every builder is cached, and
callers must treat the returned dicts as read-only.  Pure module: no I/O
beyond the one-time read of the shipped definitions.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from kybernetes import KUBERNETES_VERSION
from kybernetes.apiserver import openapi_defs
from kybernetes.apiserver.openapi_paths import Operation, Param, PathItem, gv_document, path_items

Document = dict[str, Any]

INFO = {"title": "Kubernetes", "version": "v" + KUBERNETES_VERSION}
_BEARER = {
    "BearerToken": {
        "description": "Bearer Token authentication",
        "type": "apiKey",
        "name": "authorization",
        "in": "header",
    }
}


@functools.cache
def _items() -> tuple[PathItem, ...]:
    return tuple(path_items())


def _referenced(items: Iterable[PathItem]) -> set[str]:
    """Definition names the operations of ``items`` use as bodies or responses."""
    names: set[str] = set()
    for item in items:
        for op in item.operations:
            if op.body:
                names.add(op.body)
            names.update(r.schema for r in op.responses if r.schema and r.schema != "string")
    return names


def _extensions(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk:
        group, version, kind = op.gvk
        out["x-kubernetes-group-version-kind"] = {"group": group, "kind": kind, "version": version}
    return out


# ---------------------------------------------------------------- Swagger 2.0

_V2_REF = openapi_defs.REF_PREFIX["v2"]


def _v2_schema(name: str) -> dict[str, str]:
    return {"type": "string"} if name == "string" else {"$ref": _V2_REF + name}


def _v2_param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"uniqueItems": True, "type": p.type, "description": p.description,
                           "name": p.name, "in": p.location}
    if p.required:
        out["required"] = True
    return out


def _v2_operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": op.description,
        "consumes": list(op.consumes),
        "produces": list(op.produces),
        "schemes": ["https"],
        "tags": [op.tag],
        "operationId": op.operation_id,
    }
    params: list[dict[str, Any]] = []
    if op.body:
        body: dict[str, Any] = {"name": "body", "in": "body"}
        if op.body_required:
            body["required"] = True
        body["schema"] = _v2_schema(op.body)
        params.append(body)
    params.extend(_v2_param(p) for p in op.params)
    if params:
        out["parameters"] = params
    out["responses"] = {
        r.code: {"description": r.description, **({"schema": _v2_schema(r.schema)} if r.schema else {})}
        for r in op.responses
    }
    out.update(_extensions(op))
    return out


def _v2_path(item: PathItem) -> dict[str, Any]:
    out: dict[str, Any] = {op.method: _v2_operation(op) for op in item.operations}
    if item.params:
        out["parameters"] = [_v2_param(p) for p in item.params]
    return out


@functools.cache
def build_v2() -> Document:
    """The Swagger 2.0 document served at ``/openapi/v2`` (cached; read-only)."""
    items = _items()
    return {
        "swagger": "2.0",
        "info": dict(INFO),
        "paths": {item.path: _v2_path(item) for item in items},
        "definitions": openapi_defs.definitions(_referenced(items), "v2"),
        "securityDefinitions": _BEARER,
        "security": [{"BearerToken": []}],
    }


# ---------------------------------------------------------------- OpenAPI 3.0

_V3_REF = openapi_defs.REF_PREFIX["v3"]


def _v3_schema(name: str) -> dict[str, str]:
    return {"type": "string"} if name == "string" else {"$ref": _V3_REF + name}


def _v3_param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "in": p.location, "description": p.description}
    if p.required:
        out["required"] = True
    out["schema"] = {"type": p.type, "uniqueItems": True}
    return out


def _v3_operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"tags": [op.tag], "description": op.description, "operationId": op.operation_id}
    if op.params:
        out["parameters"] = [_v3_param(p) for p in op.params]
    if op.body:
        # one entry per accepted media type: kubectl reads the PATCH entries
        # to learn which patch types the server accepts
        out["requestBody"] = {"content": {ct: {"schema": _v3_schema(op.body)} for ct in op.consumes}}
    responses: dict[str, Any] = {}
    for r in op.responses:
        response: dict[str, Any] = {"description": r.description}
        if r.schema:
            response["content"] = {ct: {"schema": _v3_schema(r.schema)} for ct in op.produces}
        responses[r.code] = response
    out["responses"] = responses
    out.update(_extensions(op))
    return out


def _v3_document(items: list[PathItem]) -> Document:
    paths: dict[str, Any] = {}
    for item in items:
        path: dict[str, Any] = {op.method: _v3_operation(op) for op in item.operations}
        if item.params:
            path["parameters"] = [_v3_param(p) for p in item.params]
        paths[item.path] = path
    return {
        "openapi": "3.0.0",
        "info": dict(INFO),
        "paths": paths,
        "components": {
            "schemas": openapi_defs.definitions(_referenced(items), "v3"),
            "securitySchemes": _BEARER,
        },
    }


@functools.cache
def v3_documents() -> dict[str, Document]:
    """Every v3 document by its index key (``api/v1``, ``apis/apps`` ...), sorted (cached; read-only)."""
    grouped: dict[str, list[PathItem]] = {}
    for item in _items():
        grouped.setdefault(item.document, []).append(item)
    return {key: _v3_document(grouped[key]) for key in sorted(grouped)}


def build_v3(group: str, version: str) -> Document:
    """The OpenAPI 3.0 document of one group version; KeyError if it is not served."""
    return v3_documents()[gv_document(group, version)]


def etag(data: bytes) -> str:
    """Uppercase hex SHA-512 of ``data``: the ETag and ``?hash=`` value kube-openapi uses."""
    return hashlib.sha512(data).hexdigest().upper()


def build_v3_index(docs: Mapping[str, bytes]) -> Document:
    """The ``/openapi/v3`` index for the serialized documents ``docs`` (key -> served bytes)."""
    return {"paths": {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={etag(docs[key])}"}
                      for key in sorted(docs)}}


# -------------------------------------------------- serialized, as served

@functools.cache
def v2_json() -> bytes:
    return orjson.dumps(build_v2())


@functools.cache
def v3_json(key: str) -> bytes | None:
    """The served bytes of v3 document ``key``, or None when there is no such document."""
    doc = v3_documents().get(key)
    return None if doc is None else orjson.dumps(doc)


@functools.cache
def v3_index_json() -> bytes:
    docs = {key: v3_json(key) or b"" for key in v3_documents()}
    return orjson.dumps(build_v3_index(docs))
