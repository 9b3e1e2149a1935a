"""Image archives: export -> import round trips, hand-made ``docker save`` and OCI layouts, broken archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from kybernetes.images import oci
from kybernetes.images.archive import export_images, import_archive
from kybernetes.images.store import Image, ImageError, ImageNotFound, ImageStore

from .imagefactory import BASE_LAYER, Dir, Layer, config_for, layer_tar, make_image, make_pulled_image, sha256


@pytest.fixture
def source(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "source")


@pytest.fixture
def target(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "target")


def export(store: ImageStore, names: list[str], path: Path) -> list[Image]:
    with open(path, "wb") as f:
        return export_images(store, names, f)


def write_tar(path: Path, members: Mapping[str, bytes | tuple[str, str]], compress: bool = False) -> Path:
    """A tar from name -> bytes (a file) or ("symlink", target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, value in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, value[1]
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    path.write_bytes(gzip.compress(buf.getvalue()) if compress else buf.getvalue())
    return path


def tar_members(path: Path) -> dict[str, bytes]:
    """The regular files of a tar, by name."""
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def same_image(a: Image, b: Image) -> None:
    assert (b.id, b.manifest_digest, b.tags) == (a.id, a.manifest_digest, a.tags)
    assert b.manifest == a.manifest and b.config == a.config


# -- export -> import --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["built", "pulled"])
def test_round_trip(source: ImageStore, target: ImageStore, tmp_path: Path, kind: str) -> None:
    layers: list[Layer] = [BASE_LAYER, {"app/": Dir(), "app/run": "echo hi"}]
    make = make_image if kind == "built" else make_pulled_image
    img = make(source, layers, names=["foo", "localhost:5000/team/foo:v1"], Cmd=["run"])
    path = tmp_path / "out.tar"
    assert [i.id for i in export(source, ["foo", "localhost:5000/team/foo:v1"], path)] == [img.id]
    assert sorted(import_archive(target, path)) == ["Loaded image: foo:latest", "Loaded image: localhost:5000/team/foo:v1"]
    same_image(img, target.resolve("foo"))
    fs = target.layer_dirs(target.resolve("foo"))
    assert (fs[1] / "app/run").read_text() == "echo hi"


def test_round_trip_of_several_images_shares_blobs(source: ImageStore, target: ImageStore, tmp_path: Path) -> None:
    a = make_image(source, [BASE_LAYER, {"a": "a"}], names=["a:1"])
    b = make_image(source, [BASE_LAYER, {"b": "b"}], names=["b:2"])
    c = make_image(source, [{"c": "c"}])  # dangling
    path = tmp_path / "out.tar"
    assert [i.id for i in export(source, ["a:1", "b:2", c.id], path)] == [a.id, b.id, c.id]
    members = tar_members(path)
    assert sum(1 for n in members if n == f"blobs/sha256/{a.layers[0]['digest'][7:]}") == 1
    assert sorted(import_archive(target, path)) == sorted(["Loaded image: a:1", "Loaded image: b:2", f"Loaded image ID: {c.id}"])
    for img in (a, b, c):
        same_image(img, target.get(img.id))


def test_import_twice_is_idempotent(source: ImageStore, target: ImageStore, tmp_path: Path) -> None:
    img = make_image(source, [BASE_LAYER], names=["foo"])
    path = tmp_path / "out.tar"
    export(source, ["foo"], path)
    assert import_archive(target, path) == import_archive(target, path) == ["Loaded image: foo:latest"]
    assert [i.id for i in target.images()] == [img.id]


def test_import_gzip_compressed_archive(source: ImageStore, target: ImageStore, tmp_path: Path) -> None:
    img = make_image(source, [BASE_LAYER], names=["foo"])
    path = tmp_path / "out.tar"
    export(source, ["foo"], path)
    gz = tmp_path / "out.tar.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert import_archive(target, gz) == ["Loaded image: foo:latest"]
    same_image(img, target.resolve("foo"))


# -- the exported tar --------------------------------------------------------------------------------------------


def test_export_shapes(source: ImageStore, tmp_path: Path) -> None:
    img = make_image(source, [BASE_LAYER, {"x": "x"}], names=["foo", "bar:2"])
    path = tmp_path / "out.tar"
    export(source, ["foo", "bar:2"], path)
    members = tar_members(path)
    layers = [f"blobs/sha256/{layer['digest'][7:]}" for layer in img.layers]
    assert set(members) == {"oci-layout", "index.json", "manifest.json", "repositories",
                            f"blobs/sha256/{img.id[7:]}", f"blobs/sha256/{img.manifest_digest[7:]}", *layers}
    for name, data in members.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads(members["manifest.json"]) == [
        {"Config": f"blobs/sha256/{img.id[7:]}", "RepoTags": ["foo:latest", "bar:2"], "Layers": layers}
    ]
    desc = {"mediaType": oci.OCI_MANIFEST, "digest": img.manifest_digest, "size": len(members[f"blobs/sha256/{img.manifest_digest[7:]}"])}
    assert json.loads(members["index.json"]) == {
        "schemaVersion": 2,
        "mediaType": oci.OCI_INDEX,
        "manifests": [
            {**desc, "annotations": {oci.CONTAINERD_IMAGE_NAME: "docker.io/library/foo:latest", oci.REF_NAME_ANNOTATION: "latest"}},
            {**desc, "annotations": {oci.CONTAINERD_IMAGE_NAME: "docker.io/library/bar:2", oci.REF_NAME_ANNOTATION: "2"}},
        ],
    }
    assert json.loads(members["repositories"]) == {"foo": {"latest": img.layers[-1]["digest"][7:]},
                                                    "bar": {"2": img.layers[-1]["digest"][7:]}}


def test_gnu_tar_reads_the_export(source: ImageStore, tmp_path: Path) -> None:
    img = make_image(source, [BASE_LAYER, {"x": "x"}], names=["foo"])
    path = tmp_path / "out.tar"
    export(source, ["foo"], path)
    listing = subprocess.run(["tar", "-tvf", str(path)], capture_output=True, text=True, check=True)
    assert listing.stderr == ""
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["tar", "-xf", str(path), "-C", str(out)], check=True, capture_output=True)
    for digest in [img.id, img.manifest_digest, *(layer["digest"] for layer in img.layers)]:
        assert sha256((out / "blobs/sha256" / digest[7:]).read_bytes()) == digest
    index = json.loads((out / "index.json").read_text())
    manifest = json.loads((out / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    assert manifest["config"]["digest"] == img.id
    with tarfile.open(out / "blobs/sha256" / img.layers[0]["digest"][7:]) as layer:
        assert layer.getnames() == ["etc", "etc/os-release"]


@pytest.mark.parametrize(
    ("names", "repo_tags"),
    [
        pytest.param(["foo"], ["foo:latest"], id="one-of-two-tags"),
        pytest.param(["{id}"], ["bar:2", "foo:latest"], id="by-id-all-tags"),
        pytest.param(["{short}"], ["bar:2", "foo:latest"], id="by-short-id-all-tags"),
        pytest.param(["foo", "bar:2"], ["foo:latest", "bar:2"], id="both-names-one-entry"),
        pytest.param(["foo", "foo:latest"], ["foo:latest"], id="same-name-twice"),
    ],
)
def test_export_repo_tags(source: ImageStore, tmp_path: Path, names: list[str], repo_tags: list[str]) -> None:
    img = make_image(source, [BASE_LAYER], names=["foo", "bar:2"])
    path = tmp_path / "out.tar"
    export(source, [n.format(id=img.id, short=img.short_id) for n in names], path)
    [entry] = json.loads(tar_members(path)["manifest.json"])
    assert entry["RepoTags"] == repo_tags


def test_export_of_a_missing_image(source: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound, match="No such image: nope:latest"):
        export(source, ["nope"], tmp_path / "out.tar")


# -- hand-made docker save (legacy layout) -----------------------------------------------------------------------


def _legacy_config(diff_ids: list[str], marker: str) -> bytes:
    """Docker's own bytes: Go struct order and spacing, not our sorted canonical JSON."""
    doc = {"architecture": "amd64", "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"m": marker}},
           "created": "2024-01-01T00:00:00Z", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    return json.dumps(doc).encode()


def test_import_legacy_docker_save(target: ImageStore, tmp_path: Path) -> None:
    shared, own1, own2 = layer_tar(BASE_LAYER), layer_tar({"one": "1"}), layer_tar({"two": "2"})
    cfg1 = _legacy_config([sha256(shared), sha256(own1)], "1")
    cfg2 = _legacy_config([sha256(own2), sha256(shared)], "2")
    v1 = {name: hashlib.sha256(name.encode()).hexdigest() for name in ("s", "o1", "o2", "s2")}
    members: dict[str, bytes | tuple[str, str]] = {
        f"{v1['s']}/VERSION": b"1.0", f"{v1['s']}/json": b"{}", f"{v1['s']}/layer.tar": shared,
        f"{v1['o1']}/layer.tar": own1,
        f"{v1['o2']}/layer.tar": own2,
        # docker save writes a layer it already wrote under another v1 id as a symlink
        f"{v1['s2']}/layer.tar": ("symlink", f"../{v1['s']}/layer.tar"),
        f"{hashlib.sha256(cfg1).hexdigest()}.json": cfg1,
        f"{hashlib.sha256(cfg2).hexdigest()}.json": cfg2,
        "manifest.json": json.dumps([
            {"Config": f"{hashlib.sha256(cfg1).hexdigest()}.json", "RepoTags": ["old:1", "localhost:5000/old:1"],
             "Layers": [f"{v1['s']}/layer.tar", f"{v1['o1']}/layer.tar"]},
            {"Config": f"{hashlib.sha256(cfg2).hexdigest()}.json", "RepoTags": None,
             "Layers": [f"{v1['o2']}/layer.tar", f"{v1['s2']}/layer.tar"]},
        ]).encode(),
        "repositories": json.dumps({"old": {"1": v1["o1"]}}).encode(),
    }
    path = write_tar(tmp_path / "legacy.tar", members)
    id1, id2 = sha256(cfg1), sha256(cfg2)
    assert import_archive(target, path) == ["Loaded image: old:1", "Loaded image: localhost:5000/old:1",
                                             f"Loaded image ID: {id2}"]
    first = target.resolve("old:1")
    assert first.id == id1  # the image ID is the digest of Docker's config bytes, kept as they were
    assert target.content.read(id1) == cfg1
    assert first.tags == ["docker.io/library/old:1", "localhost:5000/old:1"]
    assert first.config["config"]["Labels"] == {"m": "1"}
    assert first.diff_ids == [sha256(shared), sha256(own1)]
    second = target.get(id2)
    assert second.tags == []
    assert [layer["digest"] for layer in second.layers] == [sha256(own2), sha256(shared)]
    assert {layer["mediaType"] for layer in first.layers} == {oci.OCI_LAYER}
    dirs = target.layer_dirs(second)
    assert (dirs[0] / "two").read_text() == "2"
    assert (dirs[1] / "etc/os-release").exists()


def test_import_legacy_gzip_layers(target: ImageStore, tmp_path: Path) -> None:
    raw = layer_tar(BASE_LAYER)
    cfg = _legacy_config([sha256(raw)], "gz")
    path = write_tar(tmp_path / "legacy.tar", {
        "l/layer.tar": gzip.compress(raw),
        "c.json": cfg,
        "manifest.json": json.dumps([{"Config": "c.json", "RepoTags": ["gz:1"], "Layers": ["l/layer.tar"]}]).encode(),
    })
    assert import_archive(target, path) == ["Loaded image: gz:1"]
    img = target.resolve("gz:1")
    assert img.layers[0]["mediaType"] == oci.OCI_LAYER_GZIP
    assert (target.layer_dirs(img)[0] / "etc/os-release").exists()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        pytest.param({"manifest.json": b"not json"}, "invalid archive: manifest.json", id="bad-manifest-json"),
        pytest.param({"manifest.json": b'[{"Config": "c.json", "Layers": []}]'}, "invalid archive: c.json is missing",
                     id="missing-config"),
        pytest.param({"c.json": _legacy_config(["sha256:" + "a" * 64], "x"),
                      "manifest.json": b'[{"Config": "c.json", "Layers": ["l/layer.tar"]}]'},
                     "invalid archive: l/layer.tar is missing", id="missing-layer"),
    ],
)
def test_import_broken_docker_archive(target: ImageStore, tmp_path: Path, members: dict[str, Any], message: str) -> None:
    with pytest.raises(ImageError, match=message):
        import_archive(target, write_tar(tmp_path / "bad.tar", members))
    assert target.images() == []


# -- hand-made OCI layouts ---------------------------------------------------------------------------------------


def _platform_image(blobs: dict[str, bytes], arch: str, with_layers: bool = True) -> dict[str, Any]:
    """Add one platform's image to ``blobs``; return its manifest descriptor (with platform)."""
    raw = layer_tar({"arch": arch})
    config = oci.canonical_json({**config_for([sha256(raw)]), "architecture": arch})
    manifest = oci.canonical_json({
        "schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
        "config": oci.descriptor(oci.OCI_CONFIG, config), "layers": [oci.descriptor(oci.OCI_LAYER, raw)],
    })
    for data in (config, manifest, *([raw] if with_layers else [])):
        blobs[f"blobs/sha256/{sha256(data)[7:]}"] = data
    variant = {"variant": "v8"} if arch == "arm64" else {}
    return oci.descriptor(oci.OCI_MANIFEST, manifest, platform={"os": "linux", "architecture": arch, **variant})


NAMED = {oci.CONTAINERD_IMAGE_NAME: "docker.io/library/multi:1", oci.REF_NAME_ANNOTATION: "1"}


def _oci_layout(shape: str) -> tuple[dict[str, Any], str]:
    """(tar members, digest of the amd64 manifest)."""
    blobs: dict[str, Any] = {}
    arm = _platform_image(blobs, "arm64", with_layers=False)  # never read: only its manifest is in the archive
    amd = _platform_image(blobs, "amd64")
    if shape == "nested":
        index = oci.canonical_json({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [arm, amd]})
        blobs[f"blobs/sha256/{sha256(index)[7:]}"] = index
        top = [oci.descriptor(oci.OCI_INDEX, index, annotations=NAMED)]
    else:
        top = [{**arm, "annotations": NAMED}, {**amd, "annotations": NAMED}]
    members = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', **blobs,
               "index.json": orjson.dumps({"schemaVersion": 2, "manifests": top})}
    return members, amd["digest"]


@pytest.mark.parametrize("shape", ["nested", "flat"])
def test_import_oci_layout_picks_linux_amd64(target: ImageStore, tmp_path: Path, shape: str) -> None:
    members, amd64 = _oci_layout(shape)
    assert import_archive(target, write_tar(tmp_path / "oci.tar", members)) == ["Loaded image: multi:1"]
    [img] = target.images()
    assert img.manifest_digest == amd64
    assert img.config["architecture"] == "amd64"
    assert img.tags == ["docker.io/library/multi:1"]
    assert (target.layer_dirs(img)[0] / "arch").read_text() == "amd64"


def test_import_oci_layout_without_linux_amd64(target: ImageStore, tmp_path: Path) -> None:
    blobs: dict[str, Any] = {}
    arm = _platform_image(blobs, "arm64")
    index = oci.canonical_json({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [arm]})
    blobs[f"blobs/sha256/{sha256(index)[7:]}"] = index
    members = {**blobs, "index.json": orjson.dumps({"schemaVersion": 2, "manifests": [oci.descriptor(oci.OCI_INDEX, index)]})}
    with pytest.raises(ImageError, match="no matching manifest for linux/amd64 in the manifest list entries"):
        import_archive(target, write_tar(tmp_path / "oci.tar", members))
    assert target.images() == []


@pytest.mark.parametrize(
    ("annotations", "report", "tags"),
    [
        pytest.param({oci.REF_NAME_ANNOTATION: "latest"}, "Loaded image ID: {id}", [], id="bare-tag-ref-name"),
        pytest.param({oci.REF_NAME_ANNOTATION: "app:2"}, "Loaded image: app:2", ["docker.io/library/app:2"], id="ref-name-with-tag"),
        pytest.param({oci.REF_NAME_ANNOTATION: "localhost:5000/app"}, "Loaded image: localhost:5000/app:latest",
                     ["localhost:5000/app:latest"], id="ref-name-with-host"),
        pytest.param({oci.CONTAINERD_IMAGE_NAME: "docker.io/x/y:z", oci.REF_NAME_ANNOTATION: "z"}, "Loaded image: x/y:z",
                     ["docker.io/x/y:z"], id="containerd-name-wins"),
        pytest.param({}, "Loaded image ID: {id}", [], id="no-annotations"),
    ],
)
def test_import_oci_names(target: ImageStore, tmp_path: Path, annotations: dict[str, str], report: str, tags: list[str]) -> None:
    blobs: dict[str, Any] = {}
    desc = _platform_image(blobs, "amd64")
    desc.pop("platform")
    members = {**blobs, "index.json": orjson.dumps({"schemaVersion": 2, "manifests": [{**desc, "annotations": annotations}]})}
    lines = import_archive(target, write_tar(tmp_path / "oci.tar", members))
    [img] = target.images()
    assert lines == [report.format(id=img.id)]
    assert img.tags == tags


# -- broken archives ---------------------------------------------------------------------------------------------


def _exported(source: ImageStore, tmp_path: Path) -> tuple[Image, dict[str, bytes]]:
    img = make_image(source, [BASE_LAYER, {"x": "x" * 1000}], names=["foo"])
    path = tmp_path / "good.tar"
    export(source, ["foo"], path)
    return img, tar_members(path)


def _flip(data: bytes) -> bytes:
    return data[:-600] + bytes([data[-600] ^ 1]) + data[-599:]


@pytest.mark.parametrize("which", ["layer", "config"])
def test_corrupted_blob_in_oci_archive(source: ImageStore, target: ImageStore, tmp_path: Path, which: str) -> None:
    img, members = _exported(source, tmp_path)
    digest = img.layers[1]["digest"] if which == "layer" else img.id
    name = f"blobs/sha256/{digest[7:]}"
    members[name] = _flip(members[name]) if which == "layer" else members[name].replace(b"amd64", b"AMD64")
    with pytest.raises(ImageError, match=f"invalid archive: .*{digest}"):
        import_archive(target, write_tar(tmp_path / "bad.tar", members))
    assert target.images() == []
    assert not target.content.has(digest)
    assert list(target.content.ingest_dir.iterdir()) == []


def test_corrupted_manifest_in_oci_archive(source: ImageStore, target: ImageStore, tmp_path: Path) -> None:
    img, members = _exported(source, tmp_path)
    name = f"blobs/sha256/{img.manifest_digest[7:]}"
    members[name] = members[name].replace(b"schemaVersion", b"schemaversion")
    with pytest.raises(ImageError, match=f"invalid archive: manifest {img.manifest_digest} does not match its digest"):
        import_archive(target, write_tar(tmp_path / "bad.tar", members))
    assert target.images() == []


def test_missing_blob_in_oci_archive(source: ImageStore, target: ImageStore, tmp_path: Path) -> None:
    img, members = _exported(source, tmp_path)
    name = f"blobs/sha256/{img.layers[1]['digest'][7:]}"
    del members[name]
    with pytest.raises(ImageError, match=f"invalid archive: {name} is missing"):
        import_archive(target, write_tar(tmp_path / "bad.tar", members))
    assert target.images() == []


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not a tar archive\n" * 100, id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(gzip.compress(b"gzip of not a tar" * 100), id="gzip-of-text"),
    ],
)
def test_not_a_tar(target: ImageStore, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk"
    path.write_bytes(content)
    with pytest.raises(ImageError) as e:
        import_archive(target, path)
    assert str(e.value).startswith("invalid archive: ")
    assert "\n" not in str(e.value)


def test_missing_archive_file(target: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        import_archive(target, tmp_path / "absent.tar")


def test_tar_without_image_metadata(target: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"^invalid archive: neither manifest.json nor index.json found$"):
        import_archive(target, write_tar(tmp_path / "t.tar", {"README": b"hi"}))
