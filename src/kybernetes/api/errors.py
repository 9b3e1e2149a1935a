"""API errors as Kubernetes ``Status`` objects, and field errors for validation.

Every failure the API server reports travels as a :class:`StatusError`, whose
``status()`` is the ``meta/v1 Status`` body upstream sends: the same ``code``,
``reason``, ``message`` text and ``details``.  Constructors below mirror
``k8s.io/apimachinery/pkg/api/errors`` so message texts match what kubectl
users read on a real cluster.

:class:`FieldError` mirrors ``k8s.io/apimachinery/pkg/util/validation/field``:
validators return lists of them and :func:`invalid` folds them into a 422.

Pure module: no I/O.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

# Status reasons (metav1.StatusReason).
NOT_FOUND = "NotFound"
ALREADY_EXISTS = "AlreadyExists"
CONFLICT = "Conflict"
INVALID = "Invalid"
BAD_REQUEST = "BadRequest"
METHOD_NOT_ALLOWED = "MethodNotAllowed"
NOT_ACCEPTABLE = "NotAcceptable"
UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
REQUEST_ENTITY_TOO_LARGE = "RequestEntityTooLarge"
EXPIRED = "Expired"
GONE = "Gone"
FORBIDDEN = "Forbidden"
INTERNAL_ERROR = "InternalError"
TIMEOUT = "Timeout"
SERVICE_UNAVAILABLE = "ServiceUnavailable"
TOO_MANY_REQUESTS = "TooManyRequests"


class StatusError(Exception):
    """An API failure carrying the exact ``Status`` body to send."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


def qualified(resource: str, group: str) -> str:
    """``pods`` for core, ``deployments.apps`` otherwise (schema.GroupResource.String)."""
    return f"{resource}.{group}" if group else resource


def _details(name: str | None, group: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    return d


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        404, NOT_FOUND, f'{qualified(resource, group)} "{name}" not found', _details(name, group, resource)
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        409,
        ALREADY_EXISTS,
        f'{qualified(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(resource: str, name: str, group: str = "", why: str | None = None) -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(
        409,
        CONFLICT,
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, BAD_REQUEST, message)


def forbidden(resource: str, name: str, group: str, why: str) -> StatusError:
    q = qualified(resource, group)
    msg = f'{q} "{name}" is forbidden: {why}' if name else f"{q} is forbidden: {why}"
    return StatusError(403, FORBIDDEN, msg, _details(name, group, resource))


def method_not_allowed(resource: str, verb: str, group: str = "") -> StatusError:
    return StatusError(
        405,
        METHOD_NOT_ALLOWED,
        f"{verb} is not supported on resources of kind {qualified(resource, group)!r}",
        _details(None, group, resource),
    )


def unsupported_media_type(accepted: list[str]) -> StatusError:
    return StatusError(
        415,
        UNSUPPORTED_MEDIA_TYPE,
        "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted),
    )


def not_acceptable(accepted: str) -> StatusError:
    return StatusError(
        406, NOT_ACCEPTABLE, f"only the following media types are accepted: {accepted}"
    )


def too_large(limit: int) -> StatusError:
    return StatusError(413, REQUEST_ENTITY_TOO_LARGE, f"Request entity too large: limit is {limit}")


def expired(message: str) -> StatusError:
    return StatusError(410, EXPIRED, message)


def gone(message: str) -> StatusError:
    return StatusError(410, GONE, message)


def internal(message: str) -> StatusError:
    return StatusError(500, INTERNAL_ERROR, f"Internal error occurred: {message}")


def too_many_requests(message: str, retry_after: int | None = None) -> StatusError:
    details = {"retryAfterSeconds": retry_after} if retry_after is not None else None
    return StatusError(429, TOO_MANY_REQUESTS, message, details)


def service_unavailable(message: str) -> StatusError:
    return StatusError(503, SERVICE_UNAVAILABLE, message)


# ---------------------------------------------------------------------------
# Field errors


_OMIT: Any = object()

# field.ErrorType -> (cause reason, human text)
REQUIRED = ("FieldValueRequired", "Required value")
INVALID_VALUE = ("FieldValueInvalid", "Invalid value")
NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
FORBIDDEN_VALUE = ("FieldValueForbidden", "Forbidden")
TOO_LONG = ("FieldValueTooLong", "Too long")
TOO_MANY = ("FieldValueTooMany", "Too many")
NOT_FOUND_VALUE = ("FieldValueNotFound", "Not found")
TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")
INTERNAL_VALUE = ("InternalError", "Internal error")

# Types whose body never shows the value (field.Error.ErrorBody).
_NO_VALUE = {REQUIRED[0], FORBIDDEN_VALUE[0], TOO_LONG[0], INTERNAL_VALUE[0]}


class GoValue(str):
    """A bad value already rendered the way Go's ``%#v`` prints it.

    Validators use it for values whose Go type shows in the message, such as
    ``v1.LabelSelector{...}`` or ``intstr.IntOrString{...}``; it is printed
    verbatim, never quoted.
    """


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``: printable runes kept, the rest escaped."""
    out = ['"']
    for ch in s:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def render_value(value: Any) -> str:
    """Go's rendering of a bad value in a field error (``%v``, ``%q``, ``%#v``)."""
    if value is None:
        return "null"
    if isinstance(value, GoValue):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    # map[string]string and []string, the composite values validators report
    # most (labels, selectors, IP lists), print as Go literals.
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        items = ", ".join(f"{go_quote(str(k))}:{go_quote(v)}" for k, v in sorted(value.items()))
        return "map[string]string{" + items + "}"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class FieldError:
    """One validation failure at a field path such as ``spec.containers[0].name``."""

    type: tuple[str, str]
    field: str
    value: Any = dataclasses.field(default=_OMIT)
    detail: str = ""

    @property
    def reason(self) -> str:
        return self.type[0]

    def body(self) -> str:
        if self.type[0] in _NO_VALUE or self.value is _OMIT:
            s = self.type[1]
        else:
            s = f"{self.type[1]}: {render_value(self.value)}"
        if self.detail:
            s += f": {self.detail}"
        return s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, path, detail=detail)


def invalid_value(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(INVALID_VALUE, path, value, detail)


def not_supported(path: str, value: Any, valid: list[str] | None = None) -> FieldError:
    detail = ""
    if valid:
        detail = "supported values: " + ", ".join(json.dumps(v) for v in valid)
    return FieldError(NOT_SUPPORTED, path, value, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, path, value)


def forbidden_field(path: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN_VALUE, path, detail=detail)


def too_long(path: str, max_length: int) -> FieldError:
    return FieldError(TOO_LONG, path, detail=f"must have at most {max_length} bytes")


def too_many(path: str, actual: int, max_items: int) -> FieldError:
    return FieldError(TOO_MANY, path, actual, f"must have at most {max_items} items")


def aggregate(errors: list[FieldError]) -> str:
    """utilerrors.Aggregate text: one error bare, several in brackets."""
    texts: list[str] = []
    for e in errors:  # the aggregate drops exact duplicates
        t = str(e)
        if t not in texts:
            texts.append(t)
    if len(texts) == 1:
        return texts[0]
    return "[" + ", ".join(texts) + "]"


def invalid(kind: str, name: str, errors: list[FieldError], group: str = "") -> StatusError:
    """The 422 ``Invalid`` Status for ``errors`` against ``kind`` (e.g. ``Deployment``)."""
    qkind = f"{kind}.{group}" if group else kind
    causes = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    details: dict[str, Any] = _details(name, group, kind)
    details["causes"] = causes
    return StatusError(422, INVALID, f'{qkind} "{name}" is invalid: {aggregate(errors)}', details)
