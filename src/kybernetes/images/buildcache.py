"""The build cache: which layer a build step produced, so an unchanged step is not run again.

A build state is (image config, layers). A step that makes a layer (RUN, COPY, ADD) is keyed by
``sha256(parent state key, the instruction's cache text)`` where the cache text carries everything the result
depends on: the command and the build args in its environment for RUN, the sources' content hash, destination,
owner and mode for COPY/ADD. The entry records the layer blob, its DiffID and the time it was made, so a fully
cached rebuild produces an identical image ID (as Docker's classic builder does).

Entries live in ``buildcache.json`` beside the store's metadata; `ImageStore.gc` keeps their blobs and
snapshots. `prune` empties it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import orjson

from .store import ImageStore


@dataclass
class CacheEntry:
    layer: dict[str, Any]  # OCI descriptor of the layer blob
    diff_id: str
    created: str  # RFC 3339


def state_key(config: dict[str, Any], layers: list[dict[str, Any]]) -> str:
    """A stable identity for a build state (config without times + layer digests)."""
    cfg = {k: v for k, v in config.items() if k not in ("created", "history")}
    return hashlib.sha256(orjson.dumps([cfg, [layer["digest"] for layer in layers]], option=orjson.OPT_SORT_KEYS)).hexdigest()


def step_key(parent: str, cache_text: str) -> str:
    return hashlib.sha256(f"{parent}\n{cache_text}".encode()).hexdigest()


class BuildCache:
    def __init__(self, store: ImageStore) -> None:
        self.store = store
        self.path = store.root / "buildcache.json"

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = orjson.loads(self.path.read_bytes())
            return data
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}

    def get(self, key: str) -> CacheEntry | None:
        entry = self._load().get(key)
        if entry is None:
            return None
        layer = entry["layer"]
        if not self.store.content.has(layer["digest"]):
            return None
        return CacheEntry(layer, entry["diff_id"], entry["created"])

    def put(self, key: str, entry: CacheEntry) -> None:
        with self.store.lock():
            data = self._load()
            data[key] = {
                "layer": entry.layer,
                "diff_id": entry.diff_id,
                "created": entry.created,
                "blobs": [entry.layer["digest"]],
                "diff_ids": [entry.diff_id],
            }
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps(data))
            os.replace(tmp, self.path)

    def prune(self) -> int:
        with self.store.lock():
            n = len(self._load())
            if self.path.exists():
                self.path.unlink()
        self.store.gc()
        return n
