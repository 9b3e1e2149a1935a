"""Containers outlive the runtime object and the program that started them (runc and process backends)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest

from kybernetes.runtime.api import AlreadyExists, ContainerState, SandboxState

from .conftest import REAL_BACKENDS, RuntimeEnv
from .helpers import run_to_exit, wait_log, wait_state

pytestmark = pytest.mark.parametrize("rt_env", REAL_BACKENDS, indirect=True)


async def test_a_new_runtime_object_finds_everything(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    running = await rt.create_container(sid, rt_env.container("server", rt_env.forever_cmd()))
    await rt.start_container(running)
    done = await run_to_exit(rt, sid, rt_env.container("job", rt_env.exit_cmd(4)))
    created = await rt.create_container(sid, rt_env.container("later", rt_env.forever_cmd()))

    again = rt_env.new_runtime()
    assert [s.id for s in await again.list_pod_sandboxes()] == [sid]
    assert (await again.pod_sandbox_status(sid)).state is SandboxState.READY
    states = {c.id: (c.name, c.state, c.exit_code) for c in await again.list_containers(sid)}
    assert states == {
        running: ("server", ContainerState.RUNNING, 0),
        done.id: ("job", ContainerState.EXITED, 4),
        created: ("later", ContainerState.CREATED, 0),
    }
    assert (await again.container_status(done.id)).finished_at == done.finished_at
    with pytest.raises(AlreadyExists):
        await again.create_container(sid, rt_env.container("server", rt_env.forever_cmd()))
    await again.start_container(created)
    await wait_state(rt, created, ContainerState.RUNNING)
    assert (await again.exec_sync(running, ["sh", "-c", "echo still here"])).stdout == b"still here\n"
    await again.stop_container(running, 5)
    assert (await rt.container_status(running)).state is ContainerState.EXITED


SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from kybernetes.runtime.api import ContainerConfig, SandboxConfig
    from kybernetes.runtime.process import ProcessRuntime
    from kybernetes.runtime.runc import RuncRuntime

    kind, root, cgroup_root, rootfs, log = sys.argv[1:6]

    async def main():
        rt = RuncRuntime(Path(root), cgroup_root=cgroup_root) if kind == "runc" else ProcessRuntime(Path(root))
        sid = await rt.run_pod_sandbox(SandboxConfig(name="orphan", namespace="default", uid="u1"))
        cid = await rt.create_container(sid, ContainerConfig(
            name="app", command=["sh", "-c", "trap 'exit 0' TERM; echo started; while :; do sleep 0.05; done"],
            rootfs_layers=[Path(rootfs)] if rootfs else [], env=["PATH=/usr/bin:/bin"], log_path=log))
        await rt.start_container(cid)
        print(json.dumps([sid, cid]))

    asyncio.run(main())
""")


async def test_containers_survive_the_program_that_started_them(rt_env: RuntimeEnv) -> None:
    log = rt_env.logs / "orphan.log"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, rt_env.kind, str(rt_env.root), rt_env.cgroup_root or "-",
        str(rt_env.rootfs or ""), str(log), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    sid, cid = json.loads(out)

    rt = rt_env.new_runtime()
    st = await rt.container_status(cid)
    assert (st.state, st.sandbox_id, st.name) == (ContainerState.RUNNING, sid, "app")
    await wait_log(log, "started")
    assert (await rt.exec_sync(cid, ["echo", "hi"])).stdout == b"hi\n"
    await rt.stop_container(cid, 5)
    st = await rt.container_status(cid)
    assert (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 0, "Completed")
    await rt.remove_pod_sandbox(sid)
    assert await rt.list_containers() == [] and await rt.list_pod_sandboxes() == []
