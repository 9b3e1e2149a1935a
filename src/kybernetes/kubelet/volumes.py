"""A pod's volumes: what each holds and where containers see it.

Behaviour is upstream's volume plugins (emptyDir, configMap, secret, downwardAPI, projected, hostPath), the
atomic writer and ``makeMounts``; the shape is ours.

* **Plan (pure).**  :func:`plan_volumes` turns ``spec.volumes`` into :class:`VolumePlan` s.  A payload volume
  (configMap, secret, downwardAPI, projected) is a map of relative path -> :class:`FileSpec` (bytes and mode,
  ``defaultMode`` 0644 unless the item or volume says otherwise); with no ``items`` every key becomes a file.
  Secret data is base64-decoded, ConfigMap ``binaryData`` included.  A missing object or key is an error unless
  ``optional`` (then the object reads as empty).  Projected ``serviceAccountToken`` sources write the token the
  caller fetched for that audience (:func:`token_requests` lists them).  emptyDir carries ``medium`` (``Memory``:
  the doer backs it with tmpfs) and ``sizeLimit`` in bytes; hostPath carries its path and type.
* **Errors** are :class:`VolumeError` with upstream's text (``configmap references non-existent config key:
  k``); the kubelet reports ``MountVolume.SetUp failed for volume "v" : <text>`` (:func:`mount_failed_message`).
* **Mounts (pure).**  :func:`container_mounts` maps a container's ``volumeMounts`` to runtime
  :class:`~kybernetes.runtime.api.Mount` s: bind mounts of the volume's host directory (joined with
  ``subPath`` / expanded ``subPathExpr``, which must be relative and free of ``..``), read-only when the mount
  asks or the volume is a payload volume.  Memory-backed emptyDirs are bind mounts too: the tmpfs is mounted
  once on the host directory so every container of the pod shares it.
* **Doing.**  :func:`write_payload` writes a payload atomically (upstream's layout: a hidden timestamped
  directory, a ``..data`` symlink swapped by rename, one user-visible symlink per top-level entry), so a
  reader sees the old or the new set, never a mix.  :func:`check_host_path` applies the hostPath type rules to
  what is on the disk (creating a directory or file for the ``*OrCreate`` types).
"""

from __future__ import annotations

import base64
import binascii
import os
import posixpath
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.api.validation.quantity import QuantityError, parse_quantity
from kybernetes.kubelet.envvars import EnvError, Lookup, expand, field_ref_value, resource_field_ref_value
from kybernetes.runtime.api import Mount

DEFAULT_MODE = 0o644
PAYLOAD_KINDS = ("configMap", "secret", "downwardAPI", "projected")
KINDS = ("emptyDir", "hostPath", *PAYLOAD_KINDS)
PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
                   "BlockDevice")
DATA_DIR = "..data"


class VolumeError(ValueError):
    """A volume cannot be set up; ``str(e)`` is upstream's message, ``volume`` the volume's name when known."""

    def __init__(self, message: str, volume: str = ""):
        super().__init__(message)
        self.volume = volume


@dataclass(frozen=True)
class FileSpec:
    content: bytes
    mode: int = DEFAULT_MODE


@dataclass(frozen=True)
class VolumePlan:
    name: str
    kind: str
    files: dict[str, FileSpec] = field(default_factory=dict)
    medium: str = ""
    size_limit: int | None = None
    host_path: str = ""
    host_path_type: str = ""

    @property
    def read_only(self) -> bool:
        """Payload volumes are always mounted read-only."""
        return self.kind in PAYLOAD_KINDS


@dataclass(frozen=True)
class Sources:
    """Where payloads come from: object lookups by name, node allocatable, tokens by audience."""

    configmap: Lookup
    secret: Lookup
    node_allocatable: Mapping[str, Any] = field(default_factory=dict)
    tokens: Mapping[str, str] = field(default_factory=dict)  # audience ("" = the API server's) -> token


def mount_failed_message(volume: str, error: str) -> str:
    return f'MountVolume.SetUp failed for volume "{volume}" : {error}'


def _kind(volume: Mapping[str, Any]) -> str:
    for kind in KINDS:
        if volume.get(kind) is not None:
            return kind
    other = sorted(k for k in volume if k != "name")
    raise VolumeError(f"volume type {other[0] if other else 'unknown'!s} is not supported")


def _object_data(kind: str, name: str, obj: Mapping[str, Any] | None, optional: bool) -> dict[str, bytes]:
    if obj is None:
        if optional:
            return {}
        raise VolumeError(f'{kind} "{name}" not found')
    if kind == "secret":
        out = {}
        for k, v in (obj.get("data") or {}).items():
            try:
                out[k] = base64.b64decode(v or "", validate=True)
            except (binascii.Error, ValueError):
                raise VolumeError(f"invalid base64 data for key {k} in secret {name}") from None
        return out
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    for k, v in (obj.get("binaryData") or {}).items():
        data[k] = base64.b64decode(v or "")
    return data


def _payload(kind: str, source: Mapping[str, Any], sources: Sources, default_mode: int) -> dict[str, FileSpec]:
    name = str((source.get("name") if kind == "configmap" else source.get("secretName") or source.get("name")) or "")
    optional = bool(source.get("optional"))
    lookup = sources.configmap if kind == "configmap" else sources.secret
    data = _object_data(kind, name, lookup(name), optional)
    items = source.get("items") or []
    if not items:
        return {k: FileSpec(v, default_mode) for k, v in sorted(data.items())}
    out = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == "configmap" else (
                "references non-existent secret key")
            raise VolumeError(f"{what}: {key}")
        out[str(item.get("path", key))] = FileSpec(data[key], item.get("mode", default_mode))
    return out


def _downward(pod: Mapping[str, Any], items: Sequence[Mapping[str, Any]], sources: Sources,
              default_mode: int) -> dict[str, FileSpec]:
    out = {}
    for item in items:
        try:
            if item.get("fieldRef") is not None:
                value = field_ref_value(pod, item["fieldRef"])
            elif item.get("resourceFieldRef") is not None:
                ref = item["resourceFieldRef"]
                value = resource_field_ref_value(pod, {}, ref, sources.node_allocatable)
            else:
                continue
        except EnvError as e:
            raise VolumeError(str(e)) from None
        out[str(item.get("path", ""))] = FileSpec(value.encode(), item.get("mode", default_mode))
    return out


def _projected(pod: Mapping[str, Any], source: Mapping[str, Any], sources: Sources) -> dict[str, FileSpec]:
    mode = source.get("defaultMode", DEFAULT_MODE)
    out: dict[str, FileSpec] = {}
    errors: list[str] = []
    for s in source.get("sources") or []:
        try:
            if s.get("configMap") is not None:
                out.update(_payload("configmap", s["configMap"], sources, mode))
            elif s.get("secret") is not None:
                out.update(_payload("secret", s["secret"], sources, mode))
            elif s.get("downwardAPI") is not None:
                out.update(_downward(pod, s["downwardAPI"].get("items") or [], sources, mode))
            elif s.get("serviceAccountToken") is not None:
                tok = s["serviceAccountToken"]
                audience = str(tok.get("audience") or "")
                if audience not in sources.tokens:
                    raise VolumeError(f'no service account token for audience "{audience}"')
                out[str(tok.get("path", "token"))] = FileSpec(sources.tokens[audience].encode(), mode)
        except VolumeError as e:
            errors.append(str(e))
    if errors:
        raise VolumeError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return out


def token_requests(pod: Mapping[str, Any]) -> list[tuple[str, int]]:
    """``(audience, expirationSeconds)`` of every projected token the pod's volumes need, in order, once each."""
    seen: list[tuple[str, int]] = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for s in (volume.get("projected") or {}).get("sources") or []:
            tok = s.get("serviceAccountToken")
            if tok is not None:
                req = (str(tok.get("audience") or ""), int(tok.get("expirationSeconds") or 3600))
                if req not in seen:
                    seen.append(req)
    return seen


def plan_volume(pod: Mapping[str, Any], volume: Mapping[str, Any], sources: Sources) -> VolumePlan:
    name, kind = str(volume.get("name", "")), _kind(volume)
    src = volume[kind]
    if kind == "emptyDir":
        limit = None
        if src.get("sizeLimit") not in (None, ""):
            try:
                limit = int(parse_quantity(src["sizeLimit"]))
            except QuantityError as e:
                raise VolumeError(str(e)) from None
        return VolumePlan(name, kind, medium=str(src.get("medium") or ""), size_limit=limit)
    if kind == "hostPath":
        path_type = str(src.get("type") or "")
        if path_type not in HOST_PATH_TYPES:
            raise VolumeError(f"{path_type} is an invalid volume type")
        return VolumePlan(name, kind, host_path=str(src.get("path", "")), host_path_type=path_type)
    mode = src.get("defaultMode", DEFAULT_MODE)
    if kind == "configMap":
        files = _payload("configmap", src, sources, mode)
    elif kind == "secret":
        files = _payload("secret", src, sources, mode)
    elif kind == "downwardAPI":
        files = _downward(pod, src.get("items") or [], sources, mode)
    else:
        files = _projected(pod, src, sources)
    return VolumePlan(name, kind, files=files)


def plan_volumes(pod: Mapping[str, Any], sources: Sources) -> dict[str, VolumePlan]:
    """Every volume of the pod by name; the :class:`VolumeError` of the first that fails names it."""
    plans = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = str(volume.get("name", ""))
        try:
            plans[name] = plan_volume(pod, volume, sources)
        except VolumeError as e:
            e.volume = name
            raise
    return plans


def volume_host_dir(pod_dir: str, plan: VolumePlan) -> str:
    """``<pod_dir>/volumes/kubernetes.io~<plugin>/<name>``; a hostPath volume is its own path."""
    if plan.kind == "hostPath":
        return plan.host_path
    return posixpath.join(pod_dir, "volumes", PLUGIN_DIRS[plan.kind], plan.name)


# -- container mounts --------------------------------------------------------------------------------------


def _sub_path(mount: Mapping[str, Any], env: Mapping[str, str]) -> str:
    sub = str(mount.get("subPath") or "")
    if mount.get("subPathExpr"):
        missing: set[str] = set()

        def lookup(name: str) -> str:
            if not env.get(name):
                missing.add(name)
            return env.get(name, "")

        sub = expand(str(mount["subPathExpr"]), lookup)
        if missing:
            raise VolumeError(f"missing value for {', '.join(sorted(missing))}")
    if sub:
        if sub.startswith("/"):
            raise VolumeError(f"error SubPath `{sub}` must not be an absolute path")
        if ".." in sub.split("/"):
            raise VolumeError(f"unable to provision SubPath `{sub}`: must not contain '..'")
    return sub


def container_mounts(container: Mapping[str, Any], plans: Mapping[str, VolumePlan], pod_dir: str,
                     env: Mapping[str, str] | None = None) -> list[Mount]:
    """The runtime mounts of ``container``'s ``volumeMounts`` (``env``: its resolved variables, for subPathExpr)."""
    out = []
    for m in container.get("volumeMounts") or []:
        plan = plans.get(m.get("name", ""))
        if plan is None:
            raise VolumeError(f'cannot find volume "{m.get("name", "")}" to mount into container '
                              f'"{container.get("name", "")}"')
        host = volume_host_dir(pod_dir, plan)
        sub = _sub_path(m, env or {})
        if sub:
            host = posixpath.join(host, sub)
        out.append(Mount(container_path=str(m.get("mountPath", "")), host_path=host,
                         readonly=bool(m.get("readOnly")) or plan.read_only, kind="bind"))
    return out


# -- doing: files on disk ----------------------------------------------------------------------------------


def write_payload(target: str | Path, files: Mapping[str, FileSpec]) -> None:
    """Make ``target`` show exactly ``files``, switching from any previous payload in one rename."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for rel in files:
        if rel.startswith("/") or ".." in rel.split("/") or not rel or rel.startswith(".."):
            raise VolumeError(f"invalid path {rel!r}")
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    fresh = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    for rel, spec in files.items():
        path = fresh / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.content)
        path.chmod(spec.mode)
    fresh.chmod(0o755)
    data_link = target / DATA_DIR
    old = os.readlink(data_link) if data_link.is_symlink() else None
    tmp_link = target / "..data_tmp"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    os.symlink(fresh.name, tmp_link)
    os.replace(tmp_link, data_link)
    tops = {rel.split("/", 1)[0] for rel in files}
    for entry in target.iterdir():
        if not entry.name.startswith("..") and entry.is_symlink() and entry.name not in tops:
            entry.unlink()
    for top in sorted(tops):
        link = target / top
        if not link.is_symlink():
            os.symlink(posixpath.join(DATA_DIR, top), link)
    if old and old != fresh.name:
        shutil.rmtree(target / old, ignore_errors=True)


def host_path_kind(path: str) -> str | None:
    """``dir``, ``file``, ``socket``, ``char``, ``block``, ``other``, or None when nothing is there."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    for test, kind in ((stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block")):
        if test(mode):
            return kind
    return "other"


_EXPECTED = {"Directory": ("dir", "a directory"), "File": ("file", "a file"), "Socket": ("socket", "a socket file"),
             "CharDevice": ("char", "a character device"), "BlockDevice": ("block", "a block device")}


def host_path_action(path: str, path_type: str, kind: str | None) -> str:
    """Pure rule: ``""`` (fine), ``mkdir`` or ``touch`` for what is (``kind``) at ``path``; raises when wrong."""
    if path_type == "DirectoryOrCreate":
        if kind is None:
            return "mkdir"
        path_type = "Directory"
    elif path_type == "FileOrCreate":
        if kind is None:
            return "touch"
        path_type = "File"
    if not path_type:
        return ""
    if path_type not in _EXPECTED:
        raise VolumeError(f"{path_type} is an invalid volume type")
    want, words = _EXPECTED[path_type]
    if kind != want:
        raise VolumeError(f"hostPath type check failed: {path} is not {words}")
    return ""


def check_host_path(plan: VolumePlan) -> None:
    """Check (and for the ``*OrCreate`` types create) a hostPath volume's path on this host."""
    action = host_path_action(plan.host_path, plan.host_path_type, host_path_kind(plan.host_path))
    if action == "mkdir":
        os.makedirs(plan.host_path, mode=0o755, exist_ok=True)
    elif action == "touch":
        fd = os.open(plan.host_path, os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
