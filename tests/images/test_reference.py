"""Image references: Docker's normalization table, its error messages, and image IDs."""

from __future__ import annotations

import pytest

from kybernetes.images import reference
from kybernetes.images.reference import Reference, ReferenceError_

HEX = "0123456789abcdef" * 4
DIGEST = "sha256:" + HEX


@pytest.mark.parametrize(
    ("text", "canonical", "familiar"),
    [
        pytest.param("busybox", "docker.io/library/busybox:latest", "busybox:latest", id="bare-name"),
        pytest.param("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", id="name-tag"),
        pytest.param("library/busybox", "docker.io/library/busybox:latest", "busybox:latest", id="library-prefix"),
        pytest.param("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", id="docker-io-short"),
        pytest.param("docker.io/library/busybox:uclibc", "docker.io/library/busybox:uclibc", "busybox:uclibc", id="docker-io-full"),
        pytest.param("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest", id="legacy-index-full"),
        pytest.param("index.docker.io/busybox:1", "docker.io/library/busybox:1", "busybox:1", id="legacy-index-short"),
        pytest.param("index.docker.io/user/app", "docker.io/user/app:latest", "user/app:latest", id="legacy-index-user"),
        pytest.param("user/repo", "docker.io/user/repo:latest", "user/repo:latest", id="user-repo"),
        pytest.param("docker.io/user/repo:tag", "docker.io/user/repo:tag", "user/repo:tag", id="docker-io-user"),
        pytest.param("library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", id="library-nested-stays"),
        pytest.param("localhost/x", "localhost/x:latest", "localhost/x:latest", id="localhost"),
        pytest.param("localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t", id="localhost-port"),
        pytest.param("host.example.com/x", "host.example.com/x:latest", "host.example.com/x:latest", id="dotted-host"),
        pytest.param("host.example.com:443/x/y/z:v1.0-rc_1", "host.example.com:443/x/y/z:v1.0-rc_1",
                     "host.example.com:443/x/y/z:v1.0-rc_1", id="host-port-deep"),
        pytest.param("[::1]:5000/x:1", "[::1]:5000/x:1", "[::1]:5000/x:1", id="ipv6-host"),
        pytest.param("Foo/bar", "Foo/bar:latest", "Foo/bar:latest", id="uppercase-first-is-domain"),
        pytest.param("sub-dom.example.com/a__b/c-d--e/f.g:Tag_1", "sub-dom.example.com/a__b/c-d--e/f.g:Tag_1",
                     "sub-dom.example.com/a__b/c-d--e/f.g:Tag_1", id="separators"),
        pytest.param("example.com:5000", "docker.io/library/example.com:5000", "example.com:5000", id="host-port-alone-is-name-tag"),
        pytest.param("localhost", "docker.io/library/localhost:latest", "localhost:latest", id="localhost-alone-is-name"),
        pytest.param("busybox@" + DIGEST, "docker.io/library/busybox@" + DIGEST, "busybox@" + DIGEST, id="digest"),
        pytest.param("busybox:1@" + DIGEST, "docker.io/library/busybox:1@" + DIGEST, "busybox:1@" + DIGEST, id="tag-and-digest"),
        pytest.param("localhost:5000/x@" + DIGEST, "localhost:5000/x@" + DIGEST, "localhost:5000/x@" + DIGEST, id="host-digest"),
        pytest.param("busybox:" + "t" * 128, "docker.io/library/busybox:" + "t" * 128, "busybox:" + "t" * 128, id="longest-tag"),
    ],
)
def test_parse_normalizes(text: str, canonical: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert str(ref) == canonical
    assert ref.familiar == familiar
    assert str(reference.parse(canonical)) == canonical  # canonical is a fixed point
    assert str(reference.parse(familiar)) == canonical


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("busybox", Reference("docker.io", "library/busybox", "latest"), id="bare"),
        pytest.param("localhost:5000/a/b:t", Reference("localhost:5000", "a/b", "t"), id="localhost-port"),
        pytest.param("busybox@" + DIGEST, Reference("docker.io", "library/busybox", "", DIGEST), id="digest-no-tag"),
    ],
)
def test_parse_fields(text: str, expected: Reference) -> None:
    assert reference.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        pytest.param("busybox", "", id="bare-gets-no-tag"),
        pytest.param("busybox:1", "1", id="explicit-tag-kept"),
    ],
)
def test_parse_without_default_tag(text: str, tag: str) -> None:
    ref = reference.parse(text, default_tag=False)
    assert ref.tag == tag
    assert ref.repository == "docker.io/library/busybox"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "invalid reference format", id="empty"),
        pytest.param(" busybox", "invalid reference format", id="leading-space"),
        pytest.param("busybox\n", "invalid reference format", id="trailing-newline"),
        pytest.param("a\n:b", "invalid reference format", id="newline-before-tag"),
        pytest.param("example.com\n/x", "invalid reference format", id="newline-in-domain"),
        pytest.param("busybox:", "invalid reference format", id="empty-tag"),
        pytest.param("busybox::latest", "invalid reference format", id="double-colon"),
        pytest.param("::", "invalid reference format", id="only-colons"),
        pytest.param(":tag", "invalid reference format", id="no-name"),
        pytest.param("busybox:-tag", "invalid reference format", id="tag-starts-with-dash"),
        pytest.param("busybox:.tag", "invalid reference format", id="tag-starts-with-dot"),
        pytest.param("busybox:t\u00e9", "invalid reference format", id="non-ascii-tag"),
        pytest.param("busybox:" + "t" * 129, "invalid reference format", id="tag-too-long"),
        pytest.param("busybox:a/b", "invalid reference format", id="slash-in-tag-position"),
        pytest.param("busybox@sha256:abc", "invalid reference format", id="short-digest"),
        pytest.param("busybox@md5:" + HEX[:32], "invalid reference format", id="unknown-digest-algorithm"),
        pytest.param("busybox@" + DIGEST.upper(), "invalid reference format", id="uppercase-digest"),
        pytest.param("/busybox", "invalid reference format", id="leading-slash"),
        pytest.param("busybox/", "invalid reference format", id="trailing-slash"),
        pytest.param("a//b", "invalid reference format", id="empty-component"),
        pytest.param("-busybox", "invalid reference format", id="leading-dash"),
        pytest.param("busy_-box", "invalid reference format", id="mixed-separator"),
        pytest.param("busy box", "invalid reference format", id="space"),
        pytest.param("localhost:port/x", "invalid reference format", id="non-numeric-port"),
        pytest.param("exa_mple.com/x", "invalid reference format", id="underscore-in-host"),
        pytest.param("Busybox", "invalid reference format: repository name must be lowercase", id="uppercase-name"),
        pytest.param("UPPER:Tag", "invalid reference format: repository name must be lowercase", id="uppercase-with-tag"),
        pytest.param("busybox/UPPER", "invalid reference format: repository name must be lowercase", id="uppercase-path"),
        pytest.param("localhost:5000/Foo", "invalid reference format: repository name must be lowercase", id="uppercase-behind-host"),
        pytest.param("a" * 250 + "/bb", "repository name must not be more than 255 characters", id="name-too-long"),
    ],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ReferenceError_) as e:
        reference.parse(text)
    assert str(e.value) == message or message in str(e.value)
    assert "\n" not in str(e.value)


def test_reference_error_is_a_value_error() -> None:
    assert issubclass(ReferenceError_, ValueError)


@pytest.mark.parametrize(
    ("text", "host"),
    [
        pytest.param("busybox", "registry-1.docker.io", id="docker-hub"),
        pytest.param("index.docker.io/busybox", "registry-1.docker.io", id="legacy-hub"),
        pytest.param("localhost:5000/a", "localhost:5000", id="local-registry"),
        pytest.param("quay.io/x/y", "quay.io", id="other-registry"),
    ],
)
def test_registry_host(text: str, host: str) -> None:
    assert reference.parse(text).registry_host == host


@pytest.mark.parametrize(
    ("text", "repository", "familiar_repository"),
    [
        pytest.param("busybox:1", "docker.io/library/busybox", "busybox", id="official"),
        pytest.param("user/app", "docker.io/user/app", "user/app", id="user"),
        pytest.param("localhost:5000/app", "localhost:5000/app", "localhost:5000/app", id="other-domain"),
    ],
)
def test_repository_forms(text: str, repository: str, familiar_repository: str) -> None:
    ref = reference.parse(text)
    assert ref.repository == repository
    assert ref.familiar_repository == familiar_repository


def test_with_tag_and_with_digest_replace_each_other() -> None:
    ref = reference.parse("busybox:1@" + DIGEST)
    assert str(ref.with_tag("2")) == "docker.io/library/busybox:2"
    assert str(ref.with_digest(DIGEST)) == "docker.io/library/busybox@" + DIGEST


@pytest.mark.parametrize(
    ("text", "is_id"),
    [
        pytest.param(DIGEST, True, id="full-id"),
        pytest.param(HEX, True, id="bare-hex"),
        pytest.param(HEX[:63], False, id="63-hex"),
        pytest.param(HEX + "0", False, id="65-hex"),
        pytest.param(DIGEST.upper(), False, id="uppercase"),
        pytest.param("sha512:" + HEX, False, id="other-algorithm"),
        pytest.param("busybox", False, id="name"),
    ],
)
def test_looks_like_id(text: str, is_id: bool) -> None:
    assert reference.looks_like_id(text) is is_id


@pytest.mark.parametrize(
    ("text", "is_short"),
    [
        pytest.param("abcd", True, id="4-chars"),
        pytest.param("abc", False, id="3-chars"),
        pytest.param(HEX[:12], True, id="12-chars"),
        pytest.param(HEX, True, id="64-chars"),
        pytest.param(HEX + "0", False, id="65-chars"),
        pytest.param("abcg", False, id="not-hex"),
        pytest.param("ABCD", False, id="uppercase"),
        pytest.param("", False, id="empty"),
    ],
)
def test_is_short_id(text: str, is_short: bool) -> None:
    assert reference.is_short_id(text) is is_short
