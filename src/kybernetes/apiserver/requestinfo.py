"""Parse a request path into what it addresses (upstream's RequestInfoFactory).

``/api/v1/namespaces/ns/pods/name/status`` becomes
``RequestInfo(group="", version="v1", namespace="ns", resource="pods",
name="name", subresource="status")``; the verb comes from the HTTP method and
whether a name is present (``list`` vs ``get``, ``deletecollection`` vs
``delete``) and from ``?watch=true`` or the legacy ``/watch/`` path segment.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    group: str
    version: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None
    verb: str


def parse(method: str, path: str, watch_param: bool) -> RequestInfo | None:
    """RequestInfo for a resource request, or None when the path is not one."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None

    legacy_watch = False
    if rest and rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]

    namespace: str | None = None
    # "namespaces/<ns>/<resource>..." addresses namespaced objects, but
    # "namespaces/<ns>" and "namespaces/<ns>/status|finalize" address the namespace itself.
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace = rest[1]
        rest = rest[2:]
    if not rest:
        return None
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        return None
    if resource == "namespaces" and name is not None:
        namespace = None

    if method in ("GET", "HEAD"):
        if watch_param or legacy_watch:
            verb = "watch"
        else:
            verb = "get" if name else "list"
    else:
        verb = _METHOD_VERBS.get(method, method.lower())
        if verb == "delete" and name is None:
            verb = "deletecollection"
    return RequestInfo(group, version, resource, namespace, name, subresource, verb)
