"""OCI and Docker media types, descriptors and digests: the vocabulary every other module of `images/` speaks."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

# The annotation an OCI image layout's index.json uses to name an image.
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
# What containerd and Docker put beside it for the full reference.
CONTAINERD_IMAGE_NAME = "io.containerd.image.name"

_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def digest_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def valid_digest(d: str) -> bool:
    return bool(_DIGEST_RE.fullmatch(d))


def hex_of(digest: str) -> str:
    if not valid_digest(digest):
        raise ValueError(f"invalid digest {digest!r}")
    return digest.split(":", 1)[1]


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_bytes(data), "size": len(data), **extra}


def canonical_json(obj: Any) -> bytes:
    """Stable bytes for documents we author (sorted keys), so the same content gets the same digest."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainIDs: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else digest_bytes(f"{out[-1]} {d}".encode()))
    return out


def platform_matches(platform: dict[str, Any] | None, os_: str = "linux", arch: str = "amd64") -> bool:
    if not platform:
        return False
    return platform.get("os") == os_ and platform.get("architecture") == arch and platform.get("variant") in (None, "", "v1")
