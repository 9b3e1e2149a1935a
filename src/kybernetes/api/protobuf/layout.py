"""The vocabulary of the message-layout table: field kinds, flags and the zero-value rule.

A Kubernetes protobuf message is decoded by walking its fields against a
*layout*, a dict from field number to ``(json name, kind, reference, flags)``
(:data:`Field`).  The layouts themselves are data, in :mod:`.messages`; this
module names what the numbers in them mean, so the table stays compact (plain
ints compare fast in the decoder's inner loop) and readable.

Kinds
  Plain protobuf scalars (:data:`STRING`, :data:`BYTES`, :data:`BOOL`,
  :data:`INT32`, :data:`INT64`), a nested message (:data:`MESSAGE`, the
  reference names its layout) and a ``map<string, V>`` (:data:`MAP`, the
  reference is ``(value kind, value message or None)``).  The apimachinery
  types whose JSON form is not their message shape get their own kind:
  ``metav1.Time`` (:data:`TIME`, RFC 3339 seconds), ``metav1.MicroTime``
  (:data:`MICROTIME`, RFC 3339 with six fractional digits),
  ``resource.Quantity`` (:data:`QUANTITY`, its canonical string),
  ``intstr.IntOrString`` (:data:`INTORSTR`, an int or a string),
  ``metav1.FieldsV1`` (:data:`FIELDS`, the JSON it carries) and
  ``runtime.RawExtension`` (:data:`RAW`, an embedded object).

Flags and the zero-value rule
  Kubernetes' gogo-protobuf code writes every non-pointer field, zero or not,
  and a pointer field only when it is set.  Go's JSON encoder, which is what a
  JSON client would have sent, drops a zero value only when the field is
  ``omitempty``.  The decoder therefore drops a decoded zero (``""``, ``0``,
  ``false``, an empty message, an int-or-string ``0``) exactly when the field
  is :data:`OMITEMPTY` and not a :data:`POINTER`; a pointer field that is on
  the wire keeps its zero (``replicas: 0``, ``automountServiceAccountToken:
  false``).  Empty lists and maps never appear (protobuf cannot tell nil from
  empty, and Go's JSON would say ``null``, which means the same), and a zero
  time is ``null`` in Go's JSON, so it is dropped too.  :data:`INLINE` marks a
  struct embedded with ``json:",inline"`` (``Volume.volumeSource``,
  ``Probe.handler``): its fields are merged into the parent object.

Pure module: constants and types only.
"""

from __future__ import annotations

from typing import TypeAlias

# --- kinds (the decoder dispatches on these) ---------------------------------
STRING = 1
BYTES = 2
BOOL = 3
INT32 = 4
INT64 = 5
MESSAGE = 6
MAP = 7
TIME = 8
MICROTIME = 9
QUANTITY = 10
INTORSTR = 11
FIELDS = 12
RAW = 13

#: kinds carried as varints on the wire (and packable when repeated)
VARINT_KINDS = frozenset({BOOL, INT32, INT64})

KIND_NAMES = {
    STRING: "string", BYTES: "bytes", BOOL: "bool", INT32: "int32", INT64: "int64", MESSAGE: "message",
    MAP: "map", TIME: "Time", MICROTIME: "MicroTime", QUANTITY: "Quantity", INTORSTR: "IntOrString",
    FIELDS: "FieldsV1", RAW: "RawExtension",
}

# --- flags --------------------------------------------------------------------
REPEATED = 1  # a Go slice: every occurrence appends
POINTER = 2  # a Go pointer: presence is meaningful, zero values are kept
OMITEMPTY = 4  # ``json:",omitempty"``: a zero value is left out
INLINE = 8  # ``json:",inline"``: the nested struct's fields belong to the parent

# --- table types -----------------------------------------------------------------
#: ``MESSAGE`` -> layout name; ``MAP`` -> (value kind, value layout name or None); others -> None
FieldRef: TypeAlias = str | tuple[int, str | None] | None
#: (json name, kind, reference, flags); the json name is "" for an inlined struct
Field: TypeAlias = tuple[str, int, FieldRef, int]
#: field number -> field
Layout: TypeAlias = dict[int, Field]
