"""Image archives in and out: ``docker save`` tarballs and OCI image layouts, both ways.

Export writes one tar that both kinds of reader accept, as Docker 25+ does: an OCI image layout
(``oci-layout``, ``index.json``, ``blobs/sha256/...``) plus Docker's ``manifest.json`` whose ``Config`` and
``Layers`` point into the same blobs. Import reads either: a ``manifest.json`` (Docker, old ``<id>/layer.tar``
layout or new) or an ``index.json`` (OCI; names from the ``io.containerd.image.name`` or
``org.opencontainers.image.ref.name`` annotations). When both are there (our own exports, Docker 25+), the OCI index
wins, as in containerd: its manifests are kept byte for byte, so image IDs and manifest digests survive a round
trip. Every blob is digest-checked on the way in, and an image is recorded only after all of its blobs are stored,
so a broken archive leaves no half image.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from pathlib import Path
from typing import IO, Any

import orjson

from . import oci, reference
from .content import DigestMismatch
from .store import Image, ImageError, ImageStore


def export_images(store: ImageStore, names: list[str], out: IO[bytes]) -> list[Image]:
    images: list[tuple[Image, list[str]]] = []
    for name in names:
        image = store.resolve(name)
        ref = None
        try:
            parsed = reference.parse(name)
            if not parsed.digest and str(parsed) in image.tags:  # a name, not an ID that also parses as one
                ref = str(parsed)
        except reference.ReferenceError_:
            pass
        existing = next((pair for pair in images if pair[0].id == image.id), None)
        refs = [ref] if ref else list(image.tags)
        if existing:
            existing[1].extend(r for r in refs if r not in existing[1])
        else:
            images.append((image, refs))
    now = int(time.time())
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:

        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = now
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))

        def add_dir(name: str) -> None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = now
            tar.addfile(info)

        add_dir("blobs")
        add_dir("blobs/sha256")
        written: set[str] = set()
        for image, _ in images:
            for digest in [*(layer["digest"] for layer in image.layers), image.id, image.manifest_digest]:
                if digest in written:
                    continue
                written.add(digest)
                info = tarfile.TarInfo(f"blobs/sha256/{oci.hex_of(digest)}")
                info.size = store.content.size(digest)
                info.mtime = now
                info.mode = 0o444
                with store.content.open(digest) as f:
                    tar.addfile(info, f)
        add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        manifests = []
        docker_manifest = []
        repositories: dict[str, dict[str, str]] = {}
        for image, refs in images:
            desc = {
                "mediaType": image.manifest.get("mediaType", oci.OCI_MANIFEST),
                "digest": image.manifest_digest,
                "size": store.content.size(image.manifest_digest),
            }
            for r in refs or [""]:
                entry = dict(desc)
                if r:
                    parsed = reference.parse(r)
                    entry["annotations"] = {oci.CONTAINERD_IMAGE_NAME: r, oci.REF_NAME_ANNOTATION: parsed.tag}
                    repositories.setdefault(parsed.familiar_repository, {})[parsed.tag] = oci.hex_of(image.layers[-1]["digest"]) if image.layers else ""
                manifests.append(entry)
            docker_manifest.append({
                "Config": f"blobs/sha256/{oci.hex_of(image.id)}",
                "RepoTags": [reference.parse(r).familiar for r in refs],
                "Layers": [f"blobs/sha256/{oci.hex_of(layer['digest'])}" for layer in image.layers],
            })
        add_bytes("index.json", orjson.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": manifests}))
        add_bytes("manifest.json", orjson.dumps(docker_manifest))
        if repositories:
            add_bytes("repositories", orjson.dumps(repositories))
    return [image for image, _ in images]


class _Archive:
    """Random access to the members of an archive file (read once into an index of offsets)."""

    def __init__(self, path: Path) -> None:
        self.tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 - closed by import_archive
        self.members = {m.name.lstrip("./").rstrip("/"): m for m in self.tar.getmembers()}

    def read(self, name: str) -> bytes:
        f = self.open(name)
        return f.read()

    def open(self, name: str) -> IO[bytes]:
        m = self.members.get(name.lstrip("./"))
        if m is not None and m.issym():  # docker save links a layer it already wrote: ../<v1 id>/layer.tar
            m = self.members.get(posixpath.normpath(posixpath.join(posixpath.dirname(name), m.linkname)))
        if m is None or not m.isfile():
            raise ImageError(f"invalid archive: {name} is missing")
        f = self.tar.extractfile(m)
        assert f is not None
        return f

    def has(self, name: str) -> bool:
        return name.lstrip("./") in self.members


def _store_member(store: ImageStore, arc: _Archive, name: str, expected: str | None = None) -> str:
    src = arc.open(name)
    with store.content.writer(expected) as w:
        while chunk := src.read(1 << 20):
            w.write(chunk)
        try:
            return w.commit()
        except DigestMismatch as e:
            raise ImageError(f"invalid archive: {name}: {e}") from None


def _layer_media_type(store: ImageStore, digest: str) -> str:
    with store.content.open(digest) as f:
        head = f.read(2)
    return oci.OCI_LAYER_GZIP if head == b"\x1f\x8b" else oci.OCI_LAYER


def import_archive(store: ImageStore, path: Path) -> list[str]:
    """Load every image of a ``docker save`` or OCI archive; returns Docker's ``Loaded image: X`` lines."""
    try:
        arc = _Archive(path)
    except FileNotFoundError:
        raise  # the CLI says Docker's "open X: no such file or directory"
    except tarfile.ReadError:
        raise ImageError("invalid archive: not a tar archive") from None
    except (tarfile.TarError, OSError) as e:
        raise ImageError(f"invalid archive: {e}") from None
    with arc.tar:
        if arc.has("index.json"):
            return _import_oci(store, arc)
        if arc.has("manifest.json"):
            return _import_docker(store, arc)
    raise ImageError("invalid archive: neither manifest.json nor index.json found")


def _import_docker(store: ImageStore, arc: _Archive) -> list[str]:
    try:
        entries: list[dict[str, Any]] = orjson.loads(arc.read("manifest.json"))
    except orjson.JSONDecodeError as e:
        raise ImageError(f"invalid archive: manifest.json: {e}") from None
    report = []
    for entry in entries:
        # The config blob is kept as Docker wrote it: its digest is the image ID (``<id>.json`` in old archives).
        config_digest = _store_member(store, arc, entry["Config"])
        layers = []
        for layer_path in entry.get("Layers", []):
            digest = _store_member(store, arc, layer_path)
            layers.append({"mediaType": _layer_media_type(store, digest), "digest": digest, "size": store.content.size(digest)})
        manifest = {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "config": {"mediaType": oci.OCI_CONFIG, "digest": config_digest, "size": store.content.size(config_digest)},
            "layers": layers,
        }
        image = store.add_image(oci.canonical_json(manifest), names=list(entry.get("RepoTags") or []))
        tags = entry.get("RepoTags") or []
        report += [f"Loaded image: {t}" for t in tags] or [f"Loaded image ID: {image.id}"]
    return report


def _import_oci(store: ImageStore, arc: _Archive) -> list[str]:
    index = orjson.loads(arc.read("index.json"))
    report = []
    skipped = False
    for desc in index.get("manifests", []):
        if desc.get("platform") and not oci.platform_matches(desc["platform"]):
            skipped = True  # a layout listing each platform's manifest directly: take ours only
            continue
        annotations = desc.get("annotations") or {}
        name = annotations.get(oci.CONTAINERD_IMAGE_NAME) or ""
        ref_name = annotations.get(oci.REF_NAME_ANNOTATION) or ""
        if not name and ref_name and not reference.is_short_id(ref_name):
            name = ref_name if ("/" in ref_name or ":" in ref_name) else ""
        manifest_digest = desc["digest"]
        manifest_bytes = arc.read(f"blobs/sha256/{oci.hex_of(manifest_digest)}")
        if oci.digest_bytes(manifest_bytes) != manifest_digest:
            raise ImageError(f"invalid archive: manifest {manifest_digest} does not match its digest")
        manifest = orjson.loads(manifest_bytes)
        if manifest.get("mediaType") in oci.INDEX_TYPES or "manifests" in manifest:
            chosen = next((m for m in manifest["manifests"] if oci.platform_matches(m.get("platform"))), None)
            if chosen is None:
                raise ImageError("no matching manifest for linux/amd64 in the manifest list entries")
            manifest_digest = chosen["digest"]
            manifest_bytes = arc.read(f"blobs/sha256/{oci.hex_of(manifest_digest)}")
            if oci.digest_bytes(manifest_bytes) != manifest_digest:
                raise ImageError(f"invalid archive: manifest {manifest_digest} does not match its digest")
            manifest = orjson.loads(manifest_bytes)
        for d in [manifest["config"]["digest"], *(layer["digest"] for layer in manifest.get("layers", []))]:
            if not store.content.has(d):
                _store_member(store, arc, f"blobs/sha256/{oci.hex_of(d)}", expected=d)
        image = store.add_image(manifest_bytes, names=[name] if name else [])
        report.append(f"Loaded image: {reference.parse(name).familiar}" if name else f"Loaded image ID: {image.id}")
    if not report and skipped:
        raise ImageError("no matching manifest for linux/amd64 in the manifest list entries")
    return report
