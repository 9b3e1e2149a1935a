"""The content store: blobs by digest, verified before they become visible, nothing half-written left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kybernetes.images.content import BlobNotFound, ContentStore, DigestMismatch
from kybernetes.images.oci import digest_bytes

DATA = b"hello, blob\n"
OTHER = "sha256:" + "0" * 64


@pytest.fixture
def content(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_layout_on_open(content: ContentStore) -> None:
    assert (content.root / "oci-layout").read_text() == '{"imageLayoutVersion":"1.0.0"}'
    assert content.blob_dir == content.root / "blobs" / "sha256"
    assert _files(content.blob_dir) == []
    assert _files(content.ingest_dir) == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(DATA, id="small"),
        pytest.param(os.urandom(3 << 20), id="3MiB"),
    ],
)
def test_write_read_has(content: ContentStore, data: bytes) -> None:
    digest = content.write(data)
    assert digest == digest_bytes(data)
    assert content.has(digest)
    assert content.read(digest) == data
    assert content.size(digest) == len(data)
    with content.open(digest) as f:
        assert f.read() == data
    assert content.path(digest) == content.blob_dir / digest.split(":")[1]
    assert stat.S_IMODE(content.path(digest).stat().st_mode) == 0o444
    assert list(content.digests()) == [digest]
    assert _files(content.ingest_dir) == []


def test_write_with_the_right_expected_digest(content: ContentStore) -> None:
    assert content.write(DATA, expected=digest_bytes(DATA)) == digest_bytes(DATA)


def test_write_is_idempotent(content: ContentStore) -> None:
    first = content.write(DATA)
    inode = content.path(first).stat().st_ino
    assert content.write(DATA) == first
    assert content.path(first).stat().st_ino == inode
    assert list(content.digests()) == [first]


def test_write_digest_mismatch_leaves_nothing(content: ContentStore) -> None:
    with pytest.raises(DigestMismatch, match=f"expected {OTHER}, got {digest_bytes(DATA)}"):
        content.write(DATA, expected=OTHER)
    assert _files(content.blob_dir) == []
    assert _files(content.ingest_dir) == []
    assert not content.has(OTHER)
    assert not content.has(digest_bytes(DATA))


def test_writer_streams_and_commits(content: ContentStore) -> None:
    with content.writer() as w:
        for chunk in (b"a" * 1000, b"b" * 1000, b""):
            w.write(chunk)
        assert _files(content.blob_dir) == []  # invisible until committed
        assert len(_files(content.ingest_dir)) == 1
        digest = w.commit()
    assert w.size == 2000
    assert w.digest == digest == digest_bytes(b"a" * 1000 + b"b" * 1000)
    assert content.read(digest) == b"a" * 1000 + b"b" * 1000
    assert _files(content.ingest_dir) == []


def test_writer_digest_mismatch_leaves_nothing(content: ContentStore) -> None:
    with pytest.raises(DigestMismatch), content.writer(expected=OTHER) as w:
        w.write(DATA)
        w.commit()
    assert _files(content.blob_dir) == []
    assert _files(content.ingest_dir) == []


def test_writer_aborted_by_an_exception_leaves_nothing(content: ContentStore) -> None:
    with pytest.raises(RuntimeError, match="network went away"), content.writer() as w:
        w.write(DATA)
        raise RuntimeError("network went away")
    assert _files(content.blob_dir) == []
    assert _files(content.ingest_dir) == []


def test_writer_not_committed_leaves_nothing(content: ContentStore) -> None:
    with content.writer() as w:
        w.write(DATA)
    assert w.digest == ""
    assert _files(content.blob_dir) == []
    assert _files(content.ingest_dir) == []


def test_sweep_ingest_removes_orphans(content: ContentStore) -> None:
    (content.ingest_dir / "tmpcrash").write_bytes(b"half a blob")
    content.sweep_ingest()
    assert _files(content.ingest_dir) == []


@pytest.mark.parametrize("op", ["read", "size", "open"])
def test_missing_blob(content: ContentStore, op: str) -> None:
    with pytest.raises(BlobNotFound) as e:
        getattr(content, op)(OTHER)
    assert e.value.args == (OTHER,)


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param("sha256:../../oci-layout", id="path-traversal"),
        pytest.param("sha256:abc", id="short"),
        pytest.param("", id="empty"),
    ],
)
def test_has_is_false_for_invalid_digests(content: ContentStore, digest: str) -> None:
    assert content.has(digest) is False


def test_path_refuses_invalid_digests(content: ContentStore) -> None:
    with pytest.raises(ValueError, match="invalid digest"):
        content.path("sha256:../../oci-layout")


def test_delete(content: ContentStore) -> None:
    digest = content.write(DATA)
    content.delete(digest)
    assert not content.has(digest)
    content.delete(digest)  # a second delete is a no-op


def test_reopen_sees_blobs(content: ContentStore) -> None:
    digest = content.write(DATA)
    again = ContentStore(content.root)
    assert again.read(digest) == DATA
