"""pods/log, pods/exec, pods/attach, pods/portforward on the API server: discovery, the checks made before
anything is proxied (bound pod, container name, node address) and the pure helpers behind them.

The happy paths, through a real node streaming server, are in ``tests/kubelet/test_streaming_server.py``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.apiserver.podproxy import choose_container, node_endpoint
from tests.conftest import Kubectl
from tests.kubelet.streaming_env import ApiObjects
from tests.serverproc import ServerProc

# --- pure helpers ---------------------------------------------------------------------------------------------


def pod(*containers: str, init: tuple[str, ...] = (), default: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p"}
    if default:
        meta["annotations"] = {"kubectl.kubernetes.io/default-container": default}
    return {"metadata": meta, "spec": {"containers": [{"name": c} for c in containers],
                                       "initContainers": [{"name": c} for c in init]}}


@pytest.mark.parametrize("obj,requested,expected", [
    (pod("a"), "", "a"),
    (pod("a", "b"), "b", "b"),
    (pod("a", "b", default="b"), "", "b"),
    (pod("a", init=("i",)), "i", "i"),
    (pod("a", init=("i",)), "", "a"),
], ids=["single", "named", "annotation", "init-named", "init-ignored-by-default"])
def test_choose_container(obj: dict[str, Any], requested: str, expected: str) -> None:
    assert choose_container(obj, requested) == expected


@pytest.mark.parametrize("obj,requested,message", [
    (pod("a", "b"), "", "a container name must be specified for pod p, choose one of: [a b]"),
    (pod("a", "b", init=("i",)), "", "a container name must be specified for pod p, choose one of: [i a b]"),
    (pod("a", "b", default="zz"), "", "a container name must be specified for pod p, choose one of: [a b]"),
    (pod("a"), "x", "container x is not valid for pod p"),
], ids=["several", "several-with-init", "bad-annotation", "unknown"])
def test_choose_container_refuses(obj: dict[str, Any], requested: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as e:
        choose_container(obj, requested)
    assert (e.value.code, e.value.message) == (400, message)


@pytest.mark.parametrize("status,expected", [
    ({"addresses": [{"type": "Hostname", "address": "n"}, {"type": "InternalIP", "address": "10.0.0.2"}],
      "daemonEndpoints": {"kubeletEndpoint": {"Port": 1234}}}, ("10.0.0.2", 1234)),
    ({"addresses": [{"type": "Hostname", "address": "n"}]}, ("n", 10250)),
], ids=["internal-ip-first", "default-port"])
def test_node_endpoint(status: dict[str, Any], expected: tuple[str, int]) -> None:
    assert node_endpoint({"status": status}) == expected


def test_node_endpoint_without_address() -> None:
    with pytest.raises(errors.StatusError) as e:
        node_endpoint({"status": {}})
    assert (e.value.code, e.value.message) == (500, "no preferred addresses found; known addresses: []")


# --- against the server ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ns(server: ServerProc) -> Iterator[str]:
    name = "pp-" + uuid.uuid4().hex[:8]
    api = ApiObjects(server.url)
    api.send("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    api.node(f"{name}-noaddr", None)
    api.node(f"{name}-down", 1)  # nothing listens on port 1
    api.pod(name, "unbound", ["c"])
    api.pod(name, "two", ["a", "b"], f"{name}-down")
    api.pod(name, "noaddr", ["c"], f"{name}-noaddr")
    api.pod(name, "down", ["c"], f"{name}-down")
    yield name


def get(server: ServerProc, path: str) -> tuple[int, dict[str, Any] | str]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("path,code,message", [
    ("unbound/log", 200, ""),
    ("unbound/exec?command=true&stdout=true", 400, "pod unbound does not have a host assigned"),
    ("unbound/portforward?ports=80", 400, "pod unbound does not have a host assigned"),
    ("two/log", 400, "a container name must be specified for pod two, choose one of: [a b]"),
    ("two/log?container=x", 400, "container x is not valid for pod two"),
    ("two/exec?container=x&command=true", 400, "container x is not valid for pod two"),
    ("noaddr/log", 500, "no preferred addresses found; known addresses: []"),
    ("down/log", 503, "error trying to reach the node agent at 127.0.0.1:1"),
    ("missing/log", 404, 'pods "missing" not found'),
], ids=["log-unbound-empty", "exec-unbound", "portforward-unbound", "several-containers", "unknown-container",
        "exec-unknown-container", "node-without-address", "node-down", "no-pod"])
def test_proxy_checks(server: ServerProc, ns: str, path: str, code: int, message: str) -> None:
    status, body = get(server, f"/api/v1/namespaces/{ns}/pods/{path}")
    assert status == code, body
    if isinstance(body, dict):
        assert body["kind"] == "Status" and body["code"] == code
        assert body["message"].startswith(message), body
    else:
        assert body == message


def test_discovery_lists_connect_subresources(server: ServerProc) -> None:
    _, body = get(server, "/api/v1")
    assert isinstance(body, str)
    res = {r["name"]: r for r in json.loads(body)["resources"]}
    assert (res["pods/exec"]["kind"], sorted(res["pods/exec"]["verbs"])) == ("PodExecOptions", ["create", "get"])
    assert (res["pods/attach"]["kind"], sorted(res["pods/attach"]["verbs"])) == ("PodAttachOptions",
                                                                                  ["create", "get"])
    assert (res["pods/portforward"]["kind"], sorted(res["pods/portforward"]["verbs"])) == (
        "PodPortForwardOptions", ["create", "get"])
    assert (res["pods/log"]["kind"], res["pods/log"]["verbs"]) == ("Pod", ["get"])


@pytest.fixture(params=["1.27", "1.33"])
def kubectl(request: pytest.FixtureRequest, kubectl_factory: Callable[[str], Kubectl],
            kubectls: dict[str, str]) -> Kubectl:
    if request.param not in kubectls:
        pytest.skip(f"kubectl {request.param} is not installed")
    return kubectl_factory(request.param)


def test_kubectl_errors(kubectl: Kubectl, ns: str) -> None:
    r = kubectl("exec", "-n", ns, "unbound", "--", "true")
    assert r.rc == 1 and "pod unbound does not have a host assigned" in r.err, r
    r = kubectl("logs", "-n", ns, "two", "-c", "x")
    assert r.rc == 1 and "container x is not valid for pod two" in r.err, r
    r = kubectl("logs", "-n", ns, "noaddr")
    assert r.rc == 1 and "no preferred addresses found" in r.err, r
    assert kubectl.ok("logs", "-n", ns, "unbound") == ""
