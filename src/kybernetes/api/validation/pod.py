"""Pods: create, update and status update.

Create is ObjectMeta plus the PodSpec (with the pod-only checks: image
whitespace, no ephemeral containers, no ``nodeName`` while scheduling gates
remain).  Update is where pods differ from every other kind: a pod's spec is
almost frozen.  As upstream, the new spec is copied, the fields a user may
change are overwritten from the old spec (container images, a lowered
``activeDeadlineSeconds``, added tolerations, removed scheduling gates, a
negative grace period raised to 1, nodeSelector additions while gated), and
any remaining difference is one error::

    spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,...

followed by a diff.  Upstream prints a ``go-cmp`` diff of Go structs; we print
the same idea on wire fields (``- restartPolicy: "Always"`` / ``+ ...``), as
go-cmp's text is deliberately unstable and cannot be reproduced.

Pure: no I/O.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import names
from kybernetes.api.validation.field import (
    Errs,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dicts,
    index,
    normalize,
    semantic_equal,
)
from kybernetes.api.validation.meta import validate_object_meta, validate_object_meta_update
from kybernetes.api.validation.podspec import MAX_INT32, validate_pod_spec, validate_pod_specific_annotations
from kybernetes.api.validation.scheduling import validate_qualified_name, validate_tolerations

UPDATABLE_FIELDS = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
]
SYSTEM_CONDITIONS = {"PodScheduled", "Ready", "Initialized"}


def _image_whitespace(containers: Any, path: str) -> Errs:
    errs: Errs = []
    for i, c in enumerate(dicts(containers)):
        image = as_str(c.get("image"))
        if image != image.strip():
            errs.append(errors.invalid_value(child(index(path, i), "image"), image,
                                             "must not have leading or trailing whitespace"))
    return errs


def _metadata_and_spec(pod: dict[str, Any]) -> Errs:
    meta = as_dict(pod.get("metadata"))
    spec = as_dict(pod.get("spec"))
    errs = validate_object_meta(pod, True, names.name_is_dns_subdomain)
    errs += validate_pod_specific_annotations(meta.get("annotations"), spec, "metadata.annotations")
    errs += validate_pod_spec(spec, as_str(meta.get("name")), "spec", is_pod=True)
    if not as_str(spec.get("serviceAccountName")):
        for vi, vol in enumerate(dicts(spec.get("volumes"))):
            for si, src in enumerate(dicts(as_dict(vol.get("projected")).get("sources"))):
                if isinstance(src.get("serviceAccountToken"), dict):
                    p = f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"
                    errs.append(errors.forbidden_field(p, "must not be specified when serviceAccountName is not set"))
    errs += _image_whitespace(spec.get("containers"), "spec.containers")
    errs += _image_whitespace(spec.get("initContainers"), "spec.initContainers")
    return errs


def validate_pod_create(pod: dict[str, Any]) -> Errs:
    errs = _metadata_and_spec(pod)
    spec = as_dict(pod.get("spec"))
    if as_list(spec.get("ephemeralContainers")):
        errs.append(errors.forbidden_field("spec.ephemeralContainers", "cannot be set on create"))
    if as_str(spec.get("nodeName")) and as_list(spec.get("schedulingGates")):
        errs.append(errors.forbidden_field("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


def _container_updates(new: Any, old: Any, path: str) -> tuple[Errs, bool]:
    new_l, old_l = dicts(new), dicts(old)
    if len(new_l) != len(old_l):
        return [errors.forbidden_field(path, "pod updates may not add or remove containers")], True
    errs: Errs = []
    for i, c in enumerate(new_l):
        if not as_str(c.get("image")):
            errs.append(errors.required(child(index(path, i), "image")))
    return errs, False


def _only_added_tolerations(new: Any, old: Any, path: str) -> Errs:
    new_l = dicts(new)
    for o in dicts(old):
        # an existing toleration may change its tolerationSeconds, nothing else
        wanted = {k: v for k, v in o.items() if k != "tolerationSeconds"}
        if not any(semantic_equal(wanted, {k: v for k, v in n.items() if k != "tolerationSeconds"}) for n in new_l):
            return [errors.forbidden_field(path, "existing toleration can not be modified except its tolerationSeconds")]
    return validate_tolerations(new, path)


def _only_deleted_gates(new: Any, old: Any, path: str) -> Errs:
    old_names = {as_str(g.get("name")) for g in dicts(old)}
    errs: Errs = []
    for i, g in enumerate(dicts(new)):
        name = as_str(g.get("name"))
        if name not in old_names:
            errs.append(errors.forbidden_field(child(index(path, i), "name"),
                                               f"only deletion is allowed, but found new scheduling gate '{name}'"))
    return errs


def _go_field(name: str) -> str:
    return name[:1].upper() + name[1:]


def spec_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A small diff of two specs, one ``-``/``+`` pair per changed top-level field."""
    a, b = normalize(old), normalize(new)
    lines = ["  core.PodSpec{"]
    for k in sorted(set(a) | set(b)):
        if a.get(k) == b.get(k):
            continue
        if k in a:
            lines.append(f"- \t{_go_field(k)}: {json.dumps(a[k], sort_keys=True)},")
        if k in b:
            lines.append(f"+ \t{_go_field(k)}: {json.dumps(b[k], sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def validate_pod_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    errs += _metadata_and_spec(new)
    errs += _annotation_updates(new, old)
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    for f in ("containers", "initContainers"):
        cerrs, stop = _container_updates(ns.get(f), os_.get(f), f"spec.{f}")
        errs += cerrs
        if stop:
            return errs
    deadline, old_deadline = ns.get("activeDeadlineSeconds"), os_.get("activeDeadlineSeconds")
    if deadline is not None:
        d = as_int(deadline) or 0
        if not 0 <= d <= MAX_INT32:
            return [*errs, errors.invalid_value("spec.activeDeadlineSeconds", d, names.inclusive_range_error(0, MAX_INT32))]
        if old_deadline is not None and (as_int(old_deadline) or 0) < d:
            return [*errs, errors.invalid_value("spec.activeDeadlineSeconds", d, "must be less than or equal to previous value")]
    elif old_deadline is not None:
        errs.append(errors.invalid_value("spec.activeDeadlineSeconds", None,
                                         "must not update from a positive integer to nil value"))
    errs += _only_added_tolerations(ns.get("tolerations"), os_.get("tolerations"), "spec.tolerations")
    errs += _only_deleted_gates(ns.get("schedulingGates"), os_.get("schedulingGates"), "spec.schedulingGates")
    if semantic_equal(ns, os_):
        return errs
    munged = copy.deepcopy(ns)
    for f in ("containers", "initContainers"):
        for c, oc in zip(dicts(munged.get(f)), dicts(os_.get(f)), strict=False):
            if "image" in oc:
                c["image"] = oc["image"]
    for f in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(f, None)
        if f in os_:
            munged[f] = os_[f]
    old_grace = as_int(os_.get("terminationGracePeriodSeconds"))
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if as_list(os_.get("schedulingGates")):
        errs += _node_selector_additions(munged, os_)
    if not semantic_equal(munged, os_):
        detail = "pod updates may not change fields other than " + ",".join(UPDATABLE_FIELDS) + "\n"
        errs.append(errors.forbidden_field("spec", detail + spec_diff(os_, munged)))
    return errs


def _node_selector_additions(munged: dict[str, Any], old: dict[str, Any]) -> Errs:
    """While gated, a pod may gain nodeSelector entries (no changes or removals)."""
    new_sel, old_sel = as_dict(munged.get("nodeSelector")), as_dict(old.get("nodeSelector"))
    if semantic_equal(new_sel, old_sel):
        return []
    munged.pop("nodeSelector", None)
    if "nodeSelector" in old:
        munged["nodeSelector"] = old["nodeSelector"]
    if any(new_sel.get(k) != v for k, v in old_sel.items()):
        return [errors.invalid_value("spec.nodeSelector", new_sel,
                                     "only additions to spec.nodeSelector are allowed (no mutations or deletions)")]
    return []


def _annotation_updates(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    na = as_dict(as_dict(new.get("metadata")).get("annotations"))
    oa = as_dict(as_dict(old.get("metadata")).get("annotations"))
    errs: Errs = []
    mirror = "kubernetes.io/config.mirror"
    if mirror in oa and na.get(mirror) != oa[mirror]:
        errs.append(errors.forbidden_field(f"metadata.annotations[{mirror}]",
                                           "may not remove or update mirror pod annotation"))
    if mirror in na and mirror not in oa:
        errs.append(errors.forbidden_field(f"metadata.annotations[{mirror}]", "may not add mirror pod annotation"))
    return errs


# -- status -------------------------------------------------------------------------------


def _validate_ips(ips: Any, path: str) -> Errs:
    errs: Errs = []
    items = dicts(ips)
    for i, ip in enumerate(items):
        errs += [errors.invalid_value(index(path, i), as_str(ip.get("ip")), m)
                 for m in names.is_valid_ip(as_str(ip.get("ip")))]
    if len(items) > 1:
        parsed = [names.parse_ip(as_str(ip.get("ip"))) for ip in items]
        families = {p.version for p in parsed if p is not None}
        if len(items) > 2 or len(families) != 2:
            errs.append(errors.invalid_value(path, [as_str(ip.get("ip")) for ip in items],
                                             "may specify no more than one IP for each IP family"))
        seen: set[str] = set()
        for i, ip in enumerate(items):
            if as_str(ip.get("ip")) in seen:
                errs.append(errors.duplicate(index(path, i), ip))
            seen.add(as_str(ip.get("ip")))
    return errs


def _state_transitions(new: Any, old: Any, path: str, restart_policy: str, sidecars: set[str]) -> Errs:
    """A terminated container stays terminated unless the restart policy brings it back."""
    if restart_policy == "Always":
        return []
    errs: Errs = []
    for i, o in enumerate(dicts(old)):
        terminated = as_dict(as_dict(o.get("state")).get("terminated"))
        if not as_dict(o.get("state")).get("terminated"):
            continue
        if (as_int(terminated.get("exitCode")) or 0) != 0 and restart_policy == "OnFailure":
            continue
        if as_str(o.get("name")) in sidecars:
            continue
        for n in dicts(new):
            if n.get("name") == o.get("name") and not as_dict(n.get("state")).get("terminated"):
                errs.append(errors.forbidden_field(child(index(path, i), "state"),
                                                   "may not be transitioned to non-terminated state"))
    return errs


def validate_pod_status_update(new: dict[str, Any], old: dict[str, Any]) -> Errs:
    errs = validate_object_meta_update(new, old)
    errs += _annotation_updates(new, old)
    status, old_status = as_dict(new.get("status")), as_dict(old.get("status"))
    for i, c in enumerate(dicts(status.get("conditions"))):
        ctype = as_str(c.get("type"))
        if ctype not in SYSTEM_CONDITIONS:
            # upstream reports these under metadata, with a capital T
            errs += validate_qualified_name(ctype, child(index("metadata.conditions", i), "Type"))
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    if as_str(ns.get("nodeName")) != as_str(os_.get("nodeName")):
        errs.append(errors.forbidden_field("status.nodeName", "may not be changed directly"))
    nominated = as_str(status.get("nominatedNodeName"))
    if nominated and nominated != as_str(old_status.get("nominatedNodeName")):
        errs += [errors.invalid_value("status.nominatedNodeName", nominated, m)
                 for m in names.is_dns1123_subdomain(nominated)]
    restart = as_str(os_.get("restartPolicy"))
    sidecars = {as_str(c.get("name")) for c in dicts(os_.get("initContainers")) if c.get("restartPolicy") == "Always"}
    errs += _state_transitions(status.get("containerStatuses"), old_status.get("containerStatuses"),
                               "status.containerStatuses", restart, set())
    errs += _state_transitions(status.get("initContainerStatuses"), old_status.get("initContainerStatuses"),
                               "status.initContainerStatuses", restart, sidecars)
    errs += _state_transitions(status.get("ephemeralContainerStatuses"), old_status.get("ephemeralContainerStatuses"),
                               "status.ephemeralContainerStatuses", "Never", set())
    errs += _validate_ips(status.get("podIPs"), "status.podIPs")
    host_ips = dicts(status.get("hostIPs"))
    if host_ips:
        if as_str(status.get("hostIP")) != as_str(host_ips[0].get("ip")):
            errs.append(errors.invalid_value("status.hostIPs[0].ip", as_str(host_ips[0].get("ip")),
                                             "must be equal to `hostIP`"))
        errs += _validate_ips(host_ips, "status.hostIPs")
    return errs
