"""Overlay mounts of layer directories (the snapshotter's "mounts" half).

An image's layers are read-only lower directories; a writer (a container, a build step) gets a private upper
directory. `overlay_mount` mounts ``lowers`` (bottom first) with an optional upper; without an upper the mount is
read-only. overlayfs needs at least two lower dirs for a read-only mount and one for a writable one, so an empty
directory stands in where an image has too few layers (``FROM scratch``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
MS_RDONLY = 1
MNT_DETACH = 2


class MountError(Exception):
    pass


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode()) != 0:
        err = ctypes.get_errno()
        raise MountError(f"mount {fstype} on {target}: {os.strerror(err)}")


def unmount(target: str | Path, detach: bool = True) -> None:
    if _libc.umount2(str(target).encode(), MNT_DETACH if detach else 0) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            raise MountError(f"unmount {target}: {os.strerror(err)}")


def overlay_options(lowers: list[Path], upper: Path | None, work: Path | None, empty: Path) -> str:
    """The mount data string; ``lowers`` bottom first (overlayfs wants the top first)."""
    top_first = [str(p) for p in reversed(lowers)]
    minimum = 1 if upper is not None else 2
    while len(top_first) < minimum:
        top_first.append(str(empty))
    opts = "lowerdir=" + ":".join(top_first)
    if upper is not None and work is not None:
        opts += f",upperdir={upper},workdir={work}"
    return opts


def mount_overlay(target: Path, lowers: list[Path], upper: Path | None = None, work: Path | None = None) -> None:
    empty = target.parent / (target.name + ".empty")
    empty.mkdir(exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    flags = MS_RDONLY if upper is None else 0
    _mount("overlay", str(target), "overlay", flags, overlay_options(lowers, upper, work, empty))


@contextlib.contextmanager
def overlay(lowers: list[Path], upper: Path | None = None, scratch: Path | None = None) -> Iterator[Path]:
    """Mount for the duration of a ``with``: yields the merged directory; always unmounts and cleans up."""
    base = Path(tempfile.mkdtemp(prefix="kyb-mnt-", dir=scratch))
    merged = base / "merged"
    work = base / "work" if upper is not None else None
    if work is not None:
        work.mkdir()
    try:
        mount_overlay(merged, lowers, upper, work)
        try:
            yield merged
        finally:
            unmount(merged, detach=False)
    finally:
        shutil.rmtree(base, ignore_errors=True)
