"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386), answering like kube-apiserver.

The API server applies ``application/json-patch+json`` and
``application/merge-patch+json`` bodies with evanphx/json-patch (the v4 line),
and turns that library's failures into ``Status`` errors in a fixed way
(``apiserver/pkg/endpoints/handlers/patch.go``):

* a JSON patch body that is not a list of objects is a **400 BadRequest**
  carrying Go's decoding message;
* more than 10000 operations is a **413 RequestEntityTooLarge**;
* any failure while applying (a failed ``test``, a missing path, a bad index,
  an unknown ``op``) is a **422 Invalid** whose message is the fixed text
  ``the server rejected our request due to an error in our request``; the
  library's own explanation is not sent to the client.  We keep it as the
  ``__cause__`` of the raised error (a :class:`JsonPatchError`) for logs;
* a merge patch that is ``null`` or a scalar is a **400** ``Invalid JSON Patch``;
* a patch nested more than :data:`MAX_DEPTH` levels is a **400** (and a JSON
  patch whose moves sink the object that deep a **422**): a limit of ours, so
  that no recursive walk over the result can fail.

The library's quirks that a client can observe are kept on purpose: ``replace``
on a missing *object* key adds it, ``test`` of a missing key against ``null``
passes, negative array indices count from the end, and ``copy`` from a missing
object key copies ``null``.  Numbers compare by type as well as value (``1`` is
not ``1.0``), as the library compares their JSON text.

It also holds the small helpers both patch modules use to reproduce the
library messages Go would print (``go_v`` for ``%v``, ``go_s`` for ``%s``,
``go_eq`` for ``==`` on decoded values, where ``1`` and ``1.0`` differ).

Pure module: no I/O, and inputs are never mutated (results share no
containers with them).
"""

from __future__ import annotations

import json
import re
from typing import Any

from kybernetes.api.errors import BAD_REQUEST, INVALID, REQUEST_ENTITY_TOO_LARGE, StatusError

MAX_JSON_PATCH_OPERATIONS = 10000
# How deep objects and arrays may nest in a patch or a patched object.  No Kubernetes
# object comes near (a pod's deepest path is about 15 levels, managedFields mirror
# it); stored objects must stay within orjson's 254 levels, and the recursive
# walks here and in decoding within Python's recursion limit.
MAX_DEPTH = 100
# --json-patch-max-copy-bytes default: the growth "copy" operations may cause.
MAX_COPY_BYTES = 3 * 1024 * 1024

INVALID_MESSAGE = "the server rejected our request due to an error in our request"

_INDEX = re.compile(r"[+-]?[0-9]+")


class JsonPatchError(Exception):
    """Why applying a JSON patch failed, in the library's words (never sent)."""


def clone(value: Any) -> Any:
    """Deep copy of a JSON value; much cheaper than ``copy.deepcopy`` for dicts and lists."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and arrays in ``value`` nest more than ``limit`` levels (``{}`` is one level).

    Iterative, so it answers for any depth without recursing.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth >= limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def too_deep(what: str) -> StatusError:
    """The 400 for a body nested deeper than :data:`MAX_DEPTH`."""
    return StatusError(400, BAD_REQUEST, f"{what} is nested more than {MAX_DEPTH} levels deep")


def json_equal(a: Any, b: Any) -> bool:
    """Structural equality with JSON types kept apart (``True`` != ``1`` != ``1.0``)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def go_json_type(value: Any) -> str:
    """How Go's decoder names a JSON value in ``cannot unmarshal X into ...``."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def go_kind(value: Any) -> str:
    """The Go dynamic type a decoded value has upstream (ints stay int64, apart from floats)."""
    return "bool" if isinstance(value, bool) else type(value).__name__


def go_eq(a: Any, b: Any) -> bool:
    """Go's ``==`` on two decoded values: same dynamic type and value."""
    return go_kind(a) == go_kind(b) and bool(a == b)


def go_type_name(value: Any) -> str:
    """``reflect.TypeOf(value)`` as ``%s`` prints it."""
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, dict | list):
        return "map[string]interface {}" if isinstance(value, dict) else "[]interface {}"
    return {"bool": "bool", "int": "int64", "float": "float64"}.get(go_kind(value), "string")


def go_v(value: Any) -> str:
    """Go's ``%v`` of a decoded value; maps print with sorted keys, as in library messages."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Go's %g with the shortest digits: exponent form below 1e-4 and from 1e6 on
        if abs(value) >= 1e6 or (value and abs(value) < 1e-4):
            return next(t for n in range(17) if float(t := f"{value:.{n}e}") == value)
        return repr(value).removesuffix(".0")
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_v(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_v(x) for x in value) + "]"
    return str(value)


def go_s(value: Any) -> str:
    """Go's ``%s`` of an interface value: strings bare, other scalars flagged as misuse."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, dict | list):
        return "%!s(<nil>)" if value is None else go_v(value)
    return f"%!s({go_type_name(value)}={go_v(value)})"


def _invalid(cause: JsonPatchError) -> StatusError:
    # NewGenericServerResponse(422, ...) with no resource: empty details.
    err = StatusError(422, INVALID, INVALID_MESSAGE, {})
    err.__cause__ = cause
    return err


# ---------------------------------------------------------------------------
# JSON patch


def json_patch(doc: Any, ops: Any, *, max_copy_bytes: int = MAX_COPY_BYTES) -> Any:
    """Apply the RFC 6902 operations ``ops`` (the decoded request body) to ``doc``."""
    if ops is None:  # Go decodes a "null" body to an empty patch
        return clone(doc)
    if not isinstance(ops, list):
        raise StatusError(
            400, BAD_REQUEST, f"json: cannot unmarshal {go_json_type(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise StatusError(
                400,
                BAD_REQUEST,
                f"json: cannot unmarshal {go_json_type(op)} into Go value of type jsonpatch.Operation",
            )
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise StatusError(
            413,
            REQUEST_ENTITY_TOO_LARGE,
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    if deeper_than(ops, MAX_DEPTH + 2):  # the list and an operation wrap each value
        raise too_deep("the patch")
    root = [clone(doc)]  # a one-slot box so that replacing the whole document is an ordinary write
    copied = [0]
    sunk = JsonPatchError(f"the patched object is nested more than {MAX_DEPTH} levels deep")
    for op in ops:
        try:
            _apply_op(root, op or {}, copied, max_copy_bytes)
        except JsonPatchError as e:
            raise _invalid(e) from e
        except RecursionError:  # moves sink a subtree a level per operation; a copy or test then recursed
            raise _invalid(sunk) from None
    if deeper_than(root[0]):
        raise _invalid(sunk)
    return root[0]


def _string_field(op: dict[str, Any], name: str) -> str | None:
    value = op.get(name)
    return value if isinstance(value, str) else None


def _apply_op(root: list[Any], op: dict[str, Any], copied: list[int], max_copy_bytes: int) -> None:
    kind = _string_field(op, "op") or "unknown"
    path = _string_field(op, "path")
    # "value" absent and "value": null both insert null, as in the library
    value = clone(op.get("value"))
    if kind == "add":
        if path is None:
            raise JsonPatchError("add operation failed to decode path: missing value")
        _container_add(_find(root, path, f'add operation does not apply: doc is missing path: "{path}"'), path, value)
    elif kind == "remove":
        if path is None:
            raise JsonPatchError("remove operation failed to decode path: missing value")
        con, key = _find(root, path, f'remove operation does not apply: doc is missing path: "{path}"')
        _container_remove(con, key, path)
    elif kind == "replace":
        if path is None:
            raise JsonPatchError("replace operation failed to decode path")
        if path == "":
            if not isinstance(value, dict | list):
                raise JsonPatchError("replace operation value must be object or array")
            root[0] = value
            return
        con, key = _find(root, path, f"replace operation does not apply: doc is missing path: {path}")
        if isinstance(con, list):
            _list_get(con, key, f"replace operation does not apply: doc is missing key: {path}")
            con[_list_index(con, key, len(con))] = value
        else:
            con[key] = value  # a missing key is simply added (library quirk)
    elif kind == "move":
        src = _string_field(op, "from")
        if src is None:
            raise JsonPatchError("move operation failed to decode from")
        con, key = _find(root, src, f"move operation does not apply: doc is missing from path: {src}")
        moved = _container_get(con, key, f"error in move for path: '{key}'")
        _container_remove(con, key, key)
        if path is None:
            raise JsonPatchError("move operation failed to decode path")
        dest = _find(root, path, f"move operation does not apply: doc is missing destination path: {path}")
        _container_add(dest, path, moved)
    elif kind == "copy":
        src = _string_field(op, "from")
        if src is None:
            raise JsonPatchError("copy operation failed to decode from")
        con, key = _find(root, src, f"copy operation does not apply: doc is missing from path: {src}")
        found = _container_get(con, key, f"error in copy for from: '{src}'")
        if path is None:
            raise JsonPatchError("copy operation failed to decode path: missing value")
        dest = _find(root, path, f"copy operation does not apply: doc is missing destination path: {path}")
        if found is not None:  # copying a missing key copies nothing but null
            copied[0] += len(json.dumps(found, separators=(",", ":"), ensure_ascii=False).encode())
        if max_copy_bytes > 0 and copied[0] > max_copy_bytes:
            raise JsonPatchError(
                "Unable to complete the copy, the accumulated size increase of copy is "
                f"{copied[0]}, exceeding the limit {max_copy_bytes}"
            )
        _container_add(dest, path, clone(found))
    elif kind == "test":
        if path is None:
            raise JsonPatchError("test operation failed to decode path")
        _test(root, op, path)
    else:
        raise JsonPatchError(f"Unexpected kind: {kind}")


def _test(root: list[Any], op: dict[str, Any], path: str) -> None:
    if path == "":
        actual = root[0]
    else:
        con, key = _find(root, path, f"test operation does not apply: is missing path: {path}")
        actual = _container_get(con, key, f"error in test for path: '{path}'")
    if actual is None and path != "":
        # missing (or null) passes only against an absent or null value
        if op.get("value") is None:
            return
    elif "value" in op and json_equal(actual, op["value"]):
        return
    raise JsonPatchError(f"testing value {path} failed: test failed")


def _decode_token(token: str) -> str:
    # RFC 6901: "~1" first, then "~0"
    return token.replace("~1", "/").replace("~0", "~")


def _find(root: list[Any], path: str, missing: str) -> tuple[Any, str]:
    """The container holding the last token of ``path``, and that token.

    Like the library this splits on every ``/`` and drops the first piece, so
    ``""`` has no parent and a path without a leading slash is read from its
    second piece.
    """
    parts = path.split("/")
    if len(parts) < 2:
        raise JsonPatchError(missing)
    node: Any = root[0]
    for raw in parts[1:-1]:
        token = _decode_token(raw)
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list):
            if not _INDEX.fullmatch(token) or _out_of_range(token):
                raise JsonPatchError(missing)
            idx = int(token)
            if idx < 0:
                idx += len(node)
            node = node[idx] if 0 <= idx < len(node) else None
        else:
            node = None
        if not isinstance(node, dict | list):
            raise JsonPatchError(missing)
    if not isinstance(node, dict | list):
        raise JsonPatchError(missing)
    return node, _decode_token(parts[-1])


def _out_of_range(token: str) -> bool:
    """An index token beyond Go's int (and maybe beyond what ``int()`` converts)."""
    digits = token.lstrip("+-").lstrip("0")
    return len(digits) > 19 or not -(2**63) <= int(token) < 2**63


def _list_index(con: list[Any], key: str, size: int) -> int:
    """Parse an array token against ``size``; negative indices count from the end."""
    if not _INDEX.fullmatch(key):
        raise JsonPatchError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    if _out_of_range(key):
        raise JsonPatchError(f'strconv.Atoi: parsing "{key}": value out of range')
    idx = int(key)
    if idx >= size or idx < -size:
        raise JsonPatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
    return idx + size if idx < 0 else idx


def _list_get(con: list[Any], key: str, context: str) -> Any:
    try:
        return con[_list_index(con, key, len(con))]
    except JsonPatchError as e:
        raise JsonPatchError(f"{context}: {e}") from None


def _container_get(con: Any, key: str, context: str) -> Any:
    if isinstance(con, dict):
        return con.get(key)  # a missing key reads as null, never as an error
    return _list_get(con, key, context)


def _container_add(target: tuple[Any, str], path: str, value: Any) -> None:
    con, key = target
    if isinstance(con, dict):
        con[key] = value
        return
    if key == "-":
        con.append(value)
        return
    if not _INDEX.fullmatch(key):
        raise JsonPatchError(f"error in add for path: '{path}': value was not a proper array index: '{key}'")
    try:
        idx = _list_index(con, key, len(con) + 1)  # one past the end is allowed
    except JsonPatchError as e:
        raise JsonPatchError(f"error in add for path: '{path}': {e}") from None
    con.insert(idx, value)


def _container_remove(con: Any, key: str, path: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise JsonPatchError(f"error in remove for path: '{path}': Unable to remove nonexistent key: {key}")
        del con[key]
        return
    try:
        del con[_list_index(con, key, len(con))]
    except JsonPatchError as e:
        raise JsonPatchError(f"error in remove for path: '{path}': {e}") from None


# ---------------------------------------------------------------------------
# Merge patch


def merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: ``null`` deletes, objects merge, the rest replaces."""
    if deeper_than(patch):
        raise too_deep("the patch")
    if isinstance(patch, dict):
        if not isinstance(doc, dict):
            return _prune(patch)
        result = clone(doc)
        _merge_into(result, patch)
        return result
    if isinstance(patch, list):
        # the library answers an array patch with the array itself; the caller's
        # decoding into an object then fails
        return _prune(patch)
    raise StatusError(400, BAD_REQUEST, "Invalid JSON Patch")


def _merge_into(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge_into(current, value)
        elif isinstance(current, dict):
            # the library returns a non-object patch value untouched here,
            # nulls inside it included
            doc[key] = clone(value)
        else:
            doc[key] = _prune(value)


def _prune(value: Any) -> Any:
    """A copy of ``value`` without null object members, at any depth (array nulls stay)."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def create_merge_patch(original: dict[str, Any], modified: dict[str, Any]) -> dict[str, Any]:
    """The merge patch turning ``original`` into ``modified`` (what ``kubectl label`` sends)."""
    patch: dict[str, Any] = {}
    for key, new in modified.items():
        if key not in original:
            patch[key] = clone(new)
            continue
        old = original[key]
        if isinstance(old, dict) and isinstance(new, dict):
            sub = create_merge_patch(old, new)
            if sub:
                patch[key] = sub
        elif not _same_number_aware(old, new):
            patch[key] = clone(new)
    for key in original:
        if key not in modified:
            patch[key] = None
    return patch


def _same_number_aware(a: Any, b: Any) -> bool:
    # every JSON number is a float64 to the library, so 1 and 1.0 are equal here
    def is_num(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    if is_num(a) and is_num(b):
        return bool(a == b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_number_aware(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_number_aware(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
