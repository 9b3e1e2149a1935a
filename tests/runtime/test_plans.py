"""The pure parts of the runc backend: OCI spec, user resolution, rootfs paths, pod /etc files, signals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kybernetes.runtime.api import ContainerConfig, DNSConfig, Mount, Resources, RuntimeError_, SandboxConfig
from kybernetes.runtime.mounts import overlay_options
from kybernetes.runtime.oci import DEFAULT_CAPABILITIES, HostLimits, SandboxView, build_spec
from kybernetes.runtime.paths import secure_join as join_in_root
from kybernetes.runtime.podsandbox import etc_hosts, resolv_conf, sandbox_hostname
from kybernetes.runtime.shim import runc_error
from kybernetes.runtime.shimbase import parse_signal
from kybernetes.runtime.users import User, resolve_user

from .conftest import GROUP, PASSWD


@pytest.mark.parametrize(("spec", "expected"), [
    ("", User(0, 0, [], "/root")),
    ("root", User(0, 0, [], "/root")),
    ("app", User(1000, 1000, [50], "/home/app")),
    ("1000", User(1000, 1000, [50], "/home/app")),
    ("1000:0", User(1000, 0, [], "/home/app")),
    ("app:staff", User(1000, 50, [], "/home/app")),
    ("nobody", User(65534, 65534, [], "/nonexistent")),
    ("4242", User(4242, 0, [], "/")),
    ("4242:4242", User(4242, 4242, [], "/")),
], ids=lambda v: v if isinstance(v, str) else None)
def test_resolve_user(spec: str, expected: User) -> None:
    assert resolve_user(spec, PASSWD, GROUP) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("ghost", "unable to find user ghost"), ("app:ghosts", "unable to find group ghosts"),
])
def test_resolve_user_refuses_unknown_names(spec: str, message: str) -> None:
    with pytest.raises(RuntimeError_, match=message):
        resolve_user(spec, PASSWD, GROUP)


def test_resolve_user_without_files() -> None:
    assert resolve_user("", "", "") == User(0, 0, [], "/")
    assert resolve_user("7:8", "", "") == User(7, 8, [], "/")


def secure_join(root: Path, path: str) -> Path:
    return Path(join_in_root(str(root), path))


def test_secure_join_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("inside")
    (root / "abs").symlink_to("/etc")
    (root / "rel").symlink_to("../../../../etc")
    (root / "loop").symlink_to("loop")
    assert secure_join(root, "/abs/passwd") == root / "etc" / "passwd"
    assert secure_join(root, "rel/passwd") == root / "etc" / "passwd"
    assert secure_join(root, "/../../etc/./passwd") == root / "etc" / "passwd"
    assert secure_join(root, "/new/dir") == root / "new" / "dir"
    with pytest.raises(RuntimeError_, match="symbolic links"):
        secure_join(root, "/loop/x")


VIEW = SandboxView(hostname="web-0", netns="/ns/net", ipcns="/ns/ipc", utsns="/ns/uts", hosts_file="/s/hosts",
                   resolv_file="/s/resolv.conf", hostname_file="/s/hostname", shm_dir="/s/shm")


def spec_for(**kw: Any) -> dict[str, Any]:
    config = ContainerConfig(name="app", command=["/app", "--flag"], **kw)
    return build_spec(config, User(1000, 1000, [50], "/home/app"), VIEW, "/kyb/pod/c1", "/work", HostLimits())


def test_spec_defaults() -> None:
    spec = spec_for(env=["A=1", "PATH=/bin"])
    p = spec["process"]
    assert p["args"] == ["/app", "--flag"] and p["cwd"] == "/work" and p["terminal"] is False
    assert p["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [50]}
    assert p["env"] == ["HOSTNAME=web-0", "HOME=/home/app", "A=1", "PATH=/bin"]
    assert p["capabilities"]["bounding"] == DEFAULT_CAPABILITIES and p["noNewPrivileges"] is True
    assert p["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}]
    linux = spec["linux"]
    assert linux["namespaces"] == [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/ns/net"},
                                   {"type": "ipc", "path": "/ns/ipc"}, {"type": "uts", "path": "/ns/uts"}]
    assert linux["cgroupsPath"] == "/kyb/pod/c1" and "/proc/kcore" in linux["maskedPaths"]
    assert linux["resources"] == {"devices": [{"allow": False, "access": "rwm"}]}
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests == ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm",
                     "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]
    assert spec["root"] == {"path": "rootfs", "readonly": False}


def test_spec_resources_mounts_and_privileges() -> None:
    spec = spec_for(resources=Resources(cpu_shares=256, cpu_quota=20000, memory_limit_bytes=1 << 30, pids_limit=64),
                    mounts=[Mount("/data", "/host/data", readonly=True), Mount("/etc/hosts", "/my/hosts"),
                            Mount("/cache", kind="tmpfs")], privileged=True, tty=True, readonly_rootfs=True)
    r = spec["linux"]["resources"]
    assert r["cpu"] == {"shares": 256, "quota": 20000, "period": 100000}
    assert r["memory"] == {"limit": 1 << 30} and r["pids"] == {"limit": 64}
    assert r["devices"] == [{"allow": True, "access": "rwm"}]
    assert "maskedPaths" not in spec["linux"] and spec["process"]["noNewPrivileges"] is False
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["bounding"]
    assert "TERM=xterm" in spec["process"]["env"] and spec["process"]["terminal"] is True
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert mounts["/etc/hosts"]["source"] == "/my/hosts"
    assert [m["destination"] for m in spec["mounts"]].count("/etc/hosts") == 1
    assert mounts["/data"]["options"] == ["rbind", "rprivate", "ro"] and mounts["/cache"]["type"] == "tmpfs"
    assert spec["root"]["readonly"] is True


def test_spec_respects_host_limits_and_host_namespaces() -> None:
    view = SandboxView("h", None, "/ns/ipc", None, "/h", "/r", "/n", None)
    config = ContainerConfig(name="app", command=["x"], privileged=True)
    spec = build_spec(config, User(0, 0), view, "/kyb/p/c", "/",
                      HostLimits(20000, frozenset(DEFAULT_CAPABILITIES)))
    assert [n["type"] for n in spec["linux"]["namespaces"]] == ["pid", "mount", "ipc"]
    assert sorted(spec["process"]["capabilities"]["bounding"]) == sorted(DEFAULT_CAPABILITIES)
    assert spec["process"]["rlimits"][0]["hard"] == 20000
    assert {m["destination"]: m["type"] for m in spec["mounts"]}["/dev/shm"] == "tmpfs"


def test_overlay_options_put_the_top_layer_first() -> None:
    layers = [Path("/l/base"), Path("/l/mid"), Path("/l/top")]
    assert overlay_options(layers, Path("/c/upper"), Path("/c/work")) == (
        "lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work")
    assert overlay_options(layers[:1], Path("/u"), Path("/w")) == "lowerdir=/l/base,upperdir=/u,workdir=/w"
    for bad in ([], [Path("/a:b")], [Path("/x")] * 2000):
        with pytest.raises(RuntimeError_):
            overlay_options(bad, Path("/u"), Path("/w"))


def test_etc_hosts() -> None:
    text = etc_hosts("10.1.0.7", "web-0", [("10.9.8.7", ["db", "db.local"])])
    lines = text.splitlines()
    assert lines[0] == "# Kubernetes-managed hosts file." and "127.0.0.1\tlocalhost" in lines
    assert "10.1.0.7\tweb-0" in lines and lines[-1] == "10.9.8.7\tdb db.local"
    assert "127.0.1.1\tweb-0" in etc_hosts("", "web-0", []).splitlines()


def test_resolv_conf() -> None:
    dns = DNSConfig(servers=["10.96.0.10"], searches=["ns.svc.cluster.local", "svc.cluster.local"],
                    options=["ndots:5"])
    assert resolv_conf(dns, "nameserver 1.1.1.1\n") == (
        "nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local\noptions ndots:5\n")
    assert resolv_conf(None, "nameserver 1.1.1.1\n") == "nameserver 1.1.1.1\n"
    assert resolv_conf(DNSConfig(), "host\n") == "host\n"


@pytest.mark.parametrize(("config", "hostname"), [
    (SandboxConfig(name="web"), "web"), (SandboxConfig(name="web", hostname="h1"), "h1"),
    (SandboxConfig(name="a" * 62 + "-b"), "a" * 62), (SandboxConfig(name="x" * 80), "x" * 63),
])
def test_sandbox_hostname(config: SandboxConfig, hostname: str) -> None:
    assert sandbox_hostname(config) == hostname


@pytest.mark.parametrize(("name", "number"), [("SIGTERM", 15), ("TERM", 15), ("sigint", 2), ("9", 9), ("", 15),
                                               ("SIGQUIT", 3)])
def test_parse_signal(name: str, number: int) -> None:
    assert parse_signal(name) == number


def test_parse_signal_refuses_unknown() -> None:
    with pytest.raises(RuntimeError_, match="unknown stop signal"):
        parse_signal("SIGNOPE")


@pytest.mark.parametrize(("stderr", "message"), [
    (b'time="2024-01-01T00:00:00Z" level=error msg="runc create failed: exec: \\"x\\": not found"\n',
     'runc create failed: exec: "x": not found'),
    (b"plain failure\n", "plain failure"),
    (b"", "runc create failed"),
])
def test_runc_error(stderr: bytes, message: str) -> None:
    assert runc_error(stderr) == message


def test_shim_imports_stay_small() -> None:
    """The shim runs once per container: no asyncio, typing, json/re/enum or the rest of the package."""
    import subprocess
    import sys

    import kybernetes.runtime.shimctl as shimctl

    code = ("import sys, kybernetes.runtime.shim; "
            "print(' '.join(sorted(m for m in sys.modules if m in ('asyncio', 'typing', 'kybernetes.runtime.api', "
            "'dataclasses', 'socket', 'subprocess', 'pathlib', 'json', 're', 'enum'))))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": shimctl.PACKAGE_PARENT}).stdout
    assert out.strip() == ""
