"""Layer tarballs <-> directories: extraction, DiffIDs, overlay whiteouts, hostile layers, and the reverse."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.images.layers import OPAQUE_XATTR, LayerError, diff_to_tar, secure_join, unpack_layer

from .imagefactory import Device, Dir, Fifo, File, Hardlink, Layer, Symlink, layer_tar, sha256

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (ownership, devices, trusted xattrs)")


def unpack(files: Layer, dest: Path, compress: bool = False) -> tuple[str, int]:
    return unpack_layer(io.BytesIO(layer_tar(files, compress)), dest)


def is_whiteout(path: Path) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)


def opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything under ``root`` that an unpack can set: kind, mode, owner, content/target/device, opaque."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            kind = stat.S_IFMT(st.st_mode)
            if stat.S_ISREG(st.st_mode):
                detail: Any = hashlib.sha256(p.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                detail = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                detail = (os.major(st.st_rdev), os.minor(st.st_rdev))
            else:
                detail = opaque(p)
            out[rel] = (kind, stat.S_IMODE(st.st_mode) if not stat.S_ISLNK(st.st_mode) else 0, st.st_uid, st.st_gid, detail)
    return out


# -- plain extraction --------------------------------------------------------------------------------------------

ORDINARY: Layer = {
    "bin/": Dir(0o755),
    "bin/tool": File(b"#!/bin/sh\necho hi\n", mode=0o755, mtime=1_600_000_000),
    "bin/suid": File(b"x", mode=0o4755),
    "bin/alias": Symlink("tool"),
    "bin/hard": Hardlink("bin/tool"),
    "etc/": Dir(0o755),
    "etc/motd": "welcome\n",
    "etc/dangling": Symlink("/nowhere/at/all"),
    "home/": Dir(0o755),
    "home/user/": Dir(0o700, uid=1000, gid=1000),
    "home/user/notes": File("mine", mode=0o600, uid=1000, gid=1000),
    "tmp/": Dir(0o1777),
    "deep/a/b/c/file": "implicit parents",
    "./dot/prefixed": "tar -C x . style names",
}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_unpack_ordinary_layer(tmp_path: Path, compress: bool) -> None:
    dest = tmp_path / "fs"
    diff_id, size = unpack(ORDINARY, dest, compress)
    raw = layer_tar(ORDINARY)
    assert diff_id == sha256(raw)
    assert size == len(raw)
    assert (dest / "bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(os.stat(dest / "bin/tool").st_mode) == 0o755
    assert os.stat(dest / "bin/tool").st_mtime == 1_600_000_000
    assert stat.S_IMODE(os.stat(dest / "bin/suid").st_mode) == 0o4755
    assert os.readlink(dest / "bin/alias") == "tool"
    assert os.stat(dest / "bin/hard").st_ino == os.stat(dest / "bin/tool").st_ino
    assert os.readlink(dest / "etc/dangling") == "/nowhere/at/all"
    assert (dest / "etc/motd").read_text() == "welcome\n"
    assert stat.S_IMODE(os.stat(dest / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(dest / "home/user").st_mode) == 0o700
    assert (dest / "deep/a/b/c/file").read_text() == "implicit parents"
    assert (dest / "dot/prefixed").read_text() == "tar -C x . style names"
    assert os.stat(dest / "etc").st_mtime == 0  # directory times are set after their entries were made


@needs_root
def test_unpack_sets_ownership_devices_fifos_xattrs(tmp_path: Path) -> None:
    dest = tmp_path / "fs"
    unpack({
        "home/": Dir(0o755),
        "home/user/": Dir(0o750, uid=1000, gid=1001),
        "home/user/notes": File("mine", mode=0o600, uid=1000, gid=1001),
        "home/user/link": Symlink("notes", uid=1000, gid=1001),
        "dev/": Dir(),
        "dev/null": Device(1, 3),
        "dev/loop0": Device(7, 0, block=True, mode=0o660),
        "run/fifo": Fifo(0o600),
        "bin/ping": File(b"elf", mode=0o755, xattrs={"user.kyb-test": "v"}),
    }, dest)
    assert (os.stat(dest / "home/user").st_uid, os.stat(dest / "home/user").st_gid) == (1000, 1001)
    assert (os.stat(dest / "home/user/notes").st_uid, os.stat(dest / "home/user/notes").st_gid) == (1000, 1001)
    assert os.lstat(dest / "home/user/link").st_uid == 1000
    null = os.lstat(dest / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    loop = os.lstat(dest / "dev/loop0")
    assert stat.S_ISBLK(loop.st_mode) and stat.S_IMODE(loop.st_mode) == 0o660
    assert stat.S_ISFIFO(os.lstat(dest / "run/fifo").st_mode)
    assert os.getxattr(dest / "bin/ping", "user.kyb-test") == b"v"


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    dest = tmp_path / "fs"
    unpack({"a": "file first", "a/": Dir(), "a/x": "now a dir", "b/": Dir(), "b/y": "gone", "b": Symlink("a")}, dest)
    assert (dest / "a/x").read_text() == "now a dir"
    assert os.readlink(dest / "b") == "a"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "invalid layer archive", id="empty"),
        pytest.param(b"this is not a tar file at all" * 40, "invalid layer archive", id="garbage"),
        pytest.param(b"\x28\xb5\x2f\xfd" + b"\0" * 600, "zstd-compressed layers are not supported", id="zstd"),
        pytest.param(gzip.compress(b"not a tar either" * 100), "invalid layer archive", id="gzip-of-garbage"),
    ],
)
def test_unpack_rejects_non_layers(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(LayerError, match=message):
        unpack_layer(io.BytesIO(data), tmp_path / "fs")


def _corrupt(kind: str) -> bytes:
    raw = layer_tar({f"f{i}": File(os.urandom(20_000) + bytes(20_000)) for i in range(8)})
    if kind.endswith("-after-padding"):  # the tar reader stops at the end marker; the rest is still read (DiffID)
        raw += bytes(3 << 20)
    gz = bytearray(gzip.compress(raw, mtime=0))
    if kind == "flipped":
        gz[len(gz) // 3] ^= 0xFF
    elif kind.startswith("crc"):
        gz[-8] ^= 0xFF
    elif kind == "truncated":
        del gz[len(gz) // 2 :]
    elif kind.startswith("truncated-trailer"):
        del gz[-4:]
    return bytes(gz)


@pytest.mark.parametrize(
    "kind", ["flipped", "crc", "crc-after-padding", "truncated", "truncated-trailer", "truncated-trailer-after-padding"]
)
def test_corrupted_gzip_is_a_layer_error(tmp_path: Path, kind: str) -> None:
    with pytest.raises(LayerError, match="invalid layer archive"):
        unpack_layer(io.BytesIO(_corrupt(kind)), tmp_path / "fs")


def test_diff_id_covers_trailing_padding(tmp_path: Path) -> None:
    raw = layer_tar({"f": "x"}) + bytes(2 << 20)
    diff_id, size = unpack_layer(io.BytesIO(gzip.compress(raw)), tmp_path / "fs")
    assert (diff_id, size) == (sha256(raw), len(raw))


# -- whiteouts ---------------------------------------------------------------------------------------------------


@needs_root
def test_whiteout_becomes_overlay_char_device(tmp_path: Path) -> None:
    dest = tmp_path / "fs"
    unpack({"etc/": Dir(), "etc/.wh.motd": "", ".wh.opt": ""}, dest)
    assert is_whiteout(dest / "etc/motd")
    assert is_whiteout(dest / "opt")
    assert not (dest / "etc/.wh.motd").exists()
    assert sorted(os.listdir(dest)) == ["etc", "opt"]


@needs_root
def test_whiteout_in_a_directory_the_layer_does_not_list(tmp_path: Path) -> None:
    dest = tmp_path / "fs"
    unpack({"usr/share/doc/.wh.README": ""}, dest)
    assert is_whiteout(dest / "usr/share/doc/README")


@needs_root
def test_opaque_marker_sets_the_xattr(tmp_path: Path) -> None:
    dest = tmp_path / "fs"
    unpack({"a/": Dir(), "a/.wh..wh..opq": "", "a/b/": Dir(), "a/b/c/": Dir(), "a/b/c/foo": "new", "x/.wh..wh..opq": ""}, dest)
    assert opaque(dest / "a")
    assert opaque(dest / "x")  # a directory the layer does not list is created for the marker
    assert not opaque(dest / "a/b")
    assert not (dest / "a/.wh..wh..opq").exists()
    assert (dest / "a/b/c/foo").read_text() == "new"


@needs_root
@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"a/": Dir(), "a/.wh..wh..opq": "", "a/b/": Dir(), "a/b/c/": Dir(), "a/b/c/foo": "new"}, id="marker-first"),
        pytest.param({"a/": Dir(), "a/b/": Dir(), "a/b/c/": Dir(), "a/b/c/foo": "new", "a/.wh..wh..opq": ""}, id="marker-last"),
        pytest.param({"a/": Dir(), "a/-early": "new", "a/.wh..wh..opq": "", "a/b/": Dir(), "a/b/c/": Dir(), "a/b/c/foo": "new"},
                     id="sibling-sorting-before-marker"),
    ],
)
def test_opaque_marker_hides_only_lower_layers(tmp_path: Path, files: Layer) -> None:
    """OCI image-spec layer.md: the opaque marker applies first "regardless of the ordering in which the whiteout
    file was encountered"; files of the same layer are never hidden by it."""
    dest = tmp_path / "fs"
    unpack(files, dest)
    assert opaque(dest / "a")
    assert (dest / "a/b/c/foo").read_text() == "new"
    if "a/-early" in files:
        assert (dest / "a/-early").read_text() == "new"


@needs_root
@pytest.mark.parametrize(
    ("files", "kept"),
    [
        pytest.param({"a": "same layer", ".wh.a": ""}, "a", id="file-then-whiteout"),
        pytest.param({".wh.a": "", "a": "same layer"}, "a", id="whiteout-then-file"),
        pytest.param({"d/": Dir(), "d/f": "same layer", ".wh.d": ""}, "d/f", id="dir-then-whiteout"),
    ],
)
def test_whiteout_does_not_hide_same_layer_files(tmp_path: Path, files: Layer, kept: str) -> None:
    """layer.md: "Files that are present in the same layer as a whiteout file can only be hidden by whiteout files
    in subsequent layers"."""
    dest = tmp_path / "fs"
    unpack(files, dest)
    assert (dest / kept).read_text() == "same layer"


@pytest.mark.parametrize("name", [".wh.", ".wh..", ".wh...", "sub/.wh.", "sub/.wh..", "sub/.wh..."])
def test_whiteout_of_a_dot_name_is_refused(tmp_path: Path, name: str) -> None:
    outer = tmp_path / "outer"
    dest = outer / "dest"
    (outer / "sentinel").mkdir(parents=True)
    (outer / "sentinel" / "file").write_text("keep")
    dest.mkdir()
    (dest / "keep").write_text("keep")
    with pytest.raises(LayerError, match="invalid whiteout"):
        unpack({"sub/": Dir(), name: ""}, dest)
    assert (outer / "sentinel" / "file").read_text() == "keep"
    assert (dest / "keep").read_text() == "keep"


@needs_root
def test_overlay_mount_hides_whited_out_lower_files(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    upper = tmp_path / "upper"
    unpack({"a/": Dir(), "a/gone": "1", "a/kept": "2", "b/": Dir(), "b/old": "3", "c": "4"}, lower)
    unpack({"a/": Dir(), "a/.wh.gone": "", "b/": Dir(), "b/.wh..wh..opq": "", "b/new": "5", ".wh.c": ""}, upper)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={upper}:{lower}", str(mnt)], check=True,
                   capture_output=True)
    try:
        assert sorted(os.listdir(mnt)) == ["a", "b"]
        assert sorted(os.listdir(mnt / "a")) == ["kept"]
        assert sorted(os.listdir(mnt / "b")) == ["new"]
        assert (mnt / "a/kept").read_text() == "2"
        assert not (mnt / "a/gone").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


# -- hostile layers ----------------------------------------------------------------------------------------------


def _state(path: Path) -> dict[str, tuple[Any, ...]]:
    """Everything an escaping layer could change under ``path`` (not following links)."""
    out: dict[str, tuple[Any, ...]] = {}
    for p in [path, *sorted(path.rglob("*"))]:
        st = os.lstat(p)
        content = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
        xattrs = sorted(os.listxattr(p, follow_symlinks=False)) if not stat.S_ISLNK(st.st_mode) else []
        out[str(p)] = (st.st_mode, st.st_uid, st.st_gid, st.st_ino, st.st_nlink, st.st_mtime_ns, content, xattrs)
    return out


@pytest.fixture
def jail(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(dest, sentinel): a layer is unpacked into dest; nothing under sentinel (its sibling) nor /etc may change."""
    outer = tmp_path / "outer"
    dest, sentinel = outer / "dest", outer / "sentinel"
    (sentinel / "sub").mkdir(parents=True)
    (sentinel / "file").write_text("precious")
    (sentinel / "sub" / "file").write_text("precious too")
    os.chmod(sentinel, 0o750)
    os.utime(sentinel, (1_000_000, 1_000_000))
    dest.mkdir()
    before = _state(outer)
    etc_before = _state(Path("/etc/passwd")) | _state(Path("/etc/hostname"))
    yield dest, sentinel
    after = {k: v for k, v in _state(outer).items() if not k.startswith(str(dest) + "/")}
    assert after == {k: v for k, v in before.items() if not k.startswith(str(dest) + "/")} | {str(dest): after[str(dest)]}
    assert _state(Path("/etc/passwd")) | _state(Path("/etc/hostname")) == etc_before


def _hostile(sentinel: Path) -> dict[str, tuple[Layer, str | None, dict[str, str]]]:
    """name -> (layer, LayerError message or None, {path inside dest: expected file text, or "->target"})."""
    s = str(sentinel)
    up = "../" * 12
    return {
        "dotdot-file": ({"../../x": "pwn"}, None, {"x": "pwn"}),
        "dotdot-deep": ({up + s.lstrip("/") + "/file": "pwn"}, None, {s.lstrip("/") + "/file": "pwn"}),
        "absolute-file": ({"/abs/x": "pwn"}, None, {"abs/x": "pwn"}),
        "dotdot-member": ({"..": "pwn"}, None, {}),
        "dotdot-dir-chmod": ({"a/../..": Dir(0o777)}, None, {}),
        "dotdot-dir-nested": ({"x/": Dir(), "x/../../": Dir(0o777)}, None, {}),
        "symlink-to-etc": ({"link": Symlink("/etc"), "link/passwd": "pwn"}, None, {"etc/passwd": "pwn", "link": "->/etc"}),
        "symlink-to-sentinel": ({"link": Symlink(s), "link/file": "pwn"}, None, {s.lstrip("/") + "/file": "pwn"}),
        "symlink-dotdot": ({"link": Symlink(up), "link/file": "pwn"}, None, {"file": "pwn"}),
        "symlink-relative-up": ({"d/": Dir(), "d/link": Symlink("../../../sentinel"), "d/link/file": "pwn"}, None,
                                {"sentinel/file": "pwn"}),
        "symlink-chain": ({"a": Symlink("b"), "b": Symlink("c/../" + up + s.lstrip("/")), "c/": Dir(), "a/file": "pwn"}, None,
                          {s.lstrip("/") + "/file": "pwn"}),
        "symlink-loop": ({"a": Symlink("b"), "b": Symlink("a"), "a/file": "pwn"}, "too many levels of symbolic links", {}),
        "symlink-then-dir-entry": ({"d": Symlink(s), "d/": Dir(0o777)}, None, {}),
        "dir-replaced-by-symlink": ({"d/": Dir(0o777), "d": Symlink(s)}, None, {"d": "->" + s}),
        "parent-replaced-by-symlink": ({"d/": Dir(), "d/sub/": Dir(0o777), "d": Symlink(s)}, None, {"d": "->" + s}),
        "hardlink-absolute": ({"h": Hardlink("/etc/passwd")}, "invalid hard link", {}),
        "hardlink-dotdot": ({"h": Hardlink(up + s.lstrip("/") + "/file")}, "invalid hard link", {}),
        "hardlink-through-symlink-dir": ({"l": Symlink(s), "h": Hardlink("l/file")}, "invalid hard link", {}),
        "hardlink-to-symlink": ({"l": Symlink(s + "/file"), "h": Hardlink("l")}, None, {"h": "->" + s + "/file"}),
        "hardlink-into-symlink-dir": ({"l": Symlink(s), "f": "mine", "l/h": Hardlink("f")}, None,
                                      {s.lstrip("/") + "/h": "mine"}),
        "file-over-symlink": ({"l": Symlink(s + "/file"), "./l": "replaced"}, None, {"l": "replaced"}),
        "whiteout-through-symlink": ({"l": Symlink(s), "l/.wh.file": ""}, None, {}),
        "opaque-through-symlink": ({"l": Symlink(s), "l/.wh..wh..opq": ""}, None, {}),
        "xattr-through-symlink": ({"l": Symlink(s), "l/f": File("x", xattrs={"user.pwn": "1"})}, None,
                                  {s.lstrip("/") + "/f": "x"}),
    }


HOSTILE = list(_hostile(Path("/placeholder")))


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_layer_stays_inside(jail: tuple[Path, Path], case: str) -> None:
    dest, sentinel = jail
    files, error, expected = _hostile(sentinel)[case]
    if error:
        with pytest.raises(LayerError, match=error):
            unpack(files, dest)
    else:
        unpack(files, dest)
    for rel, want in expected.items():
        p = dest / rel
        if want.startswith("->"):
            assert os.readlink(p) == want[2:]
        else:
            assert os.lstat(p).st_nlink >= 1 and not p.is_symlink()
            assert p.read_text() == want


@pytest.mark.parametrize(
    ("name", "follow_last", "expected"),
    [
        pytest.param("a/b", False, "a/b", id="plain"),
        pytest.param("/a/./b/", False, "a/b", id="absolute-dots"),
        pytest.param("../../a", False, "a", id="dotdot-clamped"),
        pytest.param("l/x", False, "t/x", id="relative-link"),
        pytest.param("l", False, "l", id="last-not-followed"),
        pytest.param("l", True, "t", id="last-followed"),
        pytest.param("abs/x", False, "etc/x", id="absolute-link-rooted"),
        pytest.param("up/x", False, "x", id="link-above-root-clamped"),
    ],
)
def test_secure_join(tmp_path: Path, name: str, follow_last: bool, expected: str) -> None:
    (tmp_path / "t").mkdir()
    os.symlink("t", tmp_path / "l")
    os.symlink("/etc", tmp_path / "abs")
    os.symlink("../../..", tmp_path / "up")
    assert secure_join(str(tmp_path), name, follow_last) == str(tmp_path / expected)


# -- diff_to_tar -------------------------------------------------------------------------------------------------


def _upper(root: Path) -> None:
    """An overlay upper dir the way a RUN step leaves it."""
    (root / "etc/app").mkdir(parents=True)
    (root / "etc/app/config").write_text("k=v\n")
    os.chmod(root / "etc/app/config", 0o640)
    (root / "bin").mkdir()
    (root / "bin/tool").write_bytes(b"\x7fELF" + bytes(100_000))
    os.chmod(root / "bin/tool", 0o755)
    os.link(root / "bin/tool", root / "bin/tool2")
    os.symlink("tool", root / "bin/alias")
    (root / "empty").mkdir()
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    os.mknod(root / "etc/removed", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    (root / "var/lib/opaque").mkdir(parents=True)
    os.setxattr(root / "var/lib/opaque", OPAQUE_XATTR, b"y")
    (root / "var/lib/opaque/fresh").write_text("fresh")
    (root / "var/lib/not-opaque").mkdir()
    os.setxattr(root / "var/lib/not-opaque", "trusted.overlay.origin", b"x")
    os.mkfifo(root / "var/fifo")
    os.mknod(root / "var/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chown(root / "etc/app/config", 1000, 1000)


@needs_root
def test_diff_to_tar_round_trip(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    _upper(upper)
    buf = io.BytesIO()
    diff_to_tar(upper, buf, mtime=0)
    dest = tmp_path / "fs"
    diff_id, _ = unpack_layer(io.BytesIO(buf.getvalue()), dest)
    assert diff_id == sha256(buf.getvalue())
    assert tree(dest) == tree(upper)
    assert os.stat(dest / "bin/tool2").st_ino == os.stat(dest / "bin/tool").st_ino
    assert is_whiteout(dest / "etc/removed")
    assert opaque(dest / "var/lib/opaque")
    assert not opaque(dest / "var/lib/not-opaque")


@needs_root
def test_diff_to_tar_entries(tmp_path: Path) -> None:
    import tarfile

    upper = tmp_path / "upper"
    upper.mkdir()
    _upper(upper)
    buf = io.BytesIO()
    diff_to_tar(upper, buf, mtime=12345)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert "etc/.wh.removed" in names and "etc/removed" not in names
    assert names.index("var/lib/opaque/.wh..wh..opq") == names.index("var/lib/opaque") + 1
    assert names.index("var/lib/opaque") < names.index("var/lib/opaque/fresh")
    assert {m.mtime for m in members} == {12345}
    assert {m.uname for m in members} == {""} and {m.gname for m in members} == {""}
    tool2 = next(m for m in members if m.name == "bin/tool2")
    assert tool2.islnk() and tool2.linkname == "bin/tool"
    for i, name in enumerate(names):  # parents before children
        parent = os.path.dirname(name)
        assert not parent or names.index(parent) < i


@needs_root
def test_diff_to_tar_is_deterministic_with_fixed_mtime(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    _upper(upper)
    first, second = io.BytesIO(), io.BytesIO()
    diff_to_tar(upper, first, mtime=0)
    diff_to_tar(upper, second, mtime=0)
    assert first.getvalue() == second.getvalue()


def test_diff_to_tar_skips_sockets(tmp_path: Path) -> None:
    import socket

    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "f").write_text("x")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(upper / "sock"))
        buf = io.BytesIO()
        diff_to_tar(upper, buf)
    dest = tmp_path / "fs"
    unpack_layer(io.BytesIO(buf.getvalue()), dest)
    assert sorted(os.listdir(dest)) == ["f"]
