"""Small text renderers shared by the printers: labels, selectors, lists.

They reproduce the string forms of upstream helpers that show up in cells:

* ``format_labels``   — ``labels.FormatLabels``: ``a=1,b=2`` sorted by key, ``<none>`` when empty;
* ``selector_string`` — ``metav1.LabelSelectorAsSelector(...).String()``: requirements
  sorted by key, ``k=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``; an unset or
  empty selector renders as the empty string;
* ``format_label_selector`` — ``metav1.FormatLabelSelector``: the same, ``<none>`` when
  empty and ``<error>`` when the selector cannot be built;
* ``containers_and_images`` — the wide CONTAINERS and IMAGES cells;
* ``with_more`` — the ``a,b,c + 4 more...`` truncation used by endpoint lists.

Pure module: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

NONE = "<none>"


def format_labels(labels: Mapping[str, Any] | None) -> str:
    if not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def selector_string(selector: Mapping[str, Any] | None) -> str | None:
    """The selector's canonical string; None when upstream could not build it."""
    if not selector:
        # nil selects nothing and {} selects everything; both print as ""
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        requirements.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key = str(expr.get("key") or "")
        operator = expr.get("operator")
        values = [str(v) for v in expr.get("values") or []]
        if operator in ("In", "NotIn"):
            if not values:
                return None  # NewRequirement: set-based operators need values
            word = " in " if operator == "In" else " notin "
            requirements.append((key, f"{key}{word}({','.join(sorted(values))})"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                return None  # NewRequirement: existence operators take no values
            requirements.append((key, key if operator == "Exists" else "!" + key))
        else:
            return None
    # the internal selector keeps requirements ordered by key
    requirements.sort(key=lambda r: r[0])
    return ",".join(text for _, text in requirements)


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    text = selector_string(selector)
    if text is None:
        return "<error>"
    return text or NONE


def containers_and_images(containers: Iterable[Mapping[str, Any]] | None) -> tuple[str, str]:
    names: list[str] = []
    images: list[str] = []
    for container in containers or ():
        names.append(str(container.get("name") or ""))
        images.append(str(container.get("image") or ""))
    return ",".join(names), ",".join(images)


def with_more(shown: list[str], total: int, limit: int = 3, empty: str = "<unset>") -> str:
    """``a,b,c + N more...`` when ``total`` exceeds what is shown; ``empty`` for nothing."""
    text = ",".join(shown)
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or empty


def join_host_port(host: str, port: Any) -> str:
    """``net.JoinHostPort``: IPv6 hosts are bracketed."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"
