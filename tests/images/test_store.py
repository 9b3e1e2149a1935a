"""The image store: records and tags, name resolution, rmi/prune, snapshots shared by DiffID, leases and GC."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kybernetes.images import oci
from kybernetes.images import store as store_module
from kybernetes.images.reference import ReferenceError_
from kybernetes.images.store import Image, ImageConflict, ImageError, ImageNotFound, ImageStore

from .imagefactory import BASE_LAYER as BASE
from .imagefactory import Dir, File, Layer, config_for, make_image, make_pulled_image, write_layers

HOLDER = "c0ffee" * 10


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


@pytest.fixture
def unpacks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[], list[str]]]:
    """Counts real layer extractions (in this process and in forked children): a list of DiffIDs, one per unpack."""
    log = tmp_path / "unpacks.log"
    real = store_module.unpack_layer

    def counting(src: Any, dest: Path) -> tuple[str, int]:
        diff_id, size = real(src, dest)
        time.sleep(0.05)  # widen the window in which a second unpacker could slip in
        with open(log, "a") as f:
            f.write(diff_id + "\n")
        return diff_id, size

    monkeypatch.setattr(store_module, "unpack_layer", counting)
    yield lambda: log.read_text().split() if log.exists() else []


def image(store: ImageStore, marker: str, names: list[str] | None = None, extra_layers: int = 0) -> Image:
    layers: list[dict[str, Any]] = [BASE, {f"{marker}/": Dir(), f"{marker}/data": marker}]
    layers += [{f"{marker}-{i}": str(i)} for i in range(extra_layers)]
    return make_image(store, layers, names=names, Cmd=["sh"], Labels={"marker": marker})


def blob_names(store: ImageStore) -> set[str]:
    return set(store.content.digests())


def snapshot_names(store: ImageStore) -> set[str]:
    return {p.name for p in store.snapshot_dir.iterdir()}


# -- records -----------------------------------------------------------------------------------------------------


def test_put_image_records_and_tags(store: ImageStore) -> None:
    img = image(store, "a", names=["foo", "localhost:5000/team/app:v1"])
    assert img.id == oci.digest_bytes(store.content.read(img.id))
    assert img.manifest["config"]["digest"] == img.id
    assert img.manifest["mediaType"] == oci.OCI_MANIFEST
    assert img.tags == ["docker.io/library/foo:latest", "localhost:5000/team/app:v1"]
    assert img.familiar_tags == ["foo:latest", "localhost:5000/team/app:v1"]
    assert img.short_id == img.id[7:19]
    assert len(img.diff_ids) == len(img.layers) == 2
    assert img.size == sum(layer["size"] for layer in img.layers)
    assert img.config["config"]["Cmd"] == ["sh"]
    assert store.get(img.id) == img
    assert [i.id for i in store.images()] == [img.id]
    meta = orjson.loads((store.root / "images.json").read_bytes())
    assert meta["tags"] == {"docker.io/library/foo:latest": img.id, "localhost:5000/team/app:v1": img.id}
    assert meta["images"][img.id]["manifest"] == img.manifest_digest


def test_records_survive_a_new_store_instance(store: ImageStore) -> None:
    img = image(store, "a", names=["foo"])
    again = ImageStore(store.root)
    assert again.resolve("foo") == img


def test_adding_the_same_image_again_keeps_created_and_adds_tags(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_now", lambda: 1000.0)
    first = image(store, "a", names=["foo"])
    monkeypatch.setattr(store_module, "_now", lambda: 2000.0)
    second = image(store, "a", names=["bar"])
    assert second.id == first.id
    assert second.created == 1000.0
    assert second.tags == ["docker.io/library/bar:latest", "docker.io/library/foo:latest"]


def test_images_newest_first(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = []
    for i, marker in enumerate(["old", "new", "mid"]):
        monkeypatch.setattr(store_module, "_now", lambda i=i: [1.0, 3.0, 2.0][i])
        ids.append(image(store, marker).id)
    assert [i.id for i in store.images()] == [ids[1], ids[2], ids[0]]


def test_add_image_with_a_repo_digest(store: ImageStore) -> None:
    pulled = make_pulled_image(store, [BASE], names=["foo"])
    rd = f"docker.io/library/foo@{pulled.manifest_digest}"
    again = store.add_image(store.content.read(pulled.manifest_digest), names=["foo"], repo_digest=rd)
    store.add_image(store.content.read(pulled.manifest_digest), repo_digest=rd)  # not twice
    assert again.repo_digests == [rd]
    assert store.get(pulled.id).repo_digests == [rd]
    assert again.manifest["mediaType"] == oci.DOCKER_MANIFEST


def _manifest(store: ImageStore, **changes: Any) -> bytes:
    descs, diff_ids = write_layers(store, [BASE])
    config = oci.canonical_json(config_for(diff_ids))
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "config": {"mediaType": oci.OCI_CONFIG, "digest": store.content.write(config), "size": len(config)},
        "layers": descs,
    }
    manifest.update(changes)
    return orjson.dumps({k: v for k, v in manifest.items() if v is not None})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"mediaType": oci.OCI_INDEX}, "not an image manifest", id="index"),
        pytest.param({"config": None}, "not an image manifest", id="no-config"),
        pytest.param({"config": {"digest": "sha256:" + "0" * 64}}, "missing blob sha256:" + "0" * 64, id="missing-config"),
        pytest.param({"layers": [{"digest": "sha256:" + "1" * 64}]}, "missing blob sha256:" + "1" * 64, id="missing-layer"),
        pytest.param({"layers": []}, "image config and manifest disagree on the number of layers", id="layer-count"),
    ],
)
def test_add_image_rejects(store: ImageStore, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ImageError, match=message):
        store.add_image(_manifest(store, **changes), names=["foo"])
    assert store.images() == []
    assert not (store.root / "images.json").exists()


def test_add_image_accepts_a_manifest_without_media_type(store: ImageStore) -> None:
    img = store.add_image(_manifest(store, mediaType=None), names=["foo"])
    assert store.resolve("foo").id == img.id


# -- resolving names ---------------------------------------------------------------------------------------------


@pytest.fixture
def named(store: ImageStore) -> Image:
    """An image tagged foo:latest and localhost:5000/team/app:v1, pulled under the latter (a repo digest)."""
    img = image(store, "a", names=["foo", "localhost:5000/team/app:v1"])
    image(store, "other", names=["other"])
    rd = f"localhost:5000/team/app@{img.manifest_digest}"
    return store.add_image(store.content.read(img.manifest_digest), repo_digest=rd)


def _fill(text: str, img: Image) -> str:
    return text.format(id=img.id, hex=img.id[7:], short=img.short_id, prefix6=img.id[7:13], manifest=img.manifest_digest)


@pytest.mark.parametrize(
    "name",
    [
        "foo", "foo:latest", "library/foo", "docker.io/foo", "docker.io/library/foo:latest", "index.docker.io/foo",
        "localhost:5000/team/app:v1",
        "{id}", "{hex}", "{short}", "sha256:{short}", "{prefix6}",
        "foo@{manifest}", "localhost:5000/team/app@{manifest}", "foo:latest@{manifest}",
    ],
)
def test_resolve(store: ImageStore, named: Image, name: str) -> None:
    name = _fill(name, named)
    assert store.resolve(name).id == named.id


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("bar", "No such image: bar:latest", id="name"),
        pytest.param("foo:2", "No such image: foo:2", id="other-tag"),
        pytest.param("localhost:5000/bar", "No such image: localhost:5000/bar:latest", id="registry-name"),
        pytest.param("docker.io/library/bar:1", "No such image: bar:1", id="canonical-reported-familiar"),
        pytest.param("foo@sha256:" + "0" * 64, "No such image: foo@sha256:" + "0" * 64, id="unknown-digest"),
        pytest.param("sha256:" + "0" * 64, "No such image: sha256:" + "0" * 64, id="unknown-id"),
        pytest.param("ffffffffff", "No such image: ffffffffff:latest", id="unknown-short-id"),
    ],
)
def test_resolve_not_found(store: ImageStore, named: Image, name: str, message: str) -> None:
    with pytest.raises(ImageNotFound) as e:
        store.resolve(name)
    assert str(e.value) == message


def test_resolve_invalid_name(store: ImageStore, named: Image) -> None:
    with pytest.raises(ImageError) as e:
        store.resolve("Foo!")
    assert not isinstance(e.value, ImageNotFound)
    assert str(e.value) == "invalid reference format: Foo!"


def test_get_unknown_id(store: ImageStore) -> None:
    with pytest.raises(ImageNotFound, match="No such image: sha256:0000"):
        store.get("sha256:" + "0" * 64)


def test_ambiguous_short_id_resolves_to_nothing(store: ImageStore) -> None:
    descs, diff_ids = write_layers(store, [BASE])
    by_prefix: dict[str, list[int]] = defaultdict(list)
    for i in range(20_000):  # two configs whose IDs share 4 hex digits (a birthday collision, ~300 tries)
        digest = oci.digest_bytes(oci.canonical_json(config_for(diff_ids, Labels={"n": str(i)})))
        by_prefix[digest[7:11]].append(i)
        if len(by_prefix[digest[7:11]]) == 2:
            break
    prefix, pair = next((p, v) for p, v in by_prefix.items() if len(v) == 2)
    a, b = (store.put_image(config_for(diff_ids, Labels={"n": str(i)}), descs) for i in pair)
    with pytest.raises(ImageNotFound):
        store.resolve(prefix)
    assert store.resolve(a.id[7:19]).id == a.id
    assert store.resolve(b.id[7:19]).id == b.id


# -- tags --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "canonical"),
    [
        pytest.param("foo", "bar:2", "docker.io/library/bar:2", id="name-to-name"),
        pytest.param("{id}", "bar", "docker.io/library/bar:latest", id="id-to-name"),
        pytest.param("{short}", "localhost:5000/x/y:z", "localhost:5000/x/y:z", id="short-id-to-registry"),
        pytest.param("foo", "foo", "docker.io/library/foo:latest", id="same-tag-again"),
    ],
)
def test_tag(store: ImageStore, source: str, target: str, canonical: str) -> None:
    img = image(store, "a", names=["foo"])
    store.tag(_fill(source, img), target)
    assert canonical in store.get(img.id).tags
    assert store.resolve(target).id == img.id


@pytest.mark.parametrize(
    ("source", "target", "error", "message"),
    [
        pytest.param("nope", "bar", ImageNotFound, "No such image: nope:latest", id="missing-source"),
        pytest.param("foo", "bar@sha256:" + "0" * 64, ImageError, "refusing to create a tag with a digest reference",
                     id="digest-target"),
        pytest.param("foo", "Bar", ReferenceError_, "repository name must be lowercase", id="invalid-target"),
    ],
)
def test_tag_errors(store: ImageStore, source: str, target: str, error: type[Exception], message: str) -> None:
    image(store, "a", names=["foo"])
    with pytest.raises(error, match=message):
        store.tag(source, target)


def test_retag_leaves_the_old_image_dangling(store: ImageStore) -> None:
    old = image(store, "old", names=["foo"])
    new = image(store, "new")
    store.tag(new.id, "foo")
    assert store.resolve("foo").id == new.id
    assert store.get(old.id).tags == []
    assert {i.id for i in store.images()} == {old.id, new.id}
    assert store.prune() == [f"Deleted: {old.id}"]
    assert [i.id for i in store.images()] == [new.id]


# -- rmi ---------------------------------------------------------------------------------------------------------

# (tags on the image, leased, name given to remove, force) -> report lines, or (error type, message);
# then the tags left and whether the image record stays.
REMOVE: dict[str, tuple[Any, ...]] = {
    "one-tag-by-name": (["foo"], False, "foo", False, ["Untagged: foo:latest", "Deleted: {id}"], [], False),
    "one-tag-by-id": (["foo"], False, "{id}", False, ["Untagged: foo:latest", "Deleted: {id}"], [], False),
    "one-tag-by-short-id": (["foo"], False, "{short}", False, ["Untagged: foo:latest", "Deleted: {id}"], [], False),
    "registry-name": (["localhost:5000/app:v1"], False, "localhost:5000/app:v1", False,
                      ["Untagged: localhost:5000/app:v1", "Deleted: {id}"], [], False),
    "dangling-by-id": ([], False, "{id}", False, ["Deleted: {id}"], [], False),
    "two-tags-by-name": (["foo", "bar:1"], False, "foo", False, ["Untagged: foo:latest"], ["bar:1"], True),
    "two-tags-by-id": (["foo", "bar:1"], False, "{id}", False,
                       (ImageConflict, "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"),
                       ["bar:1", "foo:latest"], True),
    "two-tags-by-id-forced": (["foo", "bar:1"], False, "{id}", True,
                              ["Untagged: bar:1", "Untagged: foo:latest", "Deleted: {id}"], [], False),
    "leased-by-name": (["foo"], True, "foo", False,
                       (ImageConflict, 'conflict: unable to remove repository reference "foo:latest" (must force) - '
                        "container c0ffeec0ffee is using its referenced image {short}"), ["foo:latest"], True),
    "leased-by-id": (["foo"], True, "{id}", False,
                     (ImageConflict, "conflict: unable to delete {short} (cannot be forced) - image is being used by "
                      "running container c0ffeec0ffee"), ["foo:latest"], True),
    "leased-forced": (["foo"], True, "foo", True, ["Untagged: foo:latest"], [], True),
    "leased-other-tag-left": (["foo", "bar:1"], True, "foo", False, ["Untagged: foo:latest"], ["bar:1"], True),
}


@pytest.mark.parametrize("case", list(REMOVE))
def test_remove(store: ImageStore, case: str) -> None:
    tags, leased, name, force, outcome, tags_left, kept = REMOVE[case]
    img = image(store, "a", names=tags)
    other = image(store, "b", names=["other"])
    if leased:
        store.lease(HOLDER, img.id)
    if isinstance(outcome, tuple):
        error, message = outcome
        with pytest.raises(error) as e:
            store.remove(_fill(name, img), force=force)
        assert str(e.value) == _fill(message, img)
    else:
        assert store.remove(_fill(name, img), force=force) == [_fill(line, img) for line in outcome]
    if kept:
        assert store.get(img.id).familiar_tags == tags_left
        assert store.content.has(img.id) and all(store.content.has(layer["digest"]) for layer in img.layers)
    else:
        with pytest.raises(ImageNotFound):
            store.get(img.id)
        assert not store.content.has(img.id) and not store.content.has(img.manifest_digest)
    assert store.resolve("other").id == other.id


def test_remove_reports_repo_digests(store: ImageStore) -> None:
    img = image(store, "a", names=["foo"])
    store.add_image(store.content.read(img.manifest_digest), repo_digest=f"docker.io/library/foo@{img.manifest_digest}")
    assert store.remove("foo") == ["Untagged: foo:latest", f"Untagged: foo@{img.manifest_digest}", f"Deleted: {img.id}"]


def test_remove_missing(store: ImageStore) -> None:
    with pytest.raises(ImageNotFound, match=r"^No such image: nope:latest$"):
        store.remove("nope")


def test_prune_removes_dangling_unleased_images(store: ImageStore) -> None:
    tagged = image(store, "tagged", names=["foo"])
    dangling = image(store, "dangling")
    leased = image(store, "leased")
    store.lease(HOLDER, leased.id)
    assert store.prune() == [f"Deleted: {dangling.id}"]
    assert {i.id for i in store.images()} == {tagged.id, leased.id}
    assert not store.content.has(dangling.id)
    assert store.prune() == []
    store.release(HOLDER)
    store.release(HOLDER)  # releasing twice is fine
    assert store.prune() == [f"Deleted: {leased.id}"]


# -- snapshots ---------------------------------------------------------------------------------------------------


def test_layer_dirs_unpack_once_and_share_common_layers(store: ImageStore, unpacks: Callable[[], list[str]]) -> None:
    a = image(store, "a", names=["a"])
    b = image(store, "b", names=["b"])
    assert a.diff_ids[0] == b.diff_ids[0]
    dirs_a = store.layer_dirs(a)
    dirs_b = store.layer_dirs(b)
    assert dirs_a[0] == dirs_b[0] == store.snapshot_path(a.diff_ids[0])
    assert (dirs_a[0] / "etc/os-release").read_text() == "base\n"
    assert (dirs_a[1] / "a/data").read_text() == "a"
    assert (dirs_b[1] / "b/data").read_text() == "b"
    assert store.layer_dirs(a) == dirs_a
    assert sorted(unpacks()) == sorted({*a.diff_ids, *b.diff_ids})
    for d in {*a.diff_ids, *b.diff_ids}:
        assert store.has_snapshot(d)
        assert int((store.snapshot_dir / d[7:] / "size").read_text()) > 0
    assert not [n for n in snapshot_names(store) if n.startswith("tmp-")]


def test_layer_dirs_of_gzip_and_docker_media_types(store: ImageStore) -> None:
    for img in (make_image(store, [BASE], compress=True, Labels={"k": "gz"}), make_pulled_image(store, [BASE])):
        [fs] = store.layer_dirs(img)
        assert (fs / "etc/os-release").read_text() == "base\n"
        assert fs == store.snapshot_path(img.diff_ids[0])


def test_diff_id_mismatch_leaves_no_snapshot(store: ImageStore) -> None:
    descs, diff_ids = write_layers(store, [BASE])
    wrong = "sha256:" + "e" * 64
    img = store.put_image(config_for([wrong]), descs, names=["liar"])
    with pytest.raises(ImageError, match=f"layer {descs[0]['digest']} does not match its DiffID {wrong} \\(got {diff_ids[0]}\\)"):
        store.layer_dirs(img)
    assert not store.has_snapshot(wrong)
    assert not store.has_snapshot(diff_ids[0])
    assert {n for n in snapshot_names(store) if not n.endswith(".lock")} == set()
    honest = store.put_image(config_for(diff_ids), descs, names=["honest"])  # the same blob, told the truth
    assert (store.layer_dirs(honest)[0] / "etc/os-release").exists()


def test_add_snapshot_adopts_a_directory(store: ImageStore, tmp_path: Path) -> None:
    diff_id = "sha256:" + "d" * 64
    upper = tmp_path / "upper"
    (upper / "x").mkdir(parents=True)
    fs = store.add_snapshot(diff_id, upper)
    assert fs == store.snapshot_path(diff_id) and (fs / "x").is_dir()
    assert store.has_snapshot(diff_id) and not upper.exists()
    second = tmp_path / "second"
    second.mkdir()
    assert store.add_snapshot(diff_id, second) == fs  # already there: the new copy is dropped
    assert not second.exists() and (fs / "x").is_dir()


def _layer_dirs_worker(root: str, name: str, barrier: Any, out: str) -> None:
    st = ImageStore(Path(root))
    barrier.wait(timeout=20)
    dirs = st.layer_dirs(st.resolve(name))
    Path(out).write_text(json.dumps([str(d) for d in dirs]))


def test_concurrent_layer_dirs_unpack_once(store: ImageStore, tmp_path: Path, unpacks: Callable[[], list[str]]) -> None:
    blob = os.urandom(4 << 20)
    big: Layer = {"blob": File(blob)}
    img = make_image(store, [BASE, big, {"top": "t"}], names=["big"])
    ctx = multiprocessing.get_context("fork")
    n = 6
    barrier = ctx.Barrier(n)
    outs = [tmp_path / f"out{i}.json" for i in range(n)]
    procs = [ctx.Process(target=_layer_dirs_worker, args=(str(store.root), "big", barrier, str(o))) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * n
    expected = [str(store.snapshot_path(d)) for d in img.diff_ids]
    assert [json.loads(o.read_text()) for o in outs] == [expected] * n
    assert sorted(unpacks()) == sorted(img.diff_ids)
    assert (store.snapshot_path(img.diff_ids[1]) / "blob").read_bytes() == blob
    assert not [n for n in snapshot_names(store) if n.startswith("tmp-")]


# -- leases and GC -----------------------------------------------------------------------------------------------


def test_gc_frees_what_no_image_reaches_and_keeps_shared_layers(store: ImageStore) -> None:
    a = image(store, "a", names=["a"])
    b = image(store, "b", names=["b"])
    store.layer_dirs(a)
    dirs_b = store.layer_dirs(b)
    store.remove("a")
    assert not store.content.has(a.id)
    assert not store.content.has(a.manifest_digest)
    assert not store.content.has(a.layers[1]["digest"])
    assert not store.has_snapshot(a.diff_ids[1])
    assert snapshot_names(store) == {d[7:] for d in b.diff_ids} | {d[7:] + ".lock" for d in b.diff_ids}
    assert blob_names(store) == {b.id, b.manifest_digest, *(layer["digest"] for layer in b.layers)}
    assert [d.is_dir() for d in dirs_b] == [True, True]
    assert store.layer_dirs(store.resolve("b")) == dirs_b


def test_gc_keeps_leased_images(store: ImageStore) -> None:
    img = image(store, "a", names=["a"])
    store.layer_dirs(img)
    store.lease(HOLDER, img.id)
    assert store.remove("a", force=True) == ["Untagged: a:latest"]
    store.gc()
    assert blob_names(store) == {img.id, img.manifest_digest, *(layer["digest"] for layer in img.layers)}
    assert all(store.has_snapshot(d) for d in img.diff_ids)
    store.release(HOLDER)
    store.gc()  # a dangling image is still an image: gc alone keeps it
    assert store.content.has(img.id)
    assert store.prune() == [f"Deleted: {img.id}"]
    assert blob_names(store) == set()
    assert snapshot_names(store) == set()


def test_gc_frees_orphan_blobs_and_keeps_build_cache_roots(store: ImageStore) -> None:
    img = image(store, "a", names=["a"])
    orphan = store.content.write(b"nobody points at me")
    cached = store.content.write(b"a build cache entry")
    (store.root / "buildcache.json").write_bytes(orjson.dumps({"key": {"blobs": [cached]}}))
    (store.snapshot_dir / ("f" * 64)).mkdir()
    (store.snapshot_dir / f"tmp-{'f' * 16}-1").mkdir()  # an unpack in progress
    store.gc()
    assert not store.content.has(orphan)
    assert store.content.has(cached)
    assert store.content.has(img.id)
    assert snapshot_names(store) == {f"tmp-{'f' * 16}-1"}


def test_gc_with_a_broken_build_cache_index(store: ImageStore) -> None:
    orphan = store.content.write(b"orphan")
    (store.root / "buildcache.json").write_text("{not json")
    store.gc()
    assert not store.content.has(orphan)
