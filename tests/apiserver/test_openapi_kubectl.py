"""Real kubectl binaries (1.27 ... 1.33) reading our OpenAPI documents.

A small aiohttp server on a loopback port serves the real OpenAPI handlers
(:func:`kybernetes.apiserver.openapi_routes.add_routes`) plus the minimum
legacy discovery kubectl needs to map ``pods``/``deployments`` to kinds (the
real discovery lives elsewhere).  kubectl then:

* explains kinds from ``/openapi/v3`` (and from the protobuf ``/openapi/v2``
  with ``--output=plaintext-openapiv2``); 1.27 loads the protobuf eagerly, so
  a document it cannot decode fails every explain;
* on ``create --validate=true`` either defers to the server, because the
  kind's PATCH operation declares ``fieldValidation``, or -- against a server
  whose documents lack it -- validates client-side with the protobuf schema.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

from kybernetes.api import registry
from kybernetes.apiserver import openapi, openapi_proto, openapi_routes

pytestmark = pytest.mark.kubectl

PROTO_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")


def kubectl_path(version: str) -> Path:
    path = KUBECTL_DIR / f"kubectl.{version}"
    if not path.exists():
        pytest.skip(f"{path} not installed")
    return path


def _discovery_app(app: web.Application) -> None:
    """Just enough legacy discovery for kubectl to map pods/deployments to kinds."""

    def resource_list(group: str, version: str) -> dict[str, Any]:
        resources = []
        for rt in registry.in_group_version(group, version):
            resources.append({"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                              "kind": rt.kind, "verbs": list(rt.verbs), "shortNames": list(rt.short_names)})
            for sub in rt.subresources:
                resources.append({"name": f"{rt.plural}/{sub.name}", "singularName": "", "kind": sub.kind or rt.kind,
                                  "namespaced": rt.namespaced, "verbs": list(sub.verbs)})
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    async def api(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})

    async def apis(_: web.Request) -> web.Response:
        groups = [{"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in registry.versions(g)],
                   "preferredVersion": {"groupVersion": f"{g}/{registry.versions(g)[0]}",
                                        "version": registry.versions(g)[0]}}
                  for g in registry.groups() if g]
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def core(_: web.Request) -> web.Response:
        return web.json_response(resource_list("", "v1"))

    async def group_version(request: web.Request) -> web.Response:
        group, version = request.match_info["group"], request.match_info["version"]
        if not registry.in_group_version(group, version):
            raise web.HTTPNotFound()
        return web.json_response(resource_list(group, version))

    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", core)
    app.router.add_get("/apis/{group}/{version}", group_version)


def _without_field_validation(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` whose operations do not declare fieldValidation (an older server)."""
    doc = copy.deepcopy(doc)
    for node in walk(doc):
        params = node.get("parameters")
        if isinstance(params, list):
            node["parameters"] = [p for p in params if p.get("name") != "fieldValidation"]
    return doc


def _older_server_routes(app: web.Application) -> None:
    """OpenAPI handlers serving documents without fieldValidation, so kubectl validates client-side."""
    v2 = _without_field_validation(openapi.build_v2())
    v3 = {key: orjson.dumps(_without_field_validation(doc)) for key, doc in openapi.v3_documents().items()}
    index = openapi.build_v3_index(v3)

    async def handle_v2(request: web.Request) -> web.Response:
        if "protobuf" in request.headers.get("Accept", ""):
            return web.Response(body=openapi_proto.encode_v2(v2), content_type=openapi_proto.CONTENT_TYPE)
        return web.json_response(v2)

    async def handle_v3(request: web.Request) -> web.Response:
        key = request.match_info.get("path")
        return web.Response(body=v3[key] if key else orjson.dumps(index), content_type="application/json")

    app.router.add_get("/openapi/v2", handle_v2)
    app.router.add_get("/openapi/v3", handle_v3)
    app.router.add_get("/openapi/v3/{path:.+}", handle_v3)


class Kubectl:
    """Runs a kubectl binary against the test server with its own kubeconfig and caches."""

    def __init__(self, base_url: str, tmp: Path, requests: list[tuple[str, str, int, str]]) -> None:
        self.tmp = tmp
        self.requests = requests  # (path with query, Accept, status, Content-Type) as the server saw them
        self.kubeconfig = tmp / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "t",
            "clusters": [{"name": "t", "cluster": {"server": base_url}}],
            "users": [{"name": "t", "user": {}}],
            "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t", "namespace": "default"}}],
        }))

    async def __call__(self, version: str, *args: str) -> tuple[int, str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["HOME"] = str(self.tmp)
        proc = await asyncio.create_subprocess_exec(
            str(kubectl_path(version)), "--kubeconfig", str(self.kubeconfig),
            "--cache-dir", str(self.tmp / f"cache-{version}"), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=self.tmp)
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


async def _serve(tmp_path: Path, routes: Callable[[web.Application], None]) -> AsyncIterator[Kubectl]:
    seen: list[tuple[str, str, int, str]] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        seen.append((request.path_qs, request.headers.get("Accept", ""), response.status,
                     response.headers.get("Content-Type", "")))
        return response

    app = web.Application(middlewares=[record])
    _discovery_app(app)
    routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Kubectl(str(server.make_url("")).rstrip("/"), tmp_path, seen)
    finally:
        await server.close()


@pytest.fixture
async def kubectl(tmp_path: Path) -> AsyncIterator[Kubectl]:
    async for k in _serve(tmp_path, openapi_routes.add_routes):
        yield k


@pytest.fixture
async def kubectl_older_server(tmp_path: Path) -> AsyncIterator[Kubectl]:
    async for k in _serve(tmp_path, _older_server_routes):
        yield k


POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: c
    image: nginx
    ports:
    - containerPort: {port}
{extra}"""


async def test_kubectl_1_27_explain_reads_v3_after_loading_v2_protobuf(kubectl: Kubectl) -> None:
    rc, out, err = await kubectl("1.27", "explain", "pods.spec.containers")
    assert rc == 0, err
    assert out.startswith("KIND:       Pod\nVERSION:    v1\n\nFIELD: containers <[]Container>\n")
    assert "\n  name\t<string> -required-\n" in out
    assert "\n  ports\t<[]ContainerPort>\n" in out
    # 1.27 loads the protobuf v2 document eagerly; a document it cannot parse fails the command
    assert ("/openapi/v2?timeout=32s", PROTO_ACCEPT, 200, openapi_proto.CONTENT_TYPE) in kubectl.requests
    assert [r[2] for r in kubectl.requests if r[0].startswith("/openapi/v3/api/v1?hash=")] == [200]

    # a second run revalidates through kubectl's HTTP cache (ETag -> 304) and
    # does not fetch the immutable, hash-addressed v3 document again
    del kubectl.requests[:]
    rc, again, err = await kubectl("1.27", "explain", "pods.spec.containers")
    assert rc == 0 and again == out, err
    openapi_requests = [(r[0].split("?")[0], r[2]) for r in kubectl.requests if r[0].startswith("/openapi")]
    assert openapi_requests == [("/openapi/v2", 304), ("/openapi/v3", 304)]


@pytest.mark.parametrize("output", ["plaintext", "plaintext-openapiv2"])
async def test_kubectl_1_28_explain_deployment_strategy(kubectl: Kubectl, output: str) -> None:
    rc, out, err = await kubectl("1.28", "explain", "deployment.spec.strategy", f"--output={output}")
    assert rc == 0, err
    if output == "plaintext":  # rendered from /openapi/v3/apis/apps/v1
        assert out.startswith("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\n"
                              "FIELD: strategy <DeploymentStrategy>\n")
        assert "\n  rollingUpdate\t<RollingUpdateDeployment>\n" in out
    else:  # rendered from the protobuf /openapi/v2 models
        assert out.startswith("KIND:     Deployment\nVERSION:  apps/v1\n\nRESOURCE: strategy <Object>\n")
        assert "\n   rollingUpdate\t<Object>\n" in out
    assert "\n  type\t<string>\n" in out.replace("   type", "  type")
    assert "The deployment strategy to use to replace existing pods with new ones." in out


async def test_kubectl_1_33_explain_recursive(kubectl: Kubectl) -> None:
    rc, out, err = await kubectl("1.33", "explain", "pods.spec", "--recursive")
    assert rc == 0, err
    assert out.startswith("KIND:       Pod\nVERSION:    v1\n\nFIELD: spec <PodSpec>\n")
    for line in ("  containers\t<[]Container> -required-", "    name\t<string> -required-",
                 "    ports\t<[]ContainerPort>", "      containerPort\t<integer> -required-",
                 "  nodeSelector\t<map[string]string>", "  tolerations\t<[]Toleration>"):
        assert f"\n{line}\n" in out, line


@pytest.mark.parametrize("version", ["1.27", "1.28", "1.33"])
async def test_kubectl_leaves_field_validation_to_the_server(kubectl: Kubectl, version: str) -> None:
    # The PATCH operation of Pod declares fieldValidation, so kubectl sends
    # fieldValidation=Strict to the server instead of checking client-side: a
    # client-side dry run prints the object, unknown field included.
    (kubectl.tmp / "pod.yaml").write_text(POD_YAML.format(port=80, extra="  bogus: 1\n"))
    rc, out, err = await kubectl(version, "create", "-f", "pod.yaml", "--dry-run=client", "-o", "yaml",
                                 "--validate=true")
    assert rc == 0, err
    assert "bogus: 1" in out and "namespace: default" in out


@pytest.mark.parametrize("version", ["1.27", "1.28", "1.33"])
async def test_kubectl_validates_client_side_with_the_v2_schema(kubectl_older_server: Kubectl, version: str) -> None:
    # Without fieldValidation on PATCH, kubectl validates against the protobuf v2 schema itself.
    kubectl = kubectl_older_server
    (kubectl.tmp / "pod.yaml").write_text(POD_YAML.format(port='"http"', extra="  bogus: 1\n"))
    rc, out, err = await kubectl(version, "create", "-f", "pod.yaml", "--dry-run=client", "-o", "yaml",
                                 "--validate=true")
    assert rc == 1 and out == ""
    assert 'error validating "pod.yaml": error validating data: ' in err
    assert 'ValidationError(Pod.spec): unknown field "bogus" in io.k8s.api.core.v1.PodSpec' in err
    assert ("ValidationError(Pod.spec.containers[0].ports[0].containerPort): invalid type for "
            'io.k8s.api.core.v1.ContainerPort.containerPort: got "string", expected "integer"') in err

    (kubectl.tmp / "pod.yaml").write_text(POD_YAML.format(port=80, extra=""))
    rc, out, err = await kubectl(version, "create", "-f", "pod.yaml", "--dry-run=client", "-o", "yaml",
                                 "--validate=true")
    assert rc == 0, err
    assert "containerPort: 80" in out
