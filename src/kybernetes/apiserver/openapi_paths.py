"""The REST operations the API serves, described once for both OpenAPI versions.

:func:`path_items` walks the resource registry and produces, for every served
resource, verb and subresource, the operations upstream's API installer would
document: the same paths, ``operationId`` names (``listCoreV1NamespacedPod``,
``patchAppsV1NamespacedDeploymentScale`` ...), action and
group-version-kind extensions, media types, query parameters and responses.
The result is a neutral model (:class:`PathItem`, :class:`Operation`,
:class:`Param`); :mod:`kybernetes.apiserver.openapi` renders it as Swagger 2.0
and as OpenAPI 3.0.

Facts clients depend on, kept here on purpose:

* every create/update/patch operation declares ``fieldValidation`` (and
  ``dryRun``, ``fieldManager``): kubectl looks for ``fieldValidation`` on the
  PATCH operation of a kind and, when it finds it, leaves unknown-field
  checks to the server instead of validating client-side;
* PATCH consumes the four patch media types; kubectl's client-side apply
  picks strategic merge patch only when the operation lists it.  A 1.33
  server lists ``application/apply-patch+cbor`` only with the alpha
  ``CBORServingAndStorage`` gate on, which is off by default, so we do not;
* parameters shared by every operation of a path are declared once on the
  path, as upstream's generator does.

Parameter descriptions are our own words.  Pure module: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kybernetes.api import registry
from kybernetes.api.registry import ResourceType, Subresource
from kybernetes.apiserver import openapi_defs

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
WATCH_EVENT = META + "WatchEvent"
PATCH = META + "Patch"

# The deprecated /watch/ paths upstream still documents next to ?watch=true.
INCLUDE_WATCH_PATHS = True

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
OBJECT_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
STREAM_TYPES = (*OBJECT_TYPES, "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
ANY = ("*/*",)

# Kinds whose DELETE answers with the object rather than a Status (the
# storage returns the object while graceful deletion is under way).
DELETE_RETURNS_OBJECT = {("", "pods"), ("", "services"), ("", "serviceaccounts")}


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # "query" or "path"
    type: str  # "string", "integer" or "boolean"
    description: str
    required: bool = False


@dataclass(frozen=True)
class Response:
    code: str
    description: str
    schema: str | None = None  # definition name; "string" for a plain string body


@dataclass
class Operation:
    method: str  # get, put, post, delete, patch
    operation_id: str
    description: str
    tag: str
    consumes: tuple[str, ...]
    produces: tuple[str, ...]
    responses: tuple[Response, ...]
    params: list[Param] = field(default_factory=list)
    body: str | None = None  # definition name of the request body
    body_required: bool = True
    action: str | None = None  # x-kubernetes-action
    gvk: tuple[str, str, str] | None = None  # x-kubernetes-group-version-kind


@dataclass
class PathItem:
    path: str
    document: str  # the OpenAPI v3 document holding it: "api/v1", "apis/apps", "version"...
    operations: list[Operation]
    params: list[Param] = field(default_factory=list)


def _p(name: str, type_: str, description: str) -> Param:
    return Param(name, "query", type_, description)


PRETTY = _p("pretty", "string", "If 'true', the response is indented for reading.")
NAMESPACE = Param("namespace", "path", "string", "namespace of the object (its name and authorization scope)", True)
DRY_RUN = _p("dryRun", "string", "If set (the only valid value is All), the request runs every stage except "
             "persisting the result.")
FIELD_MANAGER = _p("fieldManager", "string", "Name of the actor making the change, recorded in "
                   "metadata.managedFields; at most 128 printable characters.")
FIELD_MANAGER_PATCH = _p("fieldManager", "string", "Name of the actor making the change, recorded in "
                         "metadata.managedFields; at most 128 printable characters. Required for apply "
                         "patches, optional for the other patch types.")
FIELD_VALIDATION = _p("fieldValidation", "string", "How the server treats unknown or duplicate fields in the "
                      "request body: Ignore drops them silently, Warn (the default) drops them and returns a "
                      "warning header per field, Strict rejects the request with a BadRequest listing them.")
FORCE = _p("force", "boolean", "Apply requests only: take ownership of fields that conflict with other "
           "managers. Must be unset for other patch types.")
LIST_PARAMS = (
    _p("allowWatchBookmarks", "boolean", "Ask a watch for BOOKMARK events carrying only a resourceVersion; "
       "sent at the server's discretion. Ignored unless watch is set."),
    _p("continue", "string", "Token from the metadata of a previous, limited list response, to fetch the next "
       "page with identical query parameters. Not supported with watch."),
    _p("fieldSelector", "string", "Only return objects whose fields match this selector. Defaults to everything."),
    _p("labelSelector", "string", "Only return objects whose labels match this selector. Defaults to everything."),
    _p("limit", "integer", "Maximum number of items to return; when more exist the list metadata carries a "
       "continue token. Not supported with watch."),
    _p("resourceVersion", "string", "Which resource versions the request may be served from (see the API "
       "concepts documentation on resource versions). Defaults to unset."),
    _p("resourceVersionMatch", "string", "How resourceVersion applies to a list (Exact or NotOlderThan). "
       "Defaults to unset."),
    _p("sendInitialEvents", "boolean", "With watch, start the stream with synthetic ADDED events for the "
       "current state, then a bookmark annotated as the end of the initial events."),
    _p("timeoutSeconds", "integer", "Time limit for the list or watch call, whatever the activity."),
    _p("watch", "boolean", "Stream changes to the selected objects as ADDED, MODIFIED and DELETED events "
       "instead of returning a list."),
)
DELETE_PARAMS = (
    DRY_RUN,
    _p("gracePeriodSeconds", "integer", "Seconds to wait before the object is deleted; zero deletes now; "
       "unset uses the kind's default."),
    _p("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "Delete an object even when storage "
       "cannot decode or decrypt it, skipping finalizers and preconditions. Unsafe; defaults to false."),
    _p("orphanDependents", "boolean", "Deprecated, use propagationPolicy: whether dependents are orphaned."),
    _p("propagationPolicy", "string", "Garbage collection of dependents: Orphan, Background or Foreground. "
       "Defaults to what the object's finalizers and the kind say."),
)
WRITE_PARAMS = (DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION)
PATCH_PARAMS = (DRY_RUN, FIELD_MANAGER_PATCH, FIELD_VALIDATION, FORCE)


def group_camel(group: str) -> str:
    """``""`` -> ``Core``, ``rbac.authorization.k8s.io`` -> ``RbacAuthorization`` (operation ids)."""
    if not group:
        return "Core"
    parts = re.split(r"[.\-]", group.removesuffix(".k8s.io"))
    return "".join(p[:1].upper() + p[1:] for p in parts)


def group_tag(group: str) -> str:
    """``""`` -> ``core``, ``rbac.authorization.k8s.io`` -> ``rbacAuthorization`` (tags)."""
    camel = group_camel(group)
    return camel[:1].lower() + camel[1:]


def gv_document(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


LOG_TYPES = ("text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_STREAM_PARAMS = (
    _p("container", "string", "The container in which to run the command (the only one when omitted)."),
    _p("stderr", "boolean", "Redirect the standard error stream of the container."),
    _p("stdin", "boolean", "Redirect the standard input stream of the container."),
    _p("stdout", "boolean", "Redirect the standard output stream of the container."),
    _p("tty", "boolean", "Allocate a terminal for this call."),
)
CONNECT_PARAMS: dict[str, tuple[Param, ...]] = {
    "exec": (_p("command", "string", "The command to execute (an argv array, not run within a shell)."),
             *_STREAM_PARAMS),
    "attach": _STREAM_PARAMS,
    "portforward": (_p("ports", "integer", "List of ports to forward."),),
    "log": (
        _p("container", "string", "The container for which to stream logs (the only one when omitted)."),
        _p("follow", "boolean", "Follow the log stream of the pod."),
        _p("insecureSkipTLSVerifyBackend", "boolean", "Do not verify the serving certificate of the node."),
        _p("limitBytes", "integer", "Bytes to read from the server before terminating the log output."),
        _p("previous", "boolean", "Return the logs of the previous terminated container."),
        _p("sinceSeconds", "integer", "Only logs newer than this many seconds before now."),
        _p("tailLines", "integer", "Lines from the end of the logs to show."),
        _p("timestamps", "boolean", "Prefix every line of output with an RFC3339 timestamp."),
    ),
}


def _article(noun: str) -> str:
    # upstream says "create a Pod", "create an Eviction", "create Endpoints"
    if noun.endswith("s") and not noun.endswith("ss"):
        return " "
    return " an " if noun[0].lower() in "aeiou" else " a "


def _responses(schema: str, *codes: str) -> tuple[Response, ...]:
    text = {"200": "OK", "201": "Created", "202": "Accepted"}
    return (*(Response(c, text[c], schema) for c in codes), Response("401", "Unauthorized"))


class _Builder:
    """Collects the path items of one resource type."""

    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt
        self.items: list[PathItem] = []
        self.prefix = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
        self.op_prefix = group_camel(rt.group) + rt.version[:1].upper() + rt.version[1:]
        self.tag = f"{group_tag(rt.group)}_{rt.version}"
        self.document = gv_document(rt.group, rt.version)
        self.gvk = (rt.group, rt.version, rt.kind)

    def op(self, method: str, verb: str, what: str, description: str, action: str,
           responses: tuple[Response, ...], params: tuple[Param, ...] = (), *,
           consumes: tuple[str, ...] = ANY, produces: tuple[str, ...] = OBJECT_TYPES,
           body: str | None = None, body_required: bool = True,
           gvk: tuple[str, str, str] | None = None) -> Operation:
        return Operation(method, verb + self.op_prefix + what, description, self.tag, consumes, produces,
                         responses, list(params), body, body_required, action, gvk or self.gvk)

    def add(self, path: str, params: list[Param], *ops: Operation) -> None:
        self.items.append(PathItem(self.prefix + path, self.document, list(ops), params))

    def build(self) -> list[PathItem]:
        rt, verbs = self.rt, set(self.rt.verbs)
        kind, defn = rt.kind, rt.definition
        ns = "Namespaced" if rt.namespaced else ""
        scope = "/namespaces/{namespace}" if rt.namespaced else ""
        scope_params = [NAMESPACE] if rt.namespaced else []
        name_param = Param("name", "path", "string", f"name of the {kind}", True)
        list_def = defn + "List"
        collection: list[Operation] = []
        if "list" in verbs:
            collection.append(self.op("get", "list", ns + kind, f"list or watch objects of kind {kind}", "list",
                                      _responses(list_def, "200"), LIST_PARAMS, produces=STREAM_TYPES))
        if "create" in verbs:
            collection.append(self.op("post", "create", ns + kind, f"create{_article(kind)}{kind}", "post",
                                      _responses(defn, "200", "201", "202"), WRITE_PARAMS, body=defn))
        if "deletecollection" in verbs:
            # list selection without the watch-only switches, plus the delete options
            params = tuple(p for p in LIST_PARAMS if p.name not in ("allowWatchBookmarks", "watch"))
            params += DELETE_PARAMS
            collection.append(self.op("delete", "delete", "Collection" + ns + kind,
                                      f"delete collection of {kind}", "deletecollection",
                                      _responses(STATUS, "200"), params, body=DELETE_OPTIONS,
                                      body_required=False))
        if collection:
            self.add(f"{scope}/{rt.plural}", [*scope_params, PRETTY], *collection)
        if rt.namespaced and "list" in verbs:
            self.add(f"/{rt.plural}", [PRETTY], self.op(
                "get", "list", kind + "ForAllNamespaces", f"list or watch objects of kind {kind}", "list",
                _responses(list_def, "200"), LIST_PARAMS, produces=STREAM_TYPES))
        named: list[Operation] = []
        if "get" in verbs:
            named.append(self.op("get", "read", ns + kind, f"read the specified {kind}", "get",
                                 _responses(defn, "200")))
        if "update" in verbs:
            named.append(self.op("put", "replace", ns + kind, f"replace the specified {kind}", "put",
                                 _responses(defn, "200", "201"), WRITE_PARAMS, body=defn))
        if "delete" in verbs:
            deleted = defn if (rt.group, rt.plural) in DELETE_RETURNS_OBJECT else STATUS
            named.append(self.op("delete", "delete", ns + kind, f"delete{_article(kind)}{kind}", "delete",
                                 _responses(deleted, "200", "202"), DELETE_PARAMS, body=DELETE_OPTIONS,
                                 body_required=False))
        if "patch" in verbs:
            named.append(self.op("patch", "patch", ns + kind, f"partially update the specified {kind}", "patch",
                                 _responses(defn, "200", "201"), PATCH_PARAMS, consumes=PATCH_TYPES, body=PATCH))
        if named:
            self.add(f"{scope}/{rt.plural}/{{name}}", [name_param, *scope_params, PRETTY], *named)
        for sub in rt.subresources:
            self.subresource(sub, ns, scope, scope_params)
        if INCLUDE_WATCH_PATHS and "watch" in verbs:
            self.watch_paths(ns, scope, scope_params, name_param)
        return self.items

    def subresource(self, sub: Subresource, ns: str, scope: str, scope_params: list[Param]) -> None:
        if sub.connect:
            self.connect(sub, ns, scope, scope_params)
            return
        rt = self.rt
        kind = sub.kind or rt.kind
        gvk = (sub.group if sub.group is not None else rt.group, sub.version or rt.version, kind)
        defn = rt.definition if sub.kind is None else openapi_defs.by_gvk(*gvk)
        what = ns + rt.kind + sub.name[:1].upper() + sub.name[1:]
        name_param = Param("name", "path", "string", f"name of the {kind}", True)
        ops: list[Operation] = []
        if "get" in sub.verbs:
            ops.append(self.op("get", "read", what, f"read {sub.name} of the specified {rt.kind}", "get",
                               _responses(defn, "200"), gvk=gvk))
        if "create" in sub.verbs:
            ops.append(self.op("post", "create", what, f"create {sub.name} of{_article(rt.kind)}{rt.kind}",
                               "post", _responses(defn, "200", "201", "202"), WRITE_PARAMS, body=defn, gvk=gvk))
        if "update" in sub.verbs:
            ops.append(self.op("put", "replace", what, f"replace {sub.name} of the specified {rt.kind}", "put",
                               _responses(defn, "200", "201"), WRITE_PARAMS, body=defn, gvk=gvk))
        if "patch" in sub.verbs:
            ops.append(self.op("patch", "patch", what, f"partially update {sub.name} of the specified {rt.kind}",
                               "patch", _responses(defn, "200", "201"), PATCH_PARAMS, consumes=PATCH_TYPES,
                               body=PATCH, gvk=gvk))
        if ops:
            self.add(f"{scope}/{rt.plural}/{{name}}/{sub.name}", [name_param, *scope_params, PRETTY], *ops)

    def connect(self, sub: Subresource, ns: str, scope: str, scope_params: list[Param]) -> None:
        """pods/log (a read answering text) and pods/exec|attach|portforward (GET and POST "connect")."""
        rt = self.rt
        kind = sub.kind or rt.kind
        gvk = (sub.group if sub.group is not None else rt.group, sub.version or rt.version, kind)
        name_param = Param("name", "path", "string", f"name of the {kind}", True)
        what = ns + rt.kind + sub.name[:1].upper() + sub.name[1:]
        params = CONNECT_PARAMS.get(sub.name, ())
        string = (Response("200", "OK", "string"), Response("401", "Unauthorized"))
        if sub.name == "log":
            op = self.op("get", "read", what, f"read log of the specified {rt.kind}", "get", string, params,
                         produces=LOG_TYPES, gvk=gvk)
            self.add(f"{scope}/{rt.plural}/{{name}}/log", [name_param, *scope_params, PRETTY], op)
            return
        ops = [self.op(method, f"connect{method.capitalize()}", what,
                       f"connect {method.upper()} requests to {sub.name} of {rt.kind}", "connect", string, params,
                       produces=ANY, gvk=gvk)
               for method in ("get", "post") if {"get": "get", "post": "create"}[method] in sub.verbs]
        self.add(f"{scope}/{rt.plural}/{{name}}/{sub.name}", [name_param, *scope_params], *ops)

    def watch_paths(self, ns: str, scope: str, scope_params: list[Param], name_param: Param) -> None:
        kind = self.rt.kind
        plural = self.rt.plural
        deprecated = "deprecated: use the 'watch' parameter with a list operation instead"
        list_text = f"watch individual changes to a list of {kind}. {deprecated}."
        one_text = (f"watch changes to an object of kind {kind}. {deprecated}, filtered to a single item with "
                    "the 'fieldSelector' parameter.")
        events = _responses(WATCH_EVENT, "200")
        common = [*LIST_PARAMS, PRETTY]
        self.add(f"/watch{scope}/{plural}", [*scope_params, *common],
                 self.op("get", "watch", ns + kind + "List", list_text, "watchlist", events, produces=STREAM_TYPES))
        if self.rt.namespaced:
            self.add(f"/watch/{plural}", list(common),
                     self.op("get", "watch", kind + "ListForAllNamespaces", list_text, "watchlist", events,
                             produces=STREAM_TYPES))
        self.add(f"/watch{scope}/{plural}/{{name}}", [name_param, *scope_params, *common],
                 self.op("get", "watch", ns + kind, one_text, "watch", events, produces=STREAM_TYPES))


def _discovery_op(operation_id: str, description: str, tag: str, schema: str,
                  media: tuple[str, ...] = OBJECT_TYPES) -> Operation:
    return Operation("get", operation_id, description, tag, media, media, _responses(schema, "200"))


def discovery_items() -> list[PathItem]:
    """``/api/``, ``/apis/``, ``/apis/<group>/``, ``/<gv>/`` resource lists and ``/version/``."""
    items = [
        PathItem("/api/", "api", [_discovery_op("getCoreAPIVersions", "get available API versions", "core",
                                                META + "APIVersions")]),
        PathItem("/apis/", "apis", [_discovery_op("getAPIVersions", "get available API versions", "apis",
                                                  META + "APIGroupList")]),
        PathItem("/version/", "version", [_discovery_op("getCodeVersion", "get the code version", "version",
                                                        "io.k8s.apimachinery.pkg.version.Info",
                                                        ("application/json",))]),
    ]
    for group in registry.groups():
        if group:
            items.append(PathItem(f"/apis/{group}/", f"apis/{group}", [_discovery_op(
                f"get{group_camel(group)}APIGroup", "get information of a group", group_tag(group),
                META + "APIGroup")]))
        for version in registry.versions(group):
            doc = gv_document(group, version)
            camel = group_camel(group) + version[:1].upper() + version[1:]
            items.append(PathItem(f"/{doc}/", doc, [_discovery_op(
                f"get{camel}APIResources", "get available resources", f"{group_tag(group)}_{version}",
                META + "APIResourceList")]))
    return items


def _hoist(item: PathItem) -> PathItem:
    """Move query parameters every operation of the path declares up to the path."""
    shared = set.intersection(*(set(op.params) for op in item.operations)) if item.operations else set()
    for op in item.operations:
        op.params = sorted((p for p in op.params if p not in shared), key=lambda p: p.name)
    item.params = sorted({*item.params, *shared}, key=lambda p: p.name)
    return item


def path_items() -> list[PathItem]:
    """Every documented path, sorted by path."""
    items = discovery_items()
    for rt in registry.RESOURCES:
        items.extend(_Builder(rt).build())
    return sorted((_hoist(i) for i in items), key=lambda i: i.path)
