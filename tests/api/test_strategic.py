"""Strategic merge patch on built-in kinds: merge keys, directives, element order, errors.

Each case names what sends such a patch (kubectl apply's three-way patch,
``kubectl patch``, ``set image``, ``rollout restart``...).  Expected results were
checked against apimachinery's strategicpatch on the same inputs, including the
order of merged list elements.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.strategic import strategic_merge_patch

POD = "io.k8s.api.core.v1.Pod"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
SERVICE = "io.k8s.api.core.v1.Service"


def c(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": list(containers), **spec}}


def deploy(*containers: dict[str, Any], strategy: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", **meta},
        "spec": {
            "replicas": 1,
            "strategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": list(containers)}},
        },
    }


def tpl(patch: dict[str, Any]) -> dict[str, Any]:
    """A patch of the Deployment's pod template spec."""
    return {"spec": {"template": {"spec": patch}}}


NGINX = c("nginx", image="nginx:1.25", ports=[{"containerPort": 80}])
SIDECAR = c("istio-proxy", image="proxy")

CASES = [
    # -- what kubectl sends ----------------------------------------------------------
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX),
        tpl({"$setElementOrder/containers": [{"name": "nginx"}], "containers": [{"image": "nginx:1.26", "name": "nginx"}]}),
        deploy(c("nginx", image="nginx:1.26", ports=[{"containerPort": 80}])),
        id="kubectl-set-image",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX),
        {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}}}}},
        deploy(NGINX)
        | {
            "spec": deploy(NGINX)["spec"]
            | {
                "template": {
                    "metadata": {"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}},
                    "spec": {"containers": [NGINX]},
                }
            }
        },
        id="kubectl-rollout-restart",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX),
        {"spec": {"paused": True}},
        deploy(NGINX) | {"spec": deploy(NGINX)["spec"] | {"paused": True}},
        id="kubectl-rollout-pause",
    ),
    pytest.param(
        "io.k8s.api.core.v1.Node",
        {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24"}},
        {"spec": {"unschedulable": True}},
        {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24", "unschedulable": True}},
        id="kubectl-cordon",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX),
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}},
        deploy(NGINX, strategy={"type": "Recreate"}),
        id="apply-strategy-rollingupdate-to-recreate",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX),
        {"spec": {"strategy": {"type": "Recreate"}}},
        deploy(NGINX, strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
        id="plain-patch-to-recreate-keeps-rollingupdate",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX, strategy={"type": "Recreate"}),
        {"spec": {"strategy": {"$retainKeys": ["rollingUpdate", "type"], "rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"}}},
        deploy(NGINX, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
        id="apply-strategy-recreate-to-rollingupdate",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX, SIDECAR),
        tpl({"$setElementOrder/containers": [{"name": "nginx"}, {"name": "redis"}], "containers": [c("redis", image="redis")]}),
        deploy(NGINX, c("redis", image="redis"), SIDECAR),
        id="apply-adds-container-server-sidecar-last",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX, c("redis", image="redis")),
        tpl({"$setElementOrder/containers": [{"name": "nginx"}], "containers": [{"$patch": "delete", "name": "redis"}]}),
        deploy(NGINX),
        id="apply-removes-container",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(c("app", image="v1"), SIDECAR),
        tpl({"$setElementOrder/containers": [{"name": "app2"}], "containers": [c("app2", image="v2"), {"$patch": "delete", "name": "app"}]}),
        deploy(SIDECAR, c("app2", image="v2")),
        id="apply-renames-container-next-to-sidecar",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX, SIDECAR),
        tpl({"$setElementOrder/containers": [{"name": "redis"}, {"name": "nginx"}], "containers": [c("redis")]}),
        deploy(c("redis"), NGINX, SIDECAR),
        id="apply-prepends-container",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(NGINX, labels={"app": "web", "old": "x"}),
        {"metadata": {"labels": {"old": None, "new": "y"}}},
        deploy(NGINX, labels={"app": "web", "new": "y"}),
        id="apply-label-changes",
    ),
    pytest.param(
        DEPLOYMENT,
        deploy(c("nginx", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
        tpl(
            {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [
                    {"$setElementOrder/env": [{"name": "A"}, {"name": "C"}], "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}], "name": "nginx"}
                ],
            }
        ),
        deploy(c("nginx", env=[{"name": "A", "value": "1"}, {"name": "C", "value": "3"}])),
        id="apply-env-add-and-remove",
    ),
    # -- kubectl patch --type strategic -------------------------------------------
    pytest.param(
        POD,
        pod(NGINX),
        {"spec": {"containers": [c("sidecar", image="busybox")]}},
        pod(c("sidecar", image="busybox"), NGINX),
        id="new-container-goes-first-without-order",
    ),
    pytest.param(
        POD,
        pod(c("a"), c("b")),
        {"spec": {"containers": [c("b", image="x"), c("z"), c("a", image="y")]}},
        pod(c("b", image="x"), c("z"), c("a", image="y")),
        id="patch-order-wins-for-named-elements",
    ),
    pytest.param(
        POD,
        pod(c("a"), c("b"), c("c")),
        {"spec": {"containers": [c("new"), c("b", image="x")]}},
        pod(c("new"), c("a"), c("b", image="x"), c("c")),
        id="server-only-elements-woven-by-position",
    ),
    pytest.param(
        POD,
        pod(c("a", ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 443}])),
        {"spec": {"containers": [c("a", ports=[{"containerPort": 80, "protocol": "TCP"}, {"$patch": "delete", "containerPort": 443}])]}},
        pod(c("a", ports=[{"containerPort": 80, "name": "http", "protocol": "TCP"}])),
        id="ports-by-containerPort",
    ),
    pytest.param(
        POD,
        pod(c("a", volumeMounts=[{"name": "v", "mountPath": "/a"}])),
        {"spec": {"containers": [c("a", volumeMounts=[{"name": "w", "mountPath": "/a", "readOnly": True}])]}},
        pod(c("a", volumeMounts=[{"name": "w", "mountPath": "/a", "readOnly": True}])),
        id="volumeMounts-by-mountPath",
    ),
    pytest.param(
        POD,
        pod(c("a", args=["-v", "-q"])),
        {"spec": {"containers": [c("a", args=["--x"])]}},
        pod(c("a", args=["--x"])),
        id="args-replaced",
    ),
    pytest.param(
        POD,
        pod(c("a"), tolerations=[{"key": "k1", "operator": "Exists"}]),
        {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}},
        pod(c("a"), tolerations=[{"key": "k2", "operator": "Exists"}]),
        id="tolerations-replaced",
    ),
    pytest.param(
        POD,
        pod(c("a"), volumes=[{"name": "v1", "emptyDir": {}}, {"name": "v2", "configMap": {"name": "cm"}}]),
        {"spec": {"volumes": [{"name": "v2", "configMap": {"name": "cm2"}}]}},
        pod(c("a"), volumes=[{"name": "v1", "emptyDir": {}}, {"name": "v2", "configMap": {"name": "cm2"}}]),
        id="volumes-by-name",
    ),
    pytest.param(
        POD,
        pod(c("a"), c("b")),
        {"spec": {"containers": [{"$patch": "replace"}, c("only")]}},
        pod(c("only")),
        id="list-element-replace-directive",
    ),
    pytest.param(
        POD,
        pod(c("a", resources={"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}})),
        {"spec": {"containers": [c("a", resources={"$patch": "replace", "limits": {"memory": "1Gi"}})]}},
        pod(c("a", resources={"limits": {"memory": "1Gi"}})),
        id="map-replace-directive",
    ),
    pytest.param(
        POD,
        pod(c("a"), nodeSelector={"disk": "ssd"}),
        {"spec": {"nodeSelector": {"$patch": "delete"}}},
        pod(c("a"), nodeSelector={}),
        id="map-delete-directive",
    ),
    pytest.param(
        POD,
        pod(c("a"), nodeSelector={"disk": "ssd", "zone": "a"}),
        {"spec": {"nodeSelector": {"zone": None, "gpu": "yes"}}},
        pod(c("a"), nodeSelector={"disk": "ssd", "gpu": "yes"}),
        id="map-of-strings-merges",
    ),
    pytest.param(
        POD,
        pod(c("a")),
        {"spec": {"containers": [c("b", env=[{"name": "X", "value": None}, {"name": "Y", "$patch": "delete"}])]}},
        pod(c("b", env=[{"name": "X"}]), c("a")),
        id="new-element-loses-nulls-and-directives",
    ),
    pytest.param(
        POD,
        pod(c("a"), c("a", image="dup")),
        {"spec": {"containers": [{"$patch": "delete", "name": "a"}]}},
        pod(),
        id="delete-removes-every-duplicate",
    ),
    pytest.param(
        POD,
        pod(c("a")) | {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}},
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        pod(c("a")) | {"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}},
        id="conditions-by-type",
    ),
    pytest.param(
        POD,
        pod(c("a")),
        {"metadata": {"ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs", "apiVersion": "apps/v1"}]}},
        pod(c("a")) | {"metadata": {"name": "p", "ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs", "apiVersion": "apps/v1"}]}},
        id="ownerReferences-added",
    ),
    pytest.param(
        POD,
        pod(c("a")) | {"metadata": {"name": "p", "ownerReferences": [{"uid": "u1", "name": "a"}, {"uid": "u2", "name": "b"}]}},
        {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "u1"}]}},
        pod(c("a")) | {"metadata": {"name": "p", "ownerReferences": [{"uid": "u2", "name": "b"}]}},
        id="ownerReferences-by-uid",
    ),
    pytest.param(
        SERVICE,
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}},
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}},
        id="service-ports-by-port",
    ),
    # -- finalizers: a merging list of strings ----------------------------------------
    pytest.param(
        POD,
        pod() | {"metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["c"]}},
        pod() | {"metadata": {"name": "p", "finalizers": ["c", "a", "b"]}},
        id="finalizer-added-as-set-member",
    ),
    pytest.param(
        POD,
        pod() | {"metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["b"]}},
        pod() | {"metadata": {"name": "p", "finalizers": ["a", "b"]}},
        id="finalizer-already-present",
    ),
    pytest.param(
        POD,
        pod() | {"metadata": {"name": "p", "finalizers": ["a", "b", "c"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"]}},
        pod() | {"metadata": {"name": "p", "finalizers": ["a", "c"]}},
        id="deleteFromPrimitiveList",
    ),
    pytest.param(
        POD,
        pod(),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
        pod(),
        id="deleteFromPrimitiveList-on-missing-list",
    ),
    pytest.param(
        POD,
        pod() | {"metadata": {"name": "p", "finalizers": ["a", "b", "server"]}},
        {"metadata": {"$setElementOrder/finalizers": ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}},
        pod() | {"metadata": {"name": "p", "finalizers": ["b", "c", "server"]}},
        id="apply-finalizers-reorder-add-delete",
    ),
    pytest.param(
        POD,
        pod() | {"metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": None}},
        pod(),
        id="null-deletes-list",
    ),
    # -- everything else -------------------------------------------------------------
    pytest.param(
        POD, pod(c("a")), {"$patch": "replace", "metadata": {"name": "q"}}, {"metadata": {"name": "q"}}, id="replace-whole-object"
    ),
    pytest.param(POD, pod(c("a")), {}, pod(c("a")), id="empty-patch"),
    pytest.param(POD, pod(c("a")), None, pod(c("a")), id="null-body"),
    pytest.param(
        None,
        {"spec": {"items": [1, 2], "m": {"a": 1}}},
        {"spec": {"items": [3], "m": {"b": 2, "a": None}}},
        {"spec": {"items": [3], "m": {"b": 2}}},
        id="no-schema-merges-like-merge-patch",
    ),
    pytest.param(
        POD,
        pod(c("a")) | {"extra": {"list": [{"name": "x"}]}},
        {"extra": {"list": [{"name": "y"}]}},
        pod(c("a")) | {"extra": {"list": [{"name": "y"}]}},
        id="unknown-field-list-replaced",
    ),
    pytest.param(
        POD,
        pod(c("a"), c("b")),
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}},
        pod(c("b"), c("a")),
        id="setElementOrder-alone-reorders",
    ),
]


@pytest.mark.parametrize(("definition", "doc", "patch", "expected"), CASES)
def test_strategic_merge_patch(definition: str | None, doc: dict[str, Any], patch: Any, expected: dict[str, Any]) -> None:
    before_doc, before_patch = copy.deepcopy(doc), copy.deepcopy(patch)
    assert strategic_merge_patch(doc, patch, definition) == expected
    assert (doc, patch) == (before_doc, before_patch)  # inputs are never mutated


UNPROCESSABLE = "the server rejected our request due to an error in our request"

ERRORS = [
    pytest.param({"spec": {"$patch": "merge"}}, 400, "unknown patch type: merge in map: map[$patch:merge]", id="map-merge-directive"),
    pytest.param(
        {"spec": {"$patch": 1, "a": "b"}},
        400,
        "unknown patch type: %!s(int64=1) in map: map[$patch:1 a:b]",
        id="map-bad-directive-type",
    ),
    pytest.param(
        {"spec": {"containers": [{"$patch": "merge"}]}},
        400,
        "merging lists cannot yet be specified in the patch",
        id="list-merge-directive",
    ),
    pytest.param(
        {"spec": {"containers": [{"$patch": "bogus", "name": "a"}]}},
        400,
        "unknown patch type: bogus in map: map[$patch:bogus name:a]",
        id="list-unknown-directive",
    ),
    pytest.param(
        {"spec": {"containers": [{"image": "x"}]}},
        400,
        "map: map[image:x] does not contain declared merge key: name",
        id="missing-merge-key",
    ),
    pytest.param(
        {"spec": {"containers": [{"$patch": "delete"}]}},
        400,
        "map: map[$patch:delete] does not contain declared merge key: name",
        id="delete-without-merge-key",
    ),
    pytest.param(
        {"spec": {"containers": ["a"]}}, 400, "list element types are not identical: [[map[image:x name:a]] [a]]", id="mixed-types"
    ),
    pytest.param({"spec": {"containers": [["a"]]}}, 400, "list element types are not identical: [[map[image:x name:a]] [[a]]]", id="nested-list"),
    pytest.param({"metadata": {"finalizers": [["a"]]}}, 422, UNPROCESSABLE, id="list-of-lists"),
    pytest.param(
        {"spec": {"$retainKeys": ["containers"], "nodeName": "n1"}}, 400, "invalid patch format of retainKeys", id="retainKeys-violated"
    ),
    pytest.param({"spec": {"$retainKeys": "containers"}}, 400, "invalid patch format of retainKeys", id="retainKeys-not-a-list"),
    pytest.param({"metadata": {"$deleteFromPrimitiveList": ["a"]}}, 400, "invalid patch format of primitive list", id="deleteFromPrimitiveList-without-slash"),
    pytest.param({"spec": {"$setElementOrderX/containers": []}}, 400, "invalid patch format of setElementOrder list", id="setElementOrder-bad-prefix"),
    pytest.param(
        {"spec": {"$setElementOrder/containers": "a"}}, 400, "expected a []interface {}, but received a string", id="setElementOrder-not-a-list"
    ),
    pytest.param(
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}], "containers": [{"name": "a"}, {"name": "b"}]}},
        400,
        "The order in patch list:\n[map[name:a] map[name:b]]\n doesn't match $setElementOrder list:\n[map[name:b] map[name:a]]\n",
        id="setElementOrder-contradicts-patch",
    ),
    pytest.param(["a"], 400, "json: cannot unmarshal array into Go value of type map[string]interface {}", id="patch-is-a-list"),
    pytest.param("x", 400, "json: cannot unmarshal string into Go value of type map[string]interface {}", id="patch-is-a-string"),
]


@pytest.mark.parametrize(("patch", "code", "message"), ERRORS)
def test_errors_answer_like_the_api_server(patch: Any, code: int, message: str) -> None:
    doc = pod(c("a", image="x")) | {"metadata": {"name": "p", "finalizers": []}}
    with pytest.raises(StatusError) as info:
        strategic_merge_patch(doc, patch, POD)
    err = info.value
    assert (err.code, err.message) == (code, message)
    assert err.reason == {400: "BadRequest", 422: "Invalid", 500: ""}[code]


WEAVE = [
    pytest.param(["a", "s", "b"], ["b", "a"], ["s", "b", "a"], id="server-item-before-later-patch-item"),
    pytest.param(["s", "a"], ["a"], ["s", "a"], id="server-item-first"),
    pytest.param(["a", "s"], ["a"], ["a", "s"], id="server-item-last"),
    pytest.param(["a", "s"], ["n", "a"], ["n", "a", "s"], id="new-then-existing"),
    pytest.param(["a", "s"], ["a", "n"], ["a", "n", "s"], id="existing-then-new"),
    pytest.param(["s1", "a", "s2"], ["n"], ["n", "s1", "a", "s2"], id="only-new"),
]


@pytest.mark.parametrize(("live", "patched", "expected"), WEAVE)
def test_element_order_without_setElementOrder(live: list[str], patched: list[str], expected: list[str]) -> None:
    # patch elements keep the patch's order; server-only ones go before a patch
    # element only when both are in the live list and the server one came first
    doc = pod(*(c(n) for n in live))
    out = strategic_merge_patch(doc, {"spec": {"containers": [c(n, image="i") for n in patched]}}, POD)
    assert [x["name"] for x in out["spec"]["containers"]] == expected
