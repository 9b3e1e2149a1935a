"""Events, served as core/v1 and as events.k8s.io/v1.

Upstream keeps one internal Event and validates it by the group version of
the request:

* **core/v1** (legacy, what kubelets and ``kubectl`` have always written): any
  name usable as a URL path segment; the involved object's namespace must
  match the event's (an event about a cluster-scoped object lives in
  ``default`` or has none); the namespace itself must be a DNS subdomain.  An
  event that carries ``eventTime`` (the new style) must also name its
  reporting controller, instance, action and reason, within length limits.
* **events.k8s.io/v1** (strict): the legacy rules, plus a DNS-subdomain name,
  a required ``eventTime``, ``type`` Normal or Warning, and none of the
  deprecated fields; an update may change only the series.

events.k8s.io objects arrive in their own shape and are read through
:func:`kybernetes.api.conversion.event_to_core`; error paths use the internal
field names, as upstream's do (``involvedObject``, ``message``,
``reportingController``).

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import conversion, errors
from kybernetes.api.validation import names
from kybernetes.api.validation.field import Errs, as_dict, as_int, as_str, immutable, semantic_equal
from kybernetes.api.validation.meta import validate_object_meta, validate_object_meta_update
from kybernetes.api.validation.scheduling import validate_qualified_name

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024


def core_view(obj: dict[str, Any], group: str) -> dict[str, Any]:
    return conversion.event_to_core(obj) if group == "events.k8s.io" else obj


def _too_long(path: str, value: str, limit: int) -> Errs:
    if len(value.encode()) > limit:
        return [errors.invalid_value(path, "", f"can have at most {limit} characters")]
    return []


def legacy_validate_event(ev: dict[str, Any]) -> Errs:
    errs: Errs = []
    namespace = as_str(as_dict(ev.get("metadata")).get("namespace"))
    involved_ns = as_str(as_dict(ev.get("involvedObject")).get("namespace"))
    mismatch = errors.invalid_value("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not ev.get("eventTime"):
        if not involved_ns:
            if namespace not in ("", "default"):
                errs.append(mismatch)
        elif namespace != involved_ns:
            errs.append(mismatch)
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            errs.append(mismatch)
        controller = as_str(ev.get("reportingComponent"))
        if not controller:
            errs.append(errors.required("reportingController"))
        errs += validate_qualified_name(controller, "reportingController")
        for path, f, limit in (("reportingInstance", "reportingInstance", REPORTING_INSTANCE_LIMIT),
                               ("action", "action", ACTION_LIMIT), ("reason", "reason", REASON_LIMIT)):
            value = as_str(ev.get(f))
            if not value:
                errs.append(errors.required(path))
            errs += _too_long(path, value, limit)
        errs += _too_long("message", as_str(ev.get("message")), NOTE_LIMIT)
    errs += [errors.invalid_value("namespace", namespace, m) for m in names.is_dns1123_subdomain(namespace)]
    return errs


def _validate_series(ev: dict[str, Any]) -> Errs:
    series = ev.get("series")
    if not isinstance(series, dict):
        return []
    errs: Errs = []
    if (as_int(series.get("count")) or 0) < 2:
        errs.append(errors.invalid_value("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(errors.required("series.lastObservedTime"))
    return errs


def validate_event(obj: dict[str, Any], group: str) -> Errs:
    ev = core_view(obj, group)
    errs = legacy_validate_event(ev)
    if group != "events.k8s.io":
        # The generic store's own ObjectMeta check (any path segment name) runs
        # only once the kind's validation passed.
        return errs or validate_object_meta(ev, True, names.path_segment_name, kube_finalizers=False)
    errs += validate_object_meta(ev, True, names.name_is_dns_subdomain)
    errs += _validate_series(ev)
    if not ev.get("eventTime"):
        errs.append(errors.required("eventTime"))
    event_type = as_str(ev.get("type"))
    if event_type not in ("Normal", "Warning"):
        errs.append(errors.invalid_value("type", "", f"has invalid value: {event_type}"))
    for f in ("firstTimestamp", "lastTimestamp"):
        if ev.get(f):
            errs.append(errors.invalid_value(f, "", "needs to be unset"))
    if as_int(ev.get("count")):
        errs.append(errors.invalid_value("count", "", "needs to be unset"))
    source = as_dict(ev.get("source"))
    if as_str(source.get("component")) or as_str(source.get("host")):
        errs.append(errors.invalid_value("source", "", "needs to be unset"))
    return errs


def validate_event_update(new: dict[str, Any], old: dict[str, Any], group: str) -> Errs:
    ne, oe = core_view(new, group), core_view(old, group)
    errs = legacy_validate_event(ne)
    if group != "events.k8s.io":
        return errs + validate_object_meta_update(ne, oe, kube_finalizers=False)
    errs += validate_object_meta_update(ne, oe)
    if not semantic_equal(ne.get("series"), oe.get("series")):
        errs += _validate_series(ne)
    for path, f in (("involvedObject", "involvedObject"), ("reason", "reason"), ("message", "message"),
                    ("source", "source"), ("firstTimestamp", "firstTimestamp"), ("lastTimestamp", "lastTimestamp"),
                    ("count", "count"), ("type", "type"), ("eventTime", "eventTime"), ("action", "action"),
                    ("related", "related"), ("reportingController", "reportingComponent"),
                    ("reportingInstance", "reportingInstance")):
        errs += immutable(ne.get(f), oe.get(f), path)
    return errs
