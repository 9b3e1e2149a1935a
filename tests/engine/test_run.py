"""``kyb run`` in the foreground: output, exit codes, the options that shape the process, and the sandbox it gets
(hostname = short ID, its own address in /etc/hosts), on runc and on the process runtime."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from pathlib import Path

from kybernetes.engine.engine import Engine
from kybernetes.runtime.api import ContainerState

from .conftest import EngineSettings, Kyb, needs_root

pytestmark = needs_root


def test_output_streams_and_exit_code_passes_through(kyb: Kyb) -> None:
    r = kyb("run", "--name", "fg", "busybox", "sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 7")
    assert (r.rc, r.out, r.err) == (7, "out1\nout2\n", "err1\n")
    [row] = kyb.ps_rows("-a")
    assert row[1:3] == ["busybox", '"sh -c echo out1; ec…"']
    assert re.fullmatch(r"Exited \(7\) (Less than a second|\d+ seconds?) ago", row[4]), row
    assert row[5] == "fg"  # a stopped container publishes nothing: PORTS is empty


def test_rm_removes_the_container(kyb: Kyb) -> None:
    hi, three = kyb.many(["run", "--rm", "busybox", "echo", "hi"], ["run", "--rm", "busybox", "sh", "-c", "exit 3"])
    assert (hi.rc, hi.out, hi.err) == (0, "hi\n", "")
    assert (three.rc, three.out, three.err) == (3, "", "")
    assert kyb.ok("ps", "-a", "-q") == ""
    assert kyb.records() == []


def test_env_from_flags_and_from_the_callers_environment(kyb: Kyb) -> None:
    r = kyb("run", "--rm", "-e", "FOO=bar=baz", "-e", "FROM_CALLER", "-e", "NOT_SET_ANYWHERE", "busybox", "env",
            env={"FROM_CALLER": "caller value"})
    assert r.rc == 0, r
    env = dict(line.split("=", 1) for line in r.out.splitlines())
    assert env["FOO"] == "bar=baz"
    assert env["FROM_CALLER"] == "caller value"
    assert "NOT_SET_ANYWHERE" not in env
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert re.fullmatch(r"[0-9a-f]{12}", env["HOSTNAME"])


def test_workdir_and_user(kyb: Kyb) -> None:
    by_uid, by_name, default = kyb.many(
        ["run", "--rm", "-w", "/tmp/work", "-u", "65534", "busybox", "sh", "-c", "pwd; id -u; id -g"],
        ["run", "--rm", "-u", "nobody", "busybox", "sh", "-c", "id -u; id -un; echo $HOME"],
        ["run", "--rm", "busybox", "sh", "-c", "id -u; pwd"])
    assert (by_uid.rc, by_uid.out) == (0, "/tmp/work\n65534\n65534\n"), by_uid
    assert (by_name.rc, by_name.out) == (0, "65534\nnobody\n/home\n"), by_name
    assert (default.rc, default.out) == (0, "0\n/\n"), default


def test_entrypoint_and_image_cmd(kyb: Kyb, tmp_path: Path) -> None:
    for name, dockerfile in (("cmdimg", 'FROM busybox\nCMD ["echo", "from", "cmd"]\n'),
                             ("epimg", 'FROM busybox\nENTRYPOINT ["echo", "ep"]\nCMD ["default"]\n')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(dockerfile)
    try:
        built = kyb.many(["build", "-q", "-t", "cmdimg:1", str(tmp_path / "cmdimg")],
                         ["build", "-q", "-t", "epimg:1", str(tmp_path / "epimg")])
        assert [r.rc for r in built] == [0, 0], built
        runs = kyb.many(["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"],
                        ["run", "--rm", "cmdimg:1"],
                        ["run", "--rm", "cmdimg:1", "echo", "given"],
                        ["run", "--rm", "epimg:1"],
                        ["run", "--rm", "epimg:1", "x", "y"],
                        ["run", "--rm", "--entrypoint", "printf", "epimg:1", "%s-\\n", "p"])
        assert [(r.rc, r.out) for r in runs] == [
            (0, "a b\n"), (0, "from cmd\n"), (0, "given\n"), (0, "ep default\n"), (0, "ep x y\n"), (0, "p-\n")], runs
    finally:
        kyb("rmi", "cmdimg:1", "epimg:1")


def test_hostname_is_the_short_id_and_hosts_has_its_own_address(kyb: Kyb, engine: EngineSettings) -> None:
    r = kyb("run", "--name", "whoami", "busybox", "sh", "-c", "hostname; tail -n 1 /etc/hosts; ip -4 -o addr show eth0")
    assert r.rc == 0, r
    [rec] = kyb.records()
    hostname, hosts_line, addr_line = r.out.splitlines()
    assert hostname == str(rec["id"])[:12]
    ip, name = hosts_line.split("\t")
    assert name == hostname
    assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(engine.subnet)
    assert f"inet {ip}/24 " in addr_line


def test_oom_kill_under_a_memory_limit(kyb: Kyb, engine: EngineSettings) -> None:
    # The shell holds a 100 MB string: the biggest process in the container's cgroup, it is the one killed.
    r = kyb("run", "-m", "32m", "--name", "hog", "busybox", "sh", "-c",
            "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived")
    assert (r.rc, r.out) == (137, ""), r
    [row] = kyb.ps_rows("-a")
    assert row[4].startswith("Exited (137) "), row

    async def status() -> tuple[ContainerState, int, str]:
        eng = Engine(engine.data)
        st = await eng.status(eng.find("hog"))
        assert st is not None
        return st.state, st.exit_code, st.reason

    assert asyncio.run(status()) == (ContainerState.EXITED, 137, "OOMKilled")


def test_within_the_memory_limit_nothing_is_killed(kyb: Kyb) -> None:
    r = kyb("run", "--rm", "-m", "64m", "busybox", "sh", "-c", "x=$(head -c 10000000 /dev/zero | tr '\\0' a); echo ${#x}")
    assert (r.rc, r.out) == (0, "10000000\n"), r


def test_process_runtime(kyb: Kyb) -> None:
    """The process runtime runs the argv on the host (no image root filesystem), with the same lifecycle."""
    r = kyb("run", "--runtime", "process", "--rm", "busybox", "echo", "hi")
    assert (r.rc, r.out, r.err) == (0, "hi\n", "")
    r = kyb("run", "--runtime", "process", "--rm", "-e", "K=V", "busybox", "sh", "-c", 'echo "$K"; exit 4')
    assert (r.rc, r.out) == (4, "V\n")
    assert kyb.records() == []
    # a detached one is found again by later commands, which do not name the runtime
    cid = kyb.ok("run", "--runtime", "process", "-d", "--name", "hostproc", "busybox", "sh", "-c",
                 "trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 0.05; done").strip()
    [row] = kyb.ps_rows()
    assert row[0] == cid[:12] and row[4].startswith("Up ") and row[5] == "hostproc"
    r = kyb("exec", "hostproc", "sh", "-c", "echo in; exit 3")
    assert (r.rc, r.out) == (3, "in\n")
    assert kyb.ok("stop", "hostproc") == "hostproc\n"
    assert kyb.ok("logs", "hostproc") == "up\nbye\n"
    assert kyb.ps_rows("-a")[0][4].startswith("Exited (0) ")
    assert kyb.ok("rm", "hostproc") == "hostproc\n"
