"""``kyb images | rmi | tag | save | load | pull | push | image bootstrap | image prune``: the image store from
the command line. Output and error texts follow Docker's; every failure is one line and a non-zero exit."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .common import add_data_dir, fail, image_store
from .humanize import human_duration, human_size, table


def _images(args: argparse.Namespace) -> int:
    from kybernetes.images import reference

    store = image_store(args)
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]]
    now = time.time()
    for image in store.images():
        created = image.config.get("created", "")
        age = _age(created, now) if created else "N/A"
        names: list[reference.Reference | None] = [reference.parse(t) for t in image.tags] or [None]
        for ref in names:
            if args.quiet:
                rows.append([image.short_id])
                continue
            repo = ref.familiar_repository if ref else "<none>"
            tag = ref.tag if ref else "<none>"
            if args.repository and not _repo_matches(args.repository, ref):
                continue
            rows.append([repo, tag, image.short_id, age, human_size(image.size)])
    if args.quiet:
        seen: list[str] = []
        for r in rows[1:]:
            if r[0] not in seen:
                seen.append(r[0])
        print("\n".join(seen))
        return 0
    print(table(rows))
    return 0


def _repo_matches(want: str, ref: object) -> bool:
    from kybernetes.images import reference

    if ref is None:
        return False
    assert isinstance(ref, reference.Reference)
    parsed = reference.parse(want, default_tag=False)
    return parsed.repository == ref.repository and (not parsed.tag or parsed.tag == ref.tag)


def _age(created: str, now: float) -> str:
    from datetime import datetime

    try:
        ts = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "N/A"
    return human_duration(now - ts) + " ago"


def _rmi(args: argparse.Namespace) -> int:
    from kybernetes.images.store import ImageError

    store = image_store(args)
    rc = 0
    for name in args.images:
        try:
            for line in store.remove(name, force=args.force):
                print(line)
        except ImageError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            rc = 1
    return rc


def _tag(args: argparse.Namespace) -> int:
    from kybernetes.images.reference import ReferenceError_
    from kybernetes.images.store import ImageError

    try:
        image_store(args).tag(args.source, args.target)
    except (ImageError, ReferenceError_) as e:
        return fail(str(e))
    return 0


def _save(args: argparse.Namespace) -> int:
    from kybernetes.images.archive import export_images
    from kybernetes.images.store import ImageError

    store = image_store(args)
    if not args.output and sys.stdout.isatty():
        return fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    try:
        if args.output:
            tmp = Path(args.output + ".tmp")
            with open(tmp, "wb") as f:
                export_images(store, args.images, f)
            os.replace(tmp, args.output)
        else:
            export_images(store, args.images, sys.stdout.buffer)
    except ImageError as e:
        if args.output:
            Path(args.output + ".tmp").unlink(missing_ok=True)
        return fail(str(e))
    return 0


def _load(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from kybernetes.images.archive import import_archive
    from kybernetes.images.store import ImageError

    store = image_store(args)
    try:
        if args.input:
            lines = import_archive(store, Path(args.input))
        else:
            if sys.stdin.isatty():
                return fail("requested load from stdin, but stdin is empty")
            with tempfile.NamedTemporaryFile(dir=store.root, prefix="load-") as tmp:
                shutil.copyfileobj(sys.stdin.buffer, tmp)
                tmp.flush()
                lines = import_archive(store, Path(tmp.name))
    except FileNotFoundError as e:
        return fail(f"open {e.filename}: no such file or directory")
    except ImageError as e:
        return fail(str(e))
    print("\n".join(lines))
    return 0


def _pull(args: argparse.Namespace) -> int:
    from kybernetes.cli.main import run_async
    from kybernetes.images import registry
    from kybernetes.images.reference import ReferenceError_

    store = image_store(args)

    async def go() -> None:
        await registry.pull(store, args.image, progress=print, insecure=args.insecure or None)

    try:
        run_async(go())
    except (registry.RegistryError, ReferenceError_) as e:
        return fail(str(e))
    print(args.image if "/" in args.image else f"docker.io/library/{args.image}" if ":" in args.image else f"docker.io/library/{args.image}:latest")
    return 0


def _push(args: argparse.Namespace) -> int:
    from kybernetes.cli.main import run_async
    from kybernetes.images import registry
    from kybernetes.images.reference import ReferenceError_
    from kybernetes.images.store import ImageError

    store = image_store(args)

    async def go() -> None:
        await registry.push(store, args.image, progress=print, insecure=args.insecure or None)

    try:
        run_async(go())
    except (registry.RegistryError, ReferenceError_, ImageError) as e:
        return fail(str(e))
    return 0


def _bootstrap(args: argparse.Namespace) -> int:
    from kybernetes.images import bootstrap
    from kybernetes.images.store import ImageError

    store = image_store(args)
    try:
        if args.base == "busybox":
            image = bootstrap.bootstrap_busybox(store, args.tag or "busybox:latest")
        else:
            print(f"Running debootstrap --variant=minbase {args.suite} (this takes a few minutes)...", flush=True)
            image = bootstrap.bootstrap_debian(store, args.tag or f"debian:{args.suite}", suite=args.suite)
    except ImageError as e:
        return fail(str(e))
    print(f"{image.familiar_tags[0] if image.familiar_tags else image.id}: {image.id}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from kybernetes.images.buildcache import BuildCache

    store = image_store(args)
    lines = store.prune()
    if args.all_cache:
        n = BuildCache(store).prune()
        lines.append(f"Deleted build cache entries: {n}")
    print("\n".join(lines) if lines else "Total reclaimed space: 0B")
    return 0


def _build(args: argparse.Namespace) -> int:
    import shutil

    from kybernetes.engine.engine import EngineConfig
    from kybernetes.images.builder import Builder, BuildError, BuildOptions
    from kybernetes.images.dockerfile_model import DockerfileError
    from kybernetes.images.reference import ReferenceError_, parse
    from kybernetes.runtime.api import RuntimeError_

    from .main import run_async

    try:
        for t in args.tag:
            parse(t)
    except ReferenceError_ as e:
        return fail(f"invalid tag \"{t}\": {e}")
    build_args = {}
    for item in args.build_arg:
        k, sep, v = item.partition("=")
        if sep:
            build_args[k] = v
        elif k in os.environ:
            build_args[k] = os.environ[k]
    store = image_store(args)
    runtime = None
    if os.geteuid() == 0 and shutil.which("runc"):
        from kybernetes.runtime.runc import RuncRuntime

        cfg = EngineConfig.load(Path(args.data_dir))
        runtime = RuncRuntime(Path(args.data_dir) / "runtime" / "build", network=None, cgroup_root=cfg.cgroup_root)
    out = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    opts = BuildOptions(context=Path(args.context), dockerfile=Path(args.file) if args.file else None, tags=args.tag,
                        build_args=build_args, target=args.target, no_cache=args.no_cache, progress=out)
    result = []

    async def go() -> None:
        result.append(await Builder(store, runtime).build(opts))

    try:
        run_async(go())
    except DockerfileError as e:
        return fail(f"failed to parse Dockerfile: {e}" if e.line is None or e.parse_error
                    else f"Dockerfile:{e.line}: {e}")
    except (BuildError, RuntimeError_) as e:
        return fail(str(e))
    except KeyboardInterrupt:
        return 130
    if args.quiet:
        print(result[0].id)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("images", help="list images")
    add_data_dir(p)
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("repository", nargs="?", default=None)
    p.set_defaults(func=_images)

    p = sub.add_parser("build", help="build an image from a Dockerfile")
    add_data_dir(p)
    p.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]")
    p.add_argument("-f", "--file", default=None, help="the Dockerfile (default: PATH/Dockerfile)")
    p.add_argument("--build-arg", action="append", default=[], metavar="K=V")
    p.add_argument("--target", default=None, help="the stage to build")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    p.add_argument("context", metavar="PATH")
    p.set_defaults(func=_build)

    p = sub.add_parser("rmi", help="remove images")
    add_data_dir(p)
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(func=_rmi)

    p = sub.add_parser("tag", help="create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    add_data_dir(p)
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    p.set_defaults(func=_tag)

    p = sub.add_parser("save", help="save images to a tar archive (docker save / OCI layout)")
    add_data_dir(p)
    p.add_argument("-o", "--output", default=None)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(func=_save)

    p = sub.add_parser("load", help="load images from a tar archive (docker save or OCI layout)")
    add_data_dir(p)
    p.add_argument("-i", "--input", default=None)
    p.set_defaults(func=_load)

    for name, func in (("pull", _pull), ("push", _push)):
        p = sub.add_parser(name, help=f"{name} an image {'from' if name == 'pull' else 'to'} a registry")
        add_data_dir(p)
        p.add_argument("--insecure", action="store_true", help="plain HTTP to the registry")
        p.add_argument("image", metavar="NAME[:TAG|@DIGEST]")
        p.set_defaults(func=func)

    image = sub.add_parser("image", help="manage images")
    isub = image.add_subparsers(dest="image_command", metavar="COMMAND")
    p = isub.add_parser("bootstrap", help="make a base image on this machine: busybox or debian")
    add_data_dir(p)
    p.add_argument("base", choices=["busybox", "debian"])
    p.add_argument("-t", "--tag", default=None)
    p.add_argument("--suite", default="bookworm", help="Debian suite for debian (default bookworm)")
    p.set_defaults(func=_bootstrap)
    p = isub.add_parser("prune", help="remove dangling images")
    add_data_dir(p)
    p.add_argument("--build-cache", dest="all_cache", action="store_true", help="empty the build cache too")
    p.set_defaults(func=_prune)
    for alias, func in (("ls", _images), ("rm", _rmi)):
        p = isub.add_parser(alias)
        add_data_dir(p)
        if alias == "ls":
            p.add_argument("-q", "--quiet", action="store_true")
            p.add_argument("repository", nargs="?", default=None)
        else:
            p.add_argument("-f", "--force", action="store_true")
            p.add_argument("images", nargs="+", metavar="IMAGE")
        p.set_defaults(func=func)
