"""``kyb build`` end to end: real images built with real runc RUN steps, checked by running them with ``kyb run``
and by reading their config from the store.

One data dir (and one build cache) serves the whole module, with the busybox base bootstrapped once; each test
writes its own context and puts a unique token into its RUN steps so that a step it expects to run is never a
cache hit left by another test. After every test nothing may be left behind (mounts, build containers and
sandboxes, scratch dirs, cgroups); at the end the engine's bridge, nft table and cgroup root are removed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.images.bootstrap import BUSYBOX_BINARY, DEFAULT_PATH

from .buildkit import HEX12, KYB, KybEnv, Link, image_rows, layer_members, steps, tar_bytes, write_tree

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, overlay mounts)"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
    pytest.mark.skipif(not BUSYBOX_BINARY.exists(), reason="busybox-static is not installed"),
]

BUSYBOX_PATH = DEFAULT_PATH.removeprefix("PATH=")


@pytest.fixture(scope="module")
def kyb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybEnv]:
    env = KybEnv(tmp_path_factory.mktemp("kyb-build") / "data")
    try:
        env.ok("image", "bootstrap", "busybox")
        yield env
    finally:
        stuck = asyncio.run(env.teardown())
    assert stuck == [], f"teardown left {stuck}"
    assert env.cgroup_dirs() == []


@pytest.fixture(autouse=True)
def nothing_left_behind(kyb: KybEnv) -> Iterator[None]:
    yield
    assert kyb.leftovers() == []


@pytest.fixture
def token() -> str:
    return secrets.token_hex(4)


def built(kyb: KybEnv, context: Path, *args: str) -> list[str]:
    """Build (it must succeed, with nothing on stderr) and return the progress lines."""
    r = kyb.build(context, *args)
    assert r.rc == 0 and r.err == "", str(r)
    return r.lines


def normalized(lines: list[str]) -> list[str]:
    return [HEX12.sub("<id>", line) for line in lines]


def arrows(lines: list[str]) -> list[str]:
    """The `` ---> <state>`` lines (not Running in / Using cache / Removed intermediate container)."""
    return [ln for ln in lines if ln.startswith(" ---> ") and HEX12.fullmatch(ln.removeprefix(" ---> "))]


# -- progress and cache ---------------------------------------------------------------------------------------


def test_progress_output_and_cached_rebuild(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "a.txt": "a\n",
        "Dockerfile": f'FROM busybox\nRUN echo one {token} && echo two\nCOPY a.txt /a.txt\nCMD ["cat", "/a.txt"]\n',
    })
    first = built(kyb, ctx, "-t", f"progress-{token}:1", "-t", f"progress-{token}-b")
    assert normalized(first) == [
        "Step 1/4 : FROM busybox",
        " ---> <id>",
        f"Step 2/4 : RUN echo one {token} && echo two",
        " ---> Running in <id>",
        f"one {token}",
        "two",
        " ---> Removed intermediate container <id>",
        " ---> <id>",
        "Step 3/4 : COPY a.txt /a.txt",
        " ---> <id>",
        'Step 4/4 : CMD ["cat", "/a.txt"]',
        " ---> <id>",
        "Successfully built <id>",
        f"Successfully tagged progress-{token}:1",
        f"Successfully tagged progress-{token}-b:latest",
    ]
    running = first[3].removeprefix(" ---> Running in ")
    assert first[6] == f" ---> Removed intermediate container {running}"
    image = kyb.image(f"progress-{token}:1")
    assert first[12] == f"Successfully built {image.short_id}"
    assert kyb.image(f"progress-{token}-b").id == image.id
    assert (f"progress-{token}", "1", image.short_id) in kyb.images()

    second = built(kyb, ctx, "-t", f"progress-{token}:1")
    assert normalized(second) == [
        "Step 1/4 : FROM busybox",
        " ---> <id>",
        f"Step 2/4 : RUN echo one {token} && echo two",
        " ---> Using cache",
        " ---> <id>",
        "Step 3/4 : COPY a.txt /a.txt",
        " ---> Using cache",
        " ---> <id>",
        'Step 4/4 : CMD ["cat", "/a.txt"]',
        " ---> <id>",
        "Successfully built <id>",
        f"Successfully tagged progress-{token}:1",
    ]
    assert arrows(second) == arrows(first)
    assert second[10] == f"Successfully built {image.short_id}"

    quiet = kyb.ok("build", "-q", str(ctx))
    assert (quiet.out, quiet.err) == (image.id + "\n", "")
    assert kyb.run(f"progress-{token}:1") == "a\n"


def test_changed_copy_source_invalidates_that_step_and_the_later_ones(kyb: KybEnv, tmp_path: Path,
                                                                     token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "data.txt": "v1\n",
        "Dockerfile": (f"FROM busybox\nRUN echo first {token}\nCOPY data.txt /data.txt\nRUN cat /data.txt\n"
                       f"ENV STAGE=after\nRUN echo last {token}\n"),
    })
    tag = f"cache-{token}:1"
    s1 = steps("\n".join(built(kyb, ctx, "-t", tag)))
    assert [s for s in s1 if " ---> Using cache" in s1[s]] == []
    assert "v1" in s1[4]
    old = kyb.image(tag)
    # RUN steps that change nothing make the same (empty) layer: the image holds it thrice and still runs
    assert layer_members(kyb.store, old.layers[1]) == []
    assert old.diff_ids[1] == old.diff_ids[3] == old.diff_ids[4]

    (ctx / "data.txt").write_text("v2\n")
    s2 = steps("\n".join(built(kyb, ctx, "-t", tag)))
    assert " ---> Using cache" in s2[2]
    for n in (3, 4, 6):
        assert " ---> Using cache" not in s2[n], s2[n]
    assert any(line.startswith(" ---> Running in ") for line in s2[4] + s2[6])
    assert "v2" in s2[4]
    new = kyb.image(tag)
    assert new.id != old.id
    assert new.layers[:2] == old.layers[:2] and new.layers[2:] != old.layers[2:]
    rows = kyb.images()
    assert (f"cache-{token}", "1", new.short_id) in rows and ("<none>", "<none>", old.short_id) in rows

    os.utime(ctx / "data.txt", (1_000_000, 1_000_000))  # a new mtime, the same bytes: still cached
    s3 = steps("\n".join(built(kyb, ctx, "-t", tag)))
    assert all(" ---> Using cache" in s3[n] for n in (2, 3, 4, 6))
    assert kyb.image(tag).id == new.id
    assert kyb.run(tag, "cat", "/data.txt") == "v2\n"


def test_changed_build_arg_invalidates_the_runs_that_see_it_and_no_cache_runs_everything(
        kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "Dockerfile": (f"FROM busybox\nRUN echo before {token}\nARG FLAVOR=plain\nRUN echo flavor=$FLAVOR\n"
                       "RUN echo after-flavor\n"),
    })
    tag = f"args-{token}"
    s1 = steps("\n".join(built(kyb, ctx, "-t", tag)))
    assert "flavor=plain" in s1[4]
    plain = kyb.image(tag).id

    s2 = steps("\n".join(built(kyb, ctx, "-t", tag, "--build-arg", "FLAVOR=spicy")))
    assert " ---> Using cache" in s2[2]
    assert " ---> Using cache" not in s2[4] and "flavor=spicy" in s2[4]
    assert " ---> Using cache" not in s2[5] and "after-flavor" in s2[5]
    assert kyb.image(tag).id != plain

    s3 = steps("\n".join(built(kyb, ctx, "-t", tag, "--build-arg", "FLAVOR=plain")))
    assert all(" ---> Using cache" in s3[n] for n in (2, 4, 5))
    assert kyb.image(tag).id == plain

    out = built(kyb, ctx, "-t", tag, "--no-cache")
    assert " ---> Using cache" not in out
    assert len([ln for ln in out if ln.startswith(" ---> Running in ")]) == 3
    assert f"before {token}" in out and "flavor=plain" in out and "after-flavor" in out
    assert kyb.image(tag).id != plain


# -- RUN --------------------------------------------------------------------------------------------------


def test_run_shell_and_exec_form_see_env_and_args(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "Dockerfile": (
            "FROM busybox\nARG GREETING=hello\nARG WHO\nENV APP_HOME=/srv/app\n"
            f'RUN echo "shell $GREETING $WHO $APP_HOME {token}"\n'
            'RUN ["/bin/sh", "-c", "echo exec $GREETING $WHO $APP_HOME > /exec.txt"]\n'
            'RUN ["echo", "argv", "$GREETING"]\n'
        ),
    })
    tag = f"runforms-{token}"
    out = built(kyb, ctx, "-t", tag, "--build-arg", "WHO=world", "--build-arg", "UNUSED=1")
    assert f"shell hello world /srv/app {token}" in out
    assert "argv $GREETING" in out  # exec form: no shell, no expansion
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in out
    assert kyb.config(tag)["Env"] == [DEFAULT_PATH, "APP_HOME=/srv/app"]  # ARG values stay out of the image
    assert kyb.run(tag, "sh", "-c", 'cat /exec.txt; echo "${GREETING:-no-arg} $APP_HOME"') == (
        "exec hello world /srv/app\nno-arg /srv/app\n")


def test_files_deleted_by_run_are_gone_from_the_image(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "Dockerfile": (
            "FROM busybox\n"
            "RUN mkdir -p /data/keep /data/gone /data/opq && echo k > /data/keep/f && echo g > /data/gone/f"
            f" && echo o > /data/opq/old && echo x > /lower.txt && echo {token}\n"
            "RUN rm /lower.txt && rm -r /data/gone && rm /bin/vi && rm -r /data/opq && mkdir /data/opq"
            " && echo n > /data/opq/new && echo new > /upper.txt\n"
        ),
    })
    tag = f"whiteout-{token}"
    built(kyb, ctx, "-t", tag)
    image = kyb.image(tag)
    assert layer_members(kyb.store, image.layers[-1]) == sorted([
        "bin", "bin/.wh.vi", "data", "data/.wh.gone", "data/opq", "data/opq/.wh..wh..opq", "data/opq/new",
        ".wh.lower.txt", "upper.txt"])
    paths = "/lower.txt /data/gone /bin/vi /data/opq/old /data/keep/f /data/opq/new /upper.txt /bin/ls"
    script = f'for p in {paths}; do if [ -e $p ]; then echo "$p yes"; else echo "$p no"; fi; done'
    assert kyb.run(tag, "sh", "-c", script).splitlines() == [
        "/lower.txt no", "/data/gone no", "/bin/vi no", "/data/opq/old no",
        "/data/keep/f yes", "/data/opq/new yes", "/upper.txt yes", "/bin/ls yes"]


def test_shell_changes_how_later_shell_form_commands_run(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "Dockerfile": (
            f'FROM busybox\nRUN echo "default $0 {token}"\nSHELL ["/bin/echo", "via-shell"]\nRUN hello {token}\n'
            'SHELL ["/bin/sh", "-xc"]\nRUN echo traced\nCMD echo shell-form-cmd\n'
        ),
    })
    tag = f"shell-{token}"
    out = built(kyb, ctx, "-t", tag)
    assert f"default /bin/sh {token}" in out
    assert f"via-shell hello {token}" in out
    assert "+ echo traced" in out and "traced" in out
    cfg = kyb.config(tag)
    assert cfg["Shell"] == ["/bin/sh", "-xc"]
    assert cfg["Cmd"] == ["/bin/sh", "-xc", "echo shell-form-cmd"]
    assert kyb.image(tag).config["history"][-4]["created_by"] == f"RUN /bin/echo via-shell hello {token}"
    assert "shell-form-cmd" in kyb.run(tag).splitlines()


# -- FROM: scratch, stages, --target ----------------------------------------------------------------------


def test_from_scratch_with_a_static_busybox(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy2(BUSYBOX_BINARY, ctx / "busybox")
    (ctx / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir /out && /bin/busybox echo scratch-{token} > /out/msg"]\n'
        'CMD ["/bin/busybox", "cat", "/out/msg"]\n')
    tag = f"scratch-{token}"
    built(kyb, ctx, "-t", tag)
    image = kyb.image(tag)
    assert image.config["config"] == {"Env": [DEFAULT_PATH], "Cmd": ["/bin/busybox", "cat", "/out/msg"]}
    assert len(image.layers) == len(image.diff_ids) == 2
    assert layer_members(kyb.store, image.layers[0]) == ["bin", "bin/busybox"]
    assert layer_members(kyb.store, image.layers[1]) == ["out", "out/msg"]  # no mount points of the RUN
    assert kyb.run(tag) == f"scratch-{token}\n"


def test_multi_stage_copy_from_name_index_and_image_and_target(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy2(BUSYBOX_BINARY, ctx / "busybox")
    (ctx / "Dockerfile").write_text(
        "FROM scratch AS tools\nCOPY busybox /bin/busybox\n"
        f"FROM busybox AS build\nRUN echo built-{token} > /artifact\n"
        "FROM busybox\nCOPY --from=build /artifact /from-name\nCOPY --from=1 /artifact /from-index\n"
        "COPY --from=0 /bin/busybox /bb-from-stage-0\nCOPY --from=busybox:latest /etc/passwd /passwd-from-image\n"
        'CMD ["sh", "-c", "cat /from-name /from-index; cmp /bb-from-stage-0 /bin/busybox && echo same; '
        'head -1 /passwd-from-image"]\n')
    tag = f"stages-{token}"
    out = built(kyb, ctx, "-t", tag)
    assert [ln for ln in out if ln.startswith("Step ")] == [
        "Step 1/10 : FROM scratch AS tools",
        "Step 2/10 : COPY busybox /bin/busybox",
        "Step 3/10 : FROM busybox AS build",
        f"Step 4/10 : RUN echo built-{token} > /artifact",
        "Step 5/10 : FROM busybox",
        "Step 6/10 : COPY --from=build /artifact /from-name",
        "Step 7/10 : COPY --from=1 /artifact /from-index",
        "Step 8/10 : COPY --from=0 /bin/busybox /bb-from-stage-0",
        "Step 9/10 : COPY --from=busybox:latest /etc/passwd /passwd-from-image",
        'Step 10/10 : CMD ["sh", "-c", "cat /from-name /from-index; cmp /bb-from-stage-0 /bin/busybox && echo '
        'same; head -1 /passwd-from-image"]',
    ]
    final = kyb.image(tag)
    assert len(final.layers) == len(kyb.image("busybox").layers) + 4  # the earlier stages' layers stay out
    assert kyb.run(tag) == f"built-{token}\nbuilt-{token}\nsame\nroot:x:0:0:root:/root:/bin/sh\n"

    target = built(kyb, ctx, "-t", f"{tag}-build", "--target", "build")
    assert normalized(target) == [
        "Step 1/2 : FROM busybox AS build",
        " ---> <id>",
        f"Step 2/2 : RUN echo built-{token} > /artifact",
        " ---> Using cache",
        " ---> <id>",
        "Successfully built <id>",
        f"Successfully tagged {tag}-build:latest",
    ]
    assert kyb.config(f"{tag}-build") == {"Env": [DEFAULT_PATH], "Cmd": ["sh"]}
    assert kyb.run(f"{tag}-build", "cat", "/artifact") == f"built-{token}\n"


# -- COPY / ADD -------------------------------------------------------------------------------------------


def test_copy_and_add_semantics(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "a.txt": "a\n", "b.txt": "b\n", "notes.md": "n\n", "run.sh": "#!/bin/sh\necho run\n",
        "dir/c": "c\n", "dir/sub/d": "d\n",
        "arch.tar.gz": tar_bytes({"top/inside": "from-tgz\n"}, gzip=True),
        "plain.tar": tar_bytes({"top/inside": "from-tar\n"}),
        "Dockerfile": (
            f"FROM busybox\nLABEL token={token}\nWORKDIR /w\n"
            "COPY a.txt .\nCOPY a.txt rel-file\nCOPY a.txt rel-dir/\n"
            "COPY *.txt /multi/\nCOPY dir/*/d /deep/\n"
            "COPY dir /d-noslash\nCOPY dir /d-slash/\nCOPY a.txt /file-noslash\nCOPY a.txt /tmp\n"
            "COPY run.sh /run.sh\n"
            "COPY --chown=daemon:daemon a.txt /own-name\nCOPY --chown=1234:5678 dir /own-num\n"
            "COPY --chown=nobody a.txt /own-user\nCOPY --chmod=0600 b.txt /mode\n"
            "ADD arch.tar.gz /ext/\nADD plain.tar /ext-plain\nCOPY plain.tar /notext/\nADD b.txt /added.txt\n"
        ),
    })
    (ctx / "run.sh").chmod(0o755)
    os.utime(ctx / "a.txt", (1_000_000_000, 1_000_000_000))
    tag = f"copy-{token}"
    built(kyb, ctx, "-t", tag)
    paths = ("/w/a.txt /w/rel-file /w/rel-dir /w/rel-dir/a.txt /multi/a.txt /multi/b.txt /deep/d "
             "/d-noslash/c /d-noslash/sub/d /d-slash/c /d-slash/sub/d /file-noslash /tmp /tmp/a.txt /run.sh "
             "/own-name /own-num /own-num/c /own-num/sub /own-num/sub/d /own-user /mode "
             "/ext/top/inside /ext-plain/top/inside /notext/plain.tar /added.txt")
    script = (f'stat -c "%n|%F|%u:%g|%a" {paths}; ls -A /multi /d-noslash /d-slash /notext; '
              "stat -c %Y /w/a.txt; cat /ext/top/inside /ext-plain/top/inside /added.txt; /run.sh")
    assert kyb.run(tag, "sh", "-c", script).splitlines() == [
        "/w/a.txt|regular file|0:0|644",
        "/w/rel-file|regular file|0:0|644",
        "/w/rel-dir|directory|0:0|755",
        "/w/rel-dir/a.txt|regular file|0:0|644",
        "/multi/a.txt|regular file|0:0|644",
        "/multi/b.txt|regular file|0:0|644",
        "/deep/d|regular file|0:0|644",
        "/d-noslash/c|regular file|0:0|644",
        "/d-noslash/sub/d|regular file|0:0|644",
        "/d-slash/c|regular file|0:0|644",
        "/d-slash/sub/d|regular file|0:0|644",
        "/file-noslash|regular file|0:0|644",
        "/tmp|directory|0:0|1777",  # an existing directory: the file goes inside, the directory is untouched
        "/tmp/a.txt|regular file|0:0|644",
        "/run.sh|regular file|0:0|755",
        "/own-name|regular file|1:1|644",
        "/own-num|directory|1234:5678|755",
        "/own-num/c|regular file|1234:5678|644",
        "/own-num/sub|directory|1234:5678|755",
        "/own-num/sub/d|regular file|1234:5678|644",
        "/own-user|regular file|65534:65534|644",
        "/mode|regular file|0:0|600",
        "/ext/top/inside|regular file|0:0|644",
        "/ext-plain/top/inside|regular file|0:0|644",
        "/notext/plain.tar|regular file|0:0|644",
        "/added.txt|regular file|0:0|644",
        "/d-noslash:", "c", "sub", "",
        "/d-slash:", "c", "sub", "",
        "/multi:", "a.txt", "b.txt", "",
        "/notext:", "plain.tar",
        "1000000000",
        "from-tgz", "from-tar", "b",
        "run",
    ]


def test_copy_heredoc_and_symlinks_in_the_context(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "real/f.txt": "real\n",
        "link-in": Link("real"),  # a link inside the context: followed on the way to a source
        "file-link": Link("real/f.txt"),  # a source that is a link: copied as the link
        "Dockerfile": (f"FROM busybox\nCOPY link-in/f.txt /via-link\nCOPY file-link /file-link\n"
                       f"COPY <<EOF /inline.txt\nhello {token}\nEOF\n"),
    })
    tag = f"links-{token}"
    built(kyb, ctx, "-t", tag)
    assert kyb.run(tag, "sh", "-c", "cat /via-link /inline.txt; readlink /file-link") == (
        f"real\nhello {token}\nreal/f.txt\n")


def test_dockerignore_excludes_and_exceptions_reinclude(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "a.txt": "a\n", "secret.key": "s\n", "keep.key": "k\n", "logs/keep.log": "1\n", "logs/drop.log": "2\n",
        "build/out.bin": "o\n", "src/main.c": "m\n", "src/obj/tmp.o": "t\n", "docs/readme.md": "r\n",
        ".dockerignore": "# comment\n*.key\n!keep.key\nlogs\n!logs/keep.log\nbuild/\n**/*.o\n",
        "Dockerfile": f"FROM busybox\nLABEL token={token}\nCOPY . /app/\nCOPY *.key /keys/\n",
    })
    tag = f"ignore-{token}"
    built(kyb, ctx, "-t", tag)
    image = kyb.image(tag)
    assert sorted(kyb.run(tag, "find", "/app", "/keys").splitlines()) == [
        "/app", "/app/.dockerignore", "/app/Dockerfile", "/app/a.txt", "/app/docs", "/app/docs/readme.md",
        "/app/keep.key", "/app/logs", "/app/logs/keep.log", "/app/src", "/app/src/main.c", "/app/src/obj",
        "/keys", "/keys/keep.key",
    ]
    # changing only excluded files changes nothing the build sees
    (ctx / "secret.key").write_text("changed\n")
    (ctx / "logs" / "drop.log").write_text("changed\n")
    (ctx / "src" / "obj" / "tmp.o").write_text("changed\n")
    again = built(kyb, ctx, "-t", tag)
    assert again.count(" ---> Using cache") == 2
    assert kyb.image(tag).id == image.id


# -- metadata instructions --------------------------------------------------------------------------------


def test_metadata_instructions_set_the_image_config(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "Dockerfile": (
            "FROM busybox\n"
            f"ENV PATH=/opt/tool/bin:$PATH MODE=prod-{token}\n"
            'ENV GREETING="hello world"\n'
            "EXPOSE 80 53/udp 8080/tcp\n"
            'LABEL org.example.name="demo app" version=1.0\n'
            "LABEL version=1.1\n"
            'VOLUME ["/data", "/cache"]\n'
            "VOLUME /logs\n"
            "STOPSIGNAL SIGINT\n"
            "HEALTHCHECK --interval=5s --timeout=3s --start-period=1m30s --start-interval=2s --retries=4 "
            "CMD wget -q -O /dev/null http://localhost/ || exit 1\n"
            'SHELL ["/bin/sh", "-ec"]\n'
            "ONBUILD RUN echo triggered\n"
            'ENTRYPOINT ["echo", "entry"]\n'
            'CMD ["from", "cmd"]\n'
        ),
    })
    tag = f"meta-{token}"
    out = built(kyb, ctx, "-t", tag)
    assert not any(ln.startswith(" ---> Running in") for ln in out)
    image = kyb.image(tag)
    base = kyb.image("busybox")
    assert image.config["config"] == {
        "Env": [f"PATH=/opt/tool/bin:{BUSYBOX_PATH}", f"MODE=prod-{token}", "GREETING=hello world"],
        "Cmd": ["from", "cmd"],
        "Entrypoint": ["echo", "entry"],
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}, "8080/tcp": {}},
        "Labels": {"org.example.name": "demo app", "version": "1.1"},
        "Volumes": {"/data": {}, "/cache": {}, "/logs": {}},
        "StopSignal": "SIGINT",
        "Healthcheck": {
            "Test": ["CMD-SHELL", "wget -q -O /dev/null http://localhost/ || exit 1"],
            "Interval": 5_000_000_000, "Timeout": 3_000_000_000, "StartPeriod": 90_000_000_000,
            "StartInterval": 2_000_000_000, "Retries": 4,
        },
        "Shell": ["/bin/sh", "-ec"],
        "OnBuild": ["RUN echo triggered"],
    }
    assert image.layers == base.layers  # metadata only: no layer
    history: list[dict[str, Any]] = image.config["history"]
    assert len(history) == len(base.config["history"]) + 13
    assert all(h.get("empty_layer") for h in history[len(base.config["history"]):])
    assert kyb.run(tag) == "entry from cmd\n"  # ENTRYPOINT + CMD
    assert kyb.run(tag, "given", "args") == "entry given args\n"  # arguments replace CMD
    assert kyb.ok("run", "--rm", "--entrypoint", "sh", tag, "-c", 'echo "$PATH|$MODE|$GREETING"').out == (
        f"/opt/tool/bin:{BUSYBOX_PATH}|prod-{token}|hello world\n")


def test_entrypoint_keeps_a_cmd_of_its_stage_and_drops_the_base_images(kyb: KybEnv, tmp_path: Path,
                                                                       token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {})
    (tmp_path / "own.Dockerfile").write_text(f'FROM busybox\nLABEL t={token}\nCMD ["own"]\nENTRYPOINT ["echo"]\n')
    (tmp_path / "base.Dockerfile").write_text(f"FROM busybox\nLABEL t={token}\nENTRYPOINT echo shell-form $0\n")
    built(kyb, ctx, "-f", str(tmp_path / "own.Dockerfile"), "-t", f"ep-own-{token}")
    built(kyb, ctx, "-f", str(tmp_path / "base.Dockerfile"), "-t", f"ep-base-{token}")
    own, base = kyb.config(f"ep-own-{token}"), kyb.config(f"ep-base-{token}")
    assert (own["Entrypoint"], own["Cmd"]) == (["echo"], ["own"])
    assert (base["Entrypoint"], base["Cmd"]) == (["/bin/sh", "-c", "echo shell-form $0"], None)
    assert kyb.run(f"ep-own-{token}") == "own\n"
    assert kyb.run(f"ep-base-{token}") == "shell-form /bin/sh\n"


def test_workdir_and_user(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    ctx = write_tree(tmp_path / "ctx", {
        "Dockerfile": (
            f"FROM busybox\nWORKDIR /app\nWORKDIR src\nWORKDIR ../lib/x\nRUN pwd && echo {token}\n"
            "WORKDIR /made/by/workdir\nUSER nobody\nRUN id -u && id -g\nWORKDIR /app/lib/x\n"
        ),
    })
    tag = f"workdir-{token}"
    out = built(kyb, ctx, "-t", tag)
    assert "/app/lib/x" in out
    assert out[out.index("Step 8/9 : RUN id -u && id -g") + 2: out.index("Step 8/9 : RUN id -u && id -g") + 4] == [
        "65534", "65534"]
    image = kyb.image(tag)
    cfg = image.config["config"]
    assert (cfg["WorkingDir"], cfg["User"]) == ("/app/lib/x", "nobody")
    # each WORKDIR that made a directory is a layer; the last one found its directory there already
    assert len(image.layers) == len(kyb.image("busybox").layers) + 6
    assert image.config["history"][-1] == {**image.config["history"][-1], "empty_layer": True}
    script = 'id -u; pwd; stat -c "%n %U %a" /app /app/src /app/lib/x /made/by/workdir'
    assert kyb.run(tag, "sh", "-c", script).splitlines() == [
        "65534", "/app/lib/x", "/app root 755", "/app/src root 755", "/app/lib/x root 755",
        "/made/by/workdir root 755"]


def test_onbuild_triggers_run_in_the_child_build(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    parent_ctx = write_tree(tmp_path / "parent", {
        "Dockerfile": (f"FROM busybox\nONBUILD COPY trigger.txt /trigger.txt\n"
                       f'ONBUILD RUN echo "triggered {token}" > /onbuild.txt\n'
                       'CMD ["cat", "/trigger.txt", "/onbuild.txt"]\n'),
    })
    parent_out = built(kyb, parent_ctx, "-t", f"onbuild-parent-{token}")
    assert not any(ln.startswith(" ---> Running in") for ln in parent_out)  # recorded, not run
    assert kyb.config(f"onbuild-parent-{token}")["OnBuild"] == [
        "COPY trigger.txt /trigger.txt", f'RUN echo "triggered {token}" > /onbuild.txt']

    child_ctx = write_tree(tmp_path / "child", {
        "trigger.txt": "from the child's context\n",
        "Dockerfile": f"FROM onbuild-parent-{token}\nRUN cat /onbuild.txt\n",
    })
    out = built(kyb, child_ctx, "-t", f"onbuild-child-{token}")
    assert [ln for ln in out if ln.startswith("Step ")] == [
        f"Step 1/4 : FROM onbuild-parent-{token}",
        "Step 2/4 : COPY trigger.txt /trigger.txt",
        f'Step 3/4 : RUN echo "triggered {token}" > /onbuild.txt',
        "Step 4/4 : RUN cat /onbuild.txt",
    ]
    assert f"triggered {token}" in out
    assert "OnBuild" not in kyb.config(f"onbuild-child-{token}")  # triggers fire once, in the child
    assert kyb.run(f"onbuild-child-{token}") == f"from the child's context\ntriggered {token}\n"


# -- errors -----------------------------------------------------------------------------------------------

ERRORS = [
    pytest.param({"Dockerfile": "FROM busybox\nRUN true\nFROBNICATE now\n"}, [],
                 "failed to parse Dockerfile: dockerfile parse error on line 3: unknown instruction: FROBNICATE",
                 "", id="unknown-instruction"),
    pytest.param({"Dockerfile": "FROM busybox\nRUN echo ok-{token}\nRUN exit 3\n"}, [],
                 "The command '/bin/sh -c exit 3' returned a non-zero code: 3", "ok-{token}", id="run-fails"),
    pytest.param({"Dockerfile": "FROM busybox\nRUN echo about-to-fail-{token} >&2 && exit 3\n"}, [],
                 "The command '/bin/sh -c echo about-to-fail-{token} >&2 && exit 3' returned a non-zero code: 3",
                 "about-to-fail-{token}", id="run-fails-with-output"),
    pytest.param({"Dockerfile": 'FROM busybox\nLABEL t={token}\nRUN ["/bin/false"]\n'}, [],
                 "The command '/bin/false' returned a non-zero code: 1", "", id="exec-form-run-fails"),
    pytest.param({"Dockerfile": "FROM busybox AS first\nRUN echo {token} > /f\nFROM first\nRUN exit 5\n"}, [],
                 "The command '/bin/sh -c exit 5' returned a non-zero code: 5", "", id="second-stage-fails"),
    pytest.param({"Dockerfile": "FROM busybox\nCOPY missing.txt /x\n"}, [],
                 "COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: "
                 "file does not exist", "", id="copy-missing"),
    pytest.param({"Dockerfile": "FROM busybox\nCOPY secret.key /x\n", "secret.key": "s", ".dockerignore": "*.key"},
                 [], "COPY failed: file not found in build context or excluded by .dockerignore: stat secret.key: "
                 "file does not exist", "", id="copy-excluded"),
    pytest.param({"Dockerfile": "FROM busybox\nCOPY ../outside.txt /x\n"}, [],
                 "COPY failed: forbidden path outside the build context: ../outside.txt ()", "", id="copy-outside"),
    pytest.param({"Dockerfile": "FROM busybox\nADD ../outside.txt /x\n"}, [],
                 "ADD failed: forbidden path outside the build context: ../outside.txt ()", "", id="add-outside"),
    pytest.param({"Dockerfile": "FROM busybox\nCOPY etc-link/hostname /x\n", "etc-link": Link("/etc")}, [],
                 "COPY failed: file not found in build context or excluded by .dockerignore: "
                 "stat etc-link/hostname: file does not exist", "", id="copy-through-symlink-out-of-context"),
    pytest.param({"Dockerfile": "FROM busybox\nCOPY up/outside.txt /x\n", "up": Link("..")}, [],
                 "COPY failed: file not found in build context or excluded by .dockerignore: "
                 "stat up/outside.txt: file does not exist", "", id="copy-through-relative-symlink"),
    pytest.param({"Dockerfile": "FROM busybox AS a\nFROM busybox\nCOPY --from=a /nope /x\n"}, [],
                 "COPY failed: file not found in build context or excluded by .dockerignore: stat /nope: "
                 "file does not exist", "", id="copy-from-stage-missing"),
    pytest.param({"Dockerfile": "FROM busybox\nCOPY a.txt b.txt /dest\n", "a.txt": "a", "b.txt": "b"}, [],
                 "When using COPY with more than one source file, the destination must be a directory and end "
                 "with a /", "", id="several-sources-no-slash"),
    pytest.param({"Dockerfile": "FROM busybox\nCOPY --chown=nosuchuser a.txt /x\n", "a.txt": "a"}, [],
                 "unable to convert uid/gid chown string to host mapping: can't find uid for user nosuchuser: "
                 "no such user: nosuchuser", "", id="bad-chown-user"),
    pytest.param({"Dockerfile": "FROM busybox\nCOPY --chown=root:nosuchgroup a.txt /x\n", "a.txt": "a"}, [],
                 "unable to convert uid/gid chown string to host mapping: can't find gid for group nosuchgroup: "
                 "no such group: nosuchgroup", "", id="bad-chown-group"),
    pytest.param({"Dockerfile": "FROM busybox\nADD http://example.com/x /x\n"}, [],
                 "dockerfile line 2: ADD from a URL or git repository is not supported (this machine has no network "
                 "for builds): download it into the context and COPY it", "", id="add-url"),
    pytest.param({"a.txt": "a"}, [], "failed to read dockerfile: open Dockerfile: no such file or directory", "",
                 id="missing-dockerfile"),
    pytest.param({"Dockerfile": "FROM busybox\n"}, ["-f", "nope.Dockerfile"],
                 "failed to read dockerfile: open nope.Dockerfile: no such file or directory", "",
                 id="missing-dockerfile-flag"),
    pytest.param({"Dockerfile": "FROM nosuch-{token}:1\nRUN true\n"}, [],
                 "pull access denied for nosuch-{token}:1, repository does not exist or may require 'docker login' "
                 "(not in the local store: kyb build, kyb load, kyb pull or kyb image bootstrap busybox)", "",
                 id="unknown-base-image"),
    pytest.param({"Dockerfile": "FROM busybox AS builder\nRUN true\n"}, ["--target", "nosuchstage"],
                 'failed to parse Dockerfile: target stage "nosuchstage" could not be found', "", id="unknown-target"),
    pytest.param({"Dockerfile": "FROM busybox\n", ".dockerignore": "[\n"}, [],
                 "failed to parse .dockerignore: syntax error in pattern", "", id="bad-dockerignore"),
    pytest.param({"Dockerfile": "FROM busybox\n"}, ["-t", "Bad:Tag!"], 'invalid tag "Bad:Tag!": invalid reference format',
                 "", id="bad-tag"),
    pytest.param(None, [], 'unable to prepare context: path "{context}" not found', "", id="missing-context"),
]


@pytest.mark.parametrize(("files", "args", "message", "shown"), ERRORS)
def test_failed_build_says_one_line_and_leaves_nothing(kyb: KybEnv, tmp_path: Path, token: str,
                                                       files: dict[str, str | Link] | None, args: list[str],
                                                       message: str, shown: str) -> None:
    ctx = tmp_path / "ctx"
    (tmp_path / "outside.txt").write_text("outside the context\n")
    if files is not None:
        write_tree(ctx, {k: v.format(token=token) if isinstance(v, str) else v for k, v in files.items()})
    before = kyb.images()
    ids_before = sorted(i.id for i in kyb.store.images())
    r = kyb("build", "-t", f"failed-{token}", *args, str(ctx))
    assert r.rc != 0, str(r)
    assert r.err == f"error: {message.format(token=token, context=ctx)}\n", str(r)
    assert "Traceback" not in r.out + r.err
    if shown:
        assert shown.format(token=token) in r.lines, str(r)
    after = kyb.images_output()
    assert image_rows(after) == before and f"failed-{token}" not in after
    assert sorted(i.id for i in kyb.store.images()) == ids_before  # no half-built, untagged image either


def test_interrupted_build_leaves_nothing(kyb: KybEnv, tmp_path: Path, token: str) -> None:
    """Ctrl-C in the middle of a RUN: exit 130, the step's container, mounts and scratch dirs gone, no image."""
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nRUN echo started-{token} && sleep 30\n"})
    before = kyb.images()
    p = subprocess.Popen([*KYB, "build", "-t", f"interrupted-{token}", str(ctx)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=kyb.env)
    assert p.stdout is not None
    for line in p.stdout:
        if line.strip() == f"started-{token}":
            break
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert kyb.images() == before
