"""The Swagger 2.0 document in gnostic's protobuf encoding (``openapi.v2.Document``).

kubectl 1.27 and 1.28 download ``/openapi/v2`` with ``Accept:
application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` for explain
and for client-side validation, and decode it with gnostic's generated Go
types; kube-openapi answers by compiling its JSON document into those
messages and replies with ``Content-Type:`` :data:`CONTENT_TYPE` (the dotted
spelling, whichever of the two spellings was asked for).

This module does the same compilation.  The tables below transcribe the
message layouts of gnostic-models' ``openapiv2/OpenAPIv2.proto`` (field
numbers and oneofs) as JSON key -> ``(number, codec)``; the generic wire
machinery is :mod:`kybernetes.apiserver.openapi_wire`.  The JSON-to-message
rules are gnostic's: ``type`` -> ``TypeItem``, ``items`` -> ``ItemsItem``,
``additionalProperties`` -> schema-or-bool oneof, maps -> ``Named*`` pairs in
document order, a parameter -> body or one of four non-body sub-schemas by
``in``, ``$ref`` -> ``JsonReference``, and every ``x-*`` key -> a
``vendor_extension`` ``NamedAny`` whose YAML text kubectl parses
(``x-kubernetes-group-version-kind``, patch strategies and merge keys).

A key the proto has no field for raises ``ValueError``, as gnostic would
reject the document.  Pure module: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.openapi_wire import (
    AnyYaml,
    AnyYamls,
    Bool,
    Codec,
    Double,
    Int64,
    Message,
    NamedMap,
    OneOf,
    PresentBool,
    Repeated,
    String,
    Strings,
    Wrapped,
)

CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# kubectl asks with "@v1.0"; kube-openapi accepts both spellings.
ACCEPTED_TYPES = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)

S, SS, B, N, D, A, AS = String(), Strings(), Bool(), Int64(), Double(), AnyYaml(), AnyYamls()


def _one_or_list(value: Any) -> Any:
    return value[0] if len(value) == 1 else value


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------- schemas

SCHEMA = Message("Schema", vendor=31)
EXTERNAL_DOCS = Message("ExternalDocs", {"description": (1, S), "url": (2, S)}, vendor=3)
XML = Message("Xml", {"name": (1, S), "namespace": (2, S), "prefix": (3, S), "attribute": (4, B),
                      "wrapped": (5, B)}, vendor=6)
SCHEMA.fields.update({
    "$ref": (1, S), "format": (2, S), "title": (3, S), "description": (4, S), "default": (5, A),
    "multipleOf": (6, D), "maximum": (7, D), "exclusiveMaximum": (8, B), "minimum": (9, D),
    "exclusiveMinimum": (10, B), "maxLength": (11, N), "minLength": (12, N), "pattern": (13, S),
    "maxItems": (14, N), "minItems": (15, N), "uniqueItems": (16, B), "maxProperties": (17, N),
    "minProperties": (18, N), "required": (19, SS), "enum": (20, AS),
    # AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }
    "additionalProperties": (21, OneOf(lambda v: 2 if isinstance(v, bool) else 1, {1: SCHEMA, 2: PresentBool()})),
    # TypeItem { repeated string value = 1; }
    "type": (22, Wrapped(1, SS, _as_list, _one_or_list)),
    # ItemsItem { repeated Schema schema = 1; }
    "items": (23, Wrapped(1, Repeated(SCHEMA), _as_list, _one_or_list)),
    "allOf": (24, Repeated(SCHEMA)),
    # Properties { repeated NamedSchema additional_properties = 1; }
    "properties": (25, NamedMap(SCHEMA)),
    "discriminator": (26, S), "readOnly": (27, B), "xml": (28, XML), "externalDocs": (29, EXTERNAL_DOCS),
    "example": (30, A),
})
FILE_SCHEMA = Message("FileSchema", {
    "format": (1, S), "title": (2, S), "description": (3, S), "default": (4, A), "required": (5, SS),
    "type": (6, S), "readOnly": (7, B), "externalDocs": (8, EXTERNAL_DOCS), "example": (9, A),
}, vendor=10)

# --------------------------------------------------------------- parameters

# The validation keywords shared, in this order, by PrimitivesItems, Header
# and the four non-body parameter sub-schemas; only the leading fields differ.
_VALIDATIONS = ("default", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
                "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "enum", "multipleOf")
PRIMITIVES_ITEMS = Message("PrimitivesItems")
_CODEC: dict[str, Codec] = {
    "default": A, "maximum": D, "exclusiveMaximum": B, "minimum": D, "exclusiveMinimum": B,
    "maxLength": N, "minLength": N, "pattern": S, "maxItems": N, "minItems": N, "uniqueItems": B,
    "enum": AS, "multipleOf": D, "required": B, "in": S, "description": S, "name": S,
    "allowEmptyValue": B, "type": S, "format": S, "items": PRIMITIVES_ITEMS, "collectionFormat": S,
}


def _numbered(name: str, *keys: str) -> Message:
    """A message whose fields are ``keys`` numbered from 1, vendor extensions right after."""
    return Message(name, {key: (i, _CODEC[key]) for i, key in enumerate(keys, 1)}, vendor=len(keys) + 1)


_ITEM_KEYS = ("type", "format", "items", "collectionFormat", *_VALIDATIONS)
PRIMITIVES_ITEMS.fields.update(_numbered("PrimitivesItems", *_ITEM_KEYS).fields)
PRIMITIVES_ITEMS.vendor = len(_ITEM_KEYS) + 1
HEADER = _numbered("Header", *_ITEM_KEYS, "description")
_QUERY_KEYS = ("required", "in", "description", "name", "allowEmptyValue", "type", "format", "items",
               "collectionFormat", *_VALIDATIONS)
_PATH_KEYS = ("required", "in", "description", "name", "type", "format", "items", "collectionFormat",
              *_VALIDATIONS)
_NON_BODY_KINDS = {"header": 1, "formData": 2, "query": 3, "path": 4}
NON_BODY_PARAMETER = OneOf(lambda p: _NON_BODY_KINDS[p["in"]], {
    1: _numbered("HeaderParameterSubSchema", *_PATH_KEYS),
    2: _numbered("FormDataParameterSubSchema", *_QUERY_KEYS),
    3: _numbered("QueryParameterSubSchema", *_QUERY_KEYS),
    4: _numbered("PathParameterSubSchema", *_PATH_KEYS),
})
BODY_PARAMETER = Message("BodyParameter", {"description": (1, S), "name": (2, S), "in": (3, S),
                                           "required": (4, B), "schema": (5, SCHEMA)}, vendor=6)
PARAMETER = OneOf(lambda p: 1 if p.get("in") == "body" else 2, {1: BODY_PARAMETER, 2: NON_BODY_PARAMETER})
JSON_REFERENCE = Message("JsonReference", {"$ref": (1, S), "description": (2, S)})
PARAMETERS_ITEM = OneOf(lambda p: 2 if "$ref" in p else 1, {1: PARAMETER, 2: JSON_REFERENCE})

# --------------------------------------------------------------- operations

RESPONSE = Message("Response", {
    "description": (1, S),
    "schema": (2, OneOf(lambda s: 2 if s.get("type") == "file" else 1, {1: SCHEMA, 2: FILE_SCHEMA})),
    "headers": (3, NamedMap(HEADER)),
    "examples": (4, NamedMap(A)),
}, vendor=5)
RESPONSE_VALUE = OneOf(lambda r: 2 if "$ref" in r else 1, {1: RESPONSE, 2: JSON_REFERENCE})
# SecurityRequirement { repeated NamedStringArray additional_properties = 1; }, StringArray { value = 1 }
SECURITY_REQUIREMENT = NamedMap(Wrapped(1, SS))
OPERATION = Message("Operation", {
    "tags": (1, SS), "summary": (2, S), "description": (3, S), "externalDocs": (4, EXTERNAL_DOCS),
    "operationId": (5, S), "produces": (6, SS), "consumes": (7, SS),
    "parameters": (8, Repeated(PARAMETERS_ITEM)),
    # Responses { repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2; }
    "responses": (9, NamedMap(RESPONSE_VALUE, entries_num=1, vendor=2)),
    "schemes": (10, SS), "deprecated": (11, B), "security": (12, Repeated(SECURITY_REQUIREMENT)),
}, vendor=13)
PATH_ITEM = Message("PathItem", {
    "$ref": (1, S), "get": (2, OPERATION), "put": (3, OPERATION), "post": (4, OPERATION),
    "delete": (5, OPERATION), "options": (6, OPERATION), "head": (7, OPERATION), "patch": (8, OPERATION),
    "parameters": (9, Repeated(PARAMETERS_ITEM)),
}, vendor=10)

# --------------------------------------------------------------- document

_SECURITY_KINDS = {"basic": 1, "apiKey": 2}
SECURITY_DEFINITIONS_ITEM = OneOf(lambda d: _SECURITY_KINDS[d["type"]], {
    1: Message("BasicAuthenticationSecurity", {"type": (1, S), "description": (2, S)}, vendor=3),
    2: Message("ApiKeySecurity", {"type": (1, S), "name": (2, S), "in": (3, S), "description": (4, S)},
               vendor=5),
})
INFO = Message("Info", {
    "title": (1, S), "version": (2, S), "description": (3, S), "termsOfService": (4, S),
    "contact": (5, Message("Contact", {"name": (1, S), "url": (2, S), "email": (3, S)}, vendor=4)),
    "license": (6, Message("License", {"name": (1, S), "url": (2, S)}, vendor=3)),
}, vendor=7)
TAG = Message("Tag", {"name": (1, S), "description": (2, S), "externalDocs": (3, EXTERNAL_DOCS)}, vendor=4)
DOCUMENT = Message("Document", {
    "swagger": (1, S), "info": (2, INFO), "host": (3, S), "basePath": (4, S), "schemes": (5, SS),
    "consumes": (6, SS), "produces": (7, SS),
    # Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
    "paths": (8, NamedMap(PATH_ITEM, entries_num=2, vendor=1)),
    "definitions": (9, NamedMap(SCHEMA)),
    "parameters": (10, NamedMap(PARAMETER)),
    "responses": (11, NamedMap(RESPONSE)),
    "security": (12, Repeated(SECURITY_REQUIREMENT)),
    "securityDefinitions": (13, NamedMap(SECURITY_DEFINITIONS_ITEM)),
    "tags": (14, Repeated(TAG)),
    "externalDocs": (15, EXTERNAL_DOCS),
}, vendor=16)


def encode_v2(doc: dict[str, Any]) -> bytes:
    """``doc`` (a Swagger 2.0 document as JSON data) as a serialized ``openapi.v2.Document``."""
    return DOCUMENT.body(doc)


def decode_v2(data: bytes) -> dict[str, Any]:
    """A serialized ``openapi.v2.Document`` back as JSON data (the inverse of :func:`encode_v2`)."""
    return DOCUMENT.parse(data)
