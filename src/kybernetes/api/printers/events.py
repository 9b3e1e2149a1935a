"""The Event printer: LAST SEEN TYPE REASON OBJECT MESSAGE | SUBOBJECT SOURCE FIRST SEEN COUNT NAME.

Events come in two wire shapes for one stored thing: ``core/v1`` (involvedObject,
message, source, firstTimestamp, lastTimestamp, count) and ``events.k8s.io/v1``
(regarding, note, deprecatedSource, deprecatedFirstTimestamp, ...).  Upstream
converts both to its internal Event before printing, so both get the same
columns here; :func:`_core_view` maps the second shape onto the first.

Timing follows upstream's ``printEvent``: FIRST SEEN from ``firstTimestamp``,
else ``eventTime``; LAST SEEN from ``lastTimestamp``, else FIRST SEEN; an event
series overrides LAST SEEN and COUNT with ``series.lastObservedTime`` and
``series.count``; a singleton event without a count counts 1.  OBJECT is
``<kind in lower case>/<name>``; SOURCE is ``component, host`` falling back to
the reporting controller and instance.

Pure module: no I/O.
"""

from __future__ import annotations

from kybernetes.api.printers.base import (
    META,
    NAME,
    Cells,
    Column,
    Obj,
    Printer,
    count,
    metadata,
    section,
    wide,
)
from kybernetes.api.printers.timefmt import epoch, human_duration, since

_V1_FIELDS = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
)


def _core_view(event: Obj) -> Obj:
    """An events.k8s.io/v1 Event seen through core/v1 field names."""
    view = dict(event)
    for new, old in _V1_FIELDS:
        if new in event:
            view[old] = event[new]
    return view


def event_cells(event: Obj, now: float) -> Cells:
    first_seen = epoch(event.get("firstTimestamp"))
    first = since(event.get("eventTime"), now) if first_seen is None else human_duration(now - first_seen)
    last_seen = epoch(event.get("lastTimestamp"))
    last = first if last_seen is None else human_duration(now - last_seen)
    total = count(event.get("count"))
    series = event.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        total = count(series.get("count"))
    elif total == 0:
        total = 1  # singleton events in the new API carry no count

    involved = section(event, "involvedObject")
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind

    source = section(event, "source")
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""

    return [
        last,
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        target,
        str(involved.get("fieldPath") or ""),
        f"{component}, {instance}" if instance else str(component),
        str(event.get("message") or "").strip(),
        first,
        total,
        str(metadata(event).get("name") or ""),
    ]


def events_v1_cells(event: Obj, now: float) -> Cells:
    return event_cells(_core_view(event), now)


_EVENT = "io.k8s.api.core.v1.Event"

_COLUMNS = (
    Column("Last Seen", "string", (_EVENT, "lastTimestamp")),
    Column("Type", "string", (_EVENT, "type")),
    Column("Reason", "string", (_EVENT, "reason")),
    Column("Object", "string", (_EVENT, "involvedObject")),
    wide("Subobject", "string", ("io.k8s.api.core.v1.ObjectReference", "fieldPath")),
    wide("Source", "string", (_EVENT, "source")),
    Column("Message", "string", (_EVENT, "message")),
    wide("First Seen", "string", (_EVENT, "firstTimestamp")),
    wide("Count", "string", (_EVENT, "count")),
    Column(NAME.name, NAME.type, (META, "name"), priority=1, format="name"),
)

EVENT = Printer(_COLUMNS, event_cells)
EVENT_V1 = Printer(_COLUMNS, events_v1_cells)
