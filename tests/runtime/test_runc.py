"""What only the runc backend gives: isolation, identity, pod networking, limits, mounts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from kybernetes.runtime.api import ContainerState, DNSConfig, Mount, Resources, RuntimeError_, SandboxState
from kybernetes.runtime.mounts import is_mount_point

from .conftest import RuntimeEnv, needs_runc
from .helpers import log_text, run_to_exit, wait_log, wait_state

pytestmark = [needs_runc, pytest.mark.parametrize("rt_env", ["runc"], indirect=True)]


async def output_of(rt_env: RuntimeEnv, sid: str, name: str, script: str, **kw: object) -> str:
    cfg = rt_env.container(name, ["sh", "-c", script], **kw)
    st = await run_to_exit(rt_env.rt, sid, cfg)
    text = await log_text(cfg.log_path)
    assert st.exit_code == 0, text
    return text


async def test_hostname_hosts_and_resolv_conf(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox(
        "web", hostname="web-0", hosts=[("10.9.8.7", ["db", "db.local"])],
        dns=DNSConfig(servers=["10.96.0.10"], searches=["default.svc.cluster.local"], options=["ndots:5"])))
    text = await output_of(rt_env, sid, "app", "hostname; cat /etc/hostname; cat /etc/hosts; cat /etc/resolv.conf;"
                                               " echo HOSTNAME=$HOSTNAME")
    lines = text.splitlines()
    assert lines[:2] == ["web-0", "web-0"]
    assert "127.0.0.1\tlocalhost" in lines and "10.9.8.7\tdb db.local" in lines
    assert any(ln.endswith("\tweb-0") for ln in lines)
    assert "nameserver 10.96.0.10" in lines and "search default.svc.cluster.local" in lines
    assert "options ndots:5" in lines and "HOSTNAME=web-0" in lines


@pytest.mark.parametrize(("user", "expected"), [
    ("", "0 0 0"), ("app", "1000 1000 1000 50"), ("65534", "65534 65534 65534"), ("1000:50", "1000 50 50"),
    ("app:nogroup", "1000 65534 65534"), ("4242", "4242 0 0"),
])
async def test_user_is_resolved_in_the_image(rt_env: RuntimeEnv, user: str, expected: str) -> None:
    sid = await rt_env.rt.run_pod_sandbox(rt_env.sandbox())
    text = await output_of(rt_env, sid, "who", 'echo $(id -u) $(id -g) $(id -G)', user=user)
    assert text.strip() == expected


async def test_unknown_user_fails_at_create(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    with pytest.raises(RuntimeError_, match="unable to find user ghost"):
        await rt.create_container(sid, rt_env.container("app", ["true"], user="ghost"))
    assert await rt.list_containers() == []
    assert not list((rt_env.root / "containers").iterdir())


async def test_containers_of_a_pod_share_its_network(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    # stdin held open: busybox nc quits at stdin EOF, which can come before the client's data (a flake)
    server = rt_env.container("server", ["sh", "-c", "sleep 2 | nc -l -p 8080; echo server-done"])
    scid = await rt.create_container(sid, server)
    await rt.start_container(scid)
    client = rt_env.container("client", ["sh", "-c", "until echo hello-over-lo | nc 127.0.0.1 8080; do "
                                         "sleep 0.05; done; echo sent"])
    st = await run_to_exit(rt, sid, client)
    assert st.exit_code == 0 and (await log_text(client.log_path)).endswith("sent\n")
    text = await wait_log(server.log_path, "server-done")
    assert text == "hello-over-lo\nserver-done\n", (text, await log_text(client.log_path))
    other = await rt.run_pod_sandbox(rt_env.sandbox("other"))
    text = await output_of(rt_env, other, "probe", "nc -w 1 127.0.0.1 8080 </dev/null 2>/dev/null && "
                                                   "echo reached || echo isolated")
    assert text == "isolated\n"


async def test_memory_limit_ends_in_oomkilled(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cfg = rt_env.container("hog", ["sh", "-c", "x=a; while :; do x=$x$x; done"],
                           resources=Resources(memory_limit_bytes=32 * 1024 * 1024))
    st = await run_to_exit(rt, sid, cfg, timeout=30)
    assert (st.exit_code, st.reason) == (137, "OOMKilled")


async def test_resources_reach_the_cgroup(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox(cgroup_parent="pod-abc"))
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd(), resources=Resources(
        cpu_shares=512, cpu_quota=50000, cpu_period=100000, memory_limit_bytes=64 << 20, pids_limit=100)))
    await rt.start_container(cid)
    path = f"{rt_env.cgroup_root}/pod-abc/{cid}"
    h = rt.cgroups
    assert (h.dir("cpu", path) / "cpu.shares").read_text().strip() == "512"
    assert (h.dir("cpu", path) / "cpu.cfs_quota_us").read_text().strip() == "50000"
    assert (h.dir("memory", path) / "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
    assert (h.dir("pids", path) / "pids.max").read_text().strip() == "100"
    await rt.remove_pod_sandbox(sid)
    assert not h.dir("memory", path).exists()


async def test_mounts_and_read_only_root(rt_env: RuntimeEnv, tmp_path: Path) -> None:
    rt = rt_env.rt
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("from the host\n")
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    text = await output_of(rt_env, sid, "app", "cat /data/in.txt; echo out > /data/out.txt; echo t > /scratch/t; "
                                               "touch /rootfile 2>/dev/null && echo writable || echo read-only; "
                                               "(echo ro > /ro/x) 2>/dev/null || echo ro-refused",
                           mounts=[Mount("/data", str(data)), Mount("/scratch", kind="tmpfs"),
                                   Mount("/ro", str(data), readonly=True)], readonly_rootfs=True)
    assert text == "from the host\nread-only\nro-refused\n"
    assert (data / "out.txt").read_text() == "out\n"


async def test_layers_are_never_written(rt_env: RuntimeEnv, tmp_path: Path) -> None:
    assert rt_env.rootfs is not None
    top = tmp_path / "top"
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "motd").write_text("top layer\n")
    before = sorted(p.name for p in rt_env.rootfs.iterdir())
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cfg = rt_env.container("app", ["sh", "-c", "cat /etc/motd; echo changed > /etc/motd; rm /bin/vi; touch /new"],
                           rootfs_layers=[rt_env.rootfs, top])
    st = await run_to_exit(rt, sid, cfg)
    assert st.exit_code == 0 and await log_text(cfg.log_path) == "top layer\n"
    assert (top / "etc" / "motd").read_text() == "top layer\n"
    assert (rt_env.rootfs / "bin" / "vi").is_symlink()
    assert sorted(p.name for p in rt_env.rootfs.iterdir()) == before


async def test_host_network_sandbox(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox(host_network=True))
    st = await rt.pod_sandbox_status(sid)
    assert st.netns_path == "" and st.state is SandboxState.READY
    text = await output_of(rt_env, sid, "app", "hostname")
    assert text.strip() == os.uname().nodename


async def test_sandbox_teardown_unmounts_its_namespaces(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    netns = Path((await rt.pod_sandbox_status(sid)).netns_path)
    assert is_mount_point(netns)
    await rt.stop_pod_sandbox(sid)
    assert not netns.exists()
    assert (await rt.pod_sandbox_status(sid)).state is SandboxState.NOTREADY
    await rt.remove_pod_sandbox(sid)
    assert not (rt_env.root / "sandboxes" / sid).exists()


class RecordingNetwork:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def setup(self, sandbox_id: str, netns_path: str, config: object) -> str:
        self.calls.append(("setup", netns_path))
        proc = await asyncio.create_subprocess_exec("nsenter", f"--net={netns_path}", "ip", "addr", "add",
                                                    "10.77.0.5/32", "dev", "lo")
        assert await proc.wait() == 0
        return "10.77.0.5"

    async def teardown(self, sandbox_id: str, netns_path: str, config: object) -> None:
        self.calls.append(("teardown", netns_path))


async def test_network_plugin_is_called_with_the_netns(rt_env: RuntimeEnv) -> None:
    from kybernetes.runtime.runc import RuncRuntime

    net = RecordingNetwork()
    rt = RuncRuntime(rt_env.root, network=net, cgroup_root=rt_env.cgroup_root)
    sid = await rt.run_pod_sandbox(rt_env.sandbox(hostname="netpod"))
    st = await rt.pod_sandbox_status(sid)
    assert st.ip == "10.77.0.5" and net.calls == [("setup", st.netns_path)]
    cfg = rt_env.container("app", ["sh", "-c", "ip addr show lo | grep -q 10.77.0.5 && echo has-ip; "
                                               "grep netpod /etc/hosts"])
    await run_to_exit(rt, sid, cfg)
    assert await log_text(cfg.log_path) == "has-ip\n10.77.0.5\tnetpod\n"
    await rt.stop_pod_sandbox(sid)
    await rt.stop_pod_sandbox(sid)
    assert net.calls == [("setup", st.netns_path), ("teardown", st.netns_path)]


async def test_exec_runs_as_the_container_user(rt_env: RuntimeEnv) -> None:
    rt = rt_env.rt
    sid = await rt.run_pod_sandbox(rt_env.sandbox())
    cid = await rt.create_container(sid, rt_env.container("app", rt_env.forever_cmd(), user="app",
                                                          working_dir="/home/app"))
    await rt.start_container(cid)
    await wait_state(rt, cid, ContainerState.RUNNING)
    res = await rt.exec_sync(cid, ["sh", "-c", "id -u; pwd; hostname"])
    assert res.stdout.decode().splitlines()[:2] == ["1000", "/home/app"]
