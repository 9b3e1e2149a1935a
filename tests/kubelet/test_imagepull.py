"""imagePullPolicy on the node: the pure decision table, pull secrets, and real pulls from a loopback registry.

The registry is Debian's ``docker-registry`` on 127.0.0.1 (tests/images/registry_fixture.py); images are pushed
there from one store and pulled by the puller into another, as a node would.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.images import bootstrap, registry
from kybernetes.images.auth import Credentials
from kybernetes.images.store import ImageStore
from kybernetes.kubelet import imagepull
from kybernetes.kubelet.imagepull import Action, ImagePuller, PullFailed
from tests.images.registry_fixture import RegistryProc, TokenServer, free_port

needs_registry = pytest.mark.skipif(not shutil.which("docker-registry") or not Path("/bin/busybox").exists(),
                                    reason="needs docker-registry and busybox-static")


@pytest.mark.parametrize(("policy", "present", "contact", "action"), [
    ("Never", True, True, Action.USE_LOCAL),
    ("Never", False, True, Action.NEVER_MISSING),
    ("IfNotPresent", True, True, Action.USE_LOCAL),
    ("IfNotPresent", False, True, Action.PULL),
    ("IfNotPresent", False, False, Action.OFFLINE_MISSING),
    ("Always", True, True, Action.PULL),
    ("Always", False, True, Action.PULL),
    ("Always", True, False, Action.USE_LOCAL),
    ("Always", False, False, Action.OFFLINE_MISSING),
])
def test_decide(policy: str, present: bool, contact: bool, action: Action) -> None:
    assert imagepull.decide(policy, present, contact) is action


def test_offline_still_allows_loopback_registries() -> None:
    assert imagepull.may_contact("127.0.0.1:5000", offline=True)
    assert imagepull.may_contact("localhost:5000", offline=True)
    assert not imagepull.may_contact("registry-1.docker.io", offline=True)
    assert imagepull.may_contact("registry-1.docker.io", offline=False)


def _secret(key: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"data": {key: base64.b64encode(json.dumps(doc).encode()).decode()}}


def test_pull_secret_credentials() -> None:
    auth = base64.b64encode(b"ann:s3cret").decode()
    modern = _secret(".dockerconfigjson", {"auths": {"reg.example:5000": {"auth": auth}}})
    assert imagepull.pull_secret_credentials(modern, "reg.example:5000") == Credentials("ann", "s3cret")
    assert imagepull.pull_secret_credentials(modern, "other.example") is None
    legacy = _secret(".dockercfg", {"https://index.docker.io/v1/": {"username": "bob", "password": "pw"}})
    assert imagepull.pull_secret_credentials(legacy, "registry-1.docker.io") == Credentials("bob", "pw")
    assert imagepull.pull_secret_credentials({"data": {".dockerconfigjson": "!!not base64"}}, "x") is None
    assert imagepull.pull_secret_credentials({}, "x") is None


@pytest.mark.parametrize(("seconds", "text"), [(0.532, "532ms"), (1.2345, "1.234s"), (2.0, "2s"), (12.5, "12.5s")])
def test_go_seconds(seconds: float, text: str) -> None:
    assert imagepull.go_seconds(seconds) == text


def pod(uid: str = "u1", secrets: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    return {"metadata": {"name": "p", "namespace": "default", "uid": uid}, "spec": spec}


async def no_objects(kind: str, name: str) -> dict[str, Any] | None:
    return None


@pytest.fixture
def node_store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "node")


async def test_never_and_offline_use_only_the_store(node_store: ImageStore) -> None:
    bootstrap.bootstrap_busybox(node_store) if Path("/bin/busybox").exists() else pytest.skip("needs busybox")
    puller = ImagePuller(node_store, offline=True)
    got = await puller.ensure(pod(), {"image": "busybox", "imagePullPolicy": "Always"}, 0.0, no_objects)
    assert got.events == [("Normal", "Pulled", 'Container image "busybox" already present on machine')]
    with pytest.raises(PullFailed) as never:
        await puller.ensure(pod(), {"image": "nothere:v1", "imagePullPolicy": "Never"}, 0.0, no_objects)
    assert never.value.reason == "ErrImageNeverPull"
    assert never.value.message == 'Container image "nothere:v1" is not present with pull policy of Never'
    with pytest.raises(PullFailed) as first:
        await puller.ensure(pod(), {"image": "nothere:v1"}, 0.0, no_objects)
    assert first.value.reason == "ErrImagePull" and "offline" in first.value.message
    with pytest.raises(PullFailed) as again:  # within the 10 s back-off: no new attempt
        await puller.ensure(pod(), {"image": "nothere:v1"}, 5.0, no_objects)
    assert (again.value.reason, again.value.message) == ("ImagePullBackOff", 'Back-off pulling image "nothere:v1"')
    with pytest.raises(PullFailed) as later:  # the back-off is per pod
        await puller.ensure(pod("u2"), {"image": "nothere:v1"}, 5.0, no_objects)
    assert later.value.reason == "ErrImagePull"
    with pytest.raises(PullFailed) as bad:
        await puller.ensure(pod(), {"image": "library/UPPER"}, 0.0, no_objects)
    assert bad.value.reason == "InvalidImageName"


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[RegistryProc]:
    proc = RegistryProc(tmp_path / "registry").start()
    try:
        yield proc
    finally:
        proc.stop()


@needs_registry
async def test_pulls_from_a_registry_with_policy(reg: RegistryProc, tmp_path: Path, node_store: ImageStore) -> None:
    build = ImageStore(tmp_path / "build")
    bootstrap.bootstrap_busybox(build)
    ref = f"{reg.host}/team/box:v1"
    build.tag("busybox", ref)
    await registry.push(build, ref)
    puller = ImagePuller(node_store, offline=True)  # loopback registries stay allowed offline
    got = await puller.ensure(pod(), {"image": ref, "imagePullPolicy": "IfNotPresent"}, 0.0, no_objects)
    assert got.image.id == build.resolve(ref).id
    assert got.events[0] == ("Normal", "Pulling", f'Pulling image "{ref}"')
    kind, reason, message = got.events[1]
    assert (kind, reason) == ("Normal", "Pulled")
    assert message.startswith(f'Successfully pulled image "{ref}" in ') and "including waiting). Image size: " in message
    again = await puller.ensure(pod(), {"image": ref, "imagePullPolicy": "IfNotPresent"}, 1.0, no_objects)
    assert [r for _, r, _ in again.events] == ["Pulled"]  # present: no registry round trip
    always = await puller.ensure(pod(), {"image": ref, "imagePullPolicy": "Always"}, 2.0, no_objects)
    assert [r for _, r, _ in always.events] == ["Pulling", "Pulled"]
    with pytest.raises(PullFailed) as missing:
        await puller.ensure(pod(), {"image": f"{reg.host}/team/box:nope"}, 3.0, no_objects)
    assert missing.value.reason == "ErrImagePull"
    assert missing.value.message.startswith(f'Failed to pull image "{reg.host}/team/box:nope": ')
    assert "not found" in missing.value.message


@needs_registry
async def test_always_falls_back_to_the_store_only_when_the_registry_is_unreachable(
    node_store: ImageStore, tmp_path: Path
) -> None:
    bootstrap.bootstrap_busybox(node_store)
    ref = f"127.0.0.1:{free_port()}/gone/box:v1"  # nothing listens there
    node_store.tag("busybox", ref)
    puller = ImagePuller(node_store)
    got = await puller.ensure(pod(), {"image": ref, "imagePullPolicy": "Always"}, 0.0, no_objects)
    assert [r for _, r, _ in got.events] == ["Pulling", "Pulled"]
    assert got.events[1][2] == f'Container image "{ref}" already present on machine'
    again = await puller.ensure(pod("u3"), {"image": ref, "imagePullPolicy": "Always"}, 0.0, no_objects)
    assert [r for _, r, _ in again.events] == ["Pulled"]  # remembered as unreachable: no second attempt
    with pytest.raises(PullFailed) as refused:
        await puller.ensure(pod(), {"image": f"127.0.0.1:{free_port()}/gone/other:v1"}, 0.0, no_objects)
    assert "connection refused" in refused.value.message


@needs_registry
async def test_image_pull_secrets_authenticate(tmp_path: Path, node_store: ImageStore) -> None:
    (tmp_path / "tokens").mkdir()
    tokens = TokenServer(tmp_path / "tokens", users={"ann": "s3cret"}).start()
    reg = RegistryProc(tmp_path / "registry", auth=tokens.registry_auth()).start()
    try:
        build = ImageStore(tmp_path / "build")
        bootstrap.bootstrap_busybox(build)
        ref = f"{reg.host}/private/box:v1"
        build.tag("busybox", ref)
        await registry.push(build, ref, auth=Credentials("ann", "s3cret"))
        puller = ImagePuller(node_store)
        with pytest.raises(PullFailed) as anonymous:
            await puller.ensure(pod(), {"image": ref}, 0.0, no_objects)
        assert anonymous.value.reason == "ErrImagePull"
        auth = base64.b64encode(b"ann:s3cret").decode()
        secret = _secret(".dockerconfigjson", {"auths": {reg.host: {"auth": auth}}})

        async def fetch(kind: str, name: str) -> dict[str, Any] | None:
            return secret if (kind, name) == ("secrets", "regcred") else None

        got = await puller.ensure(pod("u9", ["missing", "regcred"]), {"image": ref}, 0.0, fetch)
        assert got.image.id == build.resolve(ref).id
    finally:
        reg.stop()
        tokens.stop()
