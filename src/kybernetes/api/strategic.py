"""Strategic merge patch, driven by the upstream schemas' patch extensions.

A strategic merge patch is a merge patch that knows, field by field, how lists
combine: ``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key``
from :mod:`kybernetes.api.schema` make ``spec.containers`` merge by ``name``,
container ``ports`` by ``containerPort``, ``metadata.finalizers`` as a set;
other lists are replaced, maps merge recursively and ``null`` deletes.
Directives: ``$patch: replace|delete`` on a map or a list element (``merge``
is rejected, as upstream does), ``$retainKeys`` (Deployment ``spec.strategy``
switching to Recreate), ``$setElementOrder/<list>`` and
``$deleteFromPrimitiveList/<list>``.

Semantics and element order follow ``k8s.io/apimachinery/pkg/util/strategicpatch``
as kube-apiserver runs it: without ``$setElementOrder``, elements named by the
patch come in patch order and server-only ones are woven in by their original
positions, so a new element lands *before* existing ones.  Values copied from
the patch into the result lose their nulls and directives (upstream's typed
decoding drops them afterwards; we have none).  Fields the schema does not know
(unknown definition, free-form maps) merge like a JSON merge patch.

Errors are :class:`StatusError` as the API server answers: malformed directives
400, lists of lists 422, anything else the library rejects (unknown ``$patch``,
missing merge key, mixed element types) 400 BadRequest with its message.  (Upstream
lets that last group through as a 500; a malformed patch is the client's mistake, and
we never answer one with a 500.)

Pure module: no I/O; inputs are never mutated.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import schema
from kybernetes.api.errors import BAD_REQUEST, INVALID, StatusError
from kybernetes.api.patch import (
    INVALID_MESSAGE,
    clone,
    deeper_than,
    go_eq,
    go_json_type,
    go_kind,
    go_s,
    go_type_name,
    go_v,
    too_deep,
)

DIRECTIVE = "$patch"
REPLACE, DELETE, MERGE = "replace", "delete", "merge"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

Json = dict[str, Any]


def strategic_merge_patch(doc: Json, patch: Any, definition: str | None) -> Json:
    """Apply ``patch`` to ``doc``, an object of the schema definition ``definition``.

    ``definition`` is e.g. ``io.k8s.api.apps.v1.Deployment``; ``None`` or an
    unknown name merges without list strategies.
    """
    if patch is None:  # a "null" body decodes to an empty map upstream
        return clone(doc)
    if not isinstance(patch, dict):
        raise StatusError(
            400,
            BAD_REQUEST,
            f"json: cannot unmarshal {go_json_type(patch)} into Go value of type map[string]interface {{}}",
        )
    if deeper_than(patch):
        raise too_deep("the patch")
    root: schema.Schema | None = None
    if definition:
        root = schema.definitions().get(definition)
    return _merge_map(clone(doc), clone(patch), root)


# ---------------------------------------------------------------------------
# Errors, with upstream texts


def _bad_format(directive: str) -> StatusError:
    return StatusError(400, BAD_REQUEST, f"invalid patch format of {directive}")


def _failure(message: str) -> StatusError:
    # Upstream answers these with a bare 500; the text is kept, the blame put on the request.
    return StatusError(400, BAD_REQUEST, message)


def _no_merge_key(item: Json, key: str) -> StatusError:
    return _failure(f"map: {go_v(item)} does not contain declared merge key: {key}")


def _bad_arg_type(expected: str, actual: Any) -> StatusError:
    return _failure(f"expected a {expected}, but received a {go_type_name(actual)}")


_LIST_T, _MAP_T = "[]interface {}", "map[string]interface {}"


def _keyed(item: Any, key: str) -> Any:
    """The merge-key value of a list element; upstream fails on non-maps and missing keys."""
    if not isinstance(item, dict):
        raise _bad_arg_type(_MAP_T, item)
    if key not in item:
        raise _no_merge_key(item, key)
    return item[key]


def _hashable(v: Any) -> tuple[str, Any]:
    return (go_kind(v), v if not isinstance(v, dict | list) else repr(v))


# ---------------------------------------------------------------------------
# Schema lookups (LookupPatchMeta)


def _field(node: schema.Schema | None, key: str) -> schema.Schema | None:
    """The schema of ``key`` below an object (property) or map (value) node."""
    if node is None:
        return None
    props = schema.properties(node)
    return props.get(key) if props else schema.additional(node)


def _strategy(node: schema.Schema | None) -> str:
    """The non-retainKeys patch strategy of a field (retainKeys acts only as a directive)."""
    strategies = schema.patch_strategy(node)
    others = [s for s in strategies if s != "retainKeys"]
    if len(strategies) > 2 or (len(strategies) == 2 and len(others) != 1):
        raise _failure(f"unexpected patch strategy: [{' '.join(strategies)}]")
    return others[0] if others else ""


# ---------------------------------------------------------------------------
# Maps


def _merge_map(original: Json, patch: Json, node: schema.Schema | None) -> Json:
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == REPLACE:
            return _clean_map(patch)
        if directive == DELETE:
            return {}
        patch[DIRECTIVE] = directive  # the message shows the map as sent
        raise _failure(f"unknown patch type: {go_s(directive)} in map: {go_v(patch)}")

    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, node)

    for key, value in list(patch.items()):
        is_delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if is_delete_list:
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original or go_kind(original[key]) != go_kind(value):
            # nothing to merge with: take the patch value (a delete list adds nothing)
            if not is_delete_list:
                _put_clean(original, key, value)
            continue
        current = original[key]
        sub = _field(node, key)
        if isinstance(current, dict):
            if _strategy(sub) == REPLACE:
                original[key] = _clean_map(value)
            else:
                original[key] = _merge_map(current, value, sub)
        elif isinstance(current, list):
            original[key] = _merge_list_field(current, value, sub, is_delete_list)[0]
        else:
            _put_clean(original, key, value)
    return original


def _apply_retain_keys(original: Json, patch: Json) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _bad_format("retainKeys")
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in keep:  # every field the patch sets must be retained
            raise _bad_format("retainKeys")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise _bad_format("primitive list" if prefix == DELETE_FROM_PRIMITIVE_LIST else "setElementOrder list")
    return rest


def _put_clean(target: Json, key: str, value: Any) -> None:
    cleaned, keep = _clean(value)
    target[key] = cleaned
    if not keep:
        del target[key]


def _clean(value: Any) -> tuple[Any, bool]:
    """A patch value as it enters the result: no nulls in maps, no directives.

    A map carrying ``$patch`` is dropped altogether (upstream's removeDirectives).
    """
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        return _clean_map(value), True
    if isinstance(value, list):
        return [cleaned for cleaned, keep in map(_clean, value) if keep], True
    return value, True


def _is_directive_key(key: str) -> bool:
    # only directive names: a CRD-like map may legitimately hold other "$" keys
    return key in (DIRECTIVE, RETAIN_KEYS) or key.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST))


def _clean_map(value: Json) -> Json:
    out: Json = {}
    for k, v in value.items():
        if v is None or _is_directive_key(k):
            continue
        cleaned, keep = _clean(v)
        if keep:
            out[k] = cleaned
    return out


# ---------------------------------------------------------------------------
# Lists


def _merge_list_field(
    original: list[Any], patch: list[Any], field: schema.Schema | None, is_delete_list: bool
) -> tuple[list[Any], list[Any]]:
    """The merged list, and the original's order as upstream sees it afterwards (see :func:`_merge_list`)."""
    if _strategy(field) == MERGE or is_delete_list:
        return _merge_list(original, patch, field, is_delete_list)
    return list(_clean(patch)[0]), original


def _element_kind(*lists: list[Any]) -> str:
    """``map`` or a scalar kind; every element must share it and none be a list."""
    kind = ""
    for lst in lists:
        for item in lst:
            k = go_kind(item)
            if not kind:
                kind = k
                if k == "list":
                    raise StatusError(422, INVALID, INVALID_MESSAGE, {})  # lists of lists
            elif k != kind:
                raise _failure(f"list element types are not identical: {go_v(list(lists))}")
    if not kind:
        raise _failure("no elements in any of the given slices")
    return "map" if kind == "dict" else kind


def _merge_list(
    original: list[Any], patch: list[Any], field: schema.Schema | None, is_delete_list: bool
) -> tuple[list[Any], list[Any]]:
    """Merge two lists; also return the original's order as left behind in place.

    Upstream deletes and appends inside the original list's storage, and the
    ``$setElementOrder`` step afterwards reads the original through that same
    storage: deleted slots are filled by the elements after them and then by
    appended elements.  That second view decides where server-only elements
    land, so we reproduce it (``_aliased``) instead of using the pristine list.
    """
    if not original and not patch:
        return original, original
    kind = _element_kind(original, patch)
    key = schema.patch_merge_key(field) or ""
    view = original
    if kind != "map":
        if is_delete_list:
            gone = {_hashable(v) for v in patch}
            return [v for v in original if _hashable(v) not in gone], original
        merged = list({_hashable(v): v for v in original + patch}.values())  # deduplicated
        key = ""
    else:
        if not key:
            raise _failure("cannot merge lists without merge key for struct")
        remaining, patch, deleted_at = _apply_list_directives(original, patch, key)
        merged, appended = _merge_by_key(remaining, patch, key, schema.items(field) if field else None)
        view = _aliased(original, deleted_at, appended)
        original = remaining
    patch_items, server_only = _partition(merged, patch, key)
    return _normalize_order(patch_items, server_only, patch, original, key, kind), view


def _aliased(original: list[Any], deleted_at: list[int], appended: list[Any]) -> list[Any]:
    """What the original list's storage holds after in-place deletions and appends."""
    slots = list(original)
    size = len(slots)
    for i in deleted_at:  # each deletion shifts the tail left; the last slot keeps a stale copy
        slots[i : size - 1] = slots[i + 1 : size]
        size -= 1
    for item in appended:  # appends reuse freed slots until the storage is full
        if size >= len(slots):
            break
        slots[size] = item
        size += 1
    return slots


def _apply_list_directives(original: list[Any], patch: list[Any], key: str) -> tuple[list[Any], list[Any], list[int]]:
    """Handle ``$patch`` elements: deletions from ``original`` and a whole-list replace.

    Returns the remaining original, the plain patch elements, and the index of
    each deletion at the moment it happened.
    """
    plain: list[Any] = []
    deleted_at: list[int] = []
    replace = False
    remaining = list(original)
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == DELETE:
            if key not in item:
                raise _no_merge_key(item, key)
            i = 0
            while i < len(remaining):  # every element with that key goes
                if key in remaining[i] and go_eq(remaining[i][key], item[key]):
                    del remaining[i]
                    deleted_at.append(i)
                else:
                    i += 1
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise _failure("merging lists cannot yet be specified in the patch")
        else:
            raise _failure(f"unknown patch type: {go_s(directive)} in map: {go_v(item)}")
    if replace:
        return [_clean_map(p) for p in plain], [], deleted_at
    return remaining, plain, deleted_at


def _merge_by_key(
    original: list[Any], patch: list[Any], key: str, element: schema.Schema | None
) -> tuple[list[Any], list[Any]]:
    """Merge each patch element into the original element with its key, or append it.

    Appended elements stay raw until the end, because a later patch element with
    the same key merges into them exactly as upstream does; then they are cleaned.
    """
    merged = list(original)
    appended: list[Any] = []
    for item in patch:
        if key not in item:
            raise _no_merge_key(item, key)
        for i, existing in enumerate(merged):
            if not isinstance(existing, dict):
                raise _failure(f"value for key {i} is not a map")
            if key in existing and go_eq(existing[key], item[key]):
                merged[i] = _merge_map(existing, item, element)
                break
        else:
            merged.append(item)
            appended.append(item)
    raw = {id(a) for a in appended}
    return [_clean_map(m) if id(m) in raw else m for m in merged], appended


def _merge_ordered_lists(original: Json, patch: Json, node: schema.Schema | None) -> None:
    """Merge each list named by a ``$setElementOrder/<list>`` directive, in that order.

    Precedence: the directive's order, then the patch's, then the original's.
    """
    for directive_key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise _bad_arg_type(_LIST_T, order)
        key = _extract_key(directive_key, SET_ELEMENT_ORDER)
        in_original, in_patch = key in original, key in patch
        current, patch_list = _list_at(original, key), _list_at(patch, key)
        field = _field(node, key)
        _strategy(field)  # rejects malformed strategies before anything merges
        merge_key = schema.patch_merge_key(field) or ""
        _validate_order(patch_list, order, merge_key)
        server_order = current
        if in_original and in_patch:
            merged, server_order = _merge_list_field(current, patch_list, field, False)
        elif in_patch:
            merged = list(_clean(patch_list)[0])
        elif in_original:
            merged = current
        else:
            continue
        kind = _element_kind(current, patch_list)
        patch_items, server_only = _partition(merged, order, merge_key)
        original[key] = _normalize_order(patch_items, server_only, order, server_order, merge_key, kind)
        patch.pop(key, None)


def _validate_order(patch_list: list[Any], order: list[Any], key: str) -> None:
    """Every patch element must appear in the order list, in the same relative order."""
    if not order or not patch_list:
        return
    items = patch_list
    if key:
        items = [p for p in patch_list if _as_map(p).get(DIRECTIVE) != DELETE]
    i = j = 0
    while i < len(items) and j < len(order):
        item = items[i]
        if isinstance(item, dict) and DIRECTIVE in item:
            i += 1
            continue
        if go_eq(_keyed(item, key), _keyed(order[j], key)) if key else go_eq(item, order[j]):
            i += 1
        j += 1
    if i < len(items):
        raise _failure(
            f"The order in patch list:\n{go_v(patch_list)}\n doesn't match {SET_ELEMENT_ORDER} list:\n{go_v(order)}\n"
        )


def _partition(merged: list[Any], by: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Split ``merged`` into the elements ``by`` names and the server-only rest."""
    named: list[Any] = []
    rest: list[Any] = []
    wanted = {_hashable(v) for v in by}
    for i, b in enumerate(by if key and merged else []):
        if not isinstance(b, dict):
            raise _failure(f"value for key {i} is not a map")
    for v in merged:
        if key:
            value = _keyed(v, key)
            found = any(key in b and go_eq(b[key], value) for b in by)
        else:
            found = _hashable(v) in wanted
        (named if found else rest).append(v)
    return named, rest


def _list_at(m: Json, key: str) -> list[Any]:
    value = m.get(key, [])
    if not isinstance(value, list):
        raise _bad_arg_type(_LIST_T, value)
    return value


def _as_map(item: Any) -> Json:
    if not isinstance(item, dict):
        raise _bad_arg_type(_MAP_T, item)
    return item


def _index(items: list[Any], value: Any, key: str, kind: str) -> int:
    def ident(x: Any) -> Any:
        if kind == "map":
            return x.get(key) if isinstance(x, dict) else None
        return x

    target = ident(value)
    for i, item in enumerate(items):
        if go_eq(ident(item), target):
            return i
    return -1


def _normalize_order(
    patch_items: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any], key: str, kind: str
) -> list[Any]:
    """Sort both parts by their own order, then weave server-only items in by original position."""

    def by(order: list[Any], items: list[Any]) -> list[Any]:
        if kind == "map":
            for v in items + order:
                _keyed(v, key)
        # elements still carrying "$patch: delete" sort last
        deleted = [v for v in items if kind == "map" and v.get(DIRECTIVE) == DELETE]
        items = [v for v in items if not any(v is d for d in deleted)]
        return sorted(items, key=lambda v: _index(order, v, key, kind)) + deleted

    right = by(patch_order, patch_items)
    left = by(server_order, server_only)
    out: list[Any] = []
    i = j = 0
    while i < len(left) and j < len(right):
        # a server-only item goes first only when both are in the original and it came earlier
        if 0 <= _index(server_order, left[i], key, kind) < _index(server_order, right[j], key, kind):
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]
