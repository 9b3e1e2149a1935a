"""ObjectMeta, labels, annotations and label selectors.

``validate_object_meta`` is upstream's ``ValidateObjectMeta`` (create) and
``validate_object_meta_update`` its ``ValidateObjectMetaUpdate``; together
they cover every kind, because upstream's generic store runs the update
rules for all resources whatever their strategy does.  Name generation has
already happened when these run, so ``generateName`` is not judged here.

Label selectors live here too: their validation (``matchLabels``,
``matchExpressions``) and their matching against a label set, which the
workload validators use for "selector does not match template labels".

Two upstream quirks kept on purpose: label errors point at the map
(``metadata.labels``) not at the key, and finalizer format errors point at
the list while the "standard finalizer" check points at the index.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import golang, names
from kybernetes.api.validation.field import (
    Errs,
    as_dict,
    as_list,
    as_str,
    child,
    dicts,
    immutable,
    index,
    nonnegative,
    str_map,
)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


# -- labels and annotations --------------------------------------------------------


def validate_label_name(name: str, path: str) -> Errs:
    return [errors.invalid_value(path, name, m) for m in names.is_qualified_name(name)]


def validate_labels(labels: Any, path: str) -> Errs:
    errs: Errs = []
    for k, v in as_dict(labels).items():
        errs += validate_label_name(k, path)
        errs += [errors.invalid_value(path, v, m) for m in names.is_label_value(as_str(v))]
    return errs


def validate_annotations(annotations: Any, path: str) -> Errs:
    errs: Errs = []
    total = 0
    for k, v in as_dict(annotations).items():
        # the key rule is a qualified name, but case does not matter
        errs += [errors.invalid_value(path, k, m) for m in names.is_qualified_name(k.lower())]
        total += len(k.encode()) + len(as_str(v).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(errors.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


# -- owner references, finalizers, managed fields ------------------------------


def _validate_owner_reference(ref: dict[str, Any], path: str) -> Errs:
    errs: Errs = []
    api_version, kind = as_str(ref.get("apiVersion")), as_str(ref.get("kind"))
    version = api_version.rsplit("/", 1)[-1]
    if not version:
        errs.append(errors.invalid_value(child(path, "apiVersion"), api_version, "version must not be empty"))
    for f in ("kind", "name", "uid"):
        if not as_str(ref.get(f)):
            errs.append(errors.invalid_value(child(path, f), as_str(ref.get(f)), "must not be empty"))
    if api_version == "v1" and kind == "Event":
        errs.append(errors.invalid_value(path, ref, "/v1, Kind=Event is disallowed from being an owner"))
    return errs


def validate_owner_references(refs: Any, path: str) -> Errs:
    errs: Errs = []
    first_controller = ""
    for ref in dicts(refs):
        errs += _validate_owner_reference(ref, path)
        if ref.get("controller") is True:
            current = f"{as_str(ref.get('kind'))}/{as_str(ref.get('name'))}"
            if first_controller:
                errs.append(errors.invalid_value(
                    path, refs, "Only one reference can have Controller set to true. "
                    f'Found "true" in references for {first_controller} and {current}'))
            else:
                first_controller = current
    return errs


def validate_finalizers(finalizers: Any, path: str, kube_names: bool = True) -> Errs:
    """Qualified names; without a '/' only the standard ones (core kinds); not orphan and foreground both."""
    errs: Errs = []
    values = [as_str(f) for f in as_list(finalizers)]
    for f in values:
        errs += [errors.invalid_value(path, f, m) for m in names.is_qualified_name(f)]
    if "orphan" in values and "foregroundDeletion" in values:
        errs.append(errors.invalid_value(path, values, "finalizer orphan and foregroundDeletion cannot be both set"))
    if kube_names:
        for i, f in enumerate(values):
            errs += validate_kube_finalizer_name(f, index(path, i))
    return errs


def validate_kube_finalizer_name(name: str, path: str) -> Errs:
    if "/" not in name and name not in STANDARD_FINALIZERS:
        return [errors.invalid_value(path, name, "name is neither a standard finalizer name nor is it fully qualified")]
    return []


def _validate_managed_fields(entries: Any, path: str) -> Errs:
    errs: Errs = []
    for i, e in enumerate(dicts(entries)):
        p = index(path, i)
        if e.get("operation") not in ("Apply", "Update"):
            errs.append(errors.invalid_value(child(p, "operation"), as_str(e.get("operation")),
                                             "must be `Apply` or `Update`"))
        fields_type = as_str(e.get("fieldsType"))
        if fields_type and fields_type != "FieldsV1":
            errs.append(errors.invalid_value(child(p, "fieldsType"), fields_type, "must be `FieldsV1`"))
        manager = as_str(e.get("manager"))
        if len(manager) > 128:
            errs.append(errors.too_long(child(p, "manager"), 128))
    return errs


# -- ObjectMeta ---------------------------------------------------------------------------


def _validate_common(meta: dict[str, Any], namespaced: bool, path: str, kube_finalizers: bool) -> Errs:
    errs: Errs = []
    namespace = as_str(meta.get("namespace"))
    if namespaced:
        if not namespace:
            errs.append(errors.required(child(path, "namespace")))
        else:
            errs += [errors.invalid_value(child(path, "namespace"), namespace, m)
                     for m in names.is_dns1123_label(namespace)]
    elif namespace:
        errs.append(errors.forbidden_field(child(path, "namespace"), "not allowed on this type"))
    errs += nonnegative(meta.get("generation"), child(path, "generation"))
    errs += validate_labels(meta.get("labels"), child(path, "labels"))
    errs += validate_annotations(meta.get("annotations"), child(path, "annotations"))
    errs += validate_owner_references(meta.get("ownerReferences"), child(path, "ownerReferences"))
    errs += validate_finalizers(meta.get("finalizers"), child(path, "finalizers"), kube_finalizers)
    errs += _validate_managed_fields(meta.get("managedFields"), child(path, "managedFields"))
    return errs


def validate_object_meta(obj: dict[str, Any], namespaced: bool, name_fn: names.NameFunc,
                         path: str = "metadata", kube_finalizers: bool = True) -> Errs:
    """ValidateObjectMeta on create: the name by ``name_fn``, then the common rules."""
    meta = as_dict(obj.get("metadata"))
    name = as_str(meta.get("name"))
    if not name:
        errs = [errors.required(child(path, "name"), "name or generateName is required")]
    else:
        errs = [errors.invalid_value(child(path, "name"), name, m) for m in name_fn(name)]
    return errs + _validate_common(meta, namespaced, path, kube_finalizers)


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any], path: str = "metadata",
                                kube_finalizers: bool = True) -> Errs:
    """ValidateObjectMetaUpdate: identity and timestamps fixed, no finalizer added while deleting.

    The store owns ``resourceVersion`` (it strips it before validating), so
    upstream's "must be specified for an update" rule is the store's job.
    """
    nm, om = as_dict(new.get("metadata")), as_dict(old.get("metadata"))
    errs: Errs = []
    if om.get("deletionTimestamp"):
        extra = sorted(set(map(as_str, as_list(nm.get("finalizers")))) - set(map(as_str, as_list(om.get("finalizers")))))
        if extra:
            shown = "[]string{" + ", ".join(errors.go_quote(f) for f in extra) + "}"
            errs.append(errors.forbidden_field(
                child(path, "finalizers"),
                f"no new finalizers can be added if the object is being deleted, found new finalizers {shown}"))
    new_gen, old_gen = nm.get("generation") or 0, om.get("generation") or 0
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        errs.append(errors.invalid_value(child(path, "generation"), new_gen, "must not be decremented"))
    for f in ("name", "namespace", "uid"):
        errs += immutable(as_str(nm.get(f)), as_str(om.get(f)), child(path, f))
    for f in ("creationTimestamp", "deletionTimestamp"):
        errs += immutable(nm.get(f), om.get(f), child(path, f), shown=golang.time_value(nm.get(f)))
    errs += immutable(nm.get("deletionGracePeriodSeconds"), om.get("deletionGracePeriodSeconds"),
                      child(path, "deletionGracePeriodSeconds"))
    errs += validate_labels(nm.get("labels"), child(path, "labels"))
    errs += validate_annotations(nm.get("annotations"), child(path, "annotations"))
    errs += validate_owner_references(nm.get("ownerReferences"), child(path, "ownerReferences"))
    errs += validate_finalizers(nm.get("finalizers"), child(path, "finalizers"), kube_finalizers)
    errs += _validate_managed_fields(nm.get("managedFields"), child(path, "managedFields"))
    return errs


# -- label selectors ------------------------------------------------------------------


def validate_label_selector(sel: Any, path: str) -> Errs:
    """metav1 ValidateLabelSelector (strict about label values, as for new objects)."""
    if not isinstance(sel, dict):
        return []
    errs = validate_labels(sel.get("matchLabels"), child(path, "matchLabels"))
    for i, req in enumerate(dicts(sel.get("matchExpressions"))):
        p = index(child(path, "matchExpressions"), i)
        op, values = as_str(req.get("operator")), as_list(req.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                errs.append(errors.required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(errors.forbidden_field(
                    child(p, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(errors.invalid_value(child(p, "operator"), op, "not a valid selector operator"))
        errs += validate_label_name(as_str(req.get("key")), child(p, "key"))
        for j, v in enumerate(values):
            errs += [errors.invalid_value(index(child(p, "values"), j), v, m) for m in names.is_label_value(as_str(v))]
    return errs


def selector_is_convertible(sel: Any) -> bool:
    """Whether LabelSelectorAsSelector succeeds (operators and values well formed)."""
    for req in dicts(as_dict(sel).get("matchExpressions")):
        op, values = as_str(req.get("operator")), as_list(req.get("values"))
        if op not in SELECTOR_OPERATORS or (op in ("In", "NotIn")) != bool(values):
            return False
        if names.is_qualified_name(as_str(req.get("key"))) or any(names.is_label_value(as_str(v)) for v in values):
            return False
    return not any(names.is_qualified_name(k) or names.is_label_value(v)
                   for k, v in str_map(as_dict(sel).get("matchLabels")).items())


def selector_is_empty(sel: Any) -> bool:
    """A present selector with no requirement: it selects everything."""
    s = as_dict(sel)
    return isinstance(sel, dict) and not as_dict(s.get("matchLabels")) and not as_list(s.get("matchExpressions"))


def selector_matches(sel: Any, labels: Any) -> bool:
    """Does a (convertible) LabelSelector select ``labels``?  A nil selector selects nothing."""
    if not isinstance(sel, dict):
        return False
    have = str_map(labels)
    for k, v in str_map(sel.get("matchLabels")).items():
        if have.get(k) != v:
            return False
    for req in dicts(sel.get("matchExpressions")):
        k, op, values = as_str(req.get("key")), req.get("operator"), as_list(req.get("values"))
        present = k in have
        if op == "In" and not (present and have[k] in values):
            return False
        if op == "NotIn" and present and have[k] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
