"""YAML request bodies as the JSON values upstream would see.

kube-apiserver never decodes YAML into objects directly: ``sigs.k8s.io/yaml``
converts the document to JSON first and the JSON is decoded.  So a YAML body
can only carry what JSON can, and :func:`loads` returns exactly that:

* mapping keys become strings, as the converter formats them: ``1`` -> ``"1"``,
  ``true`` -> ``"true"``, ``1.5`` -> ``"1.5"``, ``~`` -> ``"null"``;
* timestamps stay the text they were written as (go-yaml turns them into
  ``time.Time`` only for a Go field of that type; here every field is JSON);
* ``!!binary`` becomes the text of its bytes and ``!!set`` a map of nulls, as
  go-yaml decodes them into ``interface{}``; ``!!omap`` and ``!!pairs`` become lists;
* NaN and infinities are refused (``json: unsupported value: NaN``), as are
  strings that are not Unicode text (a lone surrogate from a ``"\\ud800"`` escape);
* anchors and aliases are expanded into separate copies (nothing downstream may
  share a mutable value), and a document that expands past :data:`MAX_VALUES`
  values (a "billion laughs" bomb) or nests deeper than :data:`MAX_DEPTH` is refused.

Every refusal is a :class:`ValueError` with a one-line reason; the API server
answers it with 400 ``error converting YAML to JSON: <reason>``.

Pure module: no I/O.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from kybernetes.api.patch import MAX_DEPTH

# The values a 3 MiB JSON body can hold at most: beyond that only aliases can have made them.
MAX_VALUES = 1_500_000

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    """SafeLoader whose scalars are only JSON's: timestamps and binaries stay text, keys are strings."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        # Keys become strings while the map is built: ``1`` and ``true`` stay two keys
        # (``"1"``, ``"true"``), where a Python dict would fold them into one.
        self.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key(self.construct_object(key_node, deep=deep))
            out[key] = self.construct_object(value_node, deep=deep)
        return out


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _binary(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    data: bytes = yaml.SafeLoader.construct_yaml_binary(loader, node)  # type: ignore[arg-type]
    return data.decode("utf-8", "replace")  # Go's json.Marshal replaces invalid UTF-8 alike


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
_Loader.add_constructor("tag:yaml.org,2002:binary", _binary)


def loads(raw: bytes | str) -> Any:
    """The JSON value of one YAML document; :class:`ValueError` when it has none."""
    try:
        doc = yaml.load(raw, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as e:
        raise ValueError(str(e)) from None
    except RecursionError:
        raise ValueError(f"the document is nested more than {MAX_DEPTH} levels deep") from None
    return _Converter().convert(doc, 0)


class _Converter:
    """One walk that copies the document into JSON values and enforces the limits."""

    def __init__(self) -> None:
        self.values = 0

    def convert(self, value: Any, depth: int) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise ValueError(f"the document expands to more than {MAX_VALUES} values")
        if depth > MAX_DEPTH:
            raise ValueError(f"the document is nested more than {MAX_DEPTH} levels deep")
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                shown = "NaN" if math.isnan(value) else "+Inf" if value > 0 else "-Inf"
                raise ValueError(f"json: unsupported value: {shown}")
            return value
        if isinstance(value, str):
            return _text(value)
        if isinstance(value, dict):
            return {_key(k): self.convert(v, depth + 1) for k, v in value.items()}
        if isinstance(value, set):
            return {_key(k): None for k in value}
        if isinstance(value, list | tuple):
            return [self.convert(v, depth + 1) for v in value]
        raise ValueError(f"json: unsupported type: {type(value).__name__}")


def _text(s: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("invalid Unicode character escape code") from None
    return s


def _key(key: Any) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it in JSON."""
    if isinstance(key, str):
        return _text(key)
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _go_float(key)
    raise ValueError(f"json: unsupported type: map[{type(key).__name__}]interface {{}}")


def _go_float(f: float) -> str:
    if math.isnan(f):
        return ".nan"
    if math.isinf(f):
        return ".inf" if f > 0 else "-.inf"
    return repr(f).removesuffix(".0") if f.is_integer() and abs(f) < 1e21 else repr(f)
