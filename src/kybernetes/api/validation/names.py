"""Name and format predicates, with upstream's exact messages.

Each ``is_*`` function mirrors one of ``k8s.io/apimachinery/pkg/util/
validation`` (Kubernetes 1.33): it returns the list of problems as strings,
empty when the value is fine.  Callers wrap each string into a field error
(``Invalid value: "x": <message>``), so the texts here are what kubectl users
read and must match upstream byte for byte.

``NAME_FUNCS`` holds the per-kind name rules (``ValidateNameFunc``): DNS-1123
subdomain for most kinds, DNS-1123 label for namespaces, DNS-1035 label for
services, any path segment for events.

Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63

NameFunc = Callable[[str], list[str]]


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError: the message, examples, then the regex."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _full(fmt: str) -> re.Pattern[str]:
    # fullmatch, not "^...$": Python's "$" also matches before a final newline.
    return re.compile(fmt)


# -- DNS names -------------------------------------------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                         "'-' or '.', and must start and end with an alphanumeric character")
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                     "start with an alphabetic character, and end with an alphanumeric character")

_dns1123_label = _full(DNS1123_LABEL_FMT)
_dns1123_subdomain = _full(DNS1123_SUBDOMAIN_FMT)
_dns1035_label = _full(DNS1035_LABEL_FMT)


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _dns1123_label.fullmatch(value):
        if _dns1123_subdomain.fullmatch(value):
            # a valid subdomain within the length limit: it can only be the dots
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _dns1123_subdomain.fullmatch(value):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _dns1035_label.fullmatch(value):
        errs.append(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_fully_qualified_domain_name(value: str) -> list[str]:
    """IsFullyQualifiedDomainName minus the Required case (callers check emptiness)."""
    name = value[:-1] if value.endswith(".") else value
    errs = is_dns1123_subdomain(name)
    if errs:
        return [",".join(errs)]
    if len(name.split(".")) < 2:
        return ["should be a domain with at least two segments separated by dots"]
    for label in name.split("."):
        label_errs = is_dns1123_label(label)
        if label_errs:
            return [",".join(label_errs)]
    return []


# -- qualified names and label values ---------------------------------------------

QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
                      "and must start and end with an alphanumeric character")
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character")

_qualified_name = _full(QUALIFIED_NAME_FMT)
_label_value = _full(LABEL_VALUE_FMT)


def is_qualified_name(value: str) -> list[str]:
    """A label key: an optional DNS subdomain prefix and '/', then a name of at most 63."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name " + regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                  "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part " + empty_error())
    elif len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX))
    if not _qualified_name.fullmatch(name):
        errs.append("name part " + regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name",
                                               "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > LABEL_VALUE_MAX:
        errs.append(max_len_error(LABEL_VALUE_MAX))
    if not _label_value.fullmatch(value):
        errs.append(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# -- identifiers, keys, ports -------------------------------------------------------

C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"
C_IDENTIFIER_MSG = ("a valid C identifier must start with alphabetic character or '_', "
                    "followed by a string of alphanumeric characters or '_'")
ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
ENV_VAR_NAME_MSG = ("a valid environment variable name must consist of alphabetic characters, digits, '_', "
                    "'-', or '.', and must not start with a digit")
RELAXED_ENV_VAR_NAME_MSG = ("a valid environment variable name must consist only of printable ASCII characters "
                            "other than '='")
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
PERCENT_FMT = "[0-9]+%"
PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
HTTP_HEADER_FMT = "[-A-Za-z0-9]+"
HTTP_HEADER_MSG = "a valid HTTP header must consist of alphanumeric characters or '-'"

_c_identifier = _full(C_IDENTIFIER_FMT)
_env_var_name = _full(ENV_VAR_NAME_FMT)
_config_key = _full(CONFIG_KEY_FMT)
_percent = _full(PERCENT_FMT)
_http_header = _full(HTTP_HEADER_FMT)
_port_name_charset = _full("[-a-z0-9]+")


def is_c_identifier(value: str) -> list[str]:
    if _c_identifier.fullmatch(value):
        return []
    return [regex_error(C_IDENTIFIER_MSG, C_IDENTIFIER_FMT, "my_name", "MY_NAME", "MyName")]


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_env_var_name(value: str) -> list[str]:
    """The strict rule (before RelaxedEnvironmentVariableValidation)."""
    errs = []
    if not _env_var_name.fullmatch(value):
        errs.append(regex_error(ENV_VAR_NAME_MSG, ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return errs + _chdir_prefix(value)


def is_relaxed_env_var_name(value: str) -> list[str]:
    """The 1.33 default (feature RelaxedEnvironmentVariableValidation, beta and on)."""
    errs = []
    if not value:
        errs.append("environment variable name " + empty_error())
    if any(not (" " <= ch <= "~") or ch == "=" for ch in value):
        errs.append(RELAXED_ENV_VAR_NAME_MSG)
    return errs


def is_config_map_key(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _config_key.fullmatch(value):
        errs.append(regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return errs + _chdir_prefix(value)


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 of [-a-z0-9], a letter, no '--', no edge hyphen."""
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _port_name_charset.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(value: str) -> list[str]:
    return [] if _percent.fullmatch(value) else [regex_error(PERCENT_MSG, PERCENT_FMT, "1%", "93%")]


def is_http_header_name(value: str) -> list[str]:
    return [] if _http_header.fullmatch(value) else [regex_error(HTTP_HEADER_MSG, HTTP_HEADER_FMT, "X-Header-Name")]


def is_valid_user_id(uid: int) -> list[str]:
    return [] if 0 <= uid <= 0xFFFFFFFF else [inclusive_range_error(0, 0xFFFFFFFF)]


# -- IP addresses -----------------------------------------------------------------

INVALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
INVALID_CIDR = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy: like Go's net.ParseIP, IPv4 octets may carry leading zeros."""
    if not value or "%" in value or "/" in value:
        return None
    parts = value.split(".")
    if len(parts) == 4 and all(p.isdigit() and p.isascii() for p in parts):
        # leading zeros are allowed; any other long run of digits is out of range (256)
        octets = [int(p.lstrip("0") or "0") if len(p.lstrip("0")) <= 3 else 256 for p in parts]
        return ipaddress.IPv4Address(".".join(map(str, octets))) if max(octets) <= 255 else None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_valid_ip(value: str) -> list[str]:
    return [] if parse_ip(value) is not None else [INVALID_IP]


def is_valid_cidr(value: str) -> list[str]:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [INVALID_CIDR]
    return [] if "/" in value else [INVALID_CIDR]


# -- per-kind name rules (ValidateNameFunc) ---------------------------------------


def name_is_dns_subdomain(name: str) -> list[str]:
    return is_dns1123_subdomain(name)


def name_is_dns_label(name: str) -> list[str]:
    return is_dns1123_label(name)


def name_is_dns1035_label(name: str) -> list[str]:
    return is_dns1035_label(name)


def path_segment_name(name: str) -> list[str]:
    """path.ValidatePathSegmentName: any name usable as one URL path segment."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


# Name rule by kind; kinds not listed use DNS-1123 subdomains.
NAME_FUNCS: dict[str, NameFunc] = {
    "Namespace": name_is_dns_label,
    "Service": name_is_dns1035_label,
    "Event": path_segment_name,
}


def name_func(kind: str) -> NameFunc:
    return NAME_FUNCS.get(kind, name_is_dns_subdomain)
