"""The registry client against the real registry (Debian's ``docker-registry``, distribution v2.8) on loopback.

Grouped by concern: pure helpers (tables); push and pull round trips; manifest lists; what is skipped
(blobs already present on either side, cross-repository mounts); errors as the user reads them; auth (bearer
tokens from a token server, htpasswd Basic, Docker ``config.json`` credentials). Each test uses its own
repository names, so the module-scoped registries are shared without interference.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import json
import os
import tarfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kybernetes.images import oci
from kybernetes.images.auth import Authorizer, Challenge, Credentials, load_credentials, parse_challenges
from kybernetes.images.registry import (
    RegistryClient,
    RegistryError,
    error_message,
    is_insecure_host,
    pull,
    push,
    repository_scope,
    select_platform,
)
from kybernetes.images.store import Image, ImageStore
from tests.images.registry_fixture import HAVE_BCRYPT, RegistryProc, TokenServer, free_port, htpasswd_line

pytestmark = pytest.mark.timeout(60)

USERS = {"alice": "wonderland"}

# -- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
async def no_leftover_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    left = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    assert not left, f"tasks left behind: {left}"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProc]:
    reg = RegistryProc(tmp_path_factory.mktemp("registry")).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(tmp_path_factory.mktemp("token"), USERS).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer) -> Iterator[RegistryProc]:
    reg = RegistryProc(tmp_path_factory.mktemp("token-registry"), token_server.registry_auth()).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProc]:
    if not HAVE_BCRYPT:
        pytest.skip("no bcrypt for htpasswd (stdlib crypt with libxcrypt)")
    base = tmp_path_factory.mktemp("basic-registry")
    (base / "htpasswd").write_text("".join(htpasswd_line(u, p) + "\n" for u, p in USERS.items()))
    reg = RegistryProc(base, {"htpasswd": {"realm": "kyb-test", "path": str(base / "htpasswd")}}).start()
    yield reg
    reg.stop()


class Recorder:
    """An aiohttp session whose requests are recorded as ``(method, path)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._on_start)
        self.session = aiohttp.ClientSession(trace_configs=[trace])

    async def _on_start(self, _s: Any, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        self.calls.append((params.method, params.url.path))

    def count(self, method: str, fragment: str = "") -> int:
        return sum(1 for m, p in self.calls if m == method and fragment in p)

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
async def rec() -> AsyncIterator[Recorder]:
    r = Recorder()
    yield r
    await r.session.close()


@pytest.fixture
def repo() -> str:
    return "app-" + uuid.uuid4().hex[:8]


def new_store(tmp_path: Path, name: str) -> ImageStore:
    return ImageStore(tmp_path / name)


# -- images built straight into a store --------------------------------------------------------------------------


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_image(store: ImageStore, name: str, layers: list[dict[str, bytes]], arch: str = "amd64") -> Image:
    """Layers alternate plain and gzip tarballs, so both media types travel."""
    descriptors, diff_ids = [], []
    for i, files in enumerate(layers):
        raw = layer_tar(files)
        blob, media_type = (gzip.compress(raw, mtime=0), oci.OCI_LAYER_GZIP) if i % 2 else (raw, oci.OCI_LAYER)
        descriptors.append({"mediaType": media_type, "digest": store.content.write(blob), "size": len(blob)})
        diff_ids.append(oci.digest_bytes(raw))
    config = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    return store.put_image(config, descriptors, [name])


def two_layers(tag: str) -> list[dict[str, bytes]]:
    return [{"etc/os-release": b"ID=kyb\n", "etc/tag": tag.encode()}, {"bin/app": b"#!/bin/sh\necho " + tag.encode()}]


def lines_with(lines: list[str], text: str) -> list[str]:
    return [line for line in lines if text in line]


# -- pure helpers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "challenge", "expected"),
    [
        (404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}', "",
         ("MANIFEST_UNKNOWN", "manifest unknown: manifest unknown")),
        (401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', "",
         ("UNAUTHORIZED", "unauthorized: authentication required")),
        (401, b'{"details":"incorrect username or password"}', "",
         ("UNAUTHORIZED", "unauthorized: incorrect username or password")),
        (401, b"", 'Bearer realm="http://a/token",service="s",error="insufficient_scope"',
         ("DENIED", "denied: requested access to the resource is denied")),
        (401, b"", 'Bearer realm="r",error="invalid_token",error_description="token expired"',
         ("UNAUTHORIZED", "unauthorized: token expired")),
        (401, b"", "", ("UNAUTHORIZED", "unauthorized: authentication required")),
        (429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}', "",
         ("TOOMANYREQUESTS", "toomanyrequests: slow down")),
        (400, b'{"errors":[{"code":"NAME_INVALID"}]}', "", ("NAME_INVALID", "name invalid: unknown error")),
        (400, b"<html>bad</html>", "", ("", "error parsing HTTP 400 response body: <html>bad</html>")),
        (500, b"oops", "", ("", "received unexpected HTTP status: 500")),
    ],
    ids=["errcode", "unauthorized", "hub-details", "insufficient-scope", "invalid-token", "bare-401",
         "toomanyrequests", "code-without-message", "html", "server-error"],
)
def test_error_message(status: int, body: bytes, challenge: str, expected: tuple[str, str]) -> None:
    assert error_message(status, body, [challenge] if challenge else []) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"',
         [Challenge("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                               "scope": "repository:a/b:pull,push"})]),
        ('Basic realm="basic-realm"', [Challenge("basic", {"realm": "basic-realm"})]),
        ("Bearer realm=http://x/token, service=svc", [Challenge("bearer", {"realm": "http://x/token", "service": "svc"})]),
        ('Basic realm="a\\"b"', [Challenge("basic", {"realm": 'a"b'})]),
        ("", []),
    ],
    ids=["docker-hub", "basic", "unquoted", "escaped-quote", "empty"],
)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges([header]) == expected


INDEX = {"manifests": [
    {"digest": "sha256:" + "1" * 64, "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
    {"digest": "sha256:" + "2" * 64, "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    {"digest": "sha256:" + "3" * 64, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"digest": "sha256:" + "4" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
    {"digest": "sha256:" + "5" * 64, "platform": {"os": "windows", "architecture": "amd64"}},
]}


@pytest.mark.parametrize(
    ("platform", "pick"),
    [(("linux", "amd64"), "4"), (("linux", "arm64"), "3"), (("linux", "arm"), "2"), (("linux", "arm", "v6"), "1"),
     (("windows", "amd64"), "5"), (("linux", "s390x"), None), (("linux", "arm64", "v9"), None)],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else str(v),
)
def test_select_platform(platform: tuple[str, ...], pick: str | None) -> None:
    if pick is None:
        with pytest.raises(RegistryError, match=f"no matching manifest for {'/'.join(platform)} in the manifest list"):
            select_platform(INDEX, platform)
    else:
        assert select_platform(INDEX, platform)["digest"] == "sha256:" + pick * 64


@pytest.mark.parametrize(
    ("host", "insecure", "scheme"),
    [("localhost:5000", None, "http"), ("127.0.0.1:5000", None, "http"), ("[::1]:5000", None, "http"),
     ("localhost", None, "http"), ("registry.example.com", None, "https"), ("registry-1.docker.io", None, "https"),
     ("registry.example.com:5000", True, "http"), ("localhost:5000", False, "https")],
)
def test_scheme(host: str, insecure: bool | None, scheme: str) -> None:
    if insecure is None:
        assert is_insecure_host(host) == (scheme == "http")
    assert RegistryClient(host, insecure=insecure).base.scheme == scheme


def test_load_credentials(tmp_path: Path) -> None:
    def b64(s: str) -> str:
        return base64.b64encode(s.encode()).decode()

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": b64("hubuser:hub:pw")},
        "127.0.0.1:5000": {"auth": b64("local:pw")},
        "http://myreg.example:8443/v2/": {"username": "plain", "password": "text"},
        "broken.example": {"auth": "!!!not base64"},
    }}))
    assert load_credentials("registry-1.docker.io", path) == Credentials("hubuser", "hub:pw")
    assert load_credentials("docker.io", path) == Credentials("hubuser", "hub:pw")
    assert load_credentials("127.0.0.1:5000", path) == Credentials("local", "pw")
    assert load_credentials("myreg.example:8443", path) == Credentials("plain", "text")
    assert load_credentials("broken.example", path) is None
    assert load_credentials("127.0.0.1:5001", path) is None
    assert load_credentials("127.0.0.1:5000", tmp_path / "missing.json") is None


# -- round trips ---------------------------------------------------------------------------------------------------


async def test_push_then_pull_round_trip(tmp_path: Path, registry: RegistryProc, repo: str) -> None:
    src, dst = new_store(tmp_path, "src"), new_store(tmp_path, "dst")
    ref = f"{registry.host}/{repo}:1"
    image = build_image(src, ref, two_layers(repo))
    push_lines: list[str] = []
    digest = await push(src, ref, progress=push_lines.append)
    assert digest == image.manifest_digest  # the registry stores our bytes as they are
    diff_shorts = [d.split(":")[1][:12] for d in image.diff_ids]
    assert push_lines[:3] == [f"The push refers to repository [{registry.host}/{repo}]",
                              *(f"{s}: Preparing" for s in reversed(diff_shorts))]
    assert sorted(push_lines[3:-1]) == sorted(f"{s}: Pushed" for s in diff_shorts)  # in completion order
    assert push_lines[-1] == f"1: digest: {digest} size: {len(src.content.read(digest))}"
    assert f"{registry.host}/{repo}@{digest}" in src.resolve(ref).repo_digests

    pull_lines: list[str] = []
    pulled = await pull(dst, ref, progress=pull_lines.append)
    assert (pulled.id, pulled.manifest_digest, pulled.manifest, pulled.config) == (
        image.id, image.manifest_digest, image.manifest, image.config)
    assert [d["digest"] for d in pulled.layers] == [d["digest"] for d in image.layers]
    assert pulled.tags == [ref] and pulled.repo_digests == [f"{registry.host}/{repo}@{digest}"]
    blob_shorts = [d["digest"].split(":")[1][:12] for d in image.layers]
    assert pull_lines[0] == f"1: Pulling from {repo}"
    assert sorted(lines_with(pull_lines, "Pull complete")) == sorted(f"{s}: Pull complete" for s in blob_shorts)
    assert pull_lines[-2:] == [f"Digest: {digest}", f"Status: Downloaded newer image for {ref}"]
    lower, upper = dst.layer_dirs(pulled)
    assert (lower / "etc/tag").read_bytes() == repo.encode()
    assert (upper / "bin/app").read_bytes() == b"#!/bin/sh\necho " + repo.encode()
    assert not list((dst.root / "ingest").iterdir())


async def test_pull_by_digest(tmp_path: Path, registry: RegistryProc, repo: str) -> None:
    src, dst = new_store(tmp_path, "src"), new_store(tmp_path, "dst")
    build_image(src, f"{registry.host}/{repo}:1", two_layers(repo))
    digest = await push(src, f"{registry.host}/{repo}:1")
    lines: list[str] = []
    by_digest = f"{registry.host}/{repo}@{digest}"
    image = await pull(dst, by_digest, progress=lines.append)
    assert image.manifest_digest == digest and image.tags == [] and image.repo_digests == [by_digest]
    assert dst.resolve(by_digest).id == image.id
    assert lines[0] == f"{digest}: Pulling from {repo}" and lines[-1] == f"Status: Downloaded newer image for {by_digest}"
    again: list[str] = []
    await pull(dst, by_digest, progress=again.append)
    assert again[-1] == f"Status: Image is up to date for {by_digest}"


async def test_second_pull_is_up_to_date_and_downloads_nothing(
    tmp_path: Path, registry: RegistryProc, repo: str, rec: Recorder
) -> None:
    src, dst = new_store(tmp_path, "src"), new_store(tmp_path, "dst")
    ref = f"{registry.host}/{repo}:latest"
    build_image(src, ref, two_layers(repo))
    await push(src, ref)
    await pull(dst, ref, session=rec.session)
    assert rec.count("GET", "/blobs/") == 3  # config and two layers
    rec.clear()
    lines: list[str] = []
    await pull(dst, f"{registry.host}/{repo}", progress=lines.append, session=rec.session)
    assert rec.count("GET", "/blobs/") == 0
    assert rec.calls == [("GET", "/v2/"), ("GET", f"/v2/{repo}/manifests/latest")]
    assert len(lines_with(lines, "Already exists")) == 2
    assert lines[-1] == f"Status: Image is up to date for {ref}"


async def test_pull_shares_layers_already_in_the_store(
    tmp_path: Path, registry: RegistryProc, repo: str, rec: Recorder
) -> None:
    src, dst = new_store(tmp_path, "src"), new_store(tmp_path, "dst")
    base_layer = {"etc/base": repo.encode()}
    build_image(src, f"{registry.host}/{repo}:a", [base_layer, {"a": b"a"}])
    build_image(src, f"{registry.host}/{repo}:b", [base_layer, {"b": b"b"}])
    for tag in "ab":
        await push(src, f"{registry.host}/{repo}:{tag}")
    await pull(dst, f"{registry.host}/{repo}:a")
    lines: list[str] = []
    await pull(dst, f"{registry.host}/{repo}:b", progress=lines.append, session=rec.session)
    assert rec.count("GET", "/blobs/") == 2  # the new config and the new layer
    assert len(lines_with(lines, "Already exists")) == 1 and len(lines_with(lines, "Pull complete")) == 1


# -- pushing what is already there -------------------------------------------------------------------------------


async def test_push_skips_blobs_the_registry_has(tmp_path: Path, registry: RegistryProc, repo: str, rec: Recorder) -> None:
    store = new_store(tmp_path, "src")
    ref = f"{registry.host}/{repo}:1"
    build_image(store, ref, two_layers(repo))
    first = await push(store, ref, session=rec.session)
    assert rec.count("POST", "/blobs/uploads/") == 3
    rec.clear()
    lines: list[str] = []
    assert await push(store, ref, progress=lines.append, session=rec.session) == first
    assert len(lines_with(lines, "Layer already exists")) == 2 and not lines_with(lines, "Pushed")
    assert rec.count("POST") == rec.count("PATCH") == 0
    assert rec.count("HEAD", "/blobs/") == 3 and rec.count("PUT", "/manifests/1") == 1


async def test_push_mounts_blobs_from_another_repository(
    tmp_path: Path, registry: RegistryProc, repo: str, rec: Recorder
) -> None:
    store = new_store(tmp_path, "src")
    build_image(store, f"{registry.host}/{repo}:1", two_layers(repo))
    await push(store, f"{registry.host}/{repo}:1")
    store.tag(f"{registry.host}/{repo}:1", f"{registry.host}/{repo}-copy:1")
    lines: list[str] = []
    digest = await push(store, f"{registry.host}/{repo}-copy:1", progress=lines.append, session=rec.session)
    assert len(lines_with(lines, f"Mounted from {repo}")) == 2
    assert rec.count("PUT", "/blobs/") == rec.count("PATCH") == 0
    image = await pull(new_store(tmp_path, "dst"), f"{registry.host}/{repo}-copy:1")
    assert image.manifest_digest == digest


async def test_push_in_chunks(tmp_path: Path, registry: RegistryProc, repo: str, rec: Recorder) -> None:
    store = new_store(tmp_path, "src")
    ref = f"{registry.host}/{repo}:big"
    image = build_image(store, ref, [{"data": os.urandom(5000)}])
    await push(store, ref, chunk_size=1024, session=rec.session)
    size = image.layers[0]["size"]
    assert rec.count("PATCH", "/blobs/uploads/") == -(-size // 1024)
    pulled = await pull(new_store(tmp_path, "dst"), ref)
    assert pulled.layers == image.layers


# -- manifest lists --------------------------------------------------------------------------------------------


async def push_index(
    host: str, repo: str, tag: str, children: list[tuple[Image, dict[str, str]]], media_type: str
) -> str:
    """PUT a manifest list over already-pushed images; return its digest."""
    async with RegistryClient(host, scopes=[repository_scope(repo, "pull,push")]) as client:
        entries = []
        for child, platform in children:
            data, child_type, digest = await client.get_manifest(repo, child.manifest_digest)
            entries.append({"mediaType": child_type, "digest": digest, "size": len(data), "platform": platform})
        index = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
        return await client.put_manifest(repo, tag, oci.canonical_json(index), media_type)


async def push_platform_images(tmp_path: Path, host: str, repo: str, arches: list[str]) -> dict[str, Image]:
    store = new_store(tmp_path, "src")
    out = {}
    for arch in arches:
        out[arch] = build_image(store, f"{host}/{repo}:{arch}", [{"arch": arch.encode(), "repo": repo.encode()}], arch)
        await push(store, f"{host}/{repo}:{arch}")
    return out


@pytest.mark.parametrize("media_type", [oci.OCI_INDEX, oci.DOCKER_MANIFEST_LIST], ids=["oci-index", "docker-list"])
async def test_pull_manifest_list_picks_the_platform(
    tmp_path: Path, registry: RegistryProc, repo: str, media_type: str
) -> None:
    images = await push_platform_images(tmp_path, registry.host, repo, ["arm64", "amd64"])
    index_digest = await push_index(registry.host, repo, "multi", [
        (images["arm64"], {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        (images["amd64"], {"os": "linux", "architecture": "amd64"}),
    ], media_type)
    dst = new_store(tmp_path, "dst")
    lines: list[str] = []
    image = await pull(dst, f"{registry.host}/{repo}:multi", progress=lines.append)
    assert image.id == images["amd64"].id and image.config["architecture"] == "amd64"
    assert image.repo_digests == [f"{registry.host}/{repo}@{index_digest}"]
    assert f"Digest: {index_digest}" in lines
    assert dst.resolve(f"{registry.host}/{repo}@{index_digest}").id == image.id
    arm = await pull(new_store(tmp_path, "arm"), f"{registry.host}/{repo}:multi", platform=("linux", "arm64"))
    assert arm.id == images["arm64"].id


async def test_pull_manifest_list_without_the_platform(tmp_path: Path, registry: RegistryProc, repo: str) -> None:
    images = await push_platform_images(tmp_path, registry.host, repo, ["arm64", "s390x"])
    await push_index(registry.host, repo, "multi", [
        (images[a], {"os": "linux", "architecture": a}) for a in ("arm64", "s390x")], oci.OCI_INDEX)
    dst = new_store(tmp_path, "dst")
    with pytest.raises(RegistryError) as e:
        await pull(dst, f"{registry.host}/{repo}:multi")
    assert str(e.value) == "no matching manifest for linux/amd64 in the manifest list entries"
    assert dst.images() == []


# -- errors ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["repository", "tag", "digest"])
async def test_pull_unknown(tmp_path: Path, registry: RegistryProc, repo: str, missing: str) -> None:
    if missing != "repository":
        store = new_store(tmp_path, "src")
        build_image(store, f"{registry.host}/{repo}:1", two_layers(repo))
        await push(store, f"{registry.host}/{repo}:1")
    name = {"repository": f"{registry.host}/{repo}:1", "tag": f"{registry.host}/{repo}:nope",
            "digest": f"{registry.host}/{repo}@sha256:{'0' * 64}"}[missing]
    dst = new_store(tmp_path, "dst")
    with pytest.raises(RegistryError) as e:
        await pull(dst, name)
    assert str(e.value) == f"manifest for {name} not found: manifest unknown: manifest unknown"
    assert e.value.code == "MANIFEST_UNKNOWN" and dst.images() == []


async def test_pull_corrupted_blob(tmp_path: Path, registry: RegistryProc, repo: str) -> None:
    src, dst = new_store(tmp_path, "src"), new_store(tmp_path, "dst")
    ref = f"{registry.host}/{repo}:1"
    image = build_image(src, ref, two_layers(repo))
    await push(src, ref)
    layer = image.layers[1]["digest"]
    data = registry.blob_data(layer)
    good = data.read_bytes()
    data.write_bytes(bytes(b ^ 0xFF for b in good))  # same length, other bytes
    with pytest.raises(RegistryError) as e:
        await pull(dst, ref)
    assert str(e.value) == f"filesystem layer verification failed for digest {layer}"
    assert dst.images() == [] and not dst.content.has(layer)
    assert not list((dst.root / "ingest").iterdir())


async def test_connection_refused(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(RegistryError) as e:
        await pull(new_store(tmp_path, "dst"), f"127.0.0.1:{port}/app:1")
    assert str(e.value) == f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: connection refused'


async def test_https_to_a_plain_http_registry(tmp_path: Path, registry: RegistryProc) -> None:
    with pytest.raises(RegistryError) as e:
        await pull(new_store(tmp_path, "dst"), f"{registry.host}/app:1", insecure=False)
    assert str(e.value) == f'Get "https://{registry.host}/v2/": http: server gave HTTP response to HTTPS client'


async def test_push_without_the_local_image(tmp_path: Path, registry: RegistryProc) -> None:
    with pytest.raises(RegistryError, match=f"^An image does not exist locally with the tag: {registry.host}/nope$"):
        await push(new_store(tmp_path, "src"), f"{registry.host}/nope:1")


# -- auth --------------------------------------------------------------------------------------------------------------


async def test_token_auth_push_and_pull(
    tmp_path: Path, token_registry: RegistryProc, token_server: TokenServer, repo: str
) -> None:
    src, dst = new_store(tmp_path, "src"), new_store(tmp_path, "dst")
    ref = f"{token_registry.host}/{repo}:1"
    build_image(src, ref, two_layers(repo))
    creds = Credentials("alice", USERS["alice"])
    token_server.requests.clear()
    digest = await push(src, ref, auth=creds)
    assert token_server.requests == [{"scopes": [f"repository:{repo}:pull,push"], "service": token_server.service}]
    image = await pull(dst, ref, auth=creds)
    assert image.manifest_digest == digest
    assert len(token_server.requests) == 2  # one token per operation, cached across its requests


async def test_token_auth_wrong_password(tmp_path: Path, token_registry: RegistryProc, repo: str) -> None:
    src = new_store(tmp_path, "src")
    build_image(src, f"{token_registry.host}/{repo}:1", two_layers(repo))
    bad = Credentials("alice", "not-" + USERS["alice"])
    for op in (pull(new_store(tmp_path, "dst"), f"{token_registry.host}/{repo}:1", auth=bad),
               push(src, f"{token_registry.host}/{repo}:1", auth=bad)):
        with pytest.raises(RegistryError) as e:
            await op
        assert str(e.value) == "unauthorized: incorrect username or password"


async def test_token_auth_anonymous_is_denied(tmp_path: Path, token_registry: RegistryProc, repo: str) -> None:
    src = new_store(tmp_path, "src")
    build_image(src, f"{token_registry.host}/{repo}:1", two_layers(repo))
    with pytest.raises(RegistryError) as e:
        await push(src, f"{token_registry.host}/{repo}:1", auth=None)
    assert str(e.value) == "denied: requested access to the resource is denied"
    with pytest.raises(RegistryError) as e:
        await pull(new_store(tmp_path, "dst"), f"{token_registry.host}/{repo}:1")
    assert str(e.value) == (f"pull access denied for {token_registry.host}/{repo}, repository does not exist or may "
                            "require 'docker login': denied: requested access to the resource is denied")


async def test_credentials_from_docker_config(
    tmp_path: Path, token_registry: RegistryProc, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "docker"
    config.mkdir()
    auth = base64.b64encode(f"alice:{USERS['alice']}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {token_registry.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    src = new_store(tmp_path, "src")
    build_image(src, f"{token_registry.host}/{repo}:1", two_layers(repo))
    digest = await push(src, f"{token_registry.host}/{repo}:1")
    assert (await pull(new_store(tmp_path, "dst"), f"{token_registry.host}/{repo}:1")).manifest_digest == digest


async def test_basic_auth(tmp_path: Path, basic_registry: RegistryProc, repo: str) -> None:
    src, dst = new_store(tmp_path, "src"), new_store(tmp_path, "dst")
    ref = f"{basic_registry.host}/{repo}:1"
    build_image(src, ref, two_layers(repo))
    creds = Credentials("alice", USERS["alice"])
    digest = await push(src, ref, auth=creds)
    assert (await pull(dst, ref, auth=creds)).manifest_digest == digest
    with pytest.raises(RegistryError, match=r"^unauthorized: authentication required$"):
        await pull(new_store(tmp_path, "other"), ref, auth=Credentials("alice", "wrong"))
    with pytest.raises(RegistryError, match=r"^no basic auth credentials$"):
        await pull(new_store(tmp_path, "anon"), ref)


BEARER = 'Bearer realm="http://127.0.0.1:1/token",service="s"'


@pytest.mark.parametrize(
    ("creds", "before", "header", "sent_auth", "retry"),
    [
        (None, None, BEARER, False, True),  # first challenge: fetch a token and retry
        (None, "bearer", BEARER + ',error="insufficient_scope"', True, False),  # our token was not enough
        (None, "bearer", BEARER + ',error="invalid_token"', True, True),  # expired: one fresh token
        (Credentials("u", "p"), None, 'Basic realm="r"', False, True),
        (Credentials("u", "p"), "basic", 'Basic realm="r"', True, False),  # wrong password
        (None, None, 'Basic realm="r"', False, False),  # nothing to send
        (None, None, 'Negotiate abc', False, False),  # a scheme we do not speak
    ],
    ids=["bearer-first", "insufficient-scope", "invalid-token", "basic-first", "basic-refused", "basic-anonymous",
         "unknown-scheme"],
)
def test_authorizer_learn(creds: Credentials | None, before: str | None, header: str, sent_auth: bool,
                          retry: bool) -> None:
    a = Authorizer(creds)
    if before:
        a.challenge = Challenge(before, {})
    assert a.learn([header], sent_auth) is retry


async def test_tokens_are_cached_until_they_expire(token_server: TokenServer, rec: Recorder) -> None:
    now = [1000.0]
    a = Authorizer(Credentials("alice", USERS["alice"]), clock=lambda: now[0])
    a.learn([f'Bearer realm="{token_server.realm}",service="{token_server.service}"'], sent_auth=False)
    first = await a.headers(rec.session, ["repository:x:pull"])
    assert await a.headers(rec.session, ["repository:x:pull"]) == first
    await a.headers(rec.session, ["repository:y:pull"])  # another scope, another token
    assert rec.count("GET", "/token") == 2
    now[0] += 300  # the server's expires_in
    await a.headers(rec.session, ["repository:x:pull"])
    assert rec.count("GET", "/token") == 3
