"""``attach``: a container's own stdin and output, on every backend (terminals and process deaths: real ones only).

Containers run ``cat`` (echoes its stdin, exits at EOF), or ``sh`` on a terminal. What is checked: input reaches
the container and its output comes back (stdout and stderr apart, unbuffered); ``stdin_once`` closes the stdin
when the first stdin attachment ends and not before; without it stdin stays open across attachments; resizing
shows in ``stty size``; the refusals (no stdin, not running, unknown); and that attach clients that stall or die
never hold the container up.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kybernetes.runtime.api import AttachedIO, ContainerState, InvalidState, NoStdin, NotFound

from .conftest import BACKENDS, REAL_BACKENDS, RuntimeEnv
from .helpers import log_text, wait_log, wait_state

real_only = pytest.mark.parametrize("rt_env", REAL_BACKENDS, indirect=True)
every_backend = pytest.mark.parametrize("rt_env", BACKENDS, indirect=True)


async def started(rt_env: RuntimeEnv, name: str, command: list[str], **kw: Any) -> str:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox(name))
    cid: str = await rt.create_container(sid, rt_env.container(name, command, **kw))
    await rt.start_container(cid)
    return cid


async def read_until(chunks: AsyncIterator[bytes], needle: bytes, timeout: float = 10.0) -> bytes:
    """Read from an output iterator until ``needle`` appeared; the bytes read so far."""
    got = b""

    async def go() -> None:
        nonlocal got
        async for chunk in chunks:
            got += chunk
            if needle in got:
                return
        raise AssertionError(f"output ended before {needle!r}; got {got!r}")

    try:
        await asyncio.wait_for(go(), timeout)
    except TimeoutError:
        raise AssertionError(f"{needle!r} did not come within {timeout}s; got {got!r}") from None
    return got


async def rest(chunks: AsyncIterator[bytes], timeout: float = 10.0) -> bytes:
    async def go() -> bytes:
        return b"".join([c async for c in chunks])

    return await asyncio.wait_for(go(), timeout)


@every_backend
async def test_input_comes_back_and_stdin_once_ends_the_container(rt_env: RuntimeEnv) -> None:
    cid = await started(rt_env, "echo", ["cat"], stdin=True, stdin_once=True)
    att = await rt_env.rt.attach(cid, stdin=True)
    assert att.tty is False
    out = att.stdout()
    await att.write_stdin(b"hello\n")
    assert await read_until(out, b"hello\n") == b"hello\n"
    await att.write_stdin(b"second line\n")
    assert await read_until(out, b"second line\n") == b"second line\n"
    await att.close_stdin()  # stdin_once: the container's stdin is closed, cat sees EOF
    assert await asyncio.wait_for(att.wait(), 10) == 0
    assert await rest(out) == b"" and await rest(att.stderr()) == b""
    st = await wait_state(rt_env.rt, cid, ContainerState.EXITED)
    assert (st.exit_code, st.reason) == (0, "Completed")
    assert await log_text(st.log_path) == "hello\nsecond line\n"
    await att.detach()


@real_only
async def test_stdout_and_stderr_stay_apart_and_come_unbuffered(rt_env: RuntimeEnv) -> None:
    script = "printf 'ready> '; while read x; do echo out $x; echo err $x >&2; printf 'next> '; done; exit 5"
    cid = await started(rt_env, "split", ["sh", "-c", script], stdin=True, stdin_once=True)
    att = await rt_env.rt.attach(cid, stdin=True)
    out, err = att.stdout(), att.stderr()
    await att.write_stdin(b"a\n")
    assert (await read_until(out, b"next> ")).endswith(b"out a\nnext> ")  # a prompt without its newline
    assert await read_until(err, b"err a\n") == b"err a\n"
    await att.close_stdin()
    assert await asyncio.wait_for(att.wait(), 10) == 5
    await att.detach()
    assert "ready> " in await log_text((await rt_env.rt.container_status(cid)).log_path)


@every_backend
async def test_without_stdin_once_stdin_stays_open_across_attachments(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    cid = await started(rt_env, "keep", ["cat"], stdin=True)
    for word in (b"one\n", b"two\n"):
        att = await rt.attach(cid, stdin=True)
        await att.write_stdin(word)
        assert await read_until(att.stdout(), word) == word
        await att.close_stdin()
        await att.detach()
        await asyncio.sleep(0.2)
        assert (await rt.container_status(cid)).state is ContainerState.RUNNING
    watcher = await rt.attach(cid)  # output only: its end closes nothing either
    await watcher.detach()
    await asyncio.sleep(0.2)
    assert (await rt.container_status(cid)).state is ContainerState.RUNNING
    await rt.stop_container(cid, 0)
    assert (await rt.container_status(cid)).exit_code == 137


@every_backend
async def test_stdin_once_closes_at_the_first_stdin_attachments_end_not_before(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    cid = await started(rt_env, "once", ["cat"], stdin=True, stdin_once=True)
    watcher = await rt.attach(cid)  # output only
    await watcher.detach()
    await asyncio.sleep(0.2)
    assert (await rt.container_status(cid)).state is ContainerState.RUNNING
    both = [await rt.attach(cid, stdin=True), await rt.attach(cid, stdin=True)]
    await both[1].write_stdin(b"via second\n")
    assert await read_until(both[0].stdout(), b"via second\n")  # every attachment sees the output
    await both[0].detach()  # gone without a word: its input ended all the same
    assert await asyncio.wait_for(both[1].wait(), 10) == 0
    await both[1].detach()
    assert (await wait_state(rt, cid, ContainerState.EXITED)).exit_code == 0


@real_only
async def test_terminal_resize_shows_in_stty_and_exit_code_comes_back(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    cid = await started(rt_env, "term", ["sh"], stdin=True, tty=True, stdin_once=True)
    att = await rt.attach(cid, stdin=True, tty=True)
    assert att.tty is True
    out = att.stdout()
    await att.resize(100, 33)
    await att.write_stdin(b"stty size\n")
    assert b"33 100" in await read_until(out, b"33 100")
    await att.resize(81, 19)
    await att.write_stdin(b"stty size; echo err >&2\n")
    got = await read_until(out, b"err\r\n")
    assert b"19 81\r\n" in got  # stderr arrives on the terminal, merged into stdout
    await att.write_stdin(b"exit 3\n")
    assert await asyncio.wait_for(att.wait(), 10) == 3
    assert await rest(att.stderr()) == b""
    await att.detach()


@real_only
async def test_terminal_stdin_once_sends_end_of_input(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    cid = await started(rt_env, "eot", ["sh", "-c", "cat; echo cat ended"], stdin=True, tty=True,
                        stdin_once=True)
    att = await rt.attach(cid, stdin=True, tty=True)
    await att.write_stdin(b"typed\n")
    await read_until(att.stdout(), b"typed\r\ntyped\r\n")  # the terminal's echo, then cat's
    await att.detach()  # a terminal cannot be half-closed: EOT (^D) ends cat's input
    st = await wait_state(rt, cid, ContainerState.EXITED)
    assert st.exit_code == 0
    assert "cat ended" in await log_text(st.log_path)


@every_backend
async def test_refusals(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    no_stdin = await rt.create_container(sid, rt_env.container("plain", rt_env.forever_cmd()))
    with pytest.raises(InvalidState, match="not running"):  # created, not started
        await rt.attach(no_stdin)
    await rt.start_container(no_stdin)
    with pytest.raises(NoStdin, match="was not created with stdin"):
        await rt.attach(no_stdin, stdin=True)
    att = await rt.attach(no_stdin)  # output only is fine
    await att.detach()
    await rt.stop_container(no_stdin, 0)
    with pytest.raises(InvalidState, match="not running"):
        await rt.attach(no_stdin)
    with pytest.raises(NotFound):
        await rt.attach("0" * 64)


@real_only
async def test_an_attachment_that_stalls_is_cut_off_and_the_container_goes_on(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    script = "read x; head -c 12000000 /dev/zero | tr '\\0' a; echo; echo end"
    cid = await started(rt_env, "flood", ["sh", "-c", script], stdin=True, log_max_bytes=1 << 20,
                        log_max_files=2)
    stalled = await rt.attach(cid, stdin=True)
    await stalled.write_stdin(b"go\n")  # and never read a byte of the output
    st = await wait_state(rt, cid, ContainerState.EXITED, timeout=60)
    assert st.exit_code == 0
    await wait_log(st.log_path, "end")
    assert await asyncio.wait_for(stalled.wait(), 10) == 0  # from the runtime's record: the shim cut us off
    await stalled.detach()


@real_only
async def test_a_new_runtime_object_attaches_too(rt_env: RuntimeEnv) -> None:
    cid = await started(rt_env, "found", ["cat"], stdin=True, stdin_once=True)
    again = rt_env.new_runtime()
    att: AttachedIO = await again.attach(cid, stdin=True)
    await att.write_stdin(b"again\n")
    assert await read_until(att.stdout(), b"again\n") == b"again\n"
    await att.close_stdin()
    assert await asyncio.wait_for(att.wait(), 10) == 0
    await att.detach()


@real_only
async def test_a_client_speaking_nonsense_is_dropped(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    cid = await started(rt_env, "robust", ["cat"], stdin=True)
    dir_fd = os.open(rt.store.container_dir(cid), os.O_PATH)
    try:
        reader, writer = await asyncio.open_unix_connection(f"/proc/self/fd/{dir_fd}/attach.sock")
    finally:
        os.close(dir_fd)
    writer.write(b"i" + (1 << 31).to_bytes(4, "big") + b"junk")  # a 2 GiB frame
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # hung up on
    writer.close()
    att = await rt.attach(cid, stdin=True)
    await att.write_stdin(b"fine\n")
    assert await read_until(att.stdout(), b"fine\n") == b"fine\n"
    await att.detach()
    assert (await rt.container_status(cid)).state is ContainerState.RUNNING


CLIENT = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from kybernetes.runtime.process import ProcessRuntime
    from kybernetes.runtime.runc import RuncRuntime

    kind, root, cgroup_root, cid = sys.argv[1:5]

    async def main():
        rt = RuncRuntime(Path(root), cgroup_root=cgroup_root) if kind == "runc" else ProcessRuntime(Path(root))
        att = await rt.attach(cid, stdin=True)
        await att.write_stdin(b"from the doomed client\\n")
        async for chunk in att.stdout():
            if b"doomed" in chunk:
                break
        print("attached", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


@real_only
@pytest.mark.parametrize("stdin_once", [False, True], ids=["stdin-stays", "stdin-once"])
async def test_an_attach_client_killed_mid_session(rt_env: RuntimeEnv, stdin_once: bool) -> None:
    rt = rt_env.rt
    cid = await started(rt_env, "survivor", ["cat"], stdin=True, stdin_once=stdin_once)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, rt_env.kind, str(rt_env.root), rt_env.cgroup_root or "-", cid,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line == b"attached\n", (line, await proc.stderr.read() if proc.stderr else b"")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
    if stdin_once:  # the client's end was its input's end
        assert (await wait_state(rt, cid, ContainerState.EXITED)).exit_code == 0
        return
    await asyncio.sleep(0.3)
    assert (await rt.container_status(cid)).state is ContainerState.RUNNING
    att = await rt.attach(cid, stdin=True)
    await att.write_stdin(b"still here\n")
    assert await read_until(att.stdout(), b"still here\n") == b"still here\n"
    await att.detach()
