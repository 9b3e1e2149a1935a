"""Resolving a container's ``user`` against the image's own /etc/passwd and /etc/group, and paths in a rootfs.

``user`` is what images and pod specs say: ``""`` (root), ``"1000"``, ``"1000:1000"``, ``"app"``, ``"app:staff"``.
Numbers pass through (a uid without a group takes the gid of its passwd entry, else 0); names must exist in the
rootfs's files, else creation fails with Docker's message. Supplementary groups are the groups that list the user
as a member, and ``HOME`` comes from the passwd entry (``/`` without one), as Docker and containerd do.

Files are read from the mounted root filesystem, whose symlinks are the image's: `secure_join` resolves a path
as if the rootfs were ``/`` (an absolute symlink or ``..`` never leaves it), so a hostile image cannot make us
read or create files on the host. Parsing is pure: `resolve_user` takes the file contents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .api import RuntimeError_
from .paths import secure_join


def read_in_root(root: Path, path: str) -> str:
    try:
        with open(secure_join(str(root), path), errors="replace") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return ""


@dataclass
class User:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"


def _entries(text: str, min_fields: int) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) >= min_fields:
            out.append(fields)
    return out


def _int(s: str) -> int | None:
    try:
        n = int(s)
    except ValueError:
        return None
    return n if n >= 0 else None


def resolve_user(spec: str, passwd: str, group: str) -> User:
    """Turn a ``user[:group]`` spec into ids, given the rootfs's passwd and group files. No side effects."""
    user_part, _, group_part = spec.partition(":")
    users = _entries(passwd, 7)
    groups = _entries(group, 4)
    entry: list[str] | None = None
    uid = _int(user_part) if user_part else 0
    if uid is None:
        entry = next((u for u in users if u[0] == user_part), None)
        if entry is None:
            raise RuntimeError_(f"unable to find user {user_part}: no matching entries in passwd file")
        uid = _int(entry[2]) or 0
    else:
        entry = next((u for u in users if _int(u[2]) == uid), None)
    gid = _int(entry[3]) or 0 if entry is not None else 0
    if group_part:
        g = _int(group_part)
        if g is None:
            gentry = next((x for x in groups if x[0] == group_part), None)
            if gentry is None:
                raise RuntimeError_(f"unable to find group {group_part}: no matching entries in group file")
            g = _int(gentry[2]) or 0
        gid = g
    extra: list[int] = []
    if entry is not None and not group_part:
        for x in groups:
            members = [m for m in x[3].split(",") if m]
            g = _int(x[2])
            if entry[0] in members and g is not None and g != gid and g not in extra:
                extra.append(g)
    home = entry[5] if entry is not None and entry[5] else "/"
    return User(uid, gid, extra, home)


def user_in_rootfs(rootfs: Path, spec: str) -> User:
    return resolve_user(spec, read_in_root(rootfs, "/etc/passwd"), read_in_root(rootfs, "/etc/group"))
