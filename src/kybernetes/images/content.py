"""Content-addressed blob storage: ``blobs/sha256/<hex>``, the OCI image-layout shape.

Blobs are immutable and named by the sha256 of their bytes. Writes go to a private file under ``ingest/`` and are
renamed into place only after the digest (and the expected digest, when the caller knows it) checks out, so a
reader never sees a partial blob and a crash leaves at most an orphan in ``ingest/`` (swept on open).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from .oci import hex_of, valid_digest


class BlobNotFound(KeyError):
    pass


class DigestMismatch(ValueError):
    pass


class BlobWriter:
    """Streams bytes into the store; `commit` verifies and publishes the blob and returns its digest."""

    def __init__(self, store: ContentStore, expected: str | None) -> None:
        self.store = store
        self.expected = expected
        fd, name = tempfile.mkstemp(dir=store.ingest_dir)
        self._file = os.fdopen(fd, "wb")
        self._path = name
        self._hash = hashlib.sha256()
        self.size = 0
        self.digest = ""

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)
        self._file.write(data)

    def commit(self) -> str:
        digest = "sha256:" + self._hash.hexdigest()
        if self.expected and digest != self.expected:
            self.abort()
            raise DigestMismatch(f"digest mismatch: expected {self.expected}, got {digest}")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.chmod(self._path, 0o444)
        os.replace(self._path, self.store.path(digest))
        self.digest = digest
        return digest

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if not self.digest:
            self.abort()


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs" / "sha256"
        self.ingest_dir = root / "ingest"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)
        layout = root / "oci-layout"
        if not layout.exists():
            layout.write_text('{"imageLayoutVersion":"1.0.0"}')

    def sweep_ingest(self) -> None:
        """Remove half-written blobs left by a crash (only call while holding the store lock)."""
        for p in self.ingest_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def path(self, digest: str) -> Path:
        return self.blob_dir / hex_of(digest)

    def has(self, digest: str) -> bool:
        return valid_digest(digest) and self.path(digest).exists()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def read(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def writer(self, expected: str | None = None) -> BlobWriter:
        return BlobWriter(self, expected)

    def write(self, data: bytes, expected: str | None = None) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected and expected != digest:
            raise DigestMismatch(f"digest mismatch: expected {expected}, got {digest}")
        if self.has(digest):
            return digest
        with self.writer(expected) as w:
            w.write(data)
            return w.commit()

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def digests(self) -> Iterator[str]:
        for p in self.blob_dir.iterdir():
            yield "sha256:" + p.name
