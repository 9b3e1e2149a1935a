"""The local image store: images, tags, unpacked layer snapshots, leases and garbage collection.

Layout under ``root`` (all of it owned by this module):

* ``blobs/sha256/...`` - manifests, configs and layer tarballs (`content.ContentStore`).
* ``images.json`` - ``images`` (image ID = config digest -> manifest digest, creation time, repo digests) and
  ``tags`` (canonical reference -> image ID). Rewritten atomically under ``lock``.
* ``snapshots/<diffid hex>/fs`` - a layer unpacked once (`layers.unpack_layer`), used read-only as an overlay lower
  directory by every container and build step whose image has that layer. A layer's directory depends only on
  its own diff (whiteouts are overlay whiteouts), so it is keyed by DiffID and shared across images.
* ``leases/<holder>`` - an image ID held by a container or a build; GC never frees what a lease holds.

Removing a tag never deletes data directly: `gc` frees every blob and snapshot no image and no lease reaches.
Untagged images stay as dangling (``<none>``) images, as Docker keeps them, until removed or pruned.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from . import oci, reference
from .content import ContentStore
from .layers import unpack_layer


class ImageError(Exception):
    """A store failure with a one-line message for the user (Docker's wording where there is one)."""


class ImageNotFound(ImageError):
    pass


class ImageConflict(ImageError):
    pass


@dataclass
class Image:
    id: str  # config digest
    manifest_digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    tags: list[str] = field(default_factory=list)  # canonical references
    repo_digests: list[str] = field(default_factory=list)
    created: float = 0.0

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]

    @property
    def layers(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("layers", []))

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.get("rootfs", {}).get("diff_ids", []))

    @property
    def size(self) -> int:
        return sum(int(layer.get("size", 0)) for layer in self.layers)

    @property
    def familiar_tags(self) -> list[str]:
        return [reference.parse(t).familiar for t in self.tags]


def _now() -> float:
    return time.time()


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.content = ContentStore(self.root)
        self.snapshot_dir = self.root / "snapshots"
        self.lease_dir = self.root / "leases"
        self.snapshot_dir.mkdir(exist_ok=True)
        self.lease_dir.mkdir(exist_ok=True)
        self._meta_path = self.root / "images.json"

    # -- locking and metadata -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialize metadata changes across threads and processes (flock on ``root/lock``)."""
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _load(self) -> dict[str, Any]:
        try:
            meta: dict[str, Any] = orjson.loads(self._meta_path.read_bytes())
        except FileNotFoundError:
            meta = {}
        meta.setdefault("images", {})
        meta.setdefault("tags", {})
        return meta

    def _save(self, meta: dict[str, Any]) -> None:
        tmp = self._meta_path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        os.replace(tmp, self._meta_path)

    # -- images ---------------------------------------------------------------------------------------------

    def add_image(self, manifest_bytes: bytes, names: list[str] | None = None, repo_digest: str | None = None) -> Image:
        """Record an image whose manifest's config and layers are already in the content store; tag it."""
        manifest = orjson.loads(manifest_bytes)
        if manifest.get("mediaType") not in (*oci.MANIFEST_TYPES, None) or "config" not in manifest:
            raise ImageError("not an image manifest")
        config_digest = manifest["config"]["digest"]
        for d in [config_digest, *(layer["digest"] for layer in manifest.get("layers", []))]:
            if not self.content.has(d):
                raise ImageError(f"missing blob {d}")
        config = orjson.loads(self.content.read(config_digest))
        if len(config.get("rootfs", {}).get("diff_ids", [])) != len(manifest.get("layers", [])):
            raise ImageError("image config and manifest disagree on the number of layers")
        manifest_digest = self.content.write(manifest_bytes)
        with self.lock():
            meta = self._load()
            rec = meta["images"].setdefault(config_digest, {"created": _now(), "repoDigests": []})
            rec["manifest"] = manifest_digest
            if repo_digest and repo_digest not in rec["repoDigests"]:
                rec["repoDigests"].append(repo_digest)
            for name in names or []:
                meta["tags"][str(reference.parse(name))] = config_digest
            self._save(meta)
            return self._image(meta, config_digest)

    def put_image(self, config: dict[str, Any], layers: list[dict[str, Any]], names: list[str] | None = None) -> Image:
        """Write ``config`` and an OCI manifest for it over ``layers`` (descriptors of stored blobs)."""
        config_bytes = oci.canonical_json(config)
        config_digest = self.content.write(config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "config": {"mediaType": oci.OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": layers,
        }
        return self.add_image(oci.canonical_json(manifest), names)

    def _image(self, meta: dict[str, Any], image_id: str) -> Image:
        rec = meta["images"][image_id]
        manifest = orjson.loads(self.content.read(rec["manifest"]))
        config = orjson.loads(self.content.read(image_id))
        tags = sorted(t for t, i in meta["tags"].items() if i == image_id)
        return Image(image_id, rec["manifest"], manifest, config, tags, list(rec.get("repoDigests", [])), rec.get("created", 0.0))

    def images(self) -> list[Image]:
        meta = self._load()
        return sorted((self._image(meta, i) for i in meta["images"]), key=lambda im: -im.created)

    def get(self, image_id: str) -> Image:
        meta = self._load()
        if image_id not in meta["images"]:
            raise ImageNotFound(f"No such image: {image_id}")
        return self._image(meta, image_id)

    def _lookup(self, meta: dict[str, Any], name: str) -> tuple[str, str | None]:
        """(image ID, canonical tag or None when ``name`` was an ID or digest)."""
        if reference.looks_like_id(name):
            full = name if name.startswith("sha256:") else "sha256:" + name
            if full in meta["images"]:
                return full, None
        try:
            ref = reference.parse(name)
        except reference.ReferenceError_:
            ref = None
        if ref is not None and ref.digest:
            for image_id, rec in meta["images"].items():
                if f"{ref.repository}@{ref.digest}" in rec.get("repoDigests", []) or rec.get("manifest") == ref.digest:
                    return image_id, None
        elif ref is not None and str(ref) in meta["tags"]:
            return meta["tags"][str(ref)], str(ref)
        bare = name.removeprefix("sha256:")
        if reference.is_short_id(bare):
            matches = [i for i in meta["images"] if i.split(":", 1)[1].startswith(bare)]
            if len(matches) == 1:
                return matches[0], None
        if ref is None:
            raise ImageError(f"invalid reference format: {name}")
        raise ImageNotFound(f"No such image: {ref.familiar}")

    def resolve(self, name: str) -> Image:
        meta = self._load()
        image_id, _ = self._lookup(meta, name)
        return self._image(meta, image_id)

    def tag(self, source: str, target: str) -> None:
        ref = reference.parse(target)
        if ref.digest:
            raise ImageError("refusing to create a tag with a digest reference")
        with self.lock():
            meta = self._load()
            image_id, _ = self._lookup(meta, source)
            meta["tags"][str(ref)] = image_id
            self._save(meta)

    def remove(self, name: str, force: bool = False) -> list[str]:
        """Docker's ``rmi``: untag, and delete the image once no tag is left. Returns Docker's report lines."""
        with self.lock():
            meta = self._load()
            image_id, tag = self._lookup(meta, name)
            tags = [t for t, i in meta["tags"].items() if i == image_id]
            users = self._lease_holders(image_id)
            short = image_id.split(":", 1)[1][:12]
            report: list[str] = []
            if tag is not None and len(tags) > 1:
                del meta["tags"][tag]
                self._save(meta)
                return [f"Untagged: {reference.parse(tag).familiar}"]
            if tag is None and len(tags) > 1 and not force:
                raise ImageConflict(
                    f"conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
                )
            if users and not force:
                who = users[0][:12]
                if tag is not None:
                    raise ImageConflict(
                        f"conflict: unable to remove repository reference \"{reference.parse(tag).familiar}\" "
                        f"(must force) - container {who} is using its referenced image {short}"
                    )
                raise ImageConflict(f"conflict: unable to delete {short} (cannot be forced) - image is being used by running container {who}")
            for t in tags:
                del meta["tags"][t]
                report.append(f"Untagged: {reference.parse(t).familiar}")
            for rd in meta["images"][image_id].get("repoDigests", []):
                report.append(f"Untagged: {reference.parse(rd).familiar}")
            if not users:
                del meta["images"][image_id]
                report.append(f"Deleted: {image_id}")
            self._save(meta)
            self._gc_locked(meta)
            return report

    def prune(self) -> list[str]:
        """Remove dangling (untagged, unleased) images."""
        with self.lock():
            meta = self._load()
            gone = [i for i in meta["images"] if i not in meta["tags"].values() and not self._lease_holders(i)]
            for i in gone:
                del meta["images"][i]
            self._save(meta)
            self._gc_locked(meta)
            return [f"Deleted: {i}" for i in gone]

    # -- snapshots ------------------------------------------------------------------------------------------

    def snapshot_path(self, diff_id: str) -> Path:
        return self.snapshot_dir / oci.hex_of(diff_id) / "fs"

    def has_snapshot(self, diff_id: str) -> bool:
        return (self.snapshot_dir / oci.hex_of(diff_id) / "done").exists()

    def layer_dirs(self, image: Image) -> list[Path]:
        """The image's layers as directories, bottom first, unpacking (once, shared) those not unpacked yet.

        A layer that occurs twice (two RUN steps that changed nothing, Docker's empty layers) is given once, at
        its topmost place: overlayfs refuses a directory twice in one mount, and applying a layer again on top
        makes its earlier occurrence irrelevant.
        """
        out = []
        for desc, diff_id in zip(image.layers, image.diff_ids, strict=True):
            if not self.has_snapshot(diff_id):
                self._unpack(desc["digest"], diff_id)
            out.append(self.snapshot_path(diff_id))
        return [d for i, d in enumerate(out) if d not in out[i + 1:]]

    def _unpack(self, blob_digest: str, diff_id: str) -> None:
        final = self.snapshot_dir / oci.hex_of(diff_id)
        lock_fd = os.open(self.snapshot_dir / (oci.hex_of(diff_id) + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            if (final / "done").exists():
                return
            tmp = self.snapshot_dir / f"tmp-{oci.hex_of(diff_id)[:16]}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                with self.content.open(blob_digest) as f:
                    got, size = unpack_layer(f, tmp / "fs")
                if got != diff_id:
                    raise ImageError(f"layer {blob_digest} does not match its DiffID {diff_id} (got {got})")
                (tmp / "size").write_text(str(size))
                (tmp / "done").touch()
                shutil.rmtree(final, ignore_errors=True)
                os.replace(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        finally:
            os.close(lock_fd)

    def add_snapshot(self, diff_id: str, directory: Path) -> Path:
        """Adopt an already-extracted layer directory (the builder's upper dir) as the snapshot of ``diff_id``."""
        final = self.snapshot_dir / oci.hex_of(diff_id)
        if (final / "done").exists():
            shutil.rmtree(directory, ignore_errors=True)
            return final / "fs"
        tmp = self.snapshot_dir / f"tmp-{oci.hex_of(diff_id)[:16]}-{os.getpid()}-adopt"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        os.replace(directory, tmp / "fs")
        (tmp / "done").touch()
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        return final / "fs"

    # -- leases and GC --------------------------------------------------------------------------------------

    def lease(self, holder: str, image_id: str) -> None:
        """Keep ``image_id`` (and its blobs and snapshots) while ``holder`` (a container or build) exists."""
        (self.lease_dir / holder).write_text(image_id)

    def release(self, holder: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.lease_dir / holder).unlink()

    def _lease_holders(self, image_id: str) -> list[str]:
        out = []
        for p in self.lease_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if p.read_text().strip() == image_id:
                    out.append(p.name)
        return sorted(out)

    def gc(self) -> None:
        with self.lock():
            self._gc_locked(self._load())

    def _gc_locked(self, meta: dict[str, Any]) -> None:
        live_images = set(meta["images"])
        for p in self.lease_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                live_images.add(p.read_text().strip())
        keep_blobs: set[str] = set()
        keep_snapshots: set[str] = set()
        for image_id in live_images:
            rec = meta["images"].get(image_id)
            if rec is None or not self.content.has(image_id):
                continue
            keep_blobs.update((image_id, rec["manifest"]))
            with contextlib.suppress(Exception):
                manifest = orjson.loads(self.content.read(rec["manifest"]))
                keep_blobs.update(layer["digest"] for layer in manifest.get("layers", []))
                config = orjson.loads(self.content.read(image_id))
                keep_snapshots.update(oci.hex_of(d) for d in config.get("rootfs", {}).get("diff_ids", []))
        extra_blobs, extra_snapshots = self._extra_roots()
        keep_blobs.update(extra_blobs)
        keep_snapshots.update(oci.hex_of(d) for d in extra_snapshots)
        for d in list(self.content.digests()):
            if d not in keep_blobs:
                self.content.delete(d)
        for p in self.snapshot_dir.iterdir():
            key = p.name.removesuffix(".lock")
            if key not in keep_snapshots and not p.name.startswith("tmp-"):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()

    def _extra_roots(self) -> tuple[set[str], set[str]]:
        """Blobs and snapshots (DiffIDs) kept for the build cache (its index lives in ``buildcache.json``)."""
        path = self.root / "buildcache.json"
        try:
            cache = orjson.loads(path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return set(), set()
        blobs: set[str] = set()
        snapshots: set[str] = set()
        for entry in cache.values():
            blobs.update(entry.get("blobs", []))
            snapshots.update(entry.get("diff_ids", []))
        return blobs, snapshots
