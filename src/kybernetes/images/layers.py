"""Layer tarballs <-> directories.

`unpack_layer` extracts one layer (gzip, zstd-less plain tar) into a directory that an overlay mount uses as a
lower layer. Every path is resolved inside the destination the way a chroot would resolve it (symlinks in the
layer are followed but clamped to the root), so a hostile layer cannot write outside it. Whiteouts are turned
into overlayfs form: ``.wh.NAME`` becomes a 0/0 character device ``NAME`` and ``.wh..wh..opq`` sets the
``trusted.overlay.opaque`` xattr on its directory. The uncompressed stream is hashed on the way: its sha256 is
the layer's DiffID, which the caller checks against the image config.

`diff_to_tar` does the reverse for the builder: it writes the upper directory of an overlay (what a RUN step
changed) as a layer tarball, with overlay whiteouts turned back into ``.wh.`` entries.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from kybernetes.runtime import paths
from kybernetes.runtime.api import RuntimeError_

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
IS_ROOT = os.geteuid() == 0


class LayerError(Exception):
    pass


class _HashingReader(io.RawIOBase):
    """Reads through ``src`` while hashing and counting what passes."""

    def __init__(self, src: IO[bytes]) -> None:
        self.src = src
        self.hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.src.read(len(b))
        n = len(data)
        b[:n] = data
        self.hash.update(data)
        self.size += n
        return n


def open_decompressed(f: BinaryIO) -> IO[bytes]:
    """Sniff the compression (gzip or none) and return a stream of the tar bytes."""
    head = f.read(4)
    f.seek(-len(head), os.SEEK_CUR)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if head == b"\x28\xb5\x2f\xfd":
        raise LayerError("zstd-compressed layers are not supported")
    return f


def secure_join(root: str, name: str, follow_last: bool = False) -> str:
    """`runtime.paths.secure_join` with this module's error (the last component is not followed by default)."""
    try:
        return paths.secure_join(root, name, follow_last)
    except RuntimeError_ as e:
        raise LayerError(str(e)) from None


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _apply_meta(path: str, m: tarfile.TarInfo) -> None:
    if IS_ROOT:
        with contextlib.suppress(OSError):
            os.lchown(path, m.uid, m.gid)
    if not m.issym():
        os.chmod(path, m.mode & 0o7777)
        with contextlib.suppress(OSError):
            os.utime(path, (m.mtime, m.mtime))
    for key, value in m.pax_headers.items():
        if key.startswith("SCHILY.xattr.") and IS_ROOT:
            with contextlib.suppress(OSError):
                os.setxattr(path, key[len("SCHILY.xattr.") :], value.encode("utf-8", "surrogateescape"), follow_symlinks=False)


def unpack_layer(src: BinaryIO, dest: Path) -> tuple[str, int]:
    """Extract a (possibly gzip-compressed) layer tar into ``dest``; return (DiffID, uncompressed size)."""
    dest.mkdir(parents=True, exist_ok=True)
    root = str(dest)
    hashing = _HashingReader(open_decompressed(src))
    buffered = io.BufferedReader(hashing, 1 << 20)
    dirs: list[tuple[str, tarfile.TarInfo]] = []
    try:
        with tarfile.open(fileobj=buffered, mode="r|") as tar:
            for m in tar:
                _extract_member(tar, m, root, dirs)
        # Hash the tar's trailing padding too: the DiffID covers the whole uncompressed stream (and a gzip
        # stream's CRC is only checked at its end).
        while buffered.read(1 << 20):
            pass
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib_error()) as e:
        raise LayerError(f"invalid layer archive: {e}") from None
    # Directory times and modes last, so creating their entries does not disturb them. Resolved again: a later
    # entry may have replaced the directory (or a parent) with a symlink, and chmod/utime follow symlinks.
    for name, m in reversed(dirs):
        path = secure_join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            _apply_meta(path, m)
    return "sha256:" + hashing.hash.hexdigest(), hashing.size


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def _extract_member(tar: tarfile.TarFile, m: tarfile.TarInfo, root: str, dirs: list[tuple[str, tarfile.TarInfo]]) -> None:
    # Cleaned lexically first (as containerd does), so no base name is ".." or ".": "a/../.." is the root.
    name = posixpath.normpath("/" + m.name).lstrip("/")
    if not name:
        if m.isdir():
            dirs.append(("", m))
        return
    base = posixpath.basename(name)
    parent = secure_join(root, posixpath.dirname(name), follow_last=True)
    # Whiteouts hide what *lower* layers have; files of this same layer stay whatever the entry order
    # (OCI image-spec, layer.md), and each layer is unpacked into its own directory, so nothing is removed here.
    if base == OPAQUE_MARKER:
        os.makedirs(parent, exist_ok=True)
        if IS_ROOT:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
        return
    if base.startswith(WHITEOUT_PREFIX):
        hidden = base[len(WHITEOUT_PREFIX) :]
        if hidden in ("", ".", ".."):
            raise LayerError(f"invalid whiteout name {m.name}")
        target = os.path.join(parent, hidden)
        os.makedirs(parent, exist_ok=True)
        if IS_ROOT and not os.path.lexists(target):
            os.mknod(target, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
        return
    os.makedirs(parent, exist_ok=True)
    path = os.path.join(parent, base)
    if m.isdir():
        if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
            _remove(path)
        os.makedirs(path, exist_ok=True)
        dirs.append((name, m))
        return
    if os.path.lexists(path):
        _remove(path)
    if m.isreg():
        fobj = tar.extractfile(m)
        assert fobj is not None
        with open(path, "wb") as out:
            while chunk := fobj.read(1 << 20):
                out.write(chunk)
    elif m.issym():
        os.symlink(m.linkname, path)
    elif m.islnk():
        target = secure_join(root, m.linkname.lstrip("/"))
        try:
            os.link(target, path)
        except OSError as e:
            raise LayerError(f"invalid hard link {m.name} -> {m.linkname}: {e.strerror}") from None
        return
    elif m.ischr() or m.isblk():
        if not IS_ROOT:
            return
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
        os.mknod(path, (m.mode & 0o7777) | kind, os.makedev(m.devmajor, m.devminor))
    elif m.isfifo():
        os.mkfifo(path)
    else:
        return
    _apply_meta(path, m)


def _tarinfo_for(tar: tarfile.TarFile, path: str, arcname: str) -> tarfile.TarInfo | None:
    info = tar.gettarinfo(path, arcname)
    if info is not None:
        info.uname = info.gname = ""
    return info


def _walk(upper: str) -> Iterator[tuple[str, str]]:
    """(absolute path, archive name) for every entry of ``upper``, parents before children, sorted."""
    for dirpath, dirnames, filenames in os.walk(upper):
        dirnames.sort()
        rel = os.path.relpath(dirpath, upper)
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            arc = name if rel == "." else f"{rel}/{name}"
            yield full, arc


def diff_to_tar(upper: Path, out: IO[bytes], mtime: float | None = None) -> None:
    """Write an overlay upper dir as a layer tar (uncompressed) to ``out``, converting whiteouts."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for full, arc in _walk(str(upper)):
            st = os.lstat(full)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                wh = tarfile.TarInfo(os.path.join(os.path.dirname(arc), WHITEOUT_PREFIX + os.path.basename(arc)))
                wh.mtime = int(mtime if mtime is not None else st.st_mtime)
                tar.addfile(wh)
                continue
            info = _tarinfo_for(tar, full, arc)
            if info is None:
                continue
            if mtime is not None:
                info.mtime = int(mtime)
            if stat.S_ISDIR(st.st_mode):
                try:
                    opaque = os.getxattr(full, OPAQUE_XATTR, follow_symlinks=False) == b"y"
                except OSError:
                    opaque = False
                tar.addfile(info)
                if opaque:
                    marker = tarfile.TarInfo(f"{arc}/{OPAQUE_MARKER}")
                    marker.mtime = info.mtime
                    tar.addfile(marker)
                continue
            if info.isreg():
                with open(full, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
