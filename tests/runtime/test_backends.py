"""Behaviour particular to one backend: the simulated clock, the process backend's directories."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.runtime.api import ContainerConfig, ContainerState, SandboxConfig
from kybernetes.runtime.process import ProcessRuntime
from kybernetes.runtime.simulated import SimulatedRuntime

from .helpers import log_text, run_to_exit


async def test_simulated_containers_follow_the_injected_clock(tmp_path: Path) -> None:
    now = [1000.0]
    rt = SimulatedRuntime(clock=lambda: now[0])
    sid = await rt.run_pod_sandbox(SandboxConfig(name="p"))
    assert (await rt.pod_sandbox_status(sid)).ip.startswith("10.88.")
    sleeper = await rt.create_container(sid, ContainerConfig(name="s", command=["sleep", "5"]))
    echo = await rt.create_container(sid, ContainerConfig(name="e", command=["echo", "hi", "there"],
                                                          log_path=str(tmp_path / "e.log")))
    await rt.start_container(sleeper)
    await rt.start_container(echo)
    now[0] += 4.9
    assert (await rt.container_status(sleeper)).state is ContainerState.RUNNING
    now[0] += 0.2
    st = await rt.container_status(sleeper)
    assert (st.state, st.exit_code, st.finished_at) == (ContainerState.EXITED, 0, 1005.0)
    assert (await rt.container_status(echo)).reason == "Completed"
    assert await log_text(tmp_path / "e.log") == "hi there\n"


async def test_simulated_exec_sync() -> None:
    rt = SimulatedRuntime()
    sid = await rt.run_pod_sandbox(SandboxConfig(name="p"))
    cid = await rt.create_container(sid, ContainerConfig(name="c", command=["server"]))
    await rt.start_container(cid)
    assert (await rt.exec_sync(cid, ["exit", "3"])).exit_code == 3
    assert (await rt.exec_sync(cid, ["echo", "ok"])).stdout == b"ok\n"
    proc = await rt.exec(cid, ["echo", "streamed"])
    assert [c async for c in proc.stdout()] == [b"streamed\n"] and await proc.wait() == 0


@pytest.fixture
async def process_rt(tmp_path: Path) -> AsyncIterator[ProcessRuntime]:
    rt = ProcessRuntime(tmp_path / "rt")
    yield rt
    await rt.cleanup_all()


async def test_process_backend_runs_in_a_private_dir_when_working_dir_is_missing(
        process_rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await process_rt.run_pod_sandbox(SandboxConfig(name="p"))
    assert (await process_rt.pod_sandbox_status(sid)).ip == "127.0.0.1"
    cfg = ContainerConfig(name="c", command=["sh", "-c", "pwd; echo $ONLY"], working_dir="/no/such/dir",
                          env=["PATH=/usr/bin:/bin", "ONLY=given"], log_path=str(tmp_path / "c.log"))
    st = await run_to_exit(process_rt, sid, cfg)
    lines = (await log_text(cfg.log_path)).splitlines()
    assert lines[0].startswith(str(process_rt.root / "containers" / st.id)) and lines[1] == "given"
    host = await process_rt.run_pod_sandbox(SandboxConfig(name="h", host_network=True))
    assert (await process_rt.pod_sandbox_status(host)).ip == ""
