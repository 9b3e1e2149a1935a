"""The lifecycle contract every runtime backend passes (runc, process and simulated alike)."""

from __future__ import annotations

import pytest

from kybernetes.runtime.api import (
    AlreadyExists,
    ContainerState,
    InvalidState,
    NotFound,
    SandboxState,
)

from .conftest import RuntimeEnv
from .helpers import run_to_exit, wait_state


async def test_sandbox_create_status_stop_remove(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox("web"))
    st = await rt.pod_sandbox_status(sid)
    assert st.state is SandboxState.READY
    assert st.config.name == "web" and st.id == sid and st.created_at > 0
    assert [s.id for s in await rt.list_pod_sandboxes()] == [sid]
    await rt.stop_pod_sandbox(sid)
    assert (await rt.pod_sandbox_status(sid)).state is SandboxState.NOTREADY
    await rt.stop_pod_sandbox(sid)  # idempotent
    await rt.remove_pod_sandbox(sid)
    with pytest.raises(NotFound):
        await rt.pod_sandbox_status(sid)
    assert await rt.list_pod_sandboxes() == []
    await rt.remove_pod_sandbox(sid)  # idempotent


async def test_sandbox_duplicate_is_refused(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    await rt.run_pod_sandbox(rt_env.sandbox("web"))
    with pytest.raises(AlreadyExists):
        await rt.run_pod_sandbox(rt_env.sandbox("web"))
    again = await rt.run_pod_sandbox(rt_env.sandbox("web", attempt=1))
    assert (await rt.pod_sandbox_status(again)).config.attempt == 1


async def test_container_lifecycle(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cfg = rt_env.container("app", rt_env.forever_cmd(), image="busybox:latest", labels={"a": "b"})
    cid = await rt.create_container(sid, cfg)
    st = await rt.container_status(cid)
    assert (st.state, st.name, st.sandbox_id, st.image, st.labels) == (
        ContainerState.CREATED, "app", sid, "busybox:latest", {"a": "b"})
    await rt.start_container(cid)
    st = await rt.container_status(cid)
    assert st.state is ContainerState.RUNNING and st.started_at >= st.created_at and st.pid > 0
    with pytest.raises(InvalidState):
        await rt.start_container(cid)
    assert [c.id for c in await rt.list_containers(sid)] == [cid]
    assert [c.id for c in await rt.list_containers()] == [cid]
    await rt.stop_container(cid, 10)
    st = await rt.container_status(cid)
    assert st.state is ContainerState.EXITED and st.finished_at >= st.started_at
    await rt.stop_container(cid, 10)  # stopping an exited container is a no-op
    await rt.remove_container(cid)
    with pytest.raises(NotFound):
        await rt.container_status(cid)
    await rt.remove_container(cid)  # idempotent
    assert await rt.list_containers() == []


@pytest.mark.parametrize(("code", "reason"), [(0, "Completed"), (3, "Error"), (137, "Error")])
async def test_exit_code_and_reason(rt_env: RuntimeEnv, code: int, reason: str) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    st = await run_to_exit(rt, sid, rt_env.container("job", rt_env.exit_cmd(code)))
    assert (st.exit_code, st.reason) == (code, reason)


async def test_stop_without_grace_kills(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd()))
    await rt.start_container(cid)
    await rt.stop_container(cid, 0)
    st = await rt.container_status(cid)
    assert (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 137, "Error")


async def test_duplicate_container_name_and_attempt(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    await rt.create_container(sid, rt_env.container("app", rt_env.exit_cmd(0)))
    with pytest.raises(AlreadyExists):
        await rt.create_container(sid, rt_env.container("app", rt_env.exit_cmd(0)))
    await rt.create_container(sid, rt_env.container("app", rt_env.exit_cmd(0), attempt=1))
    other = await rt.run_pod_sandbox(rt_env.sandbox("other"))
    await rt.create_container(other, rt_env.container("app", rt_env.exit_cmd(0)))
    assert len(await rt.list_containers()) == 3


async def test_not_found(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    missing = "0" * 64
    for call in (rt.container_status(missing), rt.start_container(missing), rt.stop_container(missing, 1),
                 rt.container_stats(missing), rt.pod_sandbox_status(missing),
                 rt.create_container(missing, rt_env.container("x", rt_env.exit_cmd(0)))):
        with pytest.raises(NotFound):
            await call
    await rt.remove_container(missing)
    await rt.stop_pod_sandbox(missing)
    await rt.remove_pod_sandbox(missing)


async def test_stopped_sandbox_takes_no_containers_and_stopping_it_stops_them(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd()))
    await rt.start_container(cid)
    await rt.stop_pod_sandbox(sid)
    assert (await rt.container_status(cid)).state is ContainerState.EXITED
    with pytest.raises(InvalidState):
        await rt.create_container(sid, rt_env.container("late", rt_env.exit_cmd(0)))
    await rt.remove_pod_sandbox(sid)
    with pytest.raises(NotFound):
        await rt.container_status(cid)


async def test_remove_running_container_kills_it(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd()))
    await rt.start_container(cid)
    await wait_state(rt, cid, ContainerState.RUNNING)
    await rt.remove_container(cid)
    assert await rt.list_containers(sid) == []


async def test_created_container_can_be_removed_without_start(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd()))
    await rt.remove_container(cid)
    assert await rt.list_containers() == []
