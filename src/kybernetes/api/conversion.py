"""Conversions between group versions that share one stored resource.

Events are stored once, in their ``core/v1`` form, and served both as
``v1 Event`` and ``events.k8s.io/v1 Event`` (upstream stores one internal
Event too).  Renamed fields map one to one; everything else is common.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

# events.k8s.io/v1 field -> core/v1 field
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_EVENT_RENAMES_BACK = {v: k for k, v in _EVENT_RENAMES.items()}


def _rename(obj: dict[str, Any], table: dict[str, str], api_version: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out[table.get(k, k)] = v
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def event_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    """events.k8s.io/v1 Event -> v1 Event (a new dict)."""
    return _rename(obj, _EVENT_RENAMES, "v1")


def event_from_core(obj: dict[str, Any]) -> dict[str, Any]:
    """v1 Event -> events.k8s.io/v1 Event (a new dict)."""
    out = _rename(obj, _EVENT_RENAMES_BACK, "events.k8s.io/v1")
    # core's zero-valued source/count have no place in the new form
    if out.get("deprecatedSource") == {}:
        del out["deprecatedSource"]
    return out


def to_storage(group: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The stored form of an object received in ``group``'s version."""
    if group == "events.k8s.io":
        return event_to_core(obj)
    return obj


def from_storage(group: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The served form in ``group``'s version of a stored object."""
    if group == "events.k8s.io":
        return event_from_core(obj)
    return obj
