"""Build layer tarballs and images from plain dicts, for the image tests (and any other suite that needs an image).

A layer is a dict from archive path to what goes there, kept in insertion order (the tar's member order matters
for whiteouts and for hostile layers)::

    layer_tar({"etc/": Dir(0o755), "etc/motd": "hello", "bin/sh": Symlink("busybox"), "etc/.wh.old": ""})

A ``str`` or ``bytes`` value is a regular file (mode 0644). Parents are *not* added implicitly: a test that wants
``etc/`` in the tar writes it. `make_image` writes the layers and a config into a store and records the image.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.images import oci
from kybernetes.images.store import Image, ImageStore


@dataclass(frozen=True)
class File:
    data: bytes | str = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    xattrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    mtime: int = 0


@dataclass(frozen=True)
class Symlink:
    target: str
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Hardlink:
    target: str


@dataclass(frozen=True)
class Device:
    major: int
    minor: int
    block: bool = False
    mode: int = 0o666


@dataclass(frozen=True)
class Fifo:
    mode: int = 0o644


Entry = bytes | str | File | Dir | Symlink | Hardlink | Device | Fifo
Layer = dict[str, Entry]

# A small first layer many tests share (so images built on it share a blob and a snapshot).
BASE_LAYER: Layer = {"etc/": Dir(), "etc/os-release": "base\n"}


def _info(name: str, entry: Entry) -> tuple[tarfile.TarInfo, bytes | None]:
    if isinstance(entry, bytes | str):
        entry = File(entry)
    info = tarfile.TarInfo(name)
    info.mtime = 0
    data: bytes | None = None
    if isinstance(entry, File):
        data = entry.data.encode() if isinstance(entry.data, str) else entry.data
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), entry.mode, entry.uid, entry.gid, entry.mtime
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in entry.xattrs.items()}
    elif isinstance(entry, Dir):
        info.type = tarfile.DIRTYPE
        info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, entry.mtime
    elif isinstance(entry, Symlink):
        info.type, info.linkname, info.mode, info.uid, info.gid = tarfile.SYMTYPE, entry.target, 0o777, entry.uid, entry.gid
    elif isinstance(entry, Hardlink):
        info.type, info.linkname = tarfile.LNKTYPE, entry.target
    elif isinstance(entry, Device):
        info.type = tarfile.BLKTYPE if entry.block else tarfile.CHRTYPE
        info.devmajor, info.devminor, info.mode = entry.major, entry.minor, entry.mode
    else:
        info.type, info.mode = tarfile.FIFOTYPE, entry.mode
    return info, data


def layer_tar(files: Layer, compress: bool = False) -> bytes:
    """The layer as tar bytes (PAX, fixed mtimes, no user names): the same dict always gives the same bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, entry in files.items():
            info, data = _info(name, entry)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_for(diff_ids: list[str], **config: Any) -> dict[str, Any]:
    """An image config (``config`` goes into its ``config`` section, e.g. ``Cmd=["sh"]``)."""
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"], **config},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }


def write_layers(store: ImageStore, layers: list[Layer], compress: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """Store each layer blob; return (manifest layer descriptors, DiffIDs)."""
    descs, diff_ids = [], []
    for files in layers:
        raw = layer_tar(files)
        blob = gzip.compress(raw, mtime=0) if compress else raw
        digest = store.content.write(blob)
        media = oci.OCI_LAYER_GZIP if compress else oci.OCI_LAYER
        descs.append({"mediaType": media, "digest": digest, "size": len(blob)})
        diff_ids.append(sha256(raw))
    return descs, diff_ids


def make_image(
    store: ImageStore,
    layers: list[Layer],
    names: list[str] | None = None,
    compress: bool = False,
    **config: Any,
) -> Image:
    """Write ``layers`` and a config (``config`` kwargs go into the config section) and record the image."""
    descs, diff_ids = write_layers(store, layers, compress)
    return store.put_image(config_for(diff_ids, **config), descs, names=names)


def make_pulled_image(store: ImageStore, layers: list[Layer], names: list[str] | None = None, **config: Any) -> Image:
    """An image the way a registry serves it: Docker v2 manifest, gzip layers, config JSON not key-sorted."""
    descs, diff_ids = write_layers(store, layers, compress=True)
    for d in descs:
        d["mediaType"] = oci.DOCKER_LAYER_GZIP
    cfg = config_for(diff_ids, **config)
    config_bytes = orjson.dumps({"rootfs": cfg["rootfs"], "os": "linux", "config": cfg["config"], "architecture": "amd64"},
                                option=orjson.OPT_INDENT_2)
    config_digest = store.content.write(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST,
        "config": {"mediaType": oci.DOCKER_CONFIG, "size": len(config_bytes), "digest": config_digest},
        "layers": descs,
    }
    return store.add_image(orjson.dumps(manifest, option=orjson.OPT_INDENT_2), names=names)
