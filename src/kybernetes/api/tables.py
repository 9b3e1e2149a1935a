"""``meta.k8s.io`` Table responses: what the server sends ``kubectl get``.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` (v1beta1 as a
fallback) and prints what it gets, so every column a user sees is decided here.
This module is the public face of server-side printing:

* :func:`column_definitions` — the ``columnDefinitions`` of a kind, wide columns
  included (``priority: 1``);
* :func:`row_cells` / :func:`row_conditions` — one object's cells and row conditions;
* :func:`build_table` — a complete ``Table`` body for a list, a single object, or
  one watch event.

The per-kind rules live in :mod:`kybernetes.api.printers`.  The envelope
follows upstream's ``asTable``: rows carry ``object`` according to
``includeObject`` — ``Metadata`` (the default) gives a ``PartialObjectMetadata``
in the Table's own group version holding the object's full metadata,
``Object`` the object itself, ``None`` a null object — and a Table without
headers (every watch event after the first) has ``columnDefinitions: null``,
exactly as upstream encodes a nil slice.

Pure module: no I/O.  ``now`` is passed in, so ages are reproducible.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api import errors
from kybernetes.api.printers import printer
from kybernetes.api.printers.timefmt import epoch_of
from kybernetes.api.registry import ResourceType

META_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("Metadata", "Object", "None")


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """The Table ``columnDefinitions`` for ``rt``'s kind (fresh dicts: safe to modify)."""
    return [dict(c) for c in printer(rt.group, rt.kind).definitions]


def row_cells(rt: ResourceType, obj: dict[str, Any], now: datetime) -> list[Any]:
    """The cells of one object's row, one per column of :func:`column_definitions`."""
    return printer(rt.group, rt.kind).cells(obj, epoch_of(now))


def row_conditions(rt: ResourceType, obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Row conditions (``Completed`` for finished pods), or None."""
    conditions = printer(rt.group, rt.kind).conditions
    return conditions(obj) if conditions is not None else None


def check_table_options(version: str, include_object: str) -> None:
    """Reject what upstream rejects: a Table version it lacks (406) or a bad includeObject (400)."""
    if version not in TABLE_VERSIONS:
        raise errors.StatusError(
            406, errors.NOT_ACCEPTABLE, f"no Table exists in group version {META_GROUP}/{version}"
        )
    if include_object not in INCLUDE_OBJECT and include_object != "":
        raise errors.bad_request(f'unrecognized includeObject value: "{include_object}"')


def build_table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    now: datetime,
    *,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
    remaining: int | None = None,
    with_columns: bool = True,
    version: str = "v1",
) -> dict[str, Any]:
    """A ``meta.k8s.io/<version>`` Table of ``objects``.

    ``resource_version``/``continue_token``/``remaining`` are the list's metadata
    (for a single object, its resourceVersion).  ``with_columns=False`` is the
    ``noHeaders`` form watches use after their first event.  Raises
    :class:`~kybernetes.api.errors.StatusError` for an unknown version or
    includeObject value.
    """
    check_table_options(version, include_object)
    api_version = f"{META_GROUP}/{version}"
    print_ = printer(rt.group, rt.kind)
    cells = print_.cells
    conditions = print_.conditions
    clock = epoch_of(now)
    mode = include_object or "Metadata"

    rows: list[dict[str, Any]] = []
    append = rows.append
    for obj in objects:
        row: dict[str, Any] = {"cells": cells(obj, clock)}
        if conditions is not None:
            row_conds = conditions(obj)
            if row_conds:
                row["conditions"] = row_conds
        if mode == "Metadata":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": api_version,
                # shared, not copied: the table is serialized, never mutated
                "metadata": obj.get("metadata") or {},
            }
        elif mode == "Object":
            # kubectl decodes these objects (e.g. for --sort-by): they must say what they are
            if "kind" not in obj or "apiVersion" not in obj:
                obj = {"kind": rt.kind, "apiVersion": rt.api_version, **obj}
            row["object"] = obj
        else:
            row["object"] = None  # upstream's empty RawExtension encodes as null
        append(row)

    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": column_definitions(rt) if with_columns else None,
        "rows": rows,
    }
