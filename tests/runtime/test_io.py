"""Output, logs, signals, exec and stats: the contract for backends that run real processes (runc, process)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.runtime.api import ContainerState, InvalidState, Timeout
from kybernetes.runtime.logs import read_log

from .conftest import REAL_BACKENDS, RuntimeEnv
from .helpers import log_text, run_to_exit, wait_log, wait_state

pytestmark = pytest.mark.parametrize("rt_env", REAL_BACKENDS, indirect=True)


async def test_output_goes_to_the_cri_log(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cfg = rt_env.container("app", ["sh", "-c", "echo one; echo two >&2; printf 'no newline'"])
    st = await run_to_exit(rt, sid, cfg)
    assert st.exit_code == 0 and st.log_path == cfg.log_path
    raw = Path(cfg.log_path).read_text().splitlines()
    assert [ln.split(" ", 1)[1] for ln in raw] == ["stdout F one", "stderr F two", "stdout F no newline"]
    assert raw[0][:4].isdigit() and raw[0].split(" ")[0].endswith("Z")
    assert await log_text(cfg.log_path, stream="stderr") == "two\n"


async def test_env_and_working_dir(rt_env: RuntimeEnv, tmp_path: Path) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    workdir = "/srv/work/dir" if rt_env.kind == "runc" else str(tmp_path)
    cfg = rt_env.container("app", ["sh", "-c", 'echo "$GREETING $WHO"; pwd'], working_dir=workdir,
                           env=["PATH=/usr/bin:/bin", "GREETING=hello", "WHO=world"])
    await run_to_exit(rt, sid, cfg)
    assert await log_text(cfg.log_path) == f"hello world\n{workdir}\n"


async def test_stop_waits_for_the_grace_period_then_kills(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cfg = rt_env.container("stubborn", ["sh", "-c", "trap 'echo got TERM' TERM; echo ready; "
                                        "while :; do sleep 0.05; done"])
    cid = await rt.create_container(sid, cfg)
    await rt.start_container(cid)
    await wait_log(cfg.log_path, "ready")
    started = time.monotonic()
    await rt.stop_container(cid, 1.0)
    took = time.monotonic() - started
    st = await rt.container_status(cid)
    assert (st.state, st.exit_code) == (ContainerState.EXITED, 137)
    assert 0.9 < took < 5, took
    assert "got TERM" in await wait_log(cfg.log_path, "got TERM")


async def test_stop_signal_ends_a_cooperative_process_at_once(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cfg = rt_env.container("polite", ["sh", "-c", "trap 'exit 0' INT; echo ready; while :; do sleep 0.05; done"],
                           stop_signal="SIGINT")
    cid = await rt.create_container(sid, cfg)
    await rt.start_container(cid)
    await wait_log(cfg.log_path, "ready")
    started = time.monotonic()
    await rt.stop_container(cid, 30)
    assert time.monotonic() - started < 5
    st = await rt.container_status(cid)
    assert (st.exit_code, st.reason) == (0, "Completed")


async def test_exec_sync_output_and_exit_codes(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd(), env=[
        "PATH=/usr/bin:/bin", "MARK=from-container"]))
    await rt.start_container(cid)
    res = await rt.exec_sync(cid, ["sh", "-c", "echo out $MARK; echo err >&2; exit 5"])
    assert (res.exit_code, res.stdout, res.stderr) == (5, b"out from-container\n", b"err\n")
    for code in (0, 1, 42, 255):
        assert (await rt.exec_sync(cid, ["sh", "-c", f"exit {code}"])).exit_code == code
    with pytest.raises(Timeout):
        await rt.exec_sync(cid, ["sleep", "30"], timeout=0.3)
    await rt.stop_container(cid, 0)
    with pytest.raises(InvalidState):
        await rt.exec_sync(cid, ["true"])


async def test_exec_with_stdin(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd()))
    await rt.start_container(cid)
    proc = await rt.exec(cid, ["sh", "-c", "tr a-z A-Z; exit 7"], stdin=True)
    await proc.write_stdin(b"hello\nworld\n")
    await proc.close_stdin()
    out = b"".join([chunk async for chunk in proc.stdout()])
    assert out == b"HELLO\nWORLD\n"
    assert await proc.wait() == 7


async def test_exec_with_tty(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd()))
    await rt.start_container(cid)
    proc = await rt.exec(cid, ["sh", "-i"], tty=True, stdin=True)
    await proc.resize(123, 45)
    chunks = asyncio_timeout_iter(proc.stdout(), 10)
    out = b""
    async for chunk in chunks:  # the prompt: the shell is reading its terminal
        out += chunk
        if b"$ " in out or b"# " in out:
            break
    await proc.write_stdin(b"stty size; tty; echo err >&2; exit 3\n")
    out += b"".join([chunk async for chunk in chunks])
    assert await proc.wait() == 3
    text = out.decode(errors="replace")
    assert "45 123" in text and "/dev/pts/" in text and "err" in text, text
    assert [c async for c in proc.stderr()] == []


async def asyncio_timeout_iter(it: AsyncIterator[bytes], timeout: float) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = await asyncio.wait_for(it.__anext__(), max(0.01, deadline - time.monotonic()))
        except StopAsyncIteration:
            return
        yield chunk


async def test_log_rotation_keeps_the_newest_lines(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cfg = rt_env.container("chatty", ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxx; "
                                      "i=$((i+1)); done"], log_max_bytes=4096, log_max_files=3)
    await run_to_exit(rt, sid, cfg)
    path = Path(cfg.log_path)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["chatty.log", "chatty.log.1", "chatty.log.2"]
    assert all(os.path.getsize(path.parent / f) <= 4096 for f in files)
    lines: list[str] = []
    for name in ("chatty.log.2", "chatty.log.1", "chatty.log"):
        lines += [r.data.decode().split("-")[1] async for r in read_log(path.parent / name)]
    numbers = [int(n) for n in lines]
    assert numbers == list(range(numbers[0], 300)) and numbers[0] > 0


async def test_reopen_log_after_external_rotation(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    trigger = "/tmp/go" if rt_env.kind == "runc" else str(rt_env.logs.parent / "go")
    cfg = rt_env.container("app", ["sh", "-c", f"echo before; while [ ! -e {trigger} ]; do sleep 0.02; done; "
                                   "echo after; sleep 5"])
    cid = await rt.create_container(sid, cfg)
    await rt.start_container(cid)
    await wait_log(cfg.log_path, "before")
    os.rename(cfg.log_path, cfg.log_path + ".old")
    await rt.reopen_container_log(cid)
    if rt_env.kind == "runc":
        await rt.exec_sync(cid, ["touch", trigger])
    else:
        Path(trigger).touch()
    assert await wait_log(cfg.log_path, "after") == "after\n"
    assert await log_text(cfg.log_path + ".old") == "before\n"


async def test_stats(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("busy", ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do "
                                                           "i=$((i+1)); done; echo done; sleep 30"]))
    await rt.start_container(cid)
    await wait_log(rt_env.logs / "busy.log", "done")
    stats = await rt.container_stats(cid)
    assert stats.cpu_usage_ns > 1_000_000 and stats.memory_usage_bytes > 0
    assert 0 < stats.memory_working_set_bytes <= stats.memory_usage_bytes


async def test_container_with_tty_logs_its_terminal(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cfg = rt_env.container("term", ["sh", "-c", "tty; echo to-stderr >&2"], tty=True)
    st = await run_to_exit(rt, sid, cfg)
    assert st.exit_code == 0
    text = await log_text(cfg.log_path, stream="stdout")
    assert "/dev/pts/" in text and "to-stderr" in text


async def test_missing_executable_fails_at_create(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    with pytest.raises(Exception, match="no-such-program"):
        await rt.create_container(sid, rt_env.container("bad", ["no-such-program"]))
    assert await rt.list_containers() == []
    st = await run_to_exit(rt, sid, rt_env.container("bad", rt_env.exit_cmd(0)))  # the name is free again
    assert st.state is ContainerState.EXITED


async def test_concurrent_creates_of_one_name_make_one_container(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    other = rt_env.new_runtime()
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    results = await asyncio.gather(
        *(r.create_container(sid, rt_env.container("app", rt_env.exit_cmd(0))) for r in (rt, other, rt, other)),
        return_exceptions=True)
    assert sum(isinstance(r, str) for r in results) == 1, results
    assert len(await rt.list_containers()) == 1
    await wait_state(rt, next(r for r in results if isinstance(r, str)), ContainerState.CREATED)
