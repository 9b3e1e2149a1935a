"""Strict decoding of request bodies against the upstream schemas.

Upstream never stores the JSON a client sent: it decodes the body into Go
structs and re-encodes them.  That round trip is visible to clients, so
:func:`decode` reproduces it on the wire dicts:

* unknown fields disappear (at any depth: through ``$ref``, list items, map
  values) and their paths are collected in :attr:`Decoded.unknown`, in the
  form ``fieldValidation=Strict|Warn`` reports (``spec.containers[0].foo``);
* values of the wrong JSON type are errors worded as Go's ``encoding/json``
  words them (``json: cannot unmarshal string into Go struct field
  PodSpec.spec.containers of type []v1.Container``);
* custom types parse their text: Quantity, Time/MicroTime (re-encoded in
  UTC), IntOrString, base64 byte slices;
* ``null`` leaves the Go zero value, so null fields vanish; a null list item
  or map value becomes the item type's zero (``""``, ``0``, ``{}``);
* integral floats (``3.0``) are accepted for integer fields and become ints
  (a deliberate leniency: JSON parsers on this side cannot tell ``3.0`` from
  ``3``; upstream would reject the literal ``3.0``);
* free-form parts (RawExtension, FieldsV1) and map contents (labels,
  annotations, ConfigMap and Secret data) are kept as sent.

Duplicate keys are invisible once JSON is parsed into a dict, so
:func:`find_duplicate_fields` scans the raw body; run it only when the request
asked for ``fieldValidation=Strict`` or ``Warn``.  :func:`strict_errors` and
:func:`strict_error_text` turn both lists into upstream's messages.

Pure module, no I/O; schema tables are compiled lazily and cached (see
:mod:`kybernetes.api.codecs`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import codecs
from kybernetes.api.errors import go_quote
from kybernetes.api.registry import ResourceType

# sigs.k8s.io/json stops collecting strict errors after this many.
MAX_STRICT_ERRORS = 100


@dataclass
class Decoded:
    """The result of :func:`decode`."""

    obj: dict[str, Any]
    # field paths that the schema does not know, in document order
    unknown: list[str] = field(default_factory=list)
    # type errors; ``errors[0]`` is the one upstream reports (it stops at the first)
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """The message of the 400 upstream answers, without the ``<Kind> in version`` prefix."""
        return self.errors[0] if self.errors else None


def decode(rt: ResourceType, obj: Any, *, definition: str | None = None) -> Decoded:
    """Decode ``obj`` as the kind of ``rt`` (or the schema ``definition``); no side effects.

    Unknown fields are always collected; the caller decides from the request's
    ``fieldValidation`` whether they are ignored, warned about or fatal.
    """
    codec = codecs.for_definition(definition or rt.definition)
    ctx = codecs.Context()
    if type(obj) is not dict:
        ctx.type_error(obj, codec.go_type, "", "")
        return Decoded({}, [], ctx.errors)
    out = codec.decode(obj, ctx, "", "", "")
    errors = ctx.errors
    if ctx.fatal is not None and errors[0] != ctx.fatal:
        # a failing custom unmarshaler aborts Go's decode and its error wins
        errors = [ctx.fatal, *(e for e in errors if e != ctx.fatal)]
    return Decoded(out if isinstance(out, dict) else {}, ctx.unknown, errors)


def strict_errors(unknown: list[str], duplicates: list[str] | None = None) -> list[str]:
    """Upstream's strict-decoding messages: ``unknown field "p"``, ``duplicate field "p"``.

    Deduplicated and capped like sigs.k8s.io/json.  Duplicates at or under an
    unknown field are left out: upstream skips unknown values without looking
    inside them.  One ``Warning`` header per message under ``fieldValidation=Warn``:
    paths are quoted as Go's ``strconv.Quote`` does, so a control character in a
    field name is escaped (``"\\x7f"``) and never reaches a header raw.
    """
    out: list[str] = []
    seen: set[str] = set()
    for path in unknown:
        _add(out, seen, f"unknown field {go_quote(path)}")
    for path in duplicates or ():
        if any(_within(path, u) for u in unknown):
            continue
        _add(out, seen, f"duplicate field {go_quote(path)}")
    return out


def strict_error_text(unknown: list[str], duplicates: list[str] | None = None) -> str:
    """``strict decoding error: unknown field "spec.foo", ...``, or ``""`` when clean.

    The API server prefixes it with ``Pod in version "v1" cannot be handled as a Pod: ``.
    """
    errors = strict_errors(unknown, duplicates)
    return "strict decoding error: " + ", ".join(errors) if errors else ""


def find_duplicate_fields(raw: bytes | str) -> list[str]:
    """Paths of keys repeated within one JSON object of ``raw``, in document order.

    Invalid JSON yields ``[]``: the body parser reports syntax errors (and the
    decoder refuses free-form values nested deeper than the stdlib parser goes).  The
    common no-duplicate case costs one parse with a cheap hook; paths are only
    built when a duplicate exists.
    """
    found = False

    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        if not found and len({k for k, _ in pairs}) != len(pairs):
            found = True
        return {}  # the values are not needed on this pass

    try:
        json.loads(raw, object_pairs_hook=check)
        if not found:
            return []
        out: list[str] = []
        _walk_pairs(json.loads(raw, object_pairs_hook=_Pairs), "", out)
    except (ValueError, RecursionError):  # invalid, or nested past this parser's limit: not ours to judge
        return []
    return out


class _Pairs(list[tuple[str, Any]]):
    """A JSON object kept as its key/value pairs, duplicates included."""


def _walk_pairs(value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        prefix = path + "." if path else ""
        for key, sub in value:
            if key in seen:
                out.append(prefix + key)
            seen.add(key)
            _walk_pairs(sub, prefix + key, out)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _walk_pairs(sub, f"{path}[{i}]", out)


def _add(out: list[str], seen: set[str], message: str) -> None:
    if message not in seen and len(out) < MAX_STRICT_ERRORS:
        seen.add(message)
        out.append(message)


def _within(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith((ancestor + ".", ancestor + "["))

