"""From a request body to an object ready for the store (upstream's decode step).

Checks ``apiVersion``/``kind`` against the endpoint, decodes against the
schema (pruning unknown fields, rejecting wrong types), applies
``fieldValidation`` (Strict: unknown or duplicate fields are a 400; Warn: a
``Warning`` header each; Ignore: silence) and then the upstream defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import decode as schema_decode
from kybernetes.api import defaults, errors
from kybernetes.api.registry import ResourceType

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


@dataclass
class Warnings:
    texts: list[str] = field(default_factory=list)

    def header_values(self) -> list[str]:
        return ['299 - "' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in self.texts]


def field_validation(value: str | None) -> str:
    if value is None or value == "":
        return "Warn"
    if value not in FIELD_VALIDATION:
        raise errors.bad_request(
            f'fieldValidation: Unsupported value: "{value}": supported values: "Ignore", "Strict", "Warn"')
    return value


def cannot_handle(rt: ResourceType, detail: str, kind: str | None = None) -> errors.StatusError:
    k = kind or rt.kind
    return errors.bad_request(f'{k} in version "{rt.version}" cannot be handled as a {k}: {detail}')


def check_type(rt: ResourceType, body: dict[str, Any], kind: str | None = None,
               api_version: str | None = None) -> None:
    """The body's apiVersion/kind must name the endpoint's; missing ones are filled in."""
    want_kind = kind or rt.kind
    want_av = api_version or rt.api_version
    av = body.get("apiVersion")
    k = body.get("kind")
    if av is not None and not isinstance(av, str):
        raise cannot_handle(rt, "json: cannot unmarshal apiVersion: expected a string", kind)
    if k is not None and not isinstance(k, str):
        raise cannot_handle(rt, "json: cannot unmarshal kind: expected a string", kind)
    if av and av != want_av:
        raise errors.bad_request(
            f"the API version in the data ({av}) does not match the expected API version ({want_av})")
    if k and k != want_kind:
        raise errors.bad_request(f"the kind in the data ({k}) does not match the expected kind ({want_kind})")
    body["apiVersion"] = want_av
    body["kind"] = want_kind
    meta = body.get("metadata")
    if meta is None:
        body["metadata"] = {}
    elif not isinstance(meta, dict):
        raise cannot_handle(rt, "json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta",
                            kind)


def decode_object(rt: ResourceType, body: dict[str, Any], validation: str, warnings: Warnings,
                  raw: bytes | None = None, *, apply_defaults: bool = True) -> dict[str, Any]:
    """The pruned, defaulted object for ``body``, or a 400 explaining why not."""
    check_type(rt, body)
    result = schema_decode.decode(rt, body)
    if result.errors:
        raise cannot_handle(rt, str(result.errors[0]))
    unknown = list(result.unknown)
    duplicates: list[str] = []
    if validation != "Ignore" and raw is not None:
        duplicates = schema_decode.find_duplicate_fields(raw)
    if validation == "Strict" and (unknown or duplicates):
        raise cannot_handle(rt, schema_decode.strict_error_text(unknown, duplicates))
    if validation == "Warn":
        warnings.texts.extend(schema_decode.strict_errors(unknown, duplicates))
    obj = result.obj
    if apply_defaults:
        defaults.apply_defaults(rt, obj)
    return obj


def decode_as(rt: ResourceType, body: dict[str, Any], definition: str, kind: str,
              version: str = "v1") -> dict[str, Any]:
    """A request body of another kind (Binding, Eviction, Scale, DeleteOptions, ...) checked by its
    schema: wrong types are a 400, unknown fields are dropped."""
    result = schema_decode.decode(rt, body, definition=definition)
    if result.errors:
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {result.errors[0]}')
    obj: dict[str, Any] = result.obj
    return obj
