"""Overlay mounts of layer directories for the builder (COPY/ADD targets and ``--from`` sources).

An image's layers are read-only lower directories; a build step gets a private upper directory. `overlay`
mounts ``lowers`` (bottom first) with an optional upper; without one the mount is read-only. overlayfs needs at
least two lower dirs for a read-only mount and one for a writable one, so an empty directory stands in where an
image has too few layers (``FROM scratch``). The system calls are the runtime's (`runtime.mounts`).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kybernetes.runtime.mounts import MS_RDONLY, mount, unmount


def overlay_options(lowers: list[Path], upper: Path | None, work: Path | None, empty: Path) -> str:
    """The mount data string; ``lowers`` bottom first (overlayfs wants the top first). No side effects."""
    top_first = [str(p) for p in reversed(lowers)]
    minimum = 1 if upper is not None else 2
    while len(top_first) < minimum:
        top_first.append(str(empty))
    opts = "lowerdir=" + ":".join(top_first)
    if upper is not None and work is not None:
        opts += f",upperdir={upper},workdir={work}"
    return opts


@contextlib.contextmanager
def overlay(lowers: list[Path], upper: Path | None = None, scratch: Path | None = None) -> Iterator[Path]:
    """Mount for the duration of a ``with``: yields the merged directory; always unmounts and cleans up."""
    base = Path(tempfile.mkdtemp(prefix="kyb-mnt-", dir=scratch))
    merged, empty = base / "merged", base / "empty"
    work = base / "work" if upper is not None else None
    for d in (merged, empty, work):
        if d is not None:
            d.mkdir()
    try:
        mount("overlay", merged, "overlay", MS_RDONLY if upper is None else 0,
              overlay_options(lowers, upper, work, empty))
        try:
            yield merged
        finally:
            unmount(merged)
    finally:
        shutil.rmtree(base, ignore_errors=True)
