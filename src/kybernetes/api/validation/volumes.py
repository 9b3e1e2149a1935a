"""Pod volumes: unique DNS-label names, exactly one source each, sane sources.

Upstream checks the sources in a fixed order and, once one is found, reports
every further one as ``Forbidden: may not specify more than 1 volume type`` at
its own path; :data:`SOURCES` keeps that order and upstream's path names,
including two historical misspellings (``cephFS`` and ``downwarAPI``) that
users really see.  The sources a single-node cluster can serve (emptyDir,
hostPath, configMap, secret, projected, downwardAPI, persistentVolumeClaim,
ephemeral) get their detailed checks; the cloud and network ones are counted
and get their required fields checked only.

``validate_volumes`` returns the names that validated, which container
``volumeMounts`` must then reference.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import names
from kybernetes.api.validation.containers import validate_dns1123_label, validate_local_descending_path
from kybernetes.api.validation.field import Errs, as_int, as_str, child, dicts, index
from kybernetes.api.validation.quantity import QuantityError, parse

FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                   "Socket"]

# (wire field, path name upstream reports when it is a second source)
SOURCES: tuple[tuple[str, str], ...] = (
    ("emptyDir", "emptyDir"), ("hostPath", "hostPath"), ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"), ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"), ("nfs", "nfs"), ("iscsi", "iscsi"), ("glusterfs", "glusterfs"), ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"), ("rbd", "rbd"), ("cinder", "cinder"),
    ("cephfs", "cephFS"), ("quobyte", "quobyte"), ("downwardAPI", "downwarAPI"), ("fc", "fc"),
    ("flexVolume", "flexVolume"), ("configMap", "configMap"), ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"), ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"), ("azureDisk", "azureDisk"), ("storageos", "storageos"),
    ("projected", "projected"), ("scaleIO", "scaleIO"), ("csi", "csi"), ("ephemeral", "ephemeral"),
    ("image", "image"),
)

# Required string fields of the sources checked no further.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "gitRepo": ("repository",), "gcePersistentDisk": ("pdName",), "awsElasticBlockStore": ("volumeID",),
    "iscsi": ("targetPortal", "iqn"), "glusterfs": ("endpoints", "path"), "rbd": ("monitors", "image"),
    "cinder": ("volumeID",), "cephfs": ("monitors",), "quobyte": ("volume",), "flexVolume": ("driver",),
    "azureFile": ("secretName", "shareName"), "azureDisk": ("diskName", "diskURI"),
    "vsphereVolume": ("volumePath",), "photonPersistentDisk": ("pdID",), "portworxVolume": ("volumeID",),
    "csi": ("driver",),
}


def _file_mode(mode: Any, path: str) -> Errs:
    n = as_int(mode)
    if n is not None and not 0 <= n <= 0o777:
        return [errors.invalid_value(path, n, FILE_MODE_MSG)]
    return []


def validate_local_non_reserved_path(target: str, path: str) -> Errs:
    errs = validate_local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(errors.invalid_value(path, target, "must not start with '..'"))
    return errs


def _key_to_paths(items: Any, path: str) -> Errs:
    errs: Errs = []
    for i, kp in enumerate(dicts(items)):
        p = index(path, i)
        if not as_str(kp.get("key")):
            errs.append(errors.required(child(p, "key")))
        target = as_str(kp.get("path"))
        if not target:
            errs.append(errors.required(child(p, "path")))
        errs += validate_local_non_reserved_path(target, child(p, "path"))
        errs += _file_mode(kp.get("mode"), child(p, "mode"))
    return errs


def _downward_api_items(items: Any, path: str) -> Errs:
    errs: Errs = []
    allowed = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"]
    for item in dicts(items):
        target = as_str(item.get("path"))
        if not target:
            errs.append(errors.required(child(path, "path")))
        errs += validate_local_non_reserved_path(target, child(path, "path"))
        field_ref, resource_ref = item.get("fieldRef"), item.get("resourceFieldRef")
        if isinstance(field_ref, dict):
            fp = as_str(field_ref.get("fieldPath"))
            base = fp.split("[", 1)[0]
            if not fp:
                errs.append(errors.required(child(path, "fieldRef", "fieldPath")))
            elif base not in allowed:
                errs.append(errors.not_supported(child(path, "fieldRef", "fieldPath"), fp, allowed))
            if isinstance(resource_ref, dict):
                errs.append(errors.invalid_value(path, "resource",
                                                 "fieldRef and resourceFieldRef can not be specified simultaneously"))
        elif isinstance(resource_ref, dict):
            if not as_str(resource_ref.get("containerName")):
                errs.append(errors.required(child(path, "resourceFieldRef", "containerName")))
        else:
            errs.append(errors.required(path, "one of fieldRef and resourceFieldRef is required"))
        errs += _file_mode(item.get("mode"), child(path, "mode"))
    return errs


def _projected(src: dict[str, Any], path: str) -> Errs:
    errs = _file_mode(src.get("defaultMode"), child(path, "defaultMode"))
    for i, s in enumerate(dicts(src.get("sources"))):
        sp = index(child(path, "sources"), i)
        kinds = [k for k in ("secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle")
                 if isinstance(s.get(k), dict)]
        for k in ("secret", "configMap"):
            if k in kinds:
                errs += _key_to_paths(s[k].get("items"), child(sp, k, "items"))
        if "downwardAPI" in kinds:
            errs += _downward_api_items(s["downwardAPI"].get("items"), child(sp, "downwardAPI"))
        if "serviceAccountToken" in kinds:
            token = s["serviceAccountToken"]
            seconds = as_int(token.get("expirationSeconds"))
            tp = child(sp, "serviceAccountToken", "expirationSeconds")
            if seconds is not None and seconds < 600:
                errs.append(errors.invalid_value(tp, seconds, "may not specify a duration less than 10 minutes"))
            if seconds is not None and seconds > 1 << 32:
                errs.append(errors.invalid_value(tp, seconds, "may not specify a duration larger than 2^32 seconds"))
            if not as_str(token.get("path")):
                errs.append(errors.required(child(path, "path")))
            else:
                errs += validate_local_non_reserved_path(as_str(token.get("path")), child(path, "path"))
        if len(kinds) > 1:
            errs.append(errors.forbidden_field(sp, "may not specify more than 1 volume type"))
    return errs


def _validate_source(kind: str, src: dict[str, Any], path: str) -> Errs:
    errs: Errs = []
    if kind == "emptyDir":
        limit = src.get("sizeLimit")
        if limit is not None:
            try:
                negative = parse(limit).value < 0
            except QuantityError as e:
                return [errors.invalid_value(child(path, "sizeLimit"), str(limit), str(e))]
            if negative:
                errs.append(errors.forbidden_field(child(path, "sizeLimit"),
                                                   "SizeLimit field must be a valid resource quantity"))
    elif kind == "hostPath":
        target = as_str(src.get("path"))
        if not target:
            return [errors.required(child(path, "path"))]
        if ".." in target.split("/"):
            errs.append(errors.invalid_value(child(path, "path"), target, "must not contain '..'"))
        host_type = src.get("type")
        if host_type is not None and host_type not in HOST_PATH_TYPES:
            errs.append(errors.not_supported(child(path, "type"), host_type, HOST_PATH_TYPES))
    elif kind in ("secret", "configMap"):
        name_field = "secretName" if kind == "secret" else "name"
        if not as_str(src.get(name_field)):
            errs.append(errors.required(child(path, name_field)))
        errs += _file_mode(src.get("defaultMode"), child(path, "defaultMode"))
        errs += _key_to_paths(src.get("items"), child(path, "items"))
    elif kind == "persistentVolumeClaim":
        if not as_str(src.get("claimName")):
            errs.append(errors.required(child(path, "claimName")))
    elif kind == "downwardAPI":
        errs += _file_mode(src.get("defaultMode"), child(path, "defaultMode"))
        errs += _downward_api_items(src.get("items"), path)
    elif kind == "projected":
        errs += _projected(src, path)
    elif kind == "nfs":
        server, target = as_str(src.get("server")), as_str(src.get("path"))
        if not server:
            errs.append(errors.required(child(path, "server")))
        if not target:
            errs.append(errors.required(child(path, "path")))
        if not target.startswith("/"):
            errs.append(errors.invalid_value(child(path, "path"), target, "must be an absolute path"))
    else:
        for f in _REQUIRED.get(kind, ()):
            if not src.get(f):
                errs.append(errors.required(child(path, f)))
    return errs


def validate_volumes(volumes: Any, pod_name: str, path: str) -> tuple[set[str], Errs]:
    """Validate ``spec.volumes``; return the names of the volumes that passed."""
    all_errs: Errs = []
    valid: set[str] = set()
    for i, vol in enumerate(dicts(volumes)):
        p = index(path, i)
        name = as_str(vol.get("name"))
        errs: Errs = []
        count = 0
        for field_name, shown in SOURCES:
            src = vol.get(field_name)
            if not isinstance(src, dict):
                continue
            if count:
                errs.append(errors.forbidden_field(child(p, shown), "may not specify more than 1 volume type"))
                continue
            count += 1
            errs += _validate_source(field_name, src, child(p, field_name))
            if field_name == "ephemeral" and pod_name and name:
                pvc = f"{pod_name}-{name}"
                errs += [errors.invalid_value(child(p, "name"), name, f'PVC name "{pvc}": {m}')
                         for m in names.is_dns1123_subdomain(pvc)]
        if count == 0:
            errs.append(errors.required(p, "must specify a volume type"))
        if not name:
            errs.append(errors.required(child(p, "name")))
        else:
            errs += validate_dns1123_label(name, child(p, "name"))
        # only valid volumes count as taken, as upstream does
        if name in valid:
            errs.append(errors.duplicate(child(p, "name"), name))
        if errs:
            all_errs += errs
        else:
            valid.add(name)
    return valid, all_errs
