"""Paths inside a root filesystem, resolved as if that root were ``/``.

`secure_join` follows symlinks the way a process chrooted into ``root`` would, so an absolute symlink or a
``..`` never leads out of it: an image's layers, a container's rootfs and a build context can contain hostile
links, and everything that reads or writes inside them on the host goes through here (layer unpacking, COPY,
the user lookup, a container's working directory). Strings and ``os.path``, not ``pathlib``: layer unpacking
calls this once per tar entry.
"""

from __future__ import annotations

import os

from .api import RuntimeError_

MAX_SYMLINKS = 40


def secure_join(root: str, path: str, follow_last: bool = True) -> str:
    """``root/path`` with each symlink on the way resolved inside ``root``; the last one only if ``follow_last``."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if (parts or follow_last) and os.path.islink(candidate):
            links += 1
            if links > MAX_SYMLINKS:
                raise RuntimeError_(f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)
