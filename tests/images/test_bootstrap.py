"""Base images made locally: a deterministic busybox from busybox-static, and debian from debootstrap (slow)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from kybernetes.images import bootstrap, oci
from kybernetes.images.store import Image, ImageError, ImageStore

needs_busybox = pytest.mark.skipif(not bootstrap.BUSYBOX_BINARY.exists(), reason="busybox-static is not installed")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture(scope="module")
def layer() -> bytes:
    if not bootstrap.BUSYBOX_BINARY.exists():
        pytest.skip("busybox-static is not installed")
    return bootstrap.busybox_layer()


@pytest.fixture
def busybox(tmp_path: Path) -> tuple[ImageStore, Image]:
    store = ImageStore(tmp_path / "images")
    return store, bootstrap.bootstrap_busybox(store)


@needs_busybox
def test_busybox_layer_is_deterministic(layer: bytes) -> None:
    assert bootstrap.busybox_layer() == layer
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = tar.getmembers()
    assert {m.mtime for m in members} == {0}
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert not any(m.pax_headers for m in members)


@needs_busybox
def test_busybox_image_is_the_same_everywhere(tmp_path: Path, busybox: tuple[ImageStore, Image]) -> None:
    store, img = busybox
    other = ImageStore(tmp_path / "other")
    again = bootstrap.bootstrap_busybox(other)
    assert (again.id, again.manifest_digest) == (img.id, img.manifest_digest)
    assert bootstrap.bootstrap_busybox(store).id == img.id
    assert [i.id for i in store.images()] == [img.id]
    assert img.tags == ["docker.io/library/busybox:latest"]
    assert bootstrap.bootstrap_busybox(store, name="localhost/bb:1").id == img.id
    assert store.get(img.id).tags == ["docker.io/library/busybox:latest", "localhost/bb:1"]


@needs_busybox
def test_busybox_image_config(busybox: tuple[ImageStore, Image]) -> None:
    _, img = busybox
    assert img.config["config"] == {"Env": [bootstrap.DEFAULT_PATH], "Cmd": ["sh"]}
    assert (img.config["os"], img.config["architecture"]) == ("linux", "amd64")
    assert img.layers[0]["mediaType"] == oci.OCI_LAYER
    assert img.diff_ids == [img.layers[0]["digest"]]  # an uncompressed layer's digest is its DiffID
    assert img.config["history"][0]["created_by"].startswith("kyb image bootstrap busybox")


@needs_busybox
@pytest.mark.parametrize(
    ("path", "kind", "mode"),
    [
        pytest.param("bin/busybox", stat.S_IFREG, 0o755, id="binary"),
        pytest.param("etc/passwd", stat.S_IFREG, 0o644, id="passwd"),
        pytest.param("etc/group", stat.S_IFREG, 0o644, id="group"),
        pytest.param("tmp", stat.S_IFDIR, 0o1777, id="tmp-sticky"),
        pytest.param("root", stat.S_IFDIR, 0o700, id="root-home"),
        pytest.param("proc", stat.S_IFDIR, 0o755, id="proc"),
        pytest.param("usr/bin", stat.S_IFDIR, 0o755, id="usr-bin"),
        pytest.param("var/www", stat.S_IFDIR, 0o755, id="var-www"),
    ],
)
def test_busybox_rootfs_entries(busybox: tuple[ImageStore, Image], path: str, kind: int, mode: int) -> None:
    store, img = busybox
    [fs] = store.layer_dirs(img)
    st = os.lstat(fs / path)
    assert (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode)) == (kind, mode)


@needs_busybox
def test_busybox_rootfs_links_and_users(busybox: tuple[ImageStore, Image]) -> None:
    store, img = busybox
    [fs] = store.layer_dirs(img)
    assert os.readlink(fs / "bin/sh") == "busybox"
    assert (fs / "etc/passwd").read_text().splitlines()[0] == "root:x:0:0:root:/root:/bin/sh"
    assert "nobody:x:65534:" in (fs / "etc/group").read_text()
    applets = subprocess.run([str(bootstrap.BUSYBOX_BINARY), "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    assert len(applets) > 100
    for applet in set(applets) - {"bin/busybox"}:  # every applet link, at any depth, leads to the binary in the rootfs
        assert (fs / applet).is_symlink(), applet
        assert (fs / applet).resolve() == (fs / "bin/busybox").resolve(), applet


@needs_busybox
@needs_root
@pytest.mark.parametrize(
    ("argv", "out"),
    [
        pytest.param(["/bin/sh", "-c", "echo ok"], "ok\n", id="sh"),
        pytest.param(["/usr/bin/awk", "BEGIN { print 6 * 7 }"], "42\n", id="usr-bin-applet"),
        pytest.param(["/bin/sh", "-c", "id -un; ls -d /tmp"], "root\n/tmp\n", id="users-and-dirs"),
    ],
)
def test_busybox_runs_in_a_chroot(busybox: tuple[ImageStore, Image], argv: list[str], out: str) -> None:
    store, img = busybox
    [fs] = store.layer_dirs(img)
    proc = subprocess.run(["chroot", str(fs), *argv], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/bin:/usr/bin:/sbin:/usr/sbin"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, out, "")


@pytest.mark.parametrize(
    ("binary", "message"),
    [
        pytest.param(Path("/nonexistent/busybox"), "/nonexistent/busybox not found: install Debian's busybox-static", id="missing"),
        pytest.param(Path("/bin/ls"), "/bin/ls is not statically linked: install Debian's busybox-static", id="dynamic"),
    ],
)
def test_busybox_layer_needs_a_static_busybox(binary: Path, message: str) -> None:
    with pytest.raises(ImageError) as e:
        bootstrap.busybox_layer(binary)
    assert str(e.value) == message


def test_image_config_shape() -> None:
    cfg = bootstrap.image_config(["sha256:" + "a" * 64], ["bash"], "made by hand", env=["A=1"])
    assert cfg == {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": ["A=1"], "Cmd": ["bash"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "made by hand"}],
    }


DEB822 = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
"""


@pytest.mark.parametrize(
    ("deb822", "one_line", "mirror"),
    [
        pytest.param(DEB822, None, "http://deb.debian.org/debian", id="deb822-skips-commented-snapshot"),
        pytest.param("URIs: https://mirror.example/debian/\n", None, "https://mirror.example/debian", id="deb822-https"),
        pytest.param(None, "deb http://ftp.de.debian.org/debian bookworm main\n", "http://ftp.de.debian.org/debian",
                     id="one-line-format"),
        pytest.param(None, "deb http://security.debian.org/debian-security bookworm-security main\n"
                     "deb [arch=amd64] http://m.example/debian bookworm main\n", "http://m.example/debian",
                     id="one-line-skips-security"),
        pytest.param("# URIs: http://commented.example/debian\n", None, "http://deb.debian.org/debian", id="only-comments"),
        pytest.param(None, None, "http://deb.debian.org/debian", id="no-sources"),
    ],
)
def test_debian_mirror(tmp_path: Path, deb822: str | None, one_line: str | None, mirror: str) -> None:
    paths = (tmp_path / "debian.sources", tmp_path / "sources.list")
    for path, text in zip(paths, (deb822, one_line), strict=True):
        if text is not None:
            path.write_text(text)
    assert bootstrap._debian_mirror(paths) == mirror


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("KYB_SLOW") != "1", reason="set KYB_SLOW=1 (debootstrap downloads ~40 MB)")
@needs_root
def test_bootstrap_debian(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    started = time.monotonic()
    img = bootstrap.bootstrap_debian(store)
    print(f"debootstrap image built in {time.monotonic() - started:.0f}s, layer {img.size / 1e6:.0f} MB")
    assert img.tags == ["docker.io/library/debian:bookworm"]
    assert img.config["config"]["Cmd"] == ["bash"]
    [fs] = store.layer_dirs(img)
    assert "bookworm" in (fs / "etc/os-release").read_text()
    assert not list((fs / "var/cache/apt/archives").glob("*.deb"))
    proc = subprocess.run(["chroot", str(fs), "/bin/bash", "-c", "dpkg -s coreutils | grep -c '^Status: install ok'"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert (proc.returncode, proc.stdout) == (0, "1\n")
    assert [p.name for p in store.root.iterdir() if p.name.startswith("kyb-debootstrap-")] == []
