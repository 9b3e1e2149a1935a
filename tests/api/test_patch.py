"""JSON patch (RFC 6902) and merge patch (RFC 7386) as kube-apiserver applies them.

Expected documents and status codes were checked against evanphx/json-patch v4,
the library the API server uses, run on the same inputs.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.patch import (
    INVALID_MESSAGE,
    MAX_JSON_PATCH_OPERATIONS,
    JsonPatchError,
    create_merge_patch,
    json_patch,
    merge_patch,
)

DEPLOY: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a/b": "1", "x~y": "2"}},
    "spec": {
        "replicas": 2,
        "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}},
        "strategy": {"type": "RollingUpdate"},
    },
    "list": [1, 2, 3],
}


def with_changes(**changes: Any) -> dict[str, Any]:
    """DEPLOY with top-level keys replaced (``None`` removes)."""
    doc = copy.deepcopy(DEPLOY)
    for k, v in changes.items():
        if v is None:
            doc.pop(k)
        else:
            doc[k] = v
    return doc


def spec(**changes: Any) -> dict[str, Any]:
    s = copy.deepcopy(DEPLOY["spec"])
    s.update(changes)
    return s


JSON_PATCHES = [
    pytest.param([{"op": "add", "path": "/list/1", "value": 9}], with_changes(list=[1, 9, 2, 3]), id="add-insert"),
    pytest.param([{"op": "add", "path": "/list/-", "value": 4}], with_changes(list=[1, 2, 3, 4]), id="add-append-dash"),
    pytest.param([{"op": "add", "path": "/list/3", "value": 4}], with_changes(list=[1, 2, 3, 4]), id="add-at-length"),
    pytest.param([{"op": "add", "path": "/list/-1", "value": 4}], with_changes(list=[1, 2, 3, 4]), id="add-negative"),
    pytest.param([{"op": "add", "path": "/new", "value": {"a": [1]}}], with_changes(new={"a": [1]}), id="add-member"),
    pytest.param([{"op": "add", "path": "/list", "value": []}], with_changes(list=[]), id="add-replaces-member"),
    pytest.param([{"op": "add", "path": "/new"}], DEPLOY | {"new": None}, id="add-without-value-null"),
    pytest.param([{"op": "remove", "path": "/list/0"}], with_changes(list=[2, 3]), id="remove-element"),
    pytest.param([{"op": "remove", "path": "/list/-1"}], with_changes(list=[1, 2]), id="remove-negative"),
    pytest.param([{"op": "remove", "path": "/spec"}], with_changes(spec=None), id="remove-member"),
    pytest.param([{"op": "replace", "path": "/spec/replicas", "value": 5}], with_changes(spec=spec(replicas=5)), id="replace"),
    pytest.param(
        [{"op": "replace", "path": "/spec/paused", "value": True}],
        with_changes(spec=spec(paused=True)),
        id="replace-missing-member-adds",
    ),
    pytest.param([{"op": "replace", "path": "", "value": {"a": 1}}], {"a": 1}, id="replace-whole-document"),
    pytest.param([{"op": "move", "from": "/list", "path": "/moved"}], with_changes(list=None, moved=[1, 2, 3]), id="move"),
    pytest.param([{"op": "move", "from": "/list/0", "path": "/list/-"}], with_changes(list=[2, 3, 1]), id="move-in-array"),
    pytest.param([{"op": "copy", "from": "/list/2", "path": "/list/0"}], with_changes(list=[3, 1, 2, 3]), id="copy"),
    pytest.param([{"op": "copy", "from": "/nothing", "path": "/x"}], DEPLOY | {"x": None}, id="copy-missing-null"),
    pytest.param([{"op": "test", "path": "/spec/replicas", "value": 2}], DEPLOY, id="test-passes"),
    pytest.param([{"op": "test", "path": "/nothing", "value": None}], DEPLOY, id="test-missing-against-null"),
    pytest.param([{"op": "test", "path": "/list", "value": [1, 2, 3]}], DEPLOY, id="test-array"),
    pytest.param(
        [{"op": "replace", "path": "/metadata/annotations/a~1b", "value": "9"}],
        with_changes(metadata={**DEPLOY["metadata"], "annotations": {"a/b": "9", "x~y": "2"}}),
        id="escape-slash",
    ),
    pytest.param(
        [{"op": "remove", "path": "/metadata/annotations/x~0y"}],
        with_changes(metadata={**DEPLOY["metadata"], "annotations": {"a/b": "1"}}),
        id="escape-tilde",
    ),
    pytest.param(
        [
            {"op": "test", "path": "/spec/replicas", "value": 2},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
        ],
        with_changes(spec=spec(replicas=3)),
        id="test-then-replace",
    ),
    pytest.param(
        # kubectl rollout undo: the template and annotations of the old ReplicaSet
        [
            {"op": "replace", "path": "/spec/template", "value": {"spec": {"containers": [{"name": "c", "image": "old"}]}}},
            {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "1"}},
        ],
        with_changes(
            spec=spec(template={"spec": {"containers": [{"name": "c", "image": "old"}]}}),
            metadata={**DEPLOY["metadata"], "annotations": {"deployment.kubernetes.io/revision": "1"}},
        ),
        id="kubectl-rollout-undo",
    ),
    pytest.param(
        [{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "A", "value": "1"}]}],
        with_changes(
            spec=spec(template={"spec": {"containers": [{"name": "c", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]}]}})
        ),
        id="deep-add",
    ),
    pytest.param(None, DEPLOY, id="null-body-is-empty-patch"),
    pytest.param([], DEPLOY, id="no-operations"),
]


@pytest.mark.parametrize(("ops", "expected"), JSON_PATCHES)
def test_json_patch(ops: Any, expected: dict[str, Any]) -> None:
    before = copy.deepcopy(DEPLOY)
    assert json_patch(DEPLOY, ops) == expected
    assert before == DEPLOY  # the input is never touched


JSON_PATCH_FAILURES = [
    pytest.param([{"op": "test", "path": "/spec/replicas", "value": 3}], id="test-fails"),
    pytest.param([{"op": "test", "path": "/spec/replicas", "value": 2.0}], id="test-int-vs-float"),
    pytest.param([{"op": "test", "path": "/spec/replicas"}], id="test-without-value"),
    pytest.param([{"op": "test", "path": "/nothing", "value": 1}], id="test-missing"),
    pytest.param([{"op": "remove", "path": "/nothing"}], id="remove-missing"),
    pytest.param([{"op": "remove", "path": "/list/3"}], id="remove-past-end"),
    pytest.param([{"op": "add", "path": "/nothing/deeper", "value": 1}], id="add-missing-parent"),
    pytest.param([{"op": "add", "path": "/list/5", "value": 1}], id="add-past-end"),
    pytest.param([{"op": "add", "path": "/list/x", "value": 1}], id="add-bad-index"),
    pytest.param([{"op": "replace", "path": "/list/3", "value": 1}], id="replace-past-end"),
    pytest.param([{"op": "replace", "path": "", "value": 1}], id="replace-root-scalar"),
    pytest.param([{"op": "move", "from": "/nothing", "path": "/x"}], id="move-missing"),
    pytest.param([{"op": "copy", "from": "/list/9", "path": "/x"}], id="copy-bad-index"),
    pytest.param([{"op": "add", "path": "", "value": 1}], id="add-root"),
    pytest.param([{"op": "frobnicate", "path": "/x"}], id="unknown-op"),
    pytest.param([{"path": "/x"}], id="missing-op"),
    pytest.param([{"op": "add", "value": 1}], id="missing-path"),
    pytest.param([None], id="null-operation"),
    pytest.param([{"op": "add", "path": "/spec/replicas/x", "value": 1}], id="through-scalar"),
    pytest.param(
        [{"op": "replace", "path": "/spec/replicas", "value": 1}, {"op": "test", "path": "/list/0", "value": 2}],
        id="fails-after-a-change",
    ),
]


@pytest.mark.parametrize("ops", JSON_PATCH_FAILURES)
def test_json_patch_failures_are_422_with_generic_message(ops: Any) -> None:
    with pytest.raises(StatusError) as info:
        json_patch(DEPLOY, ops)
    err = info.value
    assert (err.code, err.reason, err.message) == (422, "Invalid", INVALID_MESSAGE)
    assert isinstance(err.__cause__, JsonPatchError)  # the library's reason, for logs


MALFORMED = [
    pytest.param({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch", id="object"),
    pytest.param("x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch", id="string"),
    pytest.param(1, "json: cannot unmarshal number into Go value of type jsonpatch.Patch", id="number"),
    pytest.param(["x"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation", id="string-op"),
    pytest.param([[1]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation", id="array-op"),
    pytest.param([True], "json: cannot unmarshal bool into Go value of type jsonpatch.Operation", id="bool-op"),
]


@pytest.mark.parametrize(("ops", "message"), MALFORMED)
def test_malformed_json_patch_is_400(ops: Any, message: str) -> None:
    with pytest.raises(StatusError) as info:
        json_patch(DEPLOY, ops)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


def test_too_many_operations_is_413() -> None:
    ops = [{"op": "test", "path": "/list/0", "value": 1}] * (MAX_JSON_PATCH_OPERATIONS + 1)
    with pytest.raises(StatusError) as info:
        json_patch(DEPLOY, ops)
    assert info.value.code == 413
    assert info.value.message == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    )


def test_copies_are_limited() -> None:
    ops = [{"op": "copy", "from": "/list", "path": f"/c{i}"} for i in range(3)]
    assert len(json_patch(DEPLOY, ops)) == len(DEPLOY) + 3
    with pytest.raises(StatusError):
        json_patch(DEPLOY, ops, max_copy_bytes=10)


def test_result_shares_nothing_with_the_patch() -> None:
    value = {"a": [1]}
    out = json_patch({}, [{"op": "add", "path": "/x", "value": value}])
    out["x"]["a"].append(2)
    assert value == {"a": [1]}


# -- merge patch ---------------------------------------------------------------------

POD: dict[str, Any] = {
    "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}, "annotations": {"note": "x"}},
    "spec": {"replicas": 1, "containers": [{"name": "c", "image": "a"}], "selector": {"app": "web"}},
}

MERGE_PATCHES = [
    pytest.param(  # kubectl label pods p env=prod
        {"metadata": {"labels": {"env": "prod"}}},
        {"metadata": {"labels": {"app": "web", "tier": "fe", "env": "prod"}}},
        id="kubectl-label",
    ),
    pytest.param(  # kubectl label pods p tier-
        {"metadata": {"labels": {"tier": None}}},
        {"metadata": {"labels": {"app": "web"}}},
        id="kubectl-label-remove",
    ),
    pytest.param(  # kubectl annotate --overwrite
        {"metadata": {"annotations": {"note": "y"}, "resourceVersion": "7"}},
        {"metadata": {"annotations": {"note": "y"}, "resourceVersion": "7"}},
        id="kubectl-annotate-with-resource-version",
    ),
    pytest.param({"spec": {"replicas": 3}}, {"spec": {"replicas": 3}}, id="kubectl-scale"),
    pytest.param(
        {"spec": {"containers": [{"name": "d"}]}}, {"spec": {"containers": [{"name": "d"}]}}, id="lists-replace"
    ),
    pytest.param({"spec": None}, {"spec": None}, id="null-deletes-subtree"),
    pytest.param({"nothing": None}, {}, id="null-for-missing-key"),
    pytest.param(
        {"status": {"phase": "Running", "reason": None}}, {"status": {"phase": "Running"}}, id="nulls-pruned-in-new-object"
    ),
    pytest.param(
        {"spec": {"selector": "app=web"}}, {"spec": {"selector": "app=web"}}, id="scalar-replaces-object"
    ),
    pytest.param(
        {"spec": {"replicas": {"min": 1, "max": None}}}, {"spec": {"replicas": {"min": 1}}}, id="object-replaces-scalar"
    ),
    pytest.param(
        {"spec": {"selector": [{"a": None}]}},
        {"spec": {"selector": [{"a": None}]}},
        id="array-over-object-kept-verbatim",
    ),
    pytest.param(
        {"spec": {"containers": [{"name": "c", "args": None}, None]}},
        {"spec": {"containers": [{"name": "c"}, None]}},
        id="array-over-array-pruned",
    ),
    pytest.param({}, {}, id="empty"),
]


def merged(changes: dict[str, Any]) -> dict[str, Any]:
    """POD with the expected parts of the result overlaid (sub-dicts replaced whole)."""
    out = copy.deepcopy(POD)
    for top, value in changes.items():
        if value is None:
            out.pop(top, None)
        elif isinstance(value, dict) and isinstance(out.get(top), dict):
            out[top] = {**out[top], **value}
        else:
            out[top] = value
    return out


@pytest.mark.parametrize(("patch", "expected_parts"), MERGE_PATCHES)
def test_merge_patch(patch: dict[str, Any], expected_parts: dict[str, Any]) -> None:
    before = copy.deepcopy(POD)
    assert merge_patch(POD, patch) == merged(expected_parts)
    assert before == POD


@pytest.mark.parametrize("patch", [None, 1, "x", True], ids=["null", "number", "string", "bool"])
def test_merge_patch_must_be_object_or_array(patch: Any) -> None:
    with pytest.raises(StatusError) as info:
        merge_patch(POD, patch)
    assert (info.value.code, info.value.message) == (400, "Invalid JSON Patch")


def test_array_merge_patch_returns_the_array() -> None:
    # the library answers with the (pruned) array; decoding it as an object then fails upstream
    assert merge_patch(POD, [{"a": None, "b": 1}]) == [{"b": 1}]


CREATE = [
    pytest.param({"a": 1}, {"a": 1}, {}, id="same"),
    pytest.param({"a": 1}, {"a": 2}, {"a": 2}, id="changed"),
    pytest.param({"a": 1}, {}, {"a": None}, id="removed"),
    pytest.param({}, {"a": {"b": 1}}, {"a": {"b": 1}}, id="added"),
    pytest.param({"m": {"x": 1, "y": 2}}, {"m": {"x": 1, "y": 3}}, {"m": {"y": 3}}, id="nested"),
    pytest.param({"m": {"x": 1}}, {"m": {"x": 1}}, {}, id="nested-same"),
    pytest.param({"l": [1, 2]}, {"l": [1]}, {"l": [1]}, id="list-replaced"),
    pytest.param({"n": 1}, {"n": 1.0}, {}, id="numbers-compare-as-numbers"),
    pytest.param({"t": "1"}, {"t": 1}, {"t": 1}, id="type-change"),
    pytest.param(
        {"metadata": {"labels": {"app": "web"}}},
        {"metadata": {"labels": {"app": "web", "env": "prod"}}},
        {"metadata": {"labels": {"env": "prod"}}},
        id="what-kubectl-label-sends",
    ),
]


@pytest.mark.parametrize(("original", "modified", "patch"), CREATE)
def test_create_merge_patch(original: dict[str, Any], modified: dict[str, Any], patch: dict[str, Any]) -> None:
    assert create_merge_patch(original, modified) == patch
    assert merge_patch(original, patch) == modified  # and it round-trips
