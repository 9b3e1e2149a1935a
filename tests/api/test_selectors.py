"""Label and field selectors: parsing, rendering, matching and upstream error texts.

Expected strings and messages were taken from apimachinery's own parser
(``pkg/labels``, ``pkg/fields``, Kubernetes 1.33) run on the same inputs.
"""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.registry import by_kind
from kybernetes.api.selectors import (
    EVERYTHING,
    NOTHING,
    FieldRequirement,
    check_fields,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
    selector_from_set,
)

NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
BINARY = "in, notin, =, ==, !=, gt, lt"


def bad(fn: Any, *args: Any) -> StatusError:
    with pytest.raises(StatusError) as info:
        fn(*args)
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    return info.value


# -- parsing and rendering ---------------------------------------------------------

RENDER = [
    pytest.param("", "", id="empty"),
    pytest.param("   ", "", id="blank"),
    pytest.param("app=web", "app=web", id="equals"),
    pytest.param("app==web", "app==web", id="double-equals"),
    pytest.param("app!=web", "app!=web", id="not-equals"),
    pytest.param("app", "app", id="exists"),
    pytest.param("!app", "!app", id="does-not-exist"),
    pytest.param("tier in (b,a)", "tier in (a,b)", id="in-values-sorted"),
    pytest.param("tier notin (x)", "tier notin (x)", id="notin"),
    pytest.param("rev>3", "rev>3", id="greater-than"),
    pytest.param("rev<30", "rev<30", id="less-than"),
    pytest.param("rev<-3", None, id="negative-is-no-label-value"),
    pytest.param("z=1,a=2,m", "a=2,m,z=1", id="sorted-by-key"),
    pytest.param(" a = b , c in ( d , e ) ", "a=b,c in (d,e)", id="whitespace-anywhere"),
    pytest.param("a=", "a=", id="empty-value"),
    pytest.param("a in ()", "a in ()", id="empty-set-is-empty-value"),
    pytest.param("a in (,)", "a in ()", id="comma-only-set"),
    pytest.param("a in (x,,y)", "a in (,x,y)", id="empty-between-commas"),
    pytest.param("a in (in,notin)", "a in (in,notin)", id="keywords-as-values"),
    pytest.param("x.io/role=db", "x.io/role=db", id="prefixed-key"),
    pytest.param("a=b,a=c", "a=b,a=c", id="same-key-twice"),
]


@pytest.mark.parametrize(("text", "rendered"), RENDER)
def test_parse_renders_like_upstream(text: str, rendered: str | None) -> None:
    if rendered is None:
        bad(parse_label_selector, text)
    else:
        assert str(parse_label_selector(text)) == rendered


ERRORS = [
    pytest.param("a b", f"unable to parse requirement: found 'b', expected: {BINARY}", id="missing-operator"),
    pytest.param("a=b=c", "found '=', expected: ',' or 'end of string'", id="double-assign"),
    pytest.param("a in b", "unable to parse requirement: found 'b' expected: '('", id="in-without-paren"),
    pytest.param("a in (b", "unable to parse requirement: found '', expected: ',' or ')'", id="unclosed-set"),
    pytest.param("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'", id="set-missing-comma"),
    pytest.param("a in ((", "unable to parse requirement: found '(', expected: ',', ')' or identifier", id="set-paren"),
    pytest.param("a in (x,=)", "unable to parse requirement: found '=', expected: ',', or identifier", id="set-op"),
    pytest.param("a notin", "unable to parse requirement: found '' expected: '('", id="notin-at-end"),
    pytest.param("a,", "found '', expected: identifier after ','", id="trailing-comma"),
    pytest.param(",a", "found ',', expected: !, identifier, or 'end of string'", id="leading-comma"),
    pytest.param("=a", "found '=', expected: !, identifier, or 'end of string'", id="leading-operator"),
    pytest.param("a=b c", "found 'c', expected: ',' or 'end of string'", id="space-in-value"),
    pytest.param("a=b!", "found '!', expected: ',' or 'end of string'", id="bang-after-value"),
    pytest.param("!a=b", "found '=', expected: ',' or 'end of string'", id="not-with-value"),
    pytest.param("a ! b", f"unable to parse requirement: found '!', expected: {BINARY}", id="bang-as-operator"),
    pytest.param(
        "a>x",
        "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
        id="gt-not-integer",
    ),
    pytest.param(
        "a<",
        "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer",
        id="lt-empty",
    ),
    pytest.param("-x", f'unable to parse requirement: <nil>: Invalid value: "-x": name part {NAME_RULE}', id="bad-key"),
    pytest.param("/k", 'unable to parse requirement: <nil>: Invalid value: "/k": prefix part must be non-empty', id="empty-prefix"),
    pytest.param(
        "Example.com/k",
        f'unable to parse requirement: <nil>: Invalid value: "Example.com/k": prefix part {SUBDOMAIN_RULE}',
        id="uppercase-prefix",
    ),
    pytest.param(
        "x/y/z",
        f'unable to parse requirement: <nil>: Invalid value: "x/y/z": a qualified name {NAME_RULE} with an optional '
        "DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        id="two-slashes",
    ),
    pytest.param(
        "a=-b-",
        f'unable to parse requirement: values[0][a]: Invalid value: "-b-": {VALUE_RULE}',
        id="bad-value",
    ),
    pytest.param(
        "a=" + "v" * 64,
        f'unable to parse requirement: values[0][a]: Invalid value: "{"v" * 64}": must be no more than 63 characters',
        id="value-too-long",
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_parse_errors_are_upstream_texts(text: str, message: str) -> None:
    assert bad(parse_label_selector, text).message == message


# -- matching --------------------------------------------------------------------

MATCH = [
    pytest.param("app=web", {"app": "web"}, True, id="equal"),
    pytest.param("app=web", {"app": "db"}, False, id="equal-other-value"),
    pytest.param("app=web", {}, False, id="equal-missing"),
    pytest.param("app!=web", {}, True, id="not-equal-missing-matches"),
    pytest.param("app!=web", {"app": "web"}, False, id="not-equal-same"),
    pytest.param("app in (a,b)", {"app": "b"}, True, id="in"),
    pytest.param("app notin (a,b)", {"app": "c"}, True, id="notin"),
    pytest.param("app notin (a,b)", {}, True, id="notin-missing-matches"),
    pytest.param("app", {"app": ""}, True, id="exists-empty-value"),
    pytest.param("!app", {"app": ""}, False, id="does-not-exist"),
    pytest.param("app=", {"app": ""}, True, id="empty-value-equals"),
    pytest.param("rev>3", {"rev": "4"}, True, id="gt"),
    pytest.param("rev>3", {"rev": "3"}, False, id="gt-equal"),
    pytest.param("rev>3", {"rev": "x"}, False, id="gt-non-integer-label"),
    pytest.param("rev<3", {}, False, id="lt-missing"),
    pytest.param("rev<3", {"rev": "-10"}, True, id="lt-negative"),
    pytest.param("a=1,b", {"a": "1", "b": "x"}, True, id="and-all"),
    pytest.param("a=1,b", {"a": "1"}, False, id="and-one-fails"),
    pytest.param("", {"anything": "x"}, True, id="everything"),
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCH)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_empty_and_nothing() -> None:
    assert parse_label_selector("").empty and EVERYTHING.matches(None)
    assert not NOTHING.empty and not NOTHING.matches({}) and str(NOTHING) == ""
    assert not parse_label_selector("a").empty


def test_requires_exact_match() -> None:
    sel = parse_label_selector("a=1,b in (2),c in (3,4),d!=5")
    assert [sel.requires_exact_match(k) for k in "abcde"] == ["1", "2", None, None, None]


def test_selector_from_set() -> None:
    sel = selector_from_set({"tier": "db", "app": "web"})
    assert str(sel) == "app=web,tier=db" and sel.matches({"app": "web", "tier": "db", "x": "y"})
    assert selector_from_set(None).empty


# -- metav1.LabelSelector ------------------------------------------------------------

FROM_DICT = [
    pytest.param({"matchLabels": {"b": "2", "a": "1"}}, {"a": "1", "b": "2"}, "a=1,b=2", True, id="match-labels"),
    pytest.param(
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
        {"env": "dev"},
        "env in (dev,prod)",
        True,
        id="in",
    ),
    pytest.param(
        {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, {}, "env notin (prod)", True, id="notin"
    ),
    pytest.param({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": "x"}, "env", True, id="exists"),
    pytest.param(
        {"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": "x"}, "!env", False, id="does-not-exist"
    ),
    pytest.param(
        {"matchLabels": {"z": "1"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
        {"z": "1", "a": ""},
        "a,z=1",
        True,
        id="both-sorted-by-key",
    ),
    pytest.param({}, {"x": "y"}, "", True, id="empty-selects-everything"),
    pytest.param({"matchLabels": {}, "matchExpressions": []}, {}, "", True, id="empty-lists"),
]


@pytest.mark.parametrize(("selector", "labels", "rendered", "matches"), FROM_DICT)
def test_label_selector_from_dict(selector: dict[str, Any], labels: dict[str, str], rendered: str, matches: bool) -> None:
    sel = label_selector_from_dict(selector)
    assert (str(sel), sel.matches(labels)) == (rendered, matches)


def test_null_selector_selects_nothing() -> None:
    assert label_selector_from_dict(None) is NOTHING


DICT_ERRORS = [
    pytest.param(
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
        id="in-without-values",
    ),
    pytest.param(
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]},
        'values: Invalid value: []string{"x", "y"}: values set must be empty for exists and does not exist',
        id="exists-with-values",
    ),
    pytest.param(
        {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
        '"Gt" is not a valid label selector operator',
        id="unknown-operator",
    ),
    pytest.param({"matchLabels": {"-a": "b"}}, f'key: Invalid value: "-a": name part {NAME_RULE}', id="bad-key"),
    pytest.param({"matchLabels": {"a": "b c"}}, f'values[0][a]: Invalid value: "b c": {VALUE_RULE}', id="bad-value"),
    pytest.param(
        {"matchExpressions": [{"key": "-a", "operator": "In", "values": ["x y"]}]},
        f'[key: Invalid value: "-a": name part {NAME_RULE}, values[0][-a]: Invalid value: "x y": {VALUE_RULE}]',
        id="two-errors-aggregated",
    ),
]


@pytest.mark.parametrize(("selector", "message"), DICT_ERRORS)
def test_label_selector_from_dict_errors(selector: dict[str, Any], message: str) -> None:
    assert bad(label_selector_from_dict, selector).message == message


# -- field selectors ---------------------------------------------------------------

FIELDS = [
    pytest.param("", "", [], id="empty"),
    pytest.param("metadata.name=web", "metadata.name=web", [("metadata.name", "=", "web")], id="equals"),
    pytest.param("metadata.name==web", "metadata.name=web", [("metadata.name", "=", "web")], id="double-equals"),
    pytest.param("status.phase!=Running", "status.phase!=Running", [("status.phase", "!=", "Running")], id="not-equals"),
    pytest.param(
        "spec.nodeName=n1,metadata.name=a",
        "metadata.name=a,spec.nodeName=n1",
        [("metadata.name", "=", "a"), ("spec.nodeName", "=", "n1")],
        id="terms-sorted",
    ),
    pytest.param(r"a=x\,y\=z\\", r"a=x\,y\=z\\", [("a", "=", "x,y=z\\")], id="escapes"),
    pytest.param("a=", "a=", [("a", "=", "")], id="empty-value"),
    pytest.param("a=b,,c=d", "a=b,c=d", [("a", "=", "b"), ("c", "=", "d")], id="empty-term-skipped"),
    pytest.param("a!=b=c".replace("b=c", r"b\=c"), r"a!=b\=c", [("a", "!=", "b=c")], id="not-equals-escaped"),
]


@pytest.mark.parametrize(("text", "rendered", "terms"), FIELDS)
def test_parse_field_selector(text: str, rendered: str, terms: list[tuple[str, str, str]]) -> None:
    sel = parse_field_selector(text)
    assert str(sel) == rendered
    assert sel.requirements() == [FieldRequirement(*t) for t in terms]
    assert sel.empty is (not terms)


FIELD_ERRORS = [
    pytest.param("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'", id="no-operator"),
    pytest.param("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'", id="second-term-no-operator"),
    pytest.param(r"a=b\c", r"invalid field selector: invalid escape sequence: \c", id="bad-escape"),
    pytest.param("a=b\\", "invalid field selector: invalid escape sequence: \\", id="dangling-backslash"),
    pytest.param("a=b=c", "invalid field selector: unescaped character in value: 61", id="unescaped-equals"),
]


@pytest.mark.parametrize(("text", "message"), FIELD_ERRORS)
def test_field_selector_errors(text: str, message: str) -> None:
    assert bad(parse_field_selector, text).message == message


FIELD_MATCH = [
    pytest.param("metadata.name=a", {"metadata.name": "a"}, True, id="equal"),
    pytest.param("metadata.name=a", {"metadata.name": "b"}, False, id="differs"),
    pytest.param("spec.nodeName=", {"spec.nodeName": ""}, True, id="unscheduled-pods"),
    pytest.param("spec.nodeName=", {}, True, id="missing-field-is-empty"),
    pytest.param("status.phase!=Running", {"status.phase": "Pending"}, True, id="not-equal"),
    pytest.param("status.phase!=Running,spec.nodeName=n1", {"status.phase": "Pending"}, False, id="and"),
]


@pytest.mark.parametrize(("text", "fields", "expected"), FIELD_MATCH)
def test_field_selector_matches(text: str, fields: dict[str, str], expected: bool) -> None:
    assert parse_field_selector(text).matches(fields) is expected


def test_requires_exact_field_match() -> None:
    sel = parse_field_selector("metadata.name=web,status.phase!=Failed")
    assert sel.requires_exact_match("metadata.name") == "web"
    assert sel.requires_exact_match("status.phase") is None


def _allowed(kind: str, group: str = "", version: str = "v1") -> list[str]:
    rt = by_kind(group, version, kind)
    assert rt is not None
    return rt.selectable_fields()


CHECK = [
    pytest.param("Pod", "spec.nodeName=n1,status.phase!=Running", None, id="pod-fields"),
    pytest.param("Pod", "spec.foo=x", "field label not supported: spec.foo", id="pod-unknown"),
    pytest.param("Node", "metadata.namespace=x", "field label not supported: metadata.namespace", id="node-no-namespace"),
    pytest.param("Event", "involvedObject.name=web,reason=Killing", None, id="event-fields"),
    pytest.param("ConfigMap", "metadata.namespace=default", None, id="default-conversion"),
    pytest.param(
        "ConfigMap",
        "data.key=x",
        '"data.key" is not a known field selector: only "metadata.name", "metadata.namespace"',
        id="default-conversion-unknown",
    ),
]


@pytest.mark.parametrize(("kind", "text", "message"), CHECK)
def test_check_fields(kind: str, text: str, message: str | None) -> None:
    sel = parse_field_selector(text)
    if message is None:
        assert check_fields(sel, _allowed(kind), kind, "v1") == sel
    else:
        assert bad(check_fields, sel, _allowed(kind), kind, "v1").message == message


def test_check_fields_renames_old_pod_host_field() -> None:
    sel = check_fields(parse_field_selector("spec.host=n1"), _allowed("Pod"), "Pod", "v1")
    assert str(sel) == "spec.nodeName=n1"
