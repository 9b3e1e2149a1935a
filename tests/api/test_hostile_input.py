"""Hostile input the pure modules must refuse cleanly: one case per crash ``tests/fuzz`` once found.

Each of these reached the server as a 500 (or a dropped connection): a field
name with a control character in a ``Warning`` header, bodies nested deeper
than the recursive walks go, YAML with non-string keys, NaN, lone surrogates
or alias bombs, quantities with exponents or digits beyond what Python's
decimal context and ``int()`` take.  Here each is a clear error (``StatusError`` 4xx, a decoder
error, or ``ValueError`` for the YAML converter) and never another exception.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kybernetes.api import yamljson
from kybernetes.api.decode import decode, find_duplicate_fields, strict_errors
from kybernetes.api.errors import StatusError
from kybernetes.api.patch import MAX_DEPTH, deeper_than, json_patch, merge_patch
from kybernetes.api.registry import ResourceType, by_kind
from kybernetes.api.selectors import parse_label_selector
from kybernetes.api.strategic import strategic_merge_patch
from kybernetes.api.validation.apps import validate_deployment_strategy
from kybernetes.api.validation.names import parse_ip
from kybernetes.api.validation.podspec import validate_pod_specific_annotations
from kybernetes.api.validation.quantity import QuantityError, canonical

POD = "io.k8s.api.core.v1.Pod"


def configmaps() -> ResourceType:
    rt = by_kind("", "v1", "ConfigMap")
    assert rt is not None
    return rt


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"f": value}
    return value


# --------------------------------------------------------------------------- depth


@pytest.mark.parametrize(("value", "levels"), [(1, 0), ({}, 1), ([[]], 2), ({"a": [{"b": 1}]}, 3),
                                               (nested(MAX_DEPTH), MAX_DEPTH)])
def test_deeper_than_counts_container_levels(value: Any, levels: int) -> None:
    assert deeper_than(value, levels) is False
    assert deeper_than(value, levels - 1) is (levels > 0)


def test_deeper_than_does_not_recurse() -> None:
    assert deeper_than(nested(50_000)) is True


@pytest.mark.parametrize("apply", [
    lambda p: merge_patch({"metadata": {}}, p),
    lambda p: strategic_merge_patch({"metadata": {}}, p, POD),
], ids=["merge", "strategic"])
def test_a_patch_nested_too_deep_is_400(apply: Any) -> None:
    with pytest.raises(StatusError) as e:
        apply({"metadata": {"annotations": nested(1000)}})
    assert (e.value.code, e.value.reason) == (400, "BadRequest")
    assert e.value.message == f"the patch is nested more than {MAX_DEPTH} levels deep"


def test_a_json_patch_value_nested_too_deep_is_400() -> None:
    with pytest.raises(StatusError) as e:
        json_patch({}, [{"op": "add", "path": "/a", "value": nested(1000)}])
    assert e.value.code == 400


def test_json_patch_moves_that_sink_the_object_too_deep_are_422() -> None:
    ops = [{"op": "add", "path": "/b", "value": {}}]
    for _ in range(MAX_DEPTH + 5):  # each pair of moves puts "a" one level deeper
        ops += [{"op": "move", "from": "/a", "path": "/b/a"}, {"op": "move", "from": "/b", "path": "/a"},
                {"op": "add", "path": "/b", "value": {}}]
    with pytest.raises(StatusError) as e:
        json_patch({"a": {}}, ops)
    assert (e.value.code, e.value.reason) == (422, "Invalid")


def test_a_deep_free_form_value_is_a_decode_error() -> None:
    entry = {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": nested(300)}
    result = decode(configmaps(), {"metadata": {"name": "x", "managedFields": [entry]}})
    assert result.error == ("json: cannot unmarshal object into Go struct field ManagedFieldsEntry."
                            "metadata.managedFields.fieldsV1 of type v1.FieldsV1: nested more than "
                            f"{MAX_DEPTH} levels deep")
    ok = decode(configmaps(), {"metadata": {"name": "x", "managedFields": [{**entry, "fieldsV1": nested(20)}]}})
    assert ok.errors == []


def test_duplicate_scan_of_a_body_deeper_than_the_stdlib_parser_goes() -> None:
    raw = b'{"a":' * 1100 + b"1" + b"}" * 1100
    assert find_duplicate_fields(raw) == []


# --------------------------------------------------------------------------- strict errors in headers


def test_strict_error_paths_are_quoted_like_go() -> None:
    # a raw DEL or newline in a Warning header made the HTTP server drop the connection
    assert strict_errors(["spec.\x7f", "a\nb", "ü"]) == [
        'unknown field "spec.\\x7f"', 'unknown field "a\\nb"', 'unknown field "ü"']


# --------------------------------------------------------------------------- the decoder and odd keys


def test_non_string_keys_do_not_crash_the_decoder() -> None:
    result = decode(configmaps(), {"metadata": {"name": "x", 1: "a", "labels": {2: "b"}}})
    assert result.unknown == ["metadata.1"]
    assert result.error == "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"


# --------------------------------------------------------------------------- YAML bodies


@pytest.mark.parametrize(("text", "value"), [
    (b"metadata:\n  labels:\n    1: a\n    true: b\n    ~: c\n    1.5: d\n",
     {"metadata": {"labels": {"1": "a", "true": "b", "null": "c", "1.5": "d"}}}),
    (b"a: 2024-05-01\nb: 2024-05-01 10:00:00\n", {"a": "2024-05-01", "b": "2024-05-01 10:00:00"}),
    (b"a: !!binary aGVsbG8=\n", {"a": "hello"}),
    (b"a: !!set {x, 1}\n", {"a": {"x": None, "1": None}}),
    (b"a: &x {k: [1]}\nb: *x\n", {"a": {"k": [1]}, "b": {"k": [1]}}),
    (b"<<: {a: 1}\nb: 2\n", {"a": 1, "b": 2}),
    (b"- 1\n", [1]),
    (b"", None),
], ids=["keys", "timestamps", "binary", "set", "alias", "merge-key", "list", "empty"])
def test_yaml_bodies_become_json_values(text: bytes, value: Any) -> None:
    loaded = yamljson.loads(text)
    assert loaded == value
    json.dumps(loaded, allow_nan=False)  # really JSON


def test_yaml_aliases_are_copies() -> None:
    loaded = yamljson.loads(b"a: &x [1]\nb: *x\n")
    loaded["a"].append(2)
    assert loaded["b"] == [1]


def _bomb(levels: int) -> bytes:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines).encode()


@pytest.mark.parametrize(("text", "reason"), [
    (b"a: .nan\n", "json: unsupported value: NaN"),
    (b"a: -.inf\n", "json: unsupported value: -Inf"),
    (b"a: " + b"[" * 3000 + b"]" * 3000 + b"\n", f"the document is nested more than {MAX_DEPTH} levels deep"),
    (b"a: " + b"[" * 150 + b"]" * 150 + b"\n", f"the document is nested more than {MAX_DEPTH} levels deep"),
    (_bomb(9), f"the document expands to more than {yamljson.MAX_VALUES} values"),
    (b"? [a]\n: b\n", "json: unsupported type: map[list]interface {}"),
    (b"---\na: 1\n---\nb: 2\n", "expected a single document in the stream"),
    (b"a: !!python/object:os.system x\n", "could not determine a constructor"),
    (b'a: "\\ud800"\n', "invalid Unicode character escape code"),
], ids=["nan", "inf", "deep", "deep-150", "bomb", "list-key", "two-docs", "python-tag", "surrogate"])
def test_yaml_without_a_json_value_is_refused(text: bytes, reason: str) -> None:
    with pytest.raises(ValueError) as e:
        yamljson.loads(text)
    assert reason in str(e.value)


# --------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(("text", "shown"), [
    ("1e999999999", "1e999999999"),  # upstream keeps any int32 exponent (arbitrary precision)
    ("1e-999999999", "1e-9"),  # finer than a nano-unit rounds up to 1n
    ("1e4294967296", "1"),  # the exponent is truncated to int32, as upstream does
    ("1" * 30 + "Ei", "9223372036854775807"),  # a binary quantity is capped at 2^63-1, printed bare
    ("1" + "0" * 5000, "1" + "0" * 4982 + "E"),  # more digits than int() converts
])
def test_extreme_quantities_parse_and_print(text: str, shown: str) -> None:
    assert canonical(text) == shown


def test_an_exponent_beyond_int64_is_a_suffix_error() -> None:
    with pytest.raises(QuantityError, match="unable to parse quantity's suffix"):
        canonical("1e18446744073709551616")
    with pytest.raises(QuantityError, match="unable to parse quantity's suffix"):
        canonical("1e" + "9" * 5000)


# --------------------------------------------------------------------------- numbers longer than int() converts
# (Python refuses int() of a text over 4300 digits; Go's parsers report the range instead)

HUGE = "9" * 5000


def test_a_huge_json_patch_index_is_out_of_range() -> None:
    for ops in ([{"op": "add", "path": f"/a/{HUGE}", "value": 1}], [{"op": "add", "path": f"/a/{HUGE}/x", "value": 1}],
                [{"op": "remove", "path": "/a/9223372036854775808"}]):
        with pytest.raises(StatusError) as e:
            json_patch({"a": [1]}, ops)
        assert e.value.code == 422


def test_a_huge_selector_number_is_not_an_integer() -> None:
    with pytest.raises(StatusError) as e:
        parse_label_selector(f"a>{HUGE}")
    assert e.value.code == 400


def test_an_ip_with_a_huge_octet_is_not_an_ip() -> None:
    assert parse_ip(f"1.1.1.{HUGE}") is None
    assert str(parse_ip("010.001.000000000000000001.1")) == "10.1.1.1"  # leading zeros stay sloppy-legal


def test_a_huge_deletion_cost_is_not_a_32bit_integer() -> None:
    errs = validate_pod_specific_annotations({"controller.kubernetes.io/pod-deletion-cost": HUGE}, {}, "a")
    assert [e.detail for e in errs] == ["must be a 32bit integer"]


def test_a_huge_max_unavailable_percent_is_over_100() -> None:
    errs = validate_deployment_strategy({"type": "RollingUpdate",
                                         "rollingUpdate": {"maxUnavailable": HUGE + "%", "maxSurge": 1}}, "s")
    assert [e.detail for e in errs] == ["must not be greater than 100%"]
