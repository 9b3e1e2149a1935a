"""Object schemas for the OpenAPI documents, converted back from JSON Schema.

:mod:`kybernetes.api.schema` holds the upstream definitions the way
``kubernetes-validate`` ships them: JSON Schema 2020-12, where an optional
field admits ``null`` (``type: ["string", "null"]``), references read
``#/$defs/<name>``, and a few types were rewritten for a JSON Schema
validator.  Clients reading ``/openapi/v2`` and ``/openapi/v3`` expect the
forms the Kubernetes API server publishes instead, so this module undoes the
rewrite:

* ``null`` is dropped from every ``type`` (OpenAPI 2 has no null type, and
  kubectl's v2 parser rejects a schema with more than one type);
* ``$ref`` points into ``#/definitions/`` (v2) or ``#/components/schemas/``
  (v3); in v3 a reference with sibling keywords is wrapped in ``allOf``,
  because OpenAPI 3.0 ignores the siblings of a bare ``$ref``;
* ``IntOrString`` and ``Quantity`` become strings (``format: int-or-string``
  for the former), the way the API server describes them;
* the ``enum`` that ``kubernetes-validate`` adds to ``apiVersion`` and ``kind``
  is removed: upstream publishes none, and ``kubectl explain`` would print it;
* property maps are sorted by name, as the Go JSON encoder emits them.

Everything else (descriptions, formats, ``required`` and every
``x-kubernetes-*`` extension kubectl reads for patching and explain) passes
through untouched.  :func:`closure` computes the definitions a set of
references needs, so each document carries only what it uses.

Pure module: no I/O beyond the one-time read of the shipped definitions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Literal

from kybernetes.api import schema

Schema = dict[str, Any]
Flavor = Literal["v2", "v3"]

_DEFS_PREFIX = "#/$defs/"
REF_PREFIX: dict[Flavor, str] = {"v2": "#/definitions/", "v3": "#/components/schemas/"}

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# The two definitions kubernetes-validate rewrote as ``oneOf`` (losing their
# descriptions on the way); the API server publishes them as plain strings.
_REPLACEMENTS: dict[str, Schema] = {
    INT_OR_STRING: {
        "description": "IntOrString holds either an int32 or a string. In JSON and YAML it is written as "
        "the inner value, so a field of this type accepts a number or a name (for example a port).",
        "type": "string",
        "format": "int-or-string",
    },
    QUANTITY: {
        "description": "Quantity is a fixed-point number with an optional SI, binary-SI or decimal-exponent "
        "suffix, such as 100m, 1.5, 128Mi, 2G or 1e3, written in JSON and YAML as a string (a plain "
        "number is accepted on input).",
        "type": "string",
    },
}

# Keywords whose value is a single schema, or a list of schemas.
_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMA_LIST = ("allOf", "anyOf", "oneOf")


def definition_name(ref: str) -> str:
    """``#/definitions/X``, ``#/components/schemas/X`` or ``#/$defs/X`` -> ``X``."""
    return ref.rsplit("/", 1)[-1]


def _strip_null(value: Any) -> str | list[str] | None:
    if isinstance(value, str):
        return None if value == "null" else value
    kept = [t for t in value if t != "null"]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kept


def convert(node: Schema, flavor: Flavor) -> Schema:
    """One JSON Schema node in the OpenAPI ``flavor`` (a new dict; the input is not touched)."""
    out: Schema = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = REF_PREFIX[flavor] + value[len(_DEFS_PREFIX):]
        elif key == "type":
            kept = _strip_null(value)
            if kept is not None:
                out[key] = kept
        elif key == "properties":
            out[key] = {name: _property(name, sub, flavor) for name, sub in sorted(value.items())}
        elif key in _SUBSCHEMA and isinstance(value, dict):
            out[key] = convert(value, flavor)
        elif key in _SUBSCHEMA_LIST:
            out[key] = [convert(sub, flavor) for sub in value]
        else:
            out[key] = value
    if flavor == "v3" and "$ref" in out and len(out) > 1:
        # OpenAPI 3.0: siblings of $ref are ignored, so upstream moves the
        # reference into allOf and keeps description/extensions beside it.
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def _property(name: str, sub: Schema, flavor: Flavor) -> Schema:
    converted = convert(sub, flavor)
    if name in ("apiVersion", "kind"):
        converted.pop("enum", None)
    return converted


def definition(name: str, flavor: Flavor) -> Schema:
    """The definition ``name`` as the API server publishes it."""
    if name in _REPLACEMENTS:
        return dict(_REPLACEMENTS[name])
    return convert(schema.get(name), flavor)


def refs_in(node: Any) -> Iterable[str]:
    """Definition names referenced anywhere below ``node`` (any flavor)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            ref = cur.get("$ref")
            if isinstance(ref, str):
                yield definition_name(ref)
            for key, value in cur.items():
                # descriptions and extension payloads never hold schemas
                if key != "description" and not key.startswith("x-"):
                    stack.append(value)
        elif isinstance(cur, list):
            stack.extend(cur)


def closure(roots: Iterable[str]) -> list[str]:
    """``roots`` plus every definition they reach through ``$ref``, sorted by name."""
    defs = schema.definitions()
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in defs:
            raise KeyError(f"OpenAPI document references unknown definition {name!r}")
        seen.add(name)
        if name not in _REPLACEMENTS:
            todo.extend(refs_in(defs[name]))
    return sorted(seen)


def definitions(roots: Iterable[str], flavor: Flavor) -> dict[str, Schema]:
    """The definitions reachable from ``roots``, converted, keyed and sorted by name."""
    return {name: definition(name, flavor) for name in closure(roots)}


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, node in schema.definitions().items():
        gvks = node.get("x-kubernetes-group-version-kind") or []
        # shared meta types (DeleteOptions, WatchEvent...) list many GVKs; a
        # kind's own definition lists just its own
        if len(gvks) == 1:
            gvk = gvks[0]
            index[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return index


def by_gvk(group: str, version: str, kind: str) -> str:
    """Name of the definition describing exactly this group/version/kind; KeyError if none."""
    try:
        return _gvk_index()[(group, version, kind)]
    except KeyError:
        raise KeyError(f"no definition for {group}/{version} {kind}") from None
