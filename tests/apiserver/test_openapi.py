"""The OpenAPI documents: their shapes, the protobuf encoding and the HTTP handlers.

Shapes are checked against what upstream publishes (operation ids, extensions,
parameters kubectl looks for); the protobuf encoding by round trips and known
bytes; the handlers through a real aiohttp server.  The proof that real
clients read all this is in ``test_openapi_kubectl.py``.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.api import registry
from kybernetes.apiserver import openapi, openapi_proto, openapi_routes

POD = "io.k8s.api.core.v1.Pod"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
PATCH_TYPES = {"application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
PROTO_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def op_ids(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {op["operationId"]: (path, method) for path, method, op in operations(doc)}


def param_names(doc: dict[str, Any], path: str, method: str) -> set[str]:
    item = doc["paths"][path]
    return {p["name"] for p in item.get("parameters", []) + item[method].get("parameters", [])}


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


# ------------------------------------------------------------------ v2 shapes

UPSTREAM_OPERATIONS = [
    ("listCoreV1NamespacedPod", "/api/v1/namespaces/{namespace}/pods", "get"),
    ("listCoreV1PodForAllNamespaces", "/api/v1/pods", "get"),
    ("createCoreV1NamespacedPod", "/api/v1/namespaces/{namespace}/pods", "post"),
    ("deleteCoreV1CollectionNamespacedPod", "/api/v1/namespaces/{namespace}/pods", "delete"),
    ("readCoreV1NamespacedPod", "/api/v1/namespaces/{namespace}/pods/{name}", "get"),
    ("patchCoreV1NamespacedPodStatus", "/api/v1/namespaces/{namespace}/pods/{name}/status", "patch"),
    ("createCoreV1NamespacedPodBinding", "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post"),
    ("createCoreV1NamespacedPodEviction", "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post"),
    ("replaceCoreV1NamespaceFinalize", "/api/v1/namespaces/{name}/finalize", "put"),
    ("listCoreV1Node", "/api/v1/nodes", "get"),
    ("watchCoreV1NamespacedPodList", "/api/v1/watch/namespaces/{namespace}/pods", "get"),
    ("patchAppsV1NamespacedDeploymentScale", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
     "patch"),
    ("readCoordinationV1NamespacedLease", "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}",
     "get"),
    ("listEventsV1EventForAllNamespaces", "/apis/events.k8s.io/v1/events", "get"),
    ("getAppsAPIGroup", "/apis/apps/", "get"),
    ("getCoreV1APIResources", "/api/v1/", "get"),
    ("getCodeVersion", "/version/", "get"),
]


@pytest.mark.parametrize(("operation_id", "path", "method"), UPSTREAM_OPERATIONS,
                         ids=[o[0] for o in UPSTREAM_OPERATIONS])
def test_v2_operation_ids_match_upstream_names(operation_id: str, path: str, method: str) -> None:
    assert op_ids(openapi.build_v2())[operation_id] == (path, method)


def test_v2_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for _, _, op in operations(openapi.build_v2())]
    assert len(ids) == len(set(ids))


VERB_METHOD = {"list": ("", "get"), "create": ("", "post"), "deletecollection": ("", "delete"),
               "get": ("/{name}", "get"), "update": ("/{name}", "put"), "patch": ("/{name}", "patch"),
               "delete": ("/{name}", "delete"), "watch": ("", "get")}


@pytest.mark.parametrize("rt", registry.RESOURCES, ids=lambda rt: f"{rt.group or 'core'}-{rt.plural}")
def test_v2_every_served_verb_is_documented(rt: registry.ResourceType) -> None:
    doc = openapi.build_v2()
    root = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scope = "/namespaces/{namespace}" if rt.namespaced else ""
    documented = {(path, method) for path, method, op in operations(doc)}
    for verb in rt.verbs:
        suffix, method = VERB_METHOD[verb]
        watch = "/watch" if verb == "watch" else ""
        assert (f"{root}{watch}{scope}/{rt.plural}{suffix}", method) in documented, verb
    if rt.namespaced:
        assert (f"{root}/{rt.plural}", "get") in documented  # list across namespaces
    for sub in rt.subresources:
        for verb in sub.verbs:
            method = {"create": "post", "update": "put"}.get(verb, verb)
            assert (f"{root}{scope}/{rt.plural}/{{name}}/{sub.name}", method) in documented, (sub.name, verb)


@pytest.mark.parametrize(("path", "gvk"), [
    ("/api/v1/namespaces/{namespace}/pods/{name}", {"group": "", "kind": "Pod", "version": "v1"}),
    ("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
     {"group": "autoscaling", "kind": "Scale", "version": "v1"}),
    ("/api/v1/namespaces/{namespace}/pods/{name}/eviction", {"group": "policy", "kind": "Eviction", "version": "v1"}),
])
def test_v2_operations_carry_the_group_version_kind(path: str, gvk: dict[str, str]) -> None:
    item = openapi.build_v2()["paths"][path]
    for method, op in item.items():
        if method != "parameters":
            assert op["x-kubernetes-group-version-kind"] == gvk


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/{namespace}/pods/{name}",
    "/api/v1/namespaces/{namespace}/pods/{name}/status",
    "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
    "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
    "/api/v1/nodes/{name}",
])
def test_v2_patch_declares_patch_types_and_write_parameters(path: str) -> None:
    doc = openapi.build_v2()
    patch = doc["paths"][path]["patch"]
    assert set(patch["consumes"]) == PATCH_TYPES  # no apply-patch+cbor: off by default in 1.33
    # kubectl finds fieldValidation on the PATCH operation itself, never via the path or a $ref
    assert "fieldValidation" in {p.get("name") for p in patch["parameters"]}
    assert {"body", "dryRun", "fieldManager", "fieldValidation", "force"} <= param_names(doc, path, "patch")
    assert patch["parameters"][0] == {"name": "body", "in": "body", "required": True,
                                      "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}


def test_v2_list_and_delete_parameters() -> None:
    doc = openapi.build_v2()
    listing = param_names(doc, "/api/v1/namespaces/{namespace}/pods", "get")
    assert listing == {"namespace", "pretty", "allowWatchBookmarks", "continue", "fieldSelector", "labelSelector",
                       "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds",
                       "watch"}
    assert "application/json;stream=watch" in doc["paths"]["/api/v1/pods"]["get"]["produces"]
    collection = param_names(doc, "/api/v1/namespaces/{namespace}/pods", "delete")
    assert {"gracePeriodSeconds", "propagationPolicy", "labelSelector", "body"} <= collection
    assert "watch" not in collection
    assert param_names(doc, "/api/v1/namespaces/{namespace}/pods", "post") >= {"fieldValidation", "dryRun",
                                                                                "fieldManager", "body"}


def test_v2_definitions_are_openapi2_and_refs_resolve() -> None:
    doc = openapi.build_v2()
    defs = doc["definitions"]
    for node in walk(doc):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/definitions/")
            assert ref.removeprefix("#/definitions/") in defs, ref
        if "type" in node and isinstance(node["type"], (str, list)):
            assert isinstance(node["type"], str) and node["type"] != "null", node
        assert not {"oneOf", "anyOf", "$defs"} & node.keys()
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] | {"description": ""} == {
        "description": "", "type": "string", "format": "int-or-string"}
    assert defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    assert defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]["format"] == "date-time"
    # only what is reachable: nothing from groups we do not serve
    assert not any(name.startswith("io.k8s.api.batch.") for name in defs)
    assert {POD, DEPLOYMENT, "io.k8s.api.autoscaling.v1.Scale", "io.k8s.api.policy.v1.Eviction",
            "io.k8s.api.core.v1.Binding", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"} <= defs.keys()


def test_v2_definitions_keep_extensions_and_drop_injected_enums() -> None:
    defs = openapi.build_v2()["definitions"]
    containers = defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Container"}
    assert defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["x-kubernetes-patch-strategy"] \
        == "retainKeys"
    assert defs[POD]["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert defs[POD]["properties"]["apiVersion"] == {"description": defs[POD]["properties"]["apiVersion"]
                                                     ["description"], "type": "string"}


# ------------------------------------------------------------------ v3

def test_v3_index_lists_every_group_version_with_its_hash() -> None:
    index = orjson.loads(openapi.v3_index_json())["paths"]
    assert {"api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "apis/coordination.k8s.io/v1",
            "apis/events.k8s.io/v1", "apis/discovery.k8s.io/v1", "version"} <= index.keys()
    for key, entry in index.items():
        data = openapi.v3_json(key)
        assert data is not None
        assert entry["serverRelativeURL"] == f"/openapi/v3/{key}?hash={openapi.etag(data)}"
    assert len(openapi.etag(b"x")) == 128 and openapi.etag(b"x").isupper()


def test_v3_document_shape() -> None:
    doc = openapi.build_v3("apps", "v1")
    assert doc["openapi"] == "3.0.0" and doc["info"] == {"title": "Kubernetes", "version": "v1.33.0"}
    assert all(path.startswith("/apis/apps/v1/") for path in doc["paths"])
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert set(patch["requestBody"]["content"]) == PATCH_TYPES
    assert {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][2].items()
    assert patch["parameters"][2]["schema"] == {"type": "string", "uniqueItems": True}
    assert set(patch["responses"]["200"]["content"]) == {"application/json", "application/yaml",
                                                         "application/vnd.kubernetes.protobuf"}
    schemas = doc["components"]["schemas"]
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys" and "$ref" not in strategy
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas  # the scale subresource's kind
    assert "io.k8s.api.core.v1.Node" not in schemas  # only what this group version reaches
    for node in walk(doc):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.removeprefix("#/components/schemas/") in schemas
            assert node.keys() == {"$ref"}


def test_v3_unknown_group_version_raises() -> None:
    with pytest.raises(KeyError):
        openapi.build_v3("batch", "v1")


def test_documents_are_cached_and_quick() -> None:
    start = time.perf_counter()
    openapi.build_v2()
    openapi.v3_documents()
    openapi.v3_index_json()
    assert openapi.build_v2() is openapi.build_v2()
    assert time.perf_counter() - start < 0.5


# ------------------------------------------------------------------ protobuf

def test_protobuf_round_trip_preserves_the_document() -> None:
    doc = openapi.build_v2()
    back = openapi_proto.decode_v2(openapi_proto.encode_v2(doc))
    assert back == doc  # dict equality ignores key order, not values


def test_protobuf_known_bytes() -> None:
    # Document{swagger: "2.0" (1), info: Info{title (1), version (2)} (2)}
    data = openapi_proto.encode_v2({"swagger": "2.0", "info": {"title": "K", "version": "v"}})
    assert data == b"\x0a\x032.0" + b"\x12\x06" + b"\x0a\x01K" + b"\x12\x01v"


@pytest.mark.parametrize("schema", [
    {"type": "object", "additionalProperties": False},
    {"type": "object", "additionalProperties": {"type": "string"}},
    {"type": "array", "items": {"$ref": "#/definitions/X"}},
    {"type": "string", "enum": ["a", ""], "default": "a", "x-kubernetes-list-type": "atomic"},
    {"type": "integer", "format": "int64", "minimum": -3, "maximum": 2.5, "uniqueItems": True},
    {"type": "object", "properties": {}, "required": ["a"], "allOf": [{"$ref": "#/definitions/Y"}]},
], ids=["ap-false", "ap-schema", "items", "enum-default-ext", "numbers", "empty-properties"])
def test_protobuf_schema_forms_round_trip(schema: dict[str, Any]) -> None:
    doc = {"swagger": "2.0", "definitions": {"S": schema}}
    assert openapi_proto.decode_v2(openapi_proto.encode_v2(doc)) == doc


def test_protobuf_parameters_pick_their_variant() -> None:
    op = {"parameters": [
        {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/P"}},
        {"name": "q", "in": "query", "type": "string", "uniqueItems": True},
        {"name": "n", "in": "path", "type": "string", "required": True},
        {"$ref": "#/parameters/shared"},
    ], "responses": {"200": {"description": "OK", "schema": {"type": "string"}}},
        "x-kubernetes-group-version-kind": {"group": "", "kind": "Pod", "version": "v1"}}
    doc = {"swagger": "2.0", "paths": {"/p": {"get": op}, "x-ext": 1}}
    assert openapi_proto.decode_v2(openapi_proto.encode_v2(doc)) == doc


def test_protobuf_rejects_keys_gnostic_does_not_know() -> None:
    with pytest.raises(ValueError, match="oneOf"):
        openapi_proto.encode_v2({"definitions": {"S": {"oneOf": []}}})


# ------------------------------------------------------------------ HTTP handlers

@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    openapi_routes.add_routes(app)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_http_v2_negotiates_json_and_protobuf(client: TestClient[web.Request, web.Application]) -> None:
    as_json = await client.get("/openapi/v2", headers={"Accept": "application/json"})
    assert as_json.status == 200 and as_json.content_type == "application/json"
    assert await as_json.read() == openapi.v2_json()
    for accept in (PROTO_ACCEPT, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                   f"{PROTO_ACCEPT}, application/json"):
        as_proto = await client.get("/openapi/v2", headers={"Accept": accept})
        assert as_proto.headers["Content-Type"] == openapi_proto.CONTENT_TYPE
        assert openapi_proto.decode_v2(await as_proto.read())["info"]["version"] == "v1.33.0"
        assert as_proto.headers["ETag"] == as_json.headers["ETag"]
    prefer_json = await client.get("/openapi/v2", headers={"Accept": f"{PROTO_ACCEPT};q=0.5, application/json"})
    assert prefer_json.content_type == "application/json"
    refused = await client.get("/openapi/v2", headers={"Accept": "text/html"})
    assert refused.status == 406


async def test_http_etag_304_and_gzip(client: TestClient[web.Request, web.Application]) -> None:
    first = await client.get("/openapi/v2", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    etag = first.headers["ETag"]
    assert etag == f'"{openapi.etag(openapi.v2_json())}"'
    assert first.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await first.read()) == openapi.v2_json()
    again = await client.get("/openapi/v2", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag
    index = await client.get("/openapi/v3")
    assert index.status == 200
    assert (await client.get("/openapi/v3", headers={"If-None-Match": index.headers["ETag"]})).status == 304


async def test_http_v3_hash_caching_and_redirect(client: TestClient[web.Request, web.Application]) -> None:
    index = await (await client.get("/openapi/v3")).json()
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    fresh = await client.get(url)
    assert fresh.status == 200 and fresh.headers["Cache-Control"] == "public, immutable"
    assert "Expires" in fresh.headers and f'"{url.split("hash=")[1]}"' == fresh.headers["ETag"]
    assert (await fresh.json())["openapi"] == "3.0.0"
    plain = await client.get("/openapi/v3/apis/apps/v1")
    assert plain.status == 200 and "Cache-Control" not in plain.headers
    stale = await client.get("/openapi/v3/apis/apps/v1?hash=0123", allow_redirects=False)
    assert stale.status == 301 and stale.headers["Location"] == url
    assert (await client.get("/openapi/v3/apis/batch/v1")).status == 404
    assert (await client.get("/openapi/v3/api/v1", headers={"Accept": "application/xml"})).status == 406
