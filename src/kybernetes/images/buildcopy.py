"""COPY and ADD: sources from the build context (or another stage's filesystem) into the image's merged root.

Docker's rules, implemented on the mounted overlay of the current layers so symlinks in the image resolve as they
would inside it and the overlay's upper directory records exactly the change:

* a source directory contributes its *contents*; a file lands at ``dest`` or, when ``dest`` ends with ``/`` or
  is an existing directory, at ``dest/<name>``; several sources need a ``dest`` ending with ``/``;
* wildcards match within path components (``*`` never crosses ``/``); sources resolve inside their root only
  (a symlink on the way is followed as if the root were ``/``, so it never leads out of the context);
* copied files keep mode and mtime, are owned by 0:0 unless ``--chown``; ``--chmod`` sets the mode;
* ADD unpacks a local tar (plain, gzip, bzip2, xz) into ``dest``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kybernetes.runtime.users import read_in_root

from .layers import LayerError, secure_join


class CopyError(Exception):
    pass


@dataclass
class Source:
    rel: str  # path relative to its root, as matched
    path: Path  # absolute path on the host


Excluded = Callable[[str, bool], bool]


def _scoped(root: Path, rel: str, follow_last: bool = False) -> Path:
    """``rel`` inside ``root`` with symlinks resolved as if ``root`` were ``/``: a link never leads out of it."""
    try:
        return Path(secure_join(str(root), rel, follow_last=follow_last))
    except LayerError as e:
        raise CopyError(str(e)) from None


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _glob(root: Path, pattern: str, excluded: Excluded | None) -> list[str]:
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    found = [""]
    for part in parts:
        nxt = []
        for base in found:
            directory = _scoped(root, base, follow_last=True) if base else root
            if not any(c in part for c in "*?["):
                if part == "..":
                    raise CopyError(f"forbidden path outside the build context: {pattern} ()")
                cand = f"{base}/{part}" if base else part
                if os.path.lexists(_scoped(root, cand)):
                    nxt.append(cand)
                continue
            try:
                names = sorted(os.listdir(directory))
            except (NotADirectoryError, FileNotFoundError):
                continue
            nxt += [f"{base}/{n}" if base else n for n in names if fnmatch.fnmatchcase(n, part)]
        found = nxt
    if excluded is not None:
        found = [f for f in found if f == "" or not excluded(f, _is_real_dir(_scoped(root, f)))]
    return found


def resolve_sources(root: Path, patterns: list[str], excluded: Excluded | None, what: str = "COPY") -> list[Source]:
    out: list[Source] = []
    for pattern in patterns:
        norm = os.path.normpath(pattern.lstrip("/")) if pattern.strip("/") else "."
        if norm == ".." or norm.startswith("../"):
            raise CopyError(f"{what} failed: forbidden path outside the build context: {pattern} ()")
        matches = _glob(root, "" if norm == "." else norm, excluded)
        if not matches:
            raise CopyError(
                f"{what} failed: file not found in build context or excluded by .dockerignore: stat {pattern}: file does not exist"
            )
        out += [Source(m or ".", _scoped(root, m) if m else root) for m in matches]
    return out


def _walk(src: Source, excluded: Excluded | None) -> Iterator[tuple[str, Path]]:
    """(path relative to the source, host path) for a source and, if a directory, everything below it."""
    yield "", src.path
    if src.path.is_dir() and not src.path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(src.path):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                full = Path(dirpath) / name
                rel = os.path.relpath(full, src.path)
                ctx_rel = rel if src.rel == "." else f"{src.rel}/{rel}"
                if excluded is not None and excluded(ctx_rel, full.is_dir() and not full.is_symlink()):
                    if name in dirnames:
                        dirnames.remove(name)
                    continue
                yield rel, full


def sources_digest(sources: list[Source], excluded: Excluded | None) -> str:
    """A content hash of everything the sources contribute (names, modes, bytes, link targets)."""
    h = hashlib.sha256()
    for src in sources:
        h.update(f"src {src.rel}\n".encode())
        for rel, full in _walk(src, excluded):
            st = os.lstat(full)
            h.update(f"{rel}\0{st.st_mode:o}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(full).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            h.update(b"\n")
    return h.hexdigest()


def _is_archive(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():  # a link is copied as a link, never read through
        return False
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def copy_sources(
    merged: Path,
    sources: list[Source],
    dest: str,
    workdir: str,
    *,
    owner: tuple[int, int] = (0, 0),
    chmod: int | None = None,
    excluded: Excluded | None = None,
    extract: bool = False,
    what: str = "COPY",
) -> None:
    dest_abs = dest if dest.startswith("/") else os.path.join(workdir or "/", dest)
    to_dir = dest.endswith("/") or dest.endswith("/.") or dest in (".", "")
    if len(sources) > 1 and not to_dir:
        raise CopyError(f"When using {what} with more than one source file, the destination must be a directory and end with a /")
    root = str(merged)
    for src in sources:
        if src.path.is_dir() and not src.path.is_symlink():
            target = secure_join(root, dest_abs, follow_last=True)
            _ensure_dir(root, target, owner)
            for rel, full in _walk(src, excluded):
                if rel:
                    _copy_one(full, os.path.join(target, rel), owner, chmod)
            continue
        if extract and _is_archive(src.path):
            target = secure_join(root, dest_abs, follow_last=True)
            _ensure_dir(root, target, owner)
            _extract(src.path, target)
            continue
        resolved = secure_join(root, dest_abs, follow_last=True)
        if to_dir or os.path.isdir(resolved):
            _ensure_dir(root, resolved, owner)
            target = os.path.join(resolved, os.path.basename(src.path))
        else:
            parent = secure_join(root, os.path.dirname(dest_abs.rstrip("/")), follow_last=True)
            _ensure_dir(root, parent, owner)
            target = os.path.join(parent, os.path.basename(dest_abs.rstrip("/")))
        _copy_one(src.path, target, owner, chmod)


def make_dir(merged: Path, path: str) -> None:
    """WORKDIR's directory (with missing parents, root's, 0755), resolved through the image's own symlinks."""
    root = str(merged)
    _ensure_dir(root, _scoped(merged, path, follow_last=True), (0, 0))


def _ensure_dir(root: str, path: str | Path, owner: tuple[int, int]) -> None:
    if os.path.isdir(path):
        return
    rel = os.path.relpath(path, root)
    current = root
    for part in rel.split("/"):
        current = os.path.join(current, part)
        if not os.path.isdir(current):
            if os.path.lexists(current):
                os.unlink(current)
            os.mkdir(current, 0o755)
            os.lchown(current, *owner)


def _copy_one(src: Path, target: str, owner: tuple[int, int], chmod: int | None) -> None:
    st = os.lstat(src)
    if os.path.lexists(target) and not (stat.S_ISDIR(st.st_mode) and os.path.isdir(target)):
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)
    if stat.S_ISDIR(st.st_mode):
        os.makedirs(target, exist_ok=True)
        os.chmod(target, chmod if chmod is not None else stat.S_IMODE(st.st_mode))
    elif stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), target)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, target, follow_symlinks=False)
        os.chmod(target, chmod if chmod is not None else stat.S_IMODE(st.st_mode))
    else:
        return  # sockets, devices and fifos in a build context are skipped, as Docker does
    os.lchown(target, *owner)
    if not stat.S_ISLNK(st.st_mode):
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def _extract(archive: Path, target: str) -> None:
    from .layers import _extract_member  # the same hardened extraction as image layers

    dirs: list[tuple[str, tarfile.TarInfo]] = []
    with tarfile.open(archive, mode="r:*") as tar:
        for m in tar:
            _extract_member(tar, m, target, dirs)


def parse_chmod(value: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError:
        raise CopyError(f"invalid chmod parameter: {value!r}") from None
    if mode > 0o7777:
        raise CopyError(f"invalid chmod parameter: {value!r}")
    return mode


def resolve_owner(merged: Path, chown: str) -> tuple[int, int]:
    """``--chown=user[:group]`` with names looked up in the image's /etc/passwd and /etc/group.

    A user without a group takes the same numeric ID as its group (Docker's rule for both names and numbers).
    """
    user, _, group = chown.partition(":")
    uid = _id_in(merged, "/etc/passwd", user, "uid for user", "user")
    return uid, _id_in(merged, "/etc/group", group, "gid for group", "group") if group else uid


def _id_in(merged: Path, file: str, name: str, what: str, kind: str) -> int:
    """A number as is, else the third field of ``name``'s line in the image's passwd or group file."""
    if name.isdigit():
        return int(name)
    for line in read_in_root(merged, file).splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    raise CopyError(f"unable to convert uid/gid chown string to host mapping: can't find {what} {name}: "
                    f"no such {kind}: {name}")
