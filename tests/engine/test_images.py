"""The image commands: ``images``, ``tag``, ``rmi`` (and its conflict with a container), ``save``/``load``
round trips, and ``push``/``pull`` against a real ``docker-registry`` on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images.registry_fixture import REGISTRY_BIN, RegistryProc

from .conftest import Kyb, needs_root

pytestmark = needs_root


def image_rows(kyb: Kyb, *args: str) -> list[list[str]]:
    header, *rows = kyb.ok("images", *args).splitlines()
    assert re.split(r" {2,}", header.strip()) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    return [re.split(r" {2,}", r.rstrip()) for r in rows]


def image_id(kyb: Kyb, name: str) -> str:
    """The full ID, from ``kyb build -q`` style output or from the store listing."""
    ids = {row[2] for row in image_rows(kyb) if f"{row[0]}:{row[1]}" == name}
    assert len(ids) == 1, (name, image_rows(kyb))
    return ids.pop()


def build(kyb: Kyb, tmp_path: Path, tag: str, dockerfile: str) -> str:
    ctx = tmp_path / re.sub(r"[^a-z0-9]", "_", tag)
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    out = kyb.ok("build", "-q", "-t", tag, str(ctx)).strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", out), out
    return out


@pytest.fixture
def busybox_back(kyb: Kyb) -> Iterator[None]:
    """Tests that remove busybox get it back (bootstrap is reproducible: the same image ID)."""
    before = image_id(kyb, "busybox:latest")
    try:
        yield
    finally:
        if "busybox" not in [row[0] for row in image_rows(kyb)]:
            kyb.ok("image", "bootstrap", "busybox")
        assert image_id(kyb, "busybox:latest") == before


def test_images_tag_and_rmi(kyb: Kyb) -> None:
    [row] = image_rows(kyb)
    assert row[:2] == ["busybox", "latest"]
    assert re.fullmatch(r"[0-9a-f]{12}", row[2])
    assert re.fullmatch(r"\d+(\.\d+)?[kM]B", row[4]), row
    short = row[2]
    r = kyb("tag", "busybox", "mybox:v1")
    assert (r.rc, r.out, r.err) == (0, "", "")
    kyb.ok("tag", "mybox:v1", "localhost:5000/team/mybox")
    assert sorted(r[:3] for r in image_rows(kyb)) == [
        ["busybox", "latest", short], ["localhost:5000/team/mybox", "latest", short], ["mybox", "v1", short]]
    assert kyb.ok("images", "-q") == f"{short}\n"
    assert [r[:2] for r in image_rows(kyb, "mybox")] == [["mybox", "v1"]]
    # removing one of several tags only untags
    assert kyb.ok("rmi", "mybox:v1", "localhost:5000/team/mybox") == (
        "Untagged: mybox:v1\nUntagged: localhost:5000/team/mybox:latest\n")
    assert [r[:2] for r in image_rows(kyb)] == [["busybox", "latest"]]
    r = kyb("rmi", "mybox:v1")
    assert (r.rc, r.out, r.err) == (1, "", "Error response from daemon: No such image: mybox:v1\n")
    r = kyb("tag", "nope", "x")
    assert (r.rc, r.err) == (1, "error: No such image: nope:latest\n")


def test_rmi_of_an_image_a_container_uses(kyb: Kyb, tmp_path: Path) -> None:
    full = build(kyb, tmp_path, "app:1", "FROM busybox\nLABEL purpose=test\n")
    short = full.split(":")[1][:12]
    assert image_id(kyb, "app:1") == short
    cid = kyb.ok("run", "-d", "--name", "user", "app:1", "true").strip()
    r = kyb("rmi", "app:1")
    assert (r.rc, r.out) == (1, "")
    assert r.err == ('Error response from daemon: conflict: unable to remove repository reference "app:1" '
                     f"(must force) - container {cid[:12]} is using its referenced image {short}\n")
    assert image_id(kyb, "app:1") == short
    kyb.ok("rm", "-f", "user")
    assert kyb.ok("rmi", "app:1") == f"Untagged: app:1\nDeleted: {full}\n"
    assert [r[:2] for r in image_rows(kyb)] == [["busybox", "latest"]]


def test_save_rmi_load_round_trip(kyb: Kyb, tmp_path: Path, busybox_back: None) -> None:
    archive = tmp_path / "busybox.tar"
    before = image_id(kyb, "busybox:latest")
    r = kyb("save", "-o", str(archive), "busybox")
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert archive.stat().st_size > 100_000
    removed = kyb.ok("rmi", "busybox")
    assert removed.splitlines()[0] == "Untagged: busybox:latest"
    assert re.fullmatch(rf"Deleted: sha256:{before}[0-9a-f]{{52}}", removed.splitlines()[1])
    assert image_rows(kyb) == []
    r = kyb("run", "--rm", "busybox", "true")
    assert (r.rc, r.err) == (
        125, "error: Unable to find image 'busybox:latest' locally (make it with kyb image bootstrap busybox)\n")
    assert kyb.ok("load", "-i", str(archive)) == "Loaded image: busybox:latest\n"
    assert image_id(kyb, "busybox:latest") == before
    assert kyb.ok("run", "--rm", "busybox", "echo", "loaded") == "loaded\n"
    r = kyb("load", "-i", str(tmp_path / "missing.tar"))
    assert (r.rc, r.err) == (1, f"error: open {tmp_path / 'missing.tar'}: no such file or directory\n")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryProc]:
    if not Path(REGISTRY_BIN).exists():
        pytest.skip("docker-registry is not installed")
    reg = RegistryProc(tmp_path / "registry").start()
    try:
        yield reg
    finally:
        reg.stop()


def test_push_rmi_pull_run(kyb: Kyb, tmp_path: Path, registry: RegistryProc) -> None:
    full = build(kyb, tmp_path, "pushme:1", "FROM busybox\nRUN echo pushed > /hello\n")
    ref = f"{registry.host}/app:1"
    kyb.ok("tag", "pushme:1", ref)
    kyb.ok("rmi", "pushme:1")
    pushed = kyb.ok("push", ref).splitlines()
    assert pushed[0] == f"The push refers to repository [{registry.host}/app]"
    assert re.fullmatch(r"1: digest: sha256:[0-9a-f]{64} size: \d+", pushed[-1]), pushed
    digest = pushed[-1].split()[2]
    repo_digest = f"{registry.host}/app@{digest}"  # a pushed image knows its digest in the registry
    assert kyb.ok("rmi", ref) == f"Untagged: {ref}\nUntagged: {repo_digest}\nDeleted: {full}\n"
    kyb.ok("image", "prune", "--build-cache")  # the build cache kept the RUN layer: drop it, so it is pulled
    pulled = kyb.ok("pull", ref).splitlines()
    assert pulled[0] == "1: Pulling from app"
    assert pulled[-3:] == [f"Digest: {digest}", f"Status: Downloaded newer image for {ref}", ref]
    assert any(line.endswith(": Pull complete") for line in pulled), pulled  # the RUN layer came back
    assert image_id(kyb, ref) == full.split(":")[1][:12]
    assert kyb.ok("run", "--rm", ref, "cat", "/hello") == "pushed\n"
    # run pulls an image named with a registry host when it is missing, as docker run does
    kyb.ok("rmi", ref)
    r = kyb("run", "--rm", ref, "cat", "/hello")
    assert (r.rc, r.out) == (0, "pushed\n"), r
    assert r.err.splitlines()[0] == f"Unable to find image '{ref}' locally"
    assert f"Status: Downloaded newer image for {ref}" in r.err.splitlines()
    kyb.ok("rmi", ref)
    r = kyb("pull", f"{registry.host}/app:nope")
    assert r.rc == 1 and len(r.err.splitlines()) == 1 and r.err.startswith("error: "), r
    assert "Traceback" not in r.err
