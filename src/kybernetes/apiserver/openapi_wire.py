"""Protobuf wire encoding driven by tables, for gnostic's OpenAPI messages.

A message is described as a table from JSON key to ``(field number, codec)``
(:class:`Message`); a codec turns one JSON value into wire bytes and back.
Scalars follow proto3 rules (default values are not written; the last
occurrence wins when reading).  The structural codecs cover the shapes
gnostic's compiler uses to hold JSON in protobuf:

* :class:`Wrapped` -- a value stored one message deeper
  (``type: "object"`` -> ``TypeItem{value: ["object"]}``);
* :class:`NamedMap` -- a JSON object as ``repeated Named<X>{name, value}``
  inside a wrapper message, in document order, ``x-*`` keys optionally
  routed to a vendor-extension field;
* :class:`OneOf` -- a message holding one of several alternatives, chosen
  from the JSON value (a body or a query parameter, a schema or a boolean);
* :class:`AnyYaml` -- gnostic's ``Any{yaml}``: arbitrary JSON kept as YAML text.

The tables themselves live in :mod:`kybernetes.apiserver.openapi_proto`.
Writing is about 20 lines of varint and length prefixes; reading exists so
tests can round-trip documents.  Pure module: no I/O.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import yaml

_VARINT, _FIXED64, _BYTES = 0, 1, 2


# ------------------------------------------------------------------ wire level

def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 two's complement, as Go writes it
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _tag(num: int, wire: int) -> bytes:
    return _varint(num << 3 | wire)


def _delimited(num: int, payload: bytes) -> bytes:
    return _tag(num, _BYTES) + _varint(len(payload)) + payload


def _fields(data: bytes) -> dict[int, list[Any]]:
    """Split one message into its fields: number -> raw values (int or bytes) in order."""
    out: dict[int, list[Any]] = {}
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        num, wire = key >> 3, key & 7
        value: Any
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _BYTES:
            size, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == _FIXED64:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.setdefault(num, []).append(value)
    return out


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


# ------------------------------------------------------------------ codecs

class Codec:
    """How one field's JSON value maps to wire values, both ways."""

    def encode(self, num: int, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, raw: list[Any]) -> Any:
        raise NotImplementedError


class String(Codec):
    def encode(self, num: int, value: Any) -> bytes:
        return _delimited(num, value.encode()) if value else b""  # proto3 omits defaults

    def decode(self, raw: list[Any]) -> Any:
        return bytes(raw[-1]).decode()


class Strings(Codec):
    def encode(self, num: int, value: Any) -> bytes:
        return b"".join(_delimited(num, s.encode()) for s in value)

    def decode(self, raw: list[Any]) -> Any:
        return [bytes(r).decode() for r in raw]


class Bool(Codec):
    def encode(self, num: int, value: Any) -> bytes:
        return _tag(num, _VARINT) + b"\x01" if value else b""

    def decode(self, raw: list[Any]) -> Any:
        return bool(raw[-1])


class PresentBool(Bool):
    """A bool alternative of a oneof: written even when false, since its presence picks the branch."""

    def encode(self, num: int, value: Any) -> bytes:
        return _tag(num, _VARINT) + (b"\x01" if value else b"\x00")


class Int64(Codec):
    def encode(self, num: int, value: Any) -> bytes:
        return _tag(num, _VARINT) + _varint(int(value)) if value else b""

    def decode(self, raw: list[Any]) -> Any:
        n = int(raw[-1])
        return n - (1 << 64) if n >= 1 << 63 else n


class Double(Codec):
    def encode(self, num: int, value: Any) -> bytes:
        return _tag(num, _FIXED64) + struct.pack("<d", float(value)) if value else b""

    def decode(self, raw: list[Any]) -> Any:
        number: float = struct.unpack("<d", raw[-1])[0]
        return int(number) if number.is_integer() else number


def _yaml_text(value: Any) -> str:
    # JSON is valid YAML, unambiguous, and what kube-openapi's YAML reader accepts
    return json.dumps(value, ensure_ascii=False) + "\n"


def _yaml_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)


class AnyYaml(Codec):
    """``Any{yaml = 2}`` holding the value as text."""

    def encode(self, num: int, value: Any) -> bytes:
        return _delimited(num, _delimited(2, _yaml_text(value).encode()))

    def decode(self, raw: list[Any]) -> Any:
        return _yaml_value(_fields(raw[-1])[2][-1].decode())


_ANY = AnyYaml()


class AnyYamls(AnyYaml):
    def encode(self, num: int, value: Any) -> bytes:
        return b"".join(AnyYaml.encode(self, num, v) for v in value)

    def decode(self, raw: list[Any]) -> Any:
        return [AnyYaml.decode(self, [r]) for r in raw]


class Message(Codec):
    """A message whose fields map one-to-one to JSON keys; ``x-*`` keys go to ``vendor``."""

    def __init__(self, name: str, fields: dict[str, tuple[int, Codec]] | None = None, vendor: int = 0) -> None:
        self.name = name
        self.fields = fields or {}
        self.vendor = vendor
        self._by_num: dict[int, tuple[str, Codec]] = {}

    def body(self, obj: dict[str, Any]) -> bytes:
        parts: list[tuple[int, bytes]] = []
        for key, value in obj.items():
            if self.vendor and key.startswith("x-"):
                pair = _delimited(1, key.encode()) + _ANY.encode(2, value)
                parts.append((self.vendor, _delimited(self.vendor, pair)))
                continue
            spec = self.fields.get(key)
            if spec is None:
                raise ValueError(f"{self.name}: no field for key {key!r}")
            parts.append((spec[0], spec[1].encode(spec[0], value)))
        # Go's proto.Marshal writes fields in number order; repeated ones keep theirs
        parts.sort(key=lambda p: p[0])
        return b"".join(p[1] for p in parts)

    def parse(self, data: bytes) -> dict[str, Any]:
        if not self._by_num:
            self._by_num = {num: (key, codec) for key, (num, codec) in self.fields.items()}
        out: dict[str, Any] = {}
        for num, raw in _fields(data).items():
            if self.vendor and num == self.vendor:
                for pair in raw:
                    named = _fields(pair)
                    out[bytes(named[1][-1]).decode()] = _ANY.decode(named[2])
            elif num in self._by_num:
                key, codec = self._by_num[num]
                out[key] = codec.decode(raw)
        return out

    def encode(self, num: int, value: Any) -> bytes:
        return _delimited(num, self.body(value))

    def decode(self, raw: list[Any]) -> Any:
        return self.parse(raw[-1])


class Repeated(Codec):
    def __init__(self, item: Codec) -> None:
        self.item = item

    def encode(self, num: int, value: Any) -> bytes:
        return b"".join(self.item.encode(num, v) for v in value)

    def decode(self, raw: list[Any]) -> Any:
        return [self.item.decode([r]) for r in raw]


class Wrapped(Codec):
    """A JSON value stored one message deeper, e.g. ``type: "object"`` -> ``TypeItem{value: ["object"]}``."""

    def __init__(self, inner_num: int, inner: Codec, wrap: Callable[[Any], Any] = lambda v: v,
                 unwrap: Callable[[Any], Any] = lambda v: v) -> None:
        self.inner_num, self.inner, self.wrap, self.unwrap = inner_num, inner, wrap, unwrap

    def encode(self, num: int, value: Any) -> bytes:
        return _delimited(num, self.inner.encode(self.inner_num, self.wrap(value)))

    def decode(self, raw: list[Any]) -> Any:
        inner = _fields(raw[-1]).get(self.inner_num, [])
        return self.unwrap(self.inner.decode(inner) if inner else [])


class NamedMap(Codec):
    """A JSON object stored as ``repeated Named<X>{name = 1, value = 2}`` inside a wrapper message."""

    def __init__(self, value: Codec, entries_num: int = 1, vendor: int = 0) -> None:
        self.value, self.entries_num, self.vendor = value, entries_num, vendor

    def body(self, obj: dict[str, Any]) -> bytes:
        out = bytearray()
        for name, value in obj.items():
            if self.vendor and name.startswith("x-"):
                out += _delimited(self.vendor, _delimited(1, name.encode()) + _ANY.encode(2, value))
            else:
                out += _delimited(self.entries_num, _delimited(1, name.encode()) + self.value.encode(2, value))
        return bytes(out)

    def encode(self, num: int, value: Any) -> bytes:
        return _delimited(num, self.body(value))

    def decode(self, raw: list[Any]) -> Any:
        out: dict[str, Any] = {}
        fields = _fields(raw[-1])
        for entry in fields.get(self.entries_num, []):
            named = _fields(entry)
            out[bytes(named[1][-1]).decode()] = self.value.decode(named[2]) if 2 in named else {}
        for entry in fields.get(self.vendor, []) if self.vendor else []:
            named = _fields(entry)
            out[bytes(named[1][-1]).decode()] = _ANY.decode(named[2])
        return out


class OneOf(Codec):
    """A message holding exactly one of several alternatives, picked from the JSON value."""

    def __init__(self, choose: Callable[[Any], int], alternatives: dict[int, Codec]) -> None:
        self.choose, self.alternatives = choose, alternatives

    def encode(self, num: int, value: Any) -> bytes:
        which = self.choose(value)
        return _delimited(num, self.alternatives[which].encode(which, value))

    def decode(self, raw: list[Any]) -> Any:
        fields = _fields(raw[-1])
        for which, codec in self.alternatives.items():
            if which in fields:
                return codec.decode(fields[which])
        return {}
