"""Base images made on this machine, with no registry: ``busybox`` from Debian's busybox-static and ``debian``
from debootstrap (minbase).

The busybox image is deterministic: the same busybox binary gives the same layer bytes, config and image ID on
every machine (fixed mtimes, sorted entries, no host users or times in the tar).
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Any, cast

from . import oci
from .layers import diff_to_tar
from .store import Image, ImageError, ImageStore

BUSYBOX_BINARY = Path("/bin/busybox")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = 0

_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n"
)
_GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65533:\nnobody:x:65534:\n"


def _busybox_is_static(path: Path) -> bool:
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True)
    return "not a dynamic executable" in (out.stdout + out.stderr) or "statically linked" in out.stdout


def busybox_layer(binary: Path = BUSYBOX_BINARY) -> bytes:
    """A layer tar holding a static busybox with all its applet links, /etc/passwd, /etc/group and usual dirs."""
    if not binary.exists():
        raise ImageError(f"{binary} not found: install Debian's busybox-static")
    if not _busybox_is_static(binary):
        raise ImageError(f"{binary} is not statically linked: install Debian's busybox-static")
    applets = subprocess.run([str(binary), "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()

    def entry(name: str, type_: bytes = tarfile.REGTYPE, mode: int = 0o644, data: bytes = b"", link: str = "") -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = type_
        info.mode = mode
        info.mtime = EPOCH
        info.linkname = link
        info.size = len(data)
        return info

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = {"bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "sbin", "var", "var/www"}
        dirs |= {os.path.dirname(a) for a in applets if os.path.dirname(a)}
        for d in sorted(dirs):
            tar.addfile(entry(d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else (0o700 if d == "root" else 0o755)))
        data = binary.read_bytes()
        tar.addfile(entry("bin/busybox", mode=0o755, data=data), io.BytesIO(data))
        for name, text in (("etc/passwd", _PASSWD), ("etc/group", _GROUP)):
            b = text.encode()
            tar.addfile(entry(name, data=b), io.BytesIO(b))
        for applet in sorted(set(applets)):
            if applet == "bin/busybox":
                continue
            # relative, resolving inside any root: bin/sh -> busybox, usr/bin/x -> ../../bin/busybox
            link = posixpath.relpath("bin/busybox", posixpath.dirname(applet) or ".")
            tar.addfile(entry(applet, tarfile.SYMTYPE, 0o777, link=link))
    return buf.getvalue()


def image_config(diff_ids: list[str], cmd: list[str], created_by: str, env: list[str] | None = None,
                 created: str = "1970-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {"Env": env or [DEFAULT_PATH], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": created_by}],
    }


def _mtime_rfc3339(path: Path) -> str:
    """The file's mtime: a creation time that is real yet the same on every machine with that package."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(path.stat().st_mtime)))


def bootstrap_busybox(store: ImageStore, name: str = "busybox:latest") -> Image:
    layer = busybox_layer()
    digest = store.content.write(layer)
    config = image_config([digest], ["sh"], f"kyb image bootstrap busybox ({BUSYBOX_BINARY})",
                          created=_mtime_rfc3339(BUSYBOX_BINARY))
    return store.put_image(config, [{"mediaType": oci.OCI_LAYER, "digest": digest, "size": len(layer)}], names=[name])


def bootstrap_debian(store: ImageStore, name: str = "debian:bookworm", suite: str = "bookworm", mirror: str = "") -> Image:
    """debootstrap --variant=minbase into a temporary dir, then store it as a one-layer image (needs root)."""
    if os.geteuid() != 0:
        raise ImageError("kyb image bootstrap debian needs root (debootstrap)")
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap not found: install Debian's debootstrap")
    mirror = mirror or _debian_mirror()
    with tempfile.TemporaryDirectory(prefix="kyb-debootstrap-", dir=store.root) as tmp:
        target = Path(tmp) / "rootfs"
        proc = subprocess.run(["debootstrap", "--variant=minbase", suite, str(target), mirror], capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
            raise ImageError(f"debootstrap failed (exit {proc.returncode}): {tail[0]}")
        for d in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (target / d).glob("*"):
                if p.is_file():
                    p.unlink()
        with store.content.writer() as w:
            diff_to_tar(target, cast(IO[bytes], _Writer(w)))
            digest = w.commit()
            size = w.size
    config = image_config([digest], ["bash"], f"debootstrap --variant=minbase {suite}",
                          created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return store.put_image(config, [{"mediaType": oci.OCI_LAYER, "digest": digest, "size": size}], names=[name])


class _Writer(io.RawIOBase):
    def __init__(self, w: Any) -> None:
        self.w = w

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.w.write(data)
        return len(data)


APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))


def _debian_mirror(sources: tuple[Path, ...] = APT_SOURCES) -> str:
    """The host's Debian mirror, from a deb822 ``URIs:`` line or a one-line ``deb URL`` line (not from comments)."""
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.lstrip().startswith("#"):
                continue
            for word in line.split():
                if word.startswith("http") and "security" not in word:
                    return word.rstrip("/")
    return "http://deb.debian.org/debian"
