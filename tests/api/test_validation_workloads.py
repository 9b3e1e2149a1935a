"""Validation of Deployments, ReplicaSets and ReplicationControllers."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api import registry
from kybernetes.api.validation import validate_create, validate_status_update, validate_update
from tests.api import manifests as m
from tests.api.manifests import DELETE, patch
from tests.api.test_validation import FORBIDDEN, INVALID, NOT_SUPPORTED, REQUIRED, Found, found, message

DEPLOYMENT = registry.by_kind("apps", "v1", "Deployment")
REPLICA_SET = registry.by_kind("apps", "v1", "ReplicaSet")
RC = registry.by_kind("", "v1", "ReplicationController")
assert DEPLOYMENT and REPLICA_SET and RC

T = "spec.template"
RU = "spec.strategy.rollingUpdate"

DEPLOYMENT_CASES = [
    ("valid", {}, []),
    ("recreate", {"spec.strategy": {"type": "Recreate"}}, []),
    ("match-expressions", {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "In",
                                                                   "values": ["nginx", "web"]}]}}, []),
    ("zero-replicas", {"spec.replicas": 0}, []),
    ("negative-replicas", {"spec.replicas": -1}, [("spec.replicas", INVALID)]),
    ("selector-missing", {"spec.selector": DELETE}, [("spec.selector", REQUIRED), (f"{T}.metadata.labels", INVALID)]),
    ("selector-empty", {"spec.selector": {}}, [("spec.selector", INVALID)]),
    ("selector-mismatch", {f"{T}.metadata.labels": {"app": "other"}}, [(f"{T}.metadata.labels", INVALID)]),
    ("template-labels-missing", {f"{T}.metadata": {}}, [(f"{T}.metadata.labels", INVALID)]),
    ("selector-bad-operator", {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "Like",
                                                                       "values": ["x"]}]}},
     [("spec.selector.matchExpressions[0].operator", INVALID), ("spec.selector", INVALID)]),
    ("selector-in-without-values", {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
     [("spec.selector.matchExpressions[0].values", REQUIRED), ("spec.selector", INVALID)]),
    ("selector-bad-label-value", {"spec.selector.matchLabels.app": "-x"},
     [("spec.selector.matchLabels", INVALID), ("spec.selector", INVALID)]),
    ("template-label-bad", {f"{T}.metadata.labels.extra": "a b"}, [(f"{T}.labels", INVALID)]),
    ("template-restart-never", {f"{T}.spec.restartPolicy": "Never"}, [(f"{T}.spec.restartPolicy", NOT_SUPPORTED)]),
    ("template-active-deadline", {f"{T}.spec.activeDeadlineSeconds": 30},
     [(f"{T}.spec.activeDeadlineSeconds", FORBIDDEN)]),
    ("template-container-image", {f"{T}.spec.containers[0].image": ""},
     [(f"{T}.spec.containers[0].image", REQUIRED)]),
    ("template-ephemeral", {f"{T}.spec.ephemeralContainers": [{"name": "dbg", "image": "busybox"}]},
     [(f"{T}.spec.ephemeralContainers", FORBIDDEN)]),
    ("recreate-with-rolling-update", {"spec.strategy.type": "Recreate"}, [(RU, FORBIDDEN)]),
    ("strategy-type-unknown", {"spec.strategy": {"type": "BlueGreen"}}, [("spec.strategy", NOT_SUPPORTED)]),
    ("rolling-update-missing", {"spec.strategy": {"type": "RollingUpdate"}}, [(RU, REQUIRED)]),
    ("both-zero", {RU: {"maxSurge": 0, "maxUnavailable": 0}}, [(f"{RU}.maxUnavailable", INVALID)]),
    ("both-zero-percent", {RU: {"maxSurge": "0%", "maxUnavailable": "0%"}}, [(f"{RU}.maxUnavailable", INVALID)]),
    ("surge-only", {RU: {"maxSurge": 1, "maxUnavailable": 0}}, []),
    ("bad-percent", {f"{RU}.maxSurge": "25"}, [(f"{RU}.maxSurge", INVALID)]),
    ("negative-int", {f"{RU}.maxUnavailable": -1}, [(f"{RU}.maxUnavailable", INVALID)]),
    ("unavailable-over-100", {f"{RU}.maxUnavailable": "101%"}, [(f"{RU}.maxUnavailable", INVALID)]),
    ("surge-over-100-ok", {f"{RU}.maxSurge": "200%"}, []),
    ("revision-history-negative", {"spec.revisionHistoryLimit": -1}, [("spec.revisionHistoryLimit", INVALID)]),
    ("min-ready-negative", {"spec.minReadySeconds": -5}, [("spec.minReadySeconds", INVALID)]),
    ("deadline-not-above-min-ready", {"spec.minReadySeconds": 600}, [("spec.progressDeadlineSeconds", INVALID)]),
    ("name-bad", {"metadata.name": "Web"}, [("metadata.name", INVALID)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in DEPLOYMENT_CASES])
def test_deployment_create(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(DEPLOYMENT, patch(m.deployment(), changes))) == expected


DEPLOYMENT_MESSAGES = [
    ("selector-mismatch", {f"{T}.metadata.labels": {"app": "nginx2"}, "spec.selector.matchLabels": {"app": "nginx"}},
     'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
     'map[string]string{"app":"nginx2"}: `selector` does not match template `labels`'),
    ("selector-missing", {"spec.selector": DELETE},
     'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid '
     'value: map[string]string{"app":"nginx"}: `selector` does not match template `labels`]'),
    ("selector-empty", {"spec.selector": {}},
     'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
     'map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid '
     "for deployment"),
    ("recreate", {"spec.strategy.type": "Recreate"},
     'Deployment.apps "web" is invalid: spec.strategy.rollingUpdate: Forbidden: may not be specified when '
     "strategy `type` is 'Recreate'"),
    ("both-zero", {RU: {"maxSurge": 0, "maxUnavailable": 0}},
     'Deployment.apps "web" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: '
     'intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0'),
    ("over-100", {f"{RU}.maxUnavailable": "110%"},
     'Deployment.apps "web" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: '
     'intstr.IntOrString{Type:1, IntVal:0, StrVal:"110%"}: must not be greater than 100%'),
    ("bad-percent", {f"{RU}.maxSurge": "1x"},
     "Deployment.apps \"web\" is invalid: spec.strategy.rollingUpdate.maxSurge: Invalid value: "
     "intstr.IntOrString{Type:1, IntVal:0, StrVal:\"1x\"}: a valid percent string must be a numeric string "
     "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"),
    ("restart-policy", {f"{T}.spec.restartPolicy": "OnFailure"},
     'Deployment.apps "web" is invalid: spec.template.spec.restartPolicy: Unsupported value: "OnFailure": '
     'supported values: "Always"'),
    ("deadline", {"spec.progressDeadlineSeconds": 5, "spec.minReadySeconds": 10},
     'Deployment.apps "web" is invalid: spec.progressDeadlineSeconds: Invalid value: 5: must be greater than '
     "minReadySeconds"),
]


@pytest.mark.parametrize(("changes", "text"), [pytest.param(c, t, id=i) for i, c, t in DEPLOYMENT_MESSAGES])
def test_deployment_messages(changes: dict[str, Any], text: str) -> None:
    obj = patch(m.deployment(), changes)
    assert message(DEPLOYMENT, obj, validate_create(DEPLOYMENT, obj)) == text


DEPLOYMENT_UPDATE_CASES = [
    ("scale", {"spec.replicas": 5}, []),
    ("new-image", {f"{T}.spec.containers[0].image": "nginx:1.26"}, []),
    ("pause", {"spec.paused": True}, []),
    ("restart-annotation", {f"{T}.metadata.annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T11:00:00Z"}},
     []),
    ("selector-changed", {"spec.selector.matchLabels.tier": "web", f"{T}.metadata.labels.tier": "web"},
     [("spec.selector", INVALID)]),
    ("invalid-template-on-update", {f"{T}.spec.containers[0].name": ""},
     [(f"{T}.spec.containers[0].name", REQUIRED)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in DEPLOYMENT_UPDATE_CASES])
def test_deployment_update(changes: dict[str, Any], expected: Found) -> None:
    old = m.deployment()
    assert found(validate_update(DEPLOYMENT, patch(old, changes), old)) == expected


def test_deployment_selector_immutable_message() -> None:
    old = m.deployment()
    new = patch(old, {"spec.selector.matchLabels.tier": "web", f"{T}.metadata.labels.tier": "web"})
    assert message(DEPLOYMENT, new, validate_update(DEPLOYMENT, new, old)) == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"nginx", "tier":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
        "field is immutable")


DEPLOYMENT_STATUS_CASES = [
    ("healthy", {"status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                            "availableReplicas": 3, "collisionCount": 1}}, []),
    # every counter above a negative replicas count is reported too, as upstream does
    ("negative", {"status": {"replicas": -1, "collisionCount": 1}},
     [("status.replicas", INVALID), ("status.updatedReplicas", INVALID), ("status.readyReplicas", INVALID),
      ("status.availableReplicas", INVALID)]),
    ("ready-above-replicas", {"status": {"replicas": 1, "readyReplicas": 2, "availableReplicas": 1,
                                         "collisionCount": 1}}, [("status.readyReplicas", INVALID)]),
    ("available-above-ready", {"status": {"replicas": 3, "readyReplicas": 1, "availableReplicas": 2,
                                          "collisionCount": 1}}, [("status.availableReplicas", INVALID)]),
    ("collision-count-decremented", {"status": {"collisionCount": 0}}, [("status.collisionCount", INVALID)]),
    ("collision-count-dropped", {"status": {}}, [("status.collisionCount", INVALID)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in DEPLOYMENT_STATUS_CASES])
def test_deployment_status_update(changes: dict[str, Any], expected: Found) -> None:
    old = patch(m.deployment(), {"status": {"collisionCount": 1}})
    assert found(validate_status_update(DEPLOYMENT, patch(old, changes), old)) == expected


REPLICA_SET_CASES = [
    ("valid", {}, []),
    ("selector-missing", {"spec.selector": DELETE}, [("spec.selector", REQUIRED), (f"{T}.metadata.labels", INVALID)]),
    ("selector-mismatch", {f"{T}.metadata.labels.pod-template-hash": "other"}, [(f"{T}.metadata.labels", INVALID)]),
    ("negative-replicas", {"spec.replicas": -3}, [("spec.replicas", INVALID)]),
    ("restart-policy", {f"{T}.spec.restartPolicy": "Never"}, [(f"{T}.spec.restartPolicy", NOT_SUPPORTED)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in REPLICA_SET_CASES])
def test_replica_set_create(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(REPLICA_SET, patch(m.replica_set(), changes))) == expected


def test_replica_set_empty_selector_says_deployment_like_upstream() -> None:
    obj = patch(m.replica_set(), {"spec.selector": {}})
    assert [str(e) for e in validate_create(REPLICA_SET, obj)] == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]


def test_replica_set_update_and_status() -> None:
    old = m.replica_set()
    assert found(validate_update(REPLICA_SET, patch(old, {"spec.replicas": 0}), old)) == []
    assert found(validate_update(REPLICA_SET, patch(old, {"spec.selector.matchLabels.app": "x",
                                                          f"{T}.metadata.labels.app": "x"}), old)) == [
        ("spec.selector", INVALID)]
    assert found(validate_status_update(REPLICA_SET, patch(old, {"status": {
        "replicas": 2, "fullyLabeledReplicas": 3}}), old)) == [("status.fullyLabeledReplicas", INVALID)]


RC_CASES = [
    ("valid", {}, []),
    ("selector-empty", {"spec.selector": {}}, [("spec.selector", REQUIRED)]),
    ("selector-mismatch", {"spec.selector": {"app": "other"}}, [(f"{T}.metadata.labels", INVALID)]),
    ("template-missing", {"spec.template": DELETE}, [("spec.template", REQUIRED)]),
    ("restart-never", {f"{T}.spec.restartPolicy": "Never"}, [(f"{T}.spec.restartPolicy", NOT_SUPPORTED)]),
    ("deadline", {f"{T}.spec.activeDeadlineSeconds": 5}, [(f"{T}.spec.activeDeadlineSeconds", FORBIDDEN)]),
    ("negative-replicas", {"spec.replicas": -1}, [("spec.replicas", INVALID)]),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in RC_CASES])
def test_replication_controller(changes: dict[str, Any], expected: Found) -> None:
    assert found(validate_create(RC, patch(m.replication_controller(), changes))) == expected


def test_replication_controller_messages() -> None:
    obj = patch(m.replication_controller(), {f"{T}.spec.activeDeadlineSeconds": 5})
    assert message(RC, obj, validate_create(RC, obj)) == (
        'ReplicationController "legacy" is invalid: spec.template.spec.activeDeadlineSeconds: Forbidden: '
        "activeDeadlineSeconds in ReplicationController is not Supported")
    old = m.replication_controller()
    assert found(validate_update(RC, patch(old, {"spec.selector": {"app": "nginx", "x": "y"},
                                                 f"{T}.metadata.labels.x": "y"}), old)) == []
