"""Schema nodes compiled into small decoders, one per Go type shape.

Upstream decodes a request body into Go structs with ``sigs.k8s.io/json``.
That decoding is what makes unknown fields vanish, type mismatches fail with
``json: cannot unmarshal ...`` and custom types (Quantity, Time, IntOrString,
byte slices) parse their own text.  We reproduce it by compiling each schema
node once into a :class:`Codec` whose ``decode`` walks a value and returns the
pruned copy.  Compilation is lazy and cached per definition name (a struct's
field table is built on first use), so a pod decode is a handful of dict
lookups per field.

Two paths travel down the walk, because upstream reports them differently:

* the *strict* path (``spec.containers[0].foo``) with list indexes and map
  keys, used for unknown fields;
* the Go error context: the innermost struct's type name and the chain of
  struct field names without indexes or map keys (``Container`` +
  ``spec.containers.image``), used in type errors.

Invariants: codecs are immutable once built and safe to share; ``decode``
never mutates its input.  :data:`DROP` tells the parent to leave the field out.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

from kybernetes.api import schema
from kybernetes.api.patch import MAX_DEPTH, deeper_than
from kybernetes.api.scalars import TimeParseError, base64_error, normalize_time, quantity_error

DROP: Any = object()  # returned by decode when the value disappears on re-encoding


class Context:
    """What one decode collects: unknown field paths and type errors."""

    __slots__ = ("errors", "fatal", "unknown")

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.errors: list[str] = []
        # Errors a custom unmarshaler *returns* abort Go's decode at once and win
        # over earlier *saved* type errors; remember the first such one.
        self.fatal: str | None = None

    def type_error(self, value: Any, go_type: str, struct: str, field: str, *, fatal: bool = False) -> None:
        """Record ``json: cannot unmarshal <kind> into Go struct field S.f of type T``."""
        if struct or field:
            text = f"json: cannot unmarshal {json_kind(value)} into Go struct field {struct}.{field} of type {go_type}"
        else:
            text = f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}"
        self.error(text, fatal=fatal)

    def error(self, text: str, *, fatal: bool = False) -> None:
        self.errors.append(text)
        if fatal and self.fatal is None:
            self.fatal = text


def json_kind(value: Any) -> str:
    """How Go's UnmarshalTypeError names a JSON value (:class:`Integer` adds a number's text)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "number"


def _number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


class Codec:
    """Decode one value; subclasses per Go type shape."""

    __slots__ = ("go_type",)
    # value a JSON null takes inside a list or map (Go's zero value, re-encoded);
    # None keeps the null
    zero: Any = None
    # maps and slices: omitted when empty by ``omitempty``
    collection = False

    def __init__(self, go_type: str) -> None:
        self.go_type = go_type

    def null_value(self) -> Any:
        """What a JSON null becomes as a list item or map value."""
        return self.zero

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        """The re-encoded form of ``value`` (never null), or :data:`DROP`.

        ``path`` is the strict path of the value; ``struct`` and ``field`` are the
        Go error context (innermost struct name, dotted struct field chain).
        """
        raise NotImplementedError


class FreeForm(Codec):
    """RawExtension, FieldsV1, untyped JSON: kept exactly as sent, unless nested too deep.

    Nothing else bounds the depth of these values, and the stored object must
    stay within what the JSON encoder and the recursive walks over objects take.
    """

    __slots__ = ()

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if deeper_than(value, MAX_DEPTH):
            ctx.error(f"json: cannot unmarshal {json_kind(value)} into Go struct field {struct}.{field} of type "
                      f"{self.go_type}: nested more than {MAX_DEPTH} levels deep")
            return DROP
        return value


class String(Codec):
    __slots__ = ()
    zero = ""

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) is str:
            return value
        ctx.type_error(value, self.go_type, struct, field)
        return DROP


class Bool(Codec):
    __slots__ = ()
    zero = False

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) is bool:
            return value
        ctx.type_error(value, self.go_type, struct, field)
        return DROP


class Float(Codec):
    __slots__ = ()
    zero = 0

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) in (int, float):
            return value
        ctx.type_error(value, self.go_type, struct, field)
        return DROP


class Integer(Codec):
    """int32/int64: integral floats (``3.0``) are accepted and become ints."""

    __slots__ = ("high", "low")
    zero = 0

    def __init__(self, go_type: str, bits: int) -> None:
        super().__init__(go_type)
        self.low, self.high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        out = self.convert(value)
        if out is not None:
            return out
        self.fail(value, ctx, struct, field, fatal=False)
        return DROP

    def convert(self, value: Any) -> int | None:
        t = type(value)
        if t is int:
            return value if self.low <= value <= self.high else None
        if t is float and value.is_integer() and self.low <= value <= self.high:
            return int(value)
        return None

    def fail(self, value: Any, ctx: Context, struct: str, field: str, *, fatal: bool) -> None:
        if type(value) in (int, float):  # parsed as a number but not this integer: Go quotes it
            kind = f"number {_number_text(value)}"
            ctx.error(f"json: cannot unmarshal {kind} into Go struct field {struct}.{field} of type {self.go_type}",
                      fatal=fatal)
        else:
            ctx.type_error(value, self.go_type, struct, field, fatal=fatal)


class Bytes(Codec):
    """``[]byte``: base64 text; an array of small ints is also accepted by Go."""

    __slots__ = ()

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) is str:
            problem = base64_error(value)
            if problem is None:
                return value
            ctx.error(problem)  # a plain error: Go adds no struct context to it
            return DROP
        if type(value) is list and all(type(b) is int and 0 <= b < 256 for b in value):
            return base64.b64encode(bytes(value)).decode()
        ctx.type_error(value, self.go_type, struct, field)
        return DROP


class IntOrString(Codec):
    """Strings pass; anything else must fit an int32 (IntOrString.UnmarshalJSON)."""

    __slots__ = ("as_int",)
    zero = 0

    def __init__(self) -> None:
        super().__init__("intstr.IntOrString")
        self.as_int = Integer("int32", 32)

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) is str:
            return value
        out = self.as_int.convert(value)
        if out is None:
            self.as_int.fail(value, ctx, struct, field, fatal=True)
            return DROP
        return out


class Quantity(Codec):
    """resource.Quantity: a string or number matching the quantity grammar."""

    __slots__ = ()
    zero = "0"

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        t = type(value)
        if t is str:
            problem = quantity_error(value.strip())
        elif t is int or t is float:
            problem = quantity_error(_number_text(value))
        else:  # bool, object or array: their JSON text never matches
            problem = quantity_error("")
        if problem is None:
            return value
        ctx.error(problem, fatal=True)
        return DROP


class Time(Codec):
    """metav1.Time / MicroTime: RFC3339 text, re-encoded in UTC; the zero time is null."""

    __slots__ = ("micro",)

    def __init__(self, go_type: str, micro: bool) -> None:
        super().__init__(go_type)
        self.micro = micro

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) is not str:
            # UnmarshalJSON decodes into a string first; that error gets the field context
            ctx.type_error(value, "string", struct, field, fatal=True)
            return DROP
        try:
            out = normalize_time(value, micro=self.micro)
        except TimeParseError as e:
            ctx.error(str(e), fatal=True)
            return DROP
        return DROP if out is None else out


class List(Codec):
    __slots__ = ("item",)
    collection = True

    def __init__(self, item: Codec) -> None:
        super().__init__("[]" + item.go_type)
        self.item = item

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) is not list:
            ctx.type_error(value, self.go_type, struct, field)
            return DROP
        item, out = self.item, []
        for i, x in enumerate(value):
            r = item.null_value() if x is None else item.decode(x, ctx, f"{path}[{i}]", struct, field)
            out.append(item.null_value() if r is DROP else r)
        return out


class Map(Codec):
    __slots__ = ("value",)
    collection = True

    def __init__(self, value: Codec, go_type: str | None = None) -> None:
        super().__init__(go_type or "map[string]" + value.go_type)
        self.value = value

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) is not dict:
            ctx.type_error(value, self.go_type, struct, field)
            return DROP
        codec, out = self.value, {}
        prefix = path + "." if path else ""
        for k, x in value.items():
            if type(k) is not str:  # only a non-JSON source (a YAML parser) makes these
                ctx.type_error(k, "string", struct, field)
                continue
            if x is None:
                out[k] = codec.null_value()
                continue
            r = codec.decode(x, ctx, prefix + k, struct, field)
            if r is not DROP:
                out[k] = r
        return out


class Struct(Codec):
    """A Go struct: known fields decoded, unknown ones reported and pruned, nulls dropped."""

    __slots__ = ("_fields", "definition", "name", "required")

    def __init__(self, definition: str) -> None:
        short = ".".join(definition.split(".")[-2:])  # io.k8s.api.core.v1.Pod -> v1.Pod
        super().__init__(short)
        self.definition = definition
        self.name = short.split(".")[-1]
        self._fields: dict[str, Codec] | None = None
        self.required: frozenset[str] = frozenset()

    def null_value(self) -> Any:
        return {}  # a fresh zero struct each time: defaulting later mutates it in place

    def fields(self) -> dict[str, Codec]:
        if self._fields is None:
            node = schema.get(self.definition)
            self.required = frozenset(schema.required(node))
            self._fields = {key: compile_node(sub) for key, sub in schema.properties(node).items()}
        return self._fields

    def decode(self, value: Any, ctx: Context, path: str, struct: str, field: str) -> Any:
        if type(value) is not dict:
            ctx.type_error(value, self.go_type, struct, field)
            return DROP
        fields = self._fields if self._fields is not None else self.fields()
        required, name, out = self.required, self.name, {}
        prefix = path + "." if path else ""
        fprefix = field + "." if field else ""
        for k, x in value.items():
            codec = fields.get(k)
            if codec is None:
                ctx.unknown.append(prefix + str(k))
                continue
            if x is None:
                continue  # Go leaves the zero value, which omitempty drops on the way out
            r = codec.decode(x, ctx, prefix + k, name, fprefix + k)
            if r is DROP:
                continue
            if codec.collection and not r and k not in required:
                continue  # an empty optional slice or map is omitted when re-encoded
            out[k] = r
        return out


_SPECIAL: dict[str, Codec] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": IntOrString(),
    "io.k8s.apimachinery.pkg.api.resource.Quantity": Quantity("resource.Quantity"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": Time("v1.Time", micro=False),
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": Time("v1.MicroTime", micro=True),
    "io.k8s.apimachinery.pkg.runtime.RawExtension": FreeForm("runtime.RawExtension"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": FreeForm("v1.FieldsV1"),
}
_QUANTITY = _SPECIAL["io.k8s.apimachinery.pkg.api.resource.Quantity"]


@functools.cache
def for_definition(name: str) -> Codec:
    """The codec for a named definition (cached: recursion through $refs terminates here)."""
    special = _SPECIAL.get(name)
    if special is not None:
        return special
    node = schema.get(name)
    if node.get("properties"):
        return Struct(name)
    return _compile_structure(node, name)


def compile_node(node: schema.Schema) -> Codec:
    ref = schema.ref_name(node)
    if ref is not None:
        return for_definition(ref)
    return _compile_structure(node, None)


def _compile_structure(node: schema.Schema, name: str | None) -> Codec:
    node = schema.deref(node)
    kinds = schema.types(node)
    if "array" in kinds:
        item = schema.items(node)
        return List(compile_node(item) if item is not None else FreeForm("interface {}"))
    if "object" in kinds:
        if node.get("properties") and name is not None:
            return Struct(name)
        value = schema.additional(node)
        if value is not None:
            codec = compile_node(value)
            # every map of quantities in the served groups is the named type v1.ResourceList
            return Map(codec, "v1.ResourceList" if codec is _QUANTITY else None)
        return FreeForm("map[string]interface {}")
    if kinds == {"string"}:
        return Bytes("[]uint8") if node.get("format") == "byte" else String("string")
    if kinds == {"integer"}:
        bits = 32 if node.get("format") == "int32" else 64
        return Integer(f"int{bits}", bits)
    if kinds == {"number"}:
        return Float("float64")
    if kinds == {"boolean"}:
        return Bool("bool")
    return FreeForm("interface {}")
