"""Mounting and unmounting with the system calls themselves (through ``ctypes``), not the ``mount`` program.

A container start mounts an overlay and a sandbox mounts a tmpfs; one system call is microseconds where a
``mount`` process is milliseconds. `is_mount_point` compares device numbers with the parent (cheap, and also
right for bind-mounted namespace files, whose device is ``nsfs``); `mounts_under` reads ``/proc/self/mountinfo``
for the cleanup paths that must find everything left below a directory.

Overlay wants its lower directories top-first: `overlay_options` takes them bottom-first, as images list layers,
and reverses them. A single layer is still mounted as an overlay, so a container never writes into a layer.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Sequence
from pathlib import Path

from .api import RuntimeError_

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def mount(source: str, target: Path | str, fstype: str, flags: int = 0, data: str = "") -> None:
    rc = _libc.mount(source.encode(), os.fsencode(target), fstype.encode(), flags, data.encode() or None)
    if rc != 0:
        err = ctypes.get_errno()
        raise RuntimeError_(f"mount {fstype} on {target}: {os.strerror(err)}")


def unmount(target: Path | str, lazy: bool = False) -> bool:
    """Unmount ``target``; False when nothing was mounted there. A busy mount is detached when ``lazy``."""
    rc = _libc.umount2(os.fsencode(target), MNT_DETACH if lazy else 0)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return False
    if err == errno.EBUSY and not lazy:
        return unmount(target, lazy=True)
    raise RuntimeError_(f"unmount {target}: {os.strerror(err)}")


def unmount_all(target: Path | str) -> None:
    """Unmount every layer stacked on ``target`` (a path can be mounted over more than once)."""
    for _ in range(16):
        if not unmount(target):
            return


def is_mount_point(path: Path | str) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
        parent = os.stat(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.st_dev != parent.st_dev


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mounts_under(directory: Path | str) -> list[str]:
    """Mount points at or below ``directory``, deepest first (the order to unmount them in)."""
    prefix = os.path.abspath(directory)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape(line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(set(found), key=lambda p: (-p.count("/"), p))


def overlay_options(layers: Sequence[Path], upper: Path, work: Path) -> str:
    """Mount data for an overlay of ``layers`` (bottom first) with a private upper layer. No side effects."""
    if not layers:
        raise RuntimeError_("no root filesystem layers given")
    for p in (*layers, upper, work):
        if any(c in str(p) for c in ",:"):
            raise RuntimeError_(f"layer path {p} contains ',' or ':', which overlay cannot take")
    lower = ":".join(str(p) for p in reversed(layers))
    data = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if len(data) >= 4096:
        raise RuntimeError_(f"{len(layers)} layers make overlay mount options longer than a page")
    return data


def mount_overlay(layers: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    for layer in layers:
        if not layer.is_dir():
            raise RuntimeError_(f"root filesystem layer {layer} is not a directory")
    upper.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    mount("overlay", target, "overlay", 0, overlay_options(layers, upper, work))
