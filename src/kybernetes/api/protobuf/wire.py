"""Protobuf wire primitives and the ``k8s\\x00`` envelope (runtime.Unknown).

Just enough of the protobuf wire format to read what Kubernetes clients write:
base-128 varints, length-delimited fields, and skipping of fixed 32/64-bit
fields (no Kubernetes type we decode uses them, but an unknown field of that
shape must still be stepped over).  Groups (wire types 3 and 4) are long dead
and rejected.

A Kubernetes protobuf body is the 4-byte magic ``k8s\\x00`` followed by a
``runtime.Unknown`` message::

    message Unknown {
      optional TypeMeta typeMeta = 1;      // apiVersion = 1, kind = 2
      optional bytes raw = 2;              // the object's own message
      optional string contentEncoding = 3; // always empty in practice
      optional string contentType = 4;     // empty, or the protobuf media type
    }

:func:`read_envelope` checks the magic and splits the body into an
:class:`Envelope`; the object message itself is decoded by :mod:`.decoder`.

Every malformed input raises :class:`DecodeError` (a :class:`ValueError`)
with a short reason; the object decoder adds the JSON path where it happened.
Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

WIRE_VARINT = 0
WIRE_FIXED64 = 1
WIRE_BYTES = 2
WIRE_FIXED32 = 5

_MASK64 = (1 << 64) - 1


class DecodeError(ValueError):
    """Malformed protobuf: a reason, and the JSON path (innermost first) where it was found."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []

    def at(self, field: str) -> DecodeError:
        """Record that the error happened inside ``field`` (callers add outer fields after)."""
        if field:
            self.path.append(field)
        return self

    def __str__(self) -> str:
        where = ".".join(reversed(self.path))
        return f"protobuf: {self.reason}" + (f" (at {where})" if where else "")


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it.

    At most ten bytes; bits past the 64th are dropped, as Go's decoder does.
    """
    result = 0
    shift = 0
    start = pos
    while shift < 70:
        if pos >= end:
            raise DecodeError(f"truncated varint at offset {start}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7
    raise DecodeError(f"varint longer than 10 bytes at offset {start}")


def read_length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A length-delimited field's payload bounds ``(start, stop)``, checked against ``end``."""
    if pos < end and buf[pos] < 0x80:  # the common one-byte length
        length = buf[pos]
        pos += 1
    else:
        length, pos = read_varint(buf, pos, end)
    stop = pos + length
    if stop > end:
        raise DecodeError(f"field of {length} bytes at offset {pos} runs past the end of its message")
    return pos, stop


def skip_field(buf: bytes, pos: int, wire_type: int, end: int) -> int:
    """The position after a field of ``wire_type`` whose value starts at ``pos``."""
    if wire_type == WIRE_VARINT:
        return read_varint(buf, pos, end)[1]
    if wire_type == WIRE_BYTES:
        return read_length(buf, pos, end)[1]
    if wire_type == WIRE_FIXED64:
        pos += 8
    elif wire_type == WIRE_FIXED32:
        pos += 4
    else:
        raise DecodeError(f"unsupported wire type {wire_type} at offset {pos}")
    if pos > end:
        raise DecodeError("truncated fixed-width field")
    return pos


def iter_fields(buf: bytes, pos: int, end: int) -> list[tuple[int, int, int, int]]:
    """Split a small message into ``(number, wire type, value start, value end)`` tuples.

    For the envelope and the special types (a handful of fields each); the
    object decoder walks its fields inline instead, for speed.
    """
    out: list[tuple[int, int, int, int]] = []
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise DecodeError(f"field number 0 at offset {pos}")
        if wire_type == WIRE_BYTES:
            start, stop = read_length(buf, pos, end)
        else:
            start, stop = pos, skip_field(buf, pos, wire_type, end)
        out.append((number, wire_type, start, stop))
        pos = stop
    return out


def as_string(buf: bytes, start: int, stop: int, what: str) -> str:
    try:
        return buf[start:stop].decode()
    except UnicodeDecodeError:
        raise DecodeError(f"{what} is not valid UTF-8") from None


@dataclass(frozen=True)
class Envelope:
    """The decoded ``runtime.Unknown`` around an object."""

    api_version: str
    kind: str
    raw: bytes
    content_encoding: str = ""
    content_type: str = ""


def read_envelope(body: bytes) -> Envelope:
    """Check the ``k8s\\x00`` magic and read the ``runtime.Unknown`` after it."""
    if not body.startswith(MAGIC):
        raise DecodeError("body does not start with the Kubernetes magic prefix k8s\\x00")
    buf = bytes(body)
    api_version = kind = encoding = ctype = ""
    raw = b""
    for number, wire_type, start, stop in iter_fields(buf, len(MAGIC), len(buf)):
        if number in (1, 2, 3, 4) and wire_type != WIRE_BYTES:
            raise DecodeError(f"runtime.Unknown field {number} has wire type {wire_type}")
        if number == 1:
            for n, wt, s, e in iter_fields(buf, start, stop):
                if n in (1, 2) and wt != WIRE_BYTES:
                    raise DecodeError(f"runtime.TypeMeta field {n} has wire type {wt}")
                if n == 1:
                    api_version = as_string(buf, s, e, "apiVersion")
                elif n == 2:
                    kind = as_string(buf, s, e, "kind")
        elif number == 2:
            raw = buf[start:stop]
        elif number == 3:
            encoding = as_string(buf, start, stop, "contentEncoding")
        elif number == 4:
            ctype = as_string(buf, start, stop, "contentType")
    return Envelope(api_version, kind, raw, encoding, ctype)
