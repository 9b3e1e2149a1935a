"""PATCH: turn a request into a ``current -> new`` function for the store.

The patch type comes from ``Content-Type``: JSON patch, merge patch or
strategic merge patch (built-in kinds, driven by the schema).  Server-side apply
(``application/apply-patch+yaml``) is not served yet and gets 415.  The patched
object is decoded and defaulted like any request body, so ``fieldValidation``
applies to fields a patch introduces.  The function is re-run on conflict, so it
must be pure in ``current``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from kybernetes.api import errors, patch, strategic
from kybernetes.api.registry import ResourceType
from kybernetes.apiserver import decoding
from kybernetes.apiserver.http import media_type, parse_body, read_body

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY_YAML = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC]

Mutator = Callable[[dict[str, Any]], dict[str, Any]]


def apply_patch(ctype: str, current: dict[str, Any], body: Any, definition: str | None) -> dict[str, Any]:
    if ctype == JSON_PATCH:
        return patch.json_patch(current, body)
    if ctype == MERGE_PATCH:
        return patch.merge_patch(current, body)
    assert definition is not None
    return strategic.strategic_merge_patch(current, body, definition)


async def read_patch(request: web.Request) -> tuple[str, Any]:
    ctype = media_type(request)
    if ctype in (APPLY_YAML, APPLY_CBOR):
        raise errors.unsupported_media_type(PATCH_TYPES)
    if ctype not in PATCH_TYPES:
        raise errors.unsupported_media_type(PATCH_TYPES)
    body = parse_body(await read_body(request), "application/json")
    if ctype == JSON_PATCH and not isinstance(body, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if ctype != JSON_PATCH and not isinstance(body, dict):
        raise errors.bad_request(
            "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}")
    return ctype, body


async def patcher(request: web.Request, rt: ResourceType, field_validation: str,
                  warnings: decoding.Warnings) -> Mutator:
    ctype, body = await read_patch(request)

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        warnings.texts.clear()  # a retry starts over
        patched = apply_patch(ctype, current, body, rt.definition)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        return decoding.decode_object(rt, patched, field_validation, warnings)

    return mutate
