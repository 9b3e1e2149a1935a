"""The runc backend's spare shim (a shim started ahead of time) and its start without a runc process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from kybernetes.runtime.api import ContainerState, InvalidState, RuntimeError_
from kybernetes.runtime.runc import RuncRuntime
from kybernetes.runtime.shimctl import is_alive, spawn_spare

from .conftest import RuntimeEnv, needs_runc
from .helpers import log_text, wait_log, wait_state

pytestmark = [needs_runc, pytest.mark.parametrize("rt_env", ["runc"], indirect=True)]


def spares(shim_dir: Path, suffix: str = ".sock") -> list[tuple[int, int]]:
    found = []
    for p in shim_dir.glob(f"spare-*{suffix}"):
        _, pid, start = p.name[:-len(suffix)].split("-")
        found.append((int(pid), int(start)))
    return found


async def idle_spare(rt: RuncRuntime) -> tuple[int, int]:
    """The one idle spare of ``rt``, once its background start finished."""
    if rt._spare_task is not None:
        await rt._spare_task
    found = spares(rt.shim_dir)
    assert len(found) == 1, found
    assert is_alive(*found[0])
    return found[0]


async def wait_gone(pid: int, start: int, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while is_alive(pid, start):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def record(rt_env: RuntimeEnv, cid: str) -> dict:
    return json.loads((rt_env.root / "containers" / cid / "container.json").read_text())


async def test_spare_is_used_by_the_next_container_and_replaced(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    first = await rt.create_container(sid, rt_env.container("a", rt_env.forever_cmd()))
    spare = await idle_spare(rt)
    assert spare[0] != record(rt_env, first)["shim_pid"]
    second = await rt.create_container(sid, rt_env.container(
        "b", ["sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"]))
    assert (record(rt_env, second)["shim_pid"], record(rt_env, second)["shim_start"]) == spare
    replacement = await idle_spare(rt)
    assert replacement != spare
    # The spare is no container, and the container its shim became works as any other.
    assert sorted(c.id for c in await rt.list_containers()) == sorted([first, second])
    await rt.start_container(second)
    st = await rt.container_status(second)
    assert st.state is ContainerState.RUNNING
    await wait_log(st.log_path, "ready")  # TERM before the trap is set would not end in 0
    await rt.stop_container(second, 5)
    st = await wait_state(rt, second, ContainerState.EXITED)
    assert st.exit_code == 0, await log_text(st.log_path)
    await rt.cleanup_all()
    assert await wait_gone(*replacement, 2.0)
    assert not rt_env.root.exists()


async def test_a_new_runtime_over_the_root_reuses_the_spare(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    await rt.create_container(sid, rt_env.container("a", ["true"]))
    spare = await idle_spare(rt)
    other = rt_env.new_runtime()
    cid = await other.create_container(sid, rt_env.container("b", ["true"]))
    assert (record(rt_env, cid)["shim_pid"], record(rt_env, cid)["shim_start"]) == spare
    await idle_spare(other)
    await other.cleanup_all()
    assert spares(rt_env.root / "shims") == []


async def test_failed_create_gives_the_spare_back(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    await rt.create_container(sid, rt_env.container("a", ["true"]))
    spare = await idle_spare(rt)
    with pytest.raises(RuntimeError_, match="unable to find user ghost"):
        await rt.create_container(sid, rt_env.container("b", ["true"], user="ghost"))
    assert await idle_spare(rt) == spare
    assert spares(rt.shim_dir, ".claimed") == []


async def test_idle_spare_exits_by_itself(rt_env: RuntimeEnv) -> None:
    rt = RuncRuntime(rt_env.root, cgroup_root=rt_env.cgroup_root, spare_shim_idle=0.5)
    rt_env.others.append(rt)
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    await rt.create_container(sid, rt_env.container("a", ["true"]))
    spare = await idle_spare(rt)
    assert await wait_gone(*spare, 5.0)
    assert spares(rt.shim_dir) == []


async def test_spare_exits_when_its_directory_goes(rt_env: RuntimeEnv, tmp_path: Path) -> None:
    shim_dir = tmp_path / "shims"
    await spawn_spare(shim_dir, 600.0)
    [spare] = spares(shim_dir)
    assert is_alive(*spare)
    shutil.rmtree(shim_dir)
    assert await wait_gone(*spare, 5.0)


async def test_spares_can_be_turned_off(rt_env: RuntimeEnv) -> None:
    rt = RuncRuntime(rt_env.root, cgroup_root=rt_env.cgroup_root, spare_shim_idle=0)
    rt_env.others.append(rt)
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("a", ["true"]))
    await rt.start_container(cid)
    assert (await wait_state(rt, cid, ContainerState.EXITED)).exit_code == 0
    assert spares(rt.shim_dir) == []


async def test_start_leaves_runc_state_consistent(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("a", rt_env.forever_cmd()))
    _, out = await rt.runc.run("state", cid)
    assert json.loads(out)["status"] == "created"
    await rt.start_container(cid)
    _, out = await rt.runc.run("state", cid)
    assert json.loads(out)["status"] == "running"
    assert not (rt.runc.state_dir / cid / "exec.fifo").exists()
    with pytest.raises(InvalidState):
        await rt.start_container(cid)
    await rt.stop_container(cid, 5)
    await wait_state(rt, cid, ContainerState.EXITED)
    _, out = await rt.runc.run("state", cid)
    assert json.loads(out)["status"] == "stopped"
    await rt.remove_container(cid)
    assert await rt.runc.list_ids() == []


async def test_start_of_a_dead_init_fails(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("a", ["true"]))
    rec = record(rt_env, cid)
    os.kill(rec["pid"], signal.SIGKILL)
    assert await wait_gone(rec["pid"], rec["pid_start"], 5.0)
    with pytest.raises(RuntimeError_, match="already dead"):
        await asyncio.wait_for(rt.runc.start(cid, rec["pid"], rec["pid_start"]), 5)
