"""Formats and their messages: DNS names, qualified names, ports, env names, IPs, quantities, Go renderings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kybernetes.api.errors import GoValue, render_value
from kybernetes.api.validation import golang, names
from kybernetes.api.validation.quantity import (
    FORMAT_WRONG,
    SUFFIX_WRONG,
    QuantityError,
    canonical,
    parse_quantity,
)

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("example.com", [], id="dotted"),
    pytest.param("a", [], id="one-char"),
    pytest.param("Example.com", [SUBDOMAIN_MSG], id="uppercase"),
    pytest.param("-web", [SUBDOMAIN_MSG], id="leading-dash"),
    pytest.param("web.", [SUBDOMAIN_MSG], id="trailing-dot"),
    pytest.param("web\n", [SUBDOMAIN_MSG], id="trailing-newline"),
    pytest.param("a" * 254, ["must be no more than 253 characters"], id="too-long"),
])
def test_dns1123_subdomain(value: str, expected: list[str]) -> None:
    assert names.is_dns1123_subdomain(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("my-name", [], id="ok"),
    pytest.param("123-abc", [], id="digits-first"),
    pytest.param("a.b", ["must not contain dots"], id="dots"),
    pytest.param("My_Name", [LABEL_MSG], id="bad-chars"),
    pytest.param("a" * 64, ["must be no more than 63 characters"], id="too-long"),
])
def test_dns1123_label(value: str, expected: list[str]) -> None:
    assert names.is_dns1123_label(value) == expected


@pytest.mark.parametrize(("value", "ok"), [("web", True), ("1web", False), ("web-", False), ("a.b", False)])
def test_dns1035_label(value: str, ok: bool) -> None:
    assert (names.is_dns1035_label(value) == []) is ok
    if not ok:
        assert names.is_dns1035_label(value) == [DNS1035_MSG]


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("app", [], id="plain"),
    pytest.param("app.kubernetes.io/name", [], id="prefixed"),
    pytest.param("/name", ["prefix part must be non-empty"], id="empty-prefix"),
    pytest.param("example.com/", [
        "name part must be non-empty",
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ], id="empty-name"),
    pytest.param("a/b/c", [
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
        "'example.com/MyName')",
    ], id="two-slashes"),
    pytest.param("x" * 64, ["name part must be no more than 63 characters"], id="long-name"),
])
def test_qualified_name(value: str, expected: list[str]) -> None:
    assert names.is_qualified_name(value) == expected


@pytest.mark.parametrize(("value", "ok"), [("", True), ("v1.2_3-x", True), ("-x", False), ("a b", False),
                                           ("x" * 64, False)])
def test_label_value(value: str, ok: bool) -> None:
    assert (names.is_label_value(value) == []) is ok


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("http", [], id="ok"),
    pytest.param("web-8080", [], id="with-digits"),
    pytest.param("8080", ["must contain at least one letter (a-z)"], id="digits-only"),
    pytest.param("a--b", ["must not contain consecutive hyphens"], id="double-hyphen"),
    pytest.param("-http", ["must not begin or end with a hyphen"], id="edge-hyphen"),
    pytest.param("HTTP", ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                          "must contain at least one letter (a-z)"], id="uppercase"),
    pytest.param("abcdefghijklmnop", ["must be no more than 15 characters"], id="too-long"),
])
def test_port_name(value: str, expected: list[str]) -> None:
    assert names.is_valid_port_name(value) == expected


@pytest.mark.parametrize(("value", "ok"), [("MY_VAR", True), ("my.var-1", True), ("1ABC", True), ("A=B", False),
                                           ("tab\t", False), ("é", False)])
def test_relaxed_env_var_name(value: str, ok: bool) -> None:
    assert (names.is_relaxed_env_var_name(value) == []) is ok


def test_strict_env_var_name_and_c_identifier() -> None:
    assert names.is_env_var_name("MY_VAR") == []
    assert names.is_env_var_name("1ABC")[0].startswith("a valid environment variable name must consist of")
    assert names.is_env_var_name("..") == ["must not be '..'"]
    assert names.is_c_identifier("_ok1") == []
    assert names.is_c_identifier("1bad") == [
        "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric "
        "characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is "
        "'[A-Za-z_][A-Za-z0-9_]*')"]


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("key.name", [], id="ok"),
    pytest.param("a/b", ["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                         "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                         "'[-._a-zA-Z0-9]+')"], id="slash"),
    pytest.param("..data", ["must not start with '..'"], id="dotdot-prefix"),
    pytest.param(".", ["must not be '.'"], id="dot"),
])
def test_config_map_key(value: str, expected: list[str]) -> None:
    assert names.is_config_map_key(value) == expected


@pytest.mark.parametrize(("value", "ok"), [("10.0.0.1", True), ("010.000.000.001", True), ("::1", True),
                                           ("2001:db8::ffff", True), ("10.0.0.256", False), ("fe80::1%eth0", False),
                                           ("", False), ("10.0.0.0/8", False)])
def test_ip(value: str, ok: bool) -> None:
    assert (names.is_valid_ip(value) == []) is ok


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(".", ["may not be '.'"], id="dot"),
    pytest.param("a/b", ["may not contain '/'"], id="slash"),
    pytest.param("50%", ["may not contain '%'"], id="percent"),
    pytest.param("Web_Pod.1", [], id="anything-else"),
])
def test_path_segment_name(value: str, expected: list[str]) -> None:
    assert names.path_segment_name(value) == expected


# -- quantities ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "amount", "shown"), [
    pytest.param("100m", Decimal("0.1"), "100m", id="milli"),
    pytest.param("1Gi", Decimal(2**30), "1Gi", id="gibi"),
    pytest.param("1.5Gi", Decimal(1536 * 2**20), "1536Mi", id="fractional-binary"),
    pytest.param("1e3", Decimal(1000), "1e3", id="exponent"),
    pytest.param("0.5", Decimal("0.5"), "500m", id="half"),
    pytest.param("1.5", Decimal("1.5"), "1500m", id="one-and-half"),
    pytest.param("2000", Decimal(2000), "2k", id="kilo-canonical"),
    pytest.param("100", Decimal(100), "100", id="hundred"),
    pytest.param("0", Decimal(0), "0", id="zero"),
    pytest.param("-1", Decimal(-1), "-1", id="negative"),
    pytest.param("+5k", Decimal(5000), "5k", id="plus-sign"),
    pytest.param("1.", Decimal(1), "1", id="trailing-point"),
    pytest.param(".5", Decimal("0.5"), "500m", id="leading-point"),
    pytest.param("0.1n", Decimal("1e-9"), "1n", id="rounds-up-to-nano"),
    pytest.param("512Ki", Decimal(512 * 1024), "512Ki", id="kibi"),
    pytest.param("1024Mi", Decimal(2**30), "1Gi", id="mebi-to-gibi"),
    pytest.param("1E", Decimal(10**18), "1E", id="exa"),
    pytest.param(2, Decimal(2), "2", id="json-int"),
    pytest.param(0.25, Decimal("0.25"), "250m", id="json-float"),
])
def test_parse_quantity(text: object, amount: Decimal, shown: str) -> None:
    assert parse_quantity(text) == amount
    assert canonical(text) == shown


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("", FORMAT_WRONG, id="empty"),
    pytest.param("abc", FORMAT_WRONG, id="letters"),
    pytest.param("1.5.5", FORMAT_WRONG, id="two-points"),
    pytest.param("1 Gi", FORMAT_WRONG, id="space"),
    pytest.param("1Gb", FORMAT_WRONG, id="bad-letter"),
    pytest.param("1K", SUFFIX_WRONG, id="capital-k"),
    pytest.param("1e", SUFFIX_WRONG, id="bare-e"),
    pytest.param("1Mi2", SUFFIX_WRONG, id="digits-after-binary"),
])
def test_parse_quantity_errors(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as e:
        parse_quantity(text)
    assert str(e.value) == message


def test_format_wrong_text_is_upstreams() -> None:
    assert FORMAT_WRONG == ("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


# -- Go renderings ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [
    pytest.param({"tier": "web", "app": "nginx"}, 'map[string]string{"app":"nginx", "tier":"web"}', id="map-sorted"),
    pytest.param(["10.0.0.1", "fd00::1"], '[]string{"10.0.0.1", "fd00::1"}', id="string-slice"),
    pytest.param("a\"b\n", '"a\\"b\\n"', id="go-quote"),
    pytest.param("ü\x01", '"ü\\x01"', id="unicode-kept-control-escaped"),
    pytest.param(GoValue("x{y}"), "x{y}", id="go-value-verbatim"),
    pytest.param(7, "7", id="int"),
    pytest.param(None, "null", id="nil"),
])
def test_render_value(value: object, shown: str) -> None:
    assert render_value(value) == shown


@pytest.mark.parametrize(("sel", "shown"), [
    pytest.param({}, "v1.LabelSelector{MatchLabels:map[string]string(nil), "
                     "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}", id="empty"),
    pytest.param({"matchLabels": {}}, "v1.LabelSelector{MatchLabels:map[string]string{}, "
                                      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}", id="empty-map"),
    pytest.param({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]},
                 'v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement'
                 '{v1.LabelSelectorRequirement{Key:"tier", Operator:"In", Values:[]string{"web"}}}}', id="expression"),
])
def test_label_selector_rendering(sel: dict[str, object], shown: str) -> None:
    assert golang.label_selector(sel) == shown


def test_other_go_renderings() -> None:
    assert golang.int_or_string("25x") == 'intstr.IntOrString{Type:1, IntVal:0, StrVal:"25x"}'
    assert golang.int_or_string(3) == 'intstr.IntOrString{Type:0, IntVal:3, StrVal:""}'
    assert golang.string_map(None) == "map[string]string(nil)"
    assert golang.time_value("2024-05-01T10:00:00Z") == "2024-05-01 10:00:00 +0000 UTC"
