"""Upstream object schemas, from the definitions shipped in ``kubernetes-validate``.

The package carries the Kubernetes OpenAPI definitions (converted to JSON
Schema 2020-12, with every ``x-kubernetes-*`` extension kept) for each release.
We read ``v<KUBERNETES_VERSION>-local/_definitions.json`` once, lazily, and
offer small navigation helpers: dereference ``$ref``, walk properties and array
items, read patch strategies and list-map keys, and name the JSON type a node
expects.  Strict decoding, strategic merge patch and OpenAPI publishing are all
built on these, so no table of field facts is ever hand-copied.

Read-only after load; safe to share between tasks.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from kybernetes import KUBERNETES_VERSION

Schema = dict[str, Any]

_REF_PREFIX = "#/$defs/"


@functools.cache
def definitions() -> dict[str, Schema]:
    """All definitions by name (``io.k8s.api.core.v1.Pod`` ...)."""
    major_minor = ".".join(KUBERNETES_VERSION.split(".")[:2])
    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{major_minor}.0-local"
    with (folder / "_definitions.json").open("rb") as f:
        data = json.load(f)
    defs: dict[str, Schema] = data["$defs"]
    return defs


def get(name: str) -> Schema:
    """The definition named ``name``; KeyError if unknown."""
    return definitions()[name]


def ref_name(node: Schema) -> str | None:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        return ref[len(_REF_PREFIX):]
    return None


def deref(node: Schema | None) -> Schema:
    """Follow ``$ref`` (and single-entry ``allOf``) to the concrete schema node."""
    seen = 0
    while node is not None and seen < 32:
        seen += 1
        name = ref_name(node)
        if name is not None:
            node = definitions().get(name, {})
            continue
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and "properties" not in node:
            node = all_of[0]
            continue
        return node
    return node or {}


def types(node: Schema) -> set[str]:
    """The JSON types a node admits, ignoring ``null``; empty set means anything."""
    node = deref(node)
    t = node.get("type")
    if isinstance(t, str):
        out = {t}
    elif isinstance(t, list):
        out = {x for x in t if x != "null"}
    else:
        out = set()
        for alt in node.get("oneOf", []) + node.get("anyOf", []):
            out |= types(alt)
    return out


def is_int_or_string(node: Schema) -> bool:
    return types(node) == {"string", "integer"}


def properties(node: Schema) -> dict[str, Schema]:
    return deref(node).get("properties") or {}


def prop(node: Schema, key: str) -> Schema | None:
    """Schema of property ``key`` (unresolved: it keeps its own extensions)."""
    return properties(node).get(key)


def additional(node: Schema) -> Schema | None:
    """Schema of map values, when the node is a map (``additionalProperties``)."""
    ap = deref(node).get("additionalProperties")
    return ap if isinstance(ap, dict) else None


def items(node: Schema) -> Schema | None:
    it = deref(node).get("items")
    return it if isinstance(it, dict) else None


def patch_strategy(node: Schema | None) -> list[str]:
    """``x-kubernetes-patch-strategy`` split on commas (e.g. ``["merge", "retainKeys"]``)."""
    if not node:
        return []
    raw = node.get("x-kubernetes-patch-strategy")
    if not raw:
        raw = deref(node).get("x-kubernetes-patch-strategy")
    return [s for s in str(raw or "").split(",") if s]


def patch_merge_key(node: Schema | None) -> str | None:
    if not node:
        return None
    key = node.get("x-kubernetes-patch-merge-key") or deref(node).get("x-kubernetes-patch-merge-key")
    return str(key) if key else None


def list_map_keys(node: Schema | None) -> list[str]:
    if not node:
        return []
    keys = node.get("x-kubernetes-list-map-keys") or deref(node).get("x-kubernetes-list-map-keys")
    return list(keys or [])


def required(node: Schema) -> list[str]:
    return list(deref(node).get("required") or [])


def at_path(root: str, path: list[str]) -> Schema | None:
    """Schema at a dotted property path below definition ``root`` (arrays step into items)."""
    node: Schema | None = get(root)
    for key in path:
        if node is None:
            return None
        if "array" in types(node):
            node = items(node)
            if node is None:
                return None
        sub = prop(node, key)
        if sub is None:
            sub = additional(node)
        node = sub
    return node
