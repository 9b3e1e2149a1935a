"""The shape of a printer: columns plus a function from one object to its cells.

A :class:`Printer` is what upstream registers with ``TableHandler`` for a kind:
the column definitions (name, type, format, description, priority) and a cell
function.  The server always generates the *wide* form (upstream's storage
``TableConvertor`` passes ``Wide: true``), so every cell function returns one
cell per column, priority-1 columns included; kubectl hides those unless
``-o wide``.

Column descriptions are the field documentation upstream takes from
``SwaggerDoc()``.  We do not hand-copy that prose: a :class:`Column` names the
schema definition and field it documents, and the description is read from the
OpenAPI definitions shipped in ``kubernetes-validate`` (:mod:`kybernetes.api.schema`)
the first time a kind's columns are asked for.  Columns whose upstream text is a
short sentence of the printer's own carry it literally.

Pure module apart from that one cached schema read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api import schema
from kybernetes.api.printers.timefmt import since

Obj = dict[str, Any]
Cells = list[Any]
CellFunc = Callable[[Obj, float], Cells]
ConditionFunc = Callable[[Obj], list[dict[str, Any]] | None]

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."

# Literal descriptions upstream's printers write themselves (not field docs).
CONTAINERS_DOC = "Names of each container in the template."
IMAGES_DOC = "Images referenced by each container in the template."

Doc = str | tuple[str, str]  # literal text, or (schema definition, field name)


@functools.cache
def describe(doc: Doc) -> str:
    """The description for a column: literal text, or the field's schema documentation."""
    if isinstance(doc, str):
        return doc
    definition, field = doc
    try:
        node = schema.prop(schema.get(definition), field)
    except KeyError:
        return ""
    # The field's own documentation sits on the property, not on the type it refers to.
    return str((node or {}).get("description") or "")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: Doc
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        # key order and always-present format/priority follow metav1.TableColumnDefinition
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": describe(self.doc),
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    cells: CellFunc
    # row conditions (only pods have them upstream: Completed for finished pods)
    conditions: ConditionFunc | None = None

    @functools.cached_property
    def definitions(self) -> tuple[dict[str, Any], ...]:
        return tuple(c.definition() for c in self.columns)


NAME = Column("Name", "string", (META, "name"), format="name")
AGE = Column("Age", "string", (META, "creationTimestamp"))


def wide(name: str, type_: str, doc: Doc) -> Column:
    return Column(name, type_, doc, priority=1)


def metadata(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def name_and_age(obj: Obj, now: float) -> tuple[str, str]:
    meta = metadata(obj)
    return str(meta.get("name") or ""), since(meta.get("creationTimestamp"), now)


def section(obj: Obj, key: str) -> Obj:
    """``obj[key]`` when it is an object, else an empty one (absent spec/status)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def count(value: Any) -> int:
    """An integer field, 0 when unset (Go's zero value)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
