"""Go ``%#v`` renderings of the composite values some upstream errors print.

Upstream validation runs on Go structs and ``field.Invalid`` prints a bad
composite value with ``%#v``, so a kubectl user reads for example::

    spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web"},
    MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable

The functions here rebuild those literals from wire JSON and wrap them in
:class:`~kybernetes.api.errors.GoValue`, which the error renderer prints
verbatim.  Go distinguishes a nil map or slice (field absent) from an empty
one (``{}`` / ``[]`` sent), and so do we.

Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from kybernetes.api.errors import GoValue, go_quote


def string_map(value: Any) -> GoValue:
    """``map[string]string{"a":"b", ...}``, or ``map[string]string(nil)`` when absent."""
    if not isinstance(value, dict):
        return GoValue("map[string]string(nil)")
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(value.items()))
    return GoValue("map[string]string{" + items + "}")


def string_slice(value: Any) -> GoValue:
    """``[]string{"a", "b"}``, or ``[]string(nil)`` when absent."""
    if not isinstance(value, list):
        return GoValue("[]string(nil)")
    return GoValue("[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}")


def _requirement(req: Any) -> str:
    req = req if isinstance(req, dict) else {}
    return ("v1.LabelSelectorRequirement{"
            f"Key:{go_quote(str(req.get('key') or ''))}, "
            f"Operator:{go_quote(str(req.get('operator') or ''))}, "
            f"Values:{string_slice(req.get('values'))}}}")


def label_selector(sel: Any) -> GoValue:
    """A ``metav1.LabelSelector`` as ``v1.LabelSelector{MatchLabels:..., MatchExpressions:...}``."""
    sel = sel if isinstance(sel, dict) else {}
    exprs = sel.get("matchExpressions")
    if isinstance(exprs, list):
        shown = "[]v1.LabelSelectorRequirement{" + ", ".join(_requirement(r) for r in exprs) + "}"
    else:
        shown = "[]v1.LabelSelectorRequirement(nil)"
    return GoValue(f"v1.LabelSelector{{MatchLabels:{string_map(sel.get('matchLabels'))}, MatchExpressions:{shown}}}")


def int_or_string(value: Any) -> GoValue:
    """``intstr.IntOrString{Type:1, IntVal:0, StrVal:"25%"}`` (Type 0 is an int)."""
    if isinstance(value, str):
        return GoValue(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}")
    n = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return GoValue(f'intstr.IntOrString{{Type:0, IntVal:{n}, StrVal:""}}')


def service_port(protocol: str, port: int) -> GoValue:
    """The ``core.ServicePort`` key upstream reports for a duplicate (protocol, port)."""
    return GoValue(
        f'core.ServicePort{{Name:"", Protocol:{go_quote(protocol)}, AppProtocol:(*string)(nil), '
        f'Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def time_value(value: Any) -> Any:
    """A metav1.Time as Go's ``time.Time.String()`` (``2024-01-02 03:04:05 +0000 UTC``)."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return value
    t = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return GoValue(t.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC")
