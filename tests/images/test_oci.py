"""The OCI vocabulary: digests, descriptors, canonical JSON, ChainIDs, platform matching."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from kybernetes.images import oci

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64


def test_digest_bytes_of_empty_input() -> None:
    assert oci.digest_bytes(b"") == EMPTY


@pytest.mark.parametrize(
    ("digest", "valid"),
    [
        pytest.param(EMPTY, True, id="sha256"),
        pytest.param(EMPTY.upper(), False, id="uppercase"),
        pytest.param(EMPTY[:-1], False, id="short"),
        pytest.param(EMPTY + "0", False, id="long"),
        pytest.param(EMPTY.split(":")[1], False, id="no-algorithm"),
        pytest.param("sha512:" + "a" * 128, False, id="sha512"),
        pytest.param(EMPTY + "\n", False, id="trailing-newline"),
    ],
)
def test_valid_digest(digest: str, valid: bool) -> None:
    assert oci.valid_digest(digest) is valid


def test_hex_of() -> None:
    assert oci.hex_of(A) == "a" * 64
    with pytest.raises(ValueError, match="invalid digest"):
        oci.hex_of("sha256:../../etc/passwd")


def test_descriptor_carries_extra_fields() -> None:
    assert oci.descriptor(oci.OCI_LAYER, b"", annotations={"k": "v"}) == {
        "mediaType": oci.OCI_LAYER,
        "digest": EMPTY,
        "size": 0,
        "annotations": {"k": "v"},
    }


def test_canonical_json_is_sorted_and_compact() -> None:
    assert oci.canonical_json({"b": 1, "a": {"d": [2, 1], "c": None}}) == b'{"a":{"c":null,"d":[2,1]},"b":1}'
    assert oci.canonical_json({"x": 1, "y": 2}) == oci.canonical_json({"y": 2, "x": 1})


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("diff_ids", "chain"),
    [
        pytest.param([], [], id="none"),
        pytest.param([A], [A], id="one-layer-is-its-diffid"),
        pytest.param([A, B], [A, _sha(f"{A} {B}")], id="two"),
        pytest.param([A, B, C], [A, _sha(f"{A} {B}"), _sha(f"{_sha(f'{A} {B}')} {C}")], id="three"),
    ],
)
def test_chain_ids(diff_ids: list[str], chain: list[str]) -> None:
    assert oci.chain_ids(diff_ids) == chain


def test_chain_id_known_value() -> None:
    assert oci.chain_ids([A, B])[1] == "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c"


@pytest.mark.parametrize(
    ("platform", "matches"),
    [
        pytest.param({"os": "linux", "architecture": "amd64"}, True, id="linux-amd64"),
        pytest.param({"os": "linux", "architecture": "amd64", "variant": "v1"}, True, id="variant-v1"),
        pytest.param({"os": "linux", "architecture": "amd64", "variant": ""}, True, id="empty-variant"),
        pytest.param({"os": "linux", "architecture": "amd64", "variant": "v3"}, False, id="variant-v3"),
        pytest.param({"os": "linux", "architecture": "arm64", "variant": "v8"}, False, id="arm64"),
        pytest.param({"os": "windows", "architecture": "amd64"}, False, id="windows"),
        pytest.param({"os": "unknown", "architecture": "unknown"}, False, id="attestation"),
        pytest.param({}, False, id="empty"),
        pytest.param(None, False, id="none"),
    ],
)
def test_platform_matches(platform: dict[str, Any] | None, matches: bool) -> None:
    assert oci.platform_matches(platform) is matches


def test_media_type_groups() -> None:
    assert oci.MANIFEST_TYPES == (oci.OCI_MANIFEST, oci.DOCKER_MANIFEST)
    assert oci.INDEX_TYPES == (oci.OCI_INDEX, oci.DOCKER_MANIFEST_LIST)
