"""Detached containers: ``run -d``, ``ps``, ``logs``, ``exec``, ``stop``, ``rm``, and containers outliving the
command that started them."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

from .conftest import KYB, Kyb, needs_root, run_in_pty

pytestmark = needs_root

FOREVER = "while :; do sleep 0.05; done"


def test_detached_ps_and_restart_resilience(kyb: Kyb) -> None:
    first = kyb("run", "-d", "--name", "one", "busybox", "sh", "-c", f"echo started; {FOREVER}")
    assert first.rc == 0 and first.err == "", first
    assert re.fullmatch(r"[0-9a-f]{64}\n", first.out)
    cid = first.out.strip()
    second = kyb.ok("run", "-d", "busybox", "sleep", "300").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", second)
    # the CLI that started them is gone; later commands still find them running
    header, *rows = kyb.ok("ps").splitlines()
    assert re.split(r" {2,}", header.strip()) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                                                   "NAMES"]
    parsed = [re.split(r" {2,}", r.rstrip()) for r in rows]
    assert [p[0] for p in parsed] == [second[:12], cid[:12]]  # newest first
    generated = parsed[0][-1]
    assert re.fullmatch(r"[a-z]+_[a-z]+\d*", generated)
    assert parsed[0][1:3] == ["busybox", '"sleep 300"']
    assert parsed[1][1:3] == ["busybox", '"sh -c echo started;…"']
    for p in parsed:
        assert re.fullmatch(r"(Less than a second|\d+ seconds?) ago", p[3]), p
        assert re.fullmatch(r"Up (Less than a second|\d+ seconds?)", p[4]), p
    assert parsed[1][5] == "one"
    quiet, alive, by_prefix, logs = kyb.many(["ps", "-q"], ["exec", "one", "echo", "alive"],
                                             ["exec", cid[:5], "hostname"],  # an ID prefix names it too
                                             ["logs", "one"])
    assert quiet.out == f"{second[:12]}\n{cid[:12]}\n"
    assert (alive.out, by_prefix.out, logs.out) == ("alive\n", f"{cid[:12]}\n", "started\n")
    # stopped: gone from ps, in ps -a as Exited
    assert kyb.ok("stop", "-t", "0", generated) == f"{generated}\n"
    running, everything = kyb.many(["ps", "-q"], ["ps", "-a", "-q"])
    assert (running.out, everything.out) == (f"{cid[:12]}\n", f"{second[:12]}\n{cid[:12]}\n")
    status = kyb.ps_rows("-a")[0][4]
    assert re.fullmatch(r"Exited \(137\) (Less than a second|\d+ seconds?) ago", status), status


def test_logs_tail_timestamps_streams_and_follow(kyb: Kyb) -> None:
    kyb.ok("run", "-d", "--name", "talker", "busybox", "sh", "-c",
           "echo one; echo two >&2; echo three; sleep 0.6; echo four; exit 5")
    started = time.monotonic()
    r = kyb("logs", "-f", "talker")  # follows until the container exits
    assert time.monotonic() - started >= 0.4
    assert (r.rc, r.out, r.err) == (0, "one\nthree\nfour\n", "two\n")
    last_two, none, all_, stamped, since, followed = kyb.many(
        ["logs", "--tail", "2", "talker"], ["logs", "-n", "0", "talker"], ["logs", "--tail", "all", "talker"],
        ["logs", "-t", "--tail", "1", "talker"], ["logs", "--since", "1h", "talker"],
        ["logs", "-f", "talker"])  # following an exited container prints what there is and ends at once
    # the last two lines of both streams (stdout and stderr are read apart, so "two" may come after "three")
    assert last_two.out.endswith("four\n") and len((last_two.out + last_two.err).splitlines()) == 2, last_two
    assert (none.out, none.err) == ("", "")
    assert (all_.out, since.out, followed.out) == ("one\nthree\nfour\n",) * 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z four\n", stamped.out), stamped


def test_exec_exit_code_output_and_stdin(kyb: Kyb) -> None:
    kyb.ok("run", "-d", "--name", "box", "-e", "FROM_RUN=yes", "busybox", "sh", "-c", FOREVER)
    with ThreadPoolExecutor(5) as pool:  # several execs into one container at once
        codes = pool.submit(kyb, "exec", "box", "sh", "-c", "echo out; echo err >&2; exit 3")
        env = pool.submit(kyb, "exec", "box", "sh", "-c", 'echo "$FROM_RUN $(id -u) $(pwd)"')
        cat = pool.submit(kyb, "exec", "-i", "box", "cat", stdin="hello\nworld\n")
        big = pool.submit(kyb, "exec", "-i", "box", "sh", "-c", "wc -c; exit 9", stdin="x" * 100_000)
        no_stdin = pool.submit(kyb, "exec", "box", "cat", stdin="ignored")  # without -i: EOF at once
    r = codes.result()
    assert (r.rc, r.out, r.err) == (3, "out\n", "err\n"), r
    r = env.result()
    assert (r.rc, r.out) == (0, "yes 0 /\n"), r
    r = cat.result()
    assert (r.rc, r.out) == (0, "hello\nworld\n"), r
    r = big.result()
    assert (r.rc, r.out.strip()) == (9, "100000"), r
    r = no_stdin.result()
    assert (r.rc, r.out) == (0, ""), r


def test_exec_tty(kyb: Kyb) -> None:
    kyb.ok("run", "-d", "--name", "term", "busybox", "sh", "-c", FOREVER)
    # (the runtime sets the terminal's size just after the process started: wait for it)
    script = ('tty; for i in $(seq 100); do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; '
              'sleep 0.02; done; echo "$s"; exit 2')
    rc, out = run_in_pty([KYB, "exec", "-it", "term", "sh", "-c", script], kyb.environ(), rows=33, cols=101)
    assert rc == 2
    assert out == b"/dev/pts/0\r\n33 101\r\n"  # the container's terminal, and no second \r from ours (raw)
    # without -t there is no terminal inside, even when ours is one
    rc, out = run_in_pty([KYB, "exec", "term", "tty"], kyb.environ())
    assert (rc, out.replace(b"\r\n", b"\n")) == (1, b"not a tty\n")


def test_stop_kills_a_process_ignoring_sigterm_after_the_timeout(kyb: Kyb) -> None:
    kyb.ok("run", "-d", "--name", "stubborn", "busybox", "sh", "-c", f"trap '' TERM; {FOREVER}")
    started = time.monotonic()
    assert kyb.ok("stop", "-t", "1", "stubborn") == "stubborn\n"
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0, elapsed  # the 1 s grace period, the kill, and our CLI starting
    assert kyb.ps_rows("-a")[0][4].startswith("Exited (137) ")


def test_stop_lets_a_trapping_process_exit_gracefully(kyb: Kyb) -> None:
    kyb.ok("run", "-d", "--name", "polite", "busybox", "sh", "-c",
           f"trap 'echo cleaning up; exit 0' TERM; echo ready; {FOREVER}")
    started = time.monotonic()
    assert kyb.ok("stop", "polite") == "polite\n"  # default timeout 10 s: it exits long before
    assert time.monotonic() - started < 3.0  # far from the 10 s after which it would be killed
    assert kyb.ps_rows("-a")[0][4].startswith("Exited (0) ")
    assert kyb.ok("logs", "polite") == "ready\ncleaning up\n"
    assert kyb.ok("stop", "polite") == "polite\n"  # stopping a stopped container is fine


def test_rm_of_a_running_container_needs_force(kyb: Kyb) -> None:
    kyb.ok("run", "-d", "--name", "busy", "busybox", "sleep", "300")
    r = kyb("rm", "busy")
    assert (r.rc, r.out) == (1, "")
    assert r.err == ('Error response from daemon: cannot remove container "/busy": container is running: '
                     "stop the container before removing or force remove\n")
    assert kyb.ps_rows()[0][-1] == "busy"
    assert kyb.ok("rm", "-f", "busy") == "busy\n"
    assert kyb.ok("ps", "-a", "-q") == ""


def test_detached_rm_container_is_removed_after_it_exits(kyb: Kyb) -> None:
    kyb.ok("run", "-d", "--rm", "--name", "brief", "busybox", "true")
    deadline = time.monotonic() + 5
    while kyb.ok("ps", "-a", "-q") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kyb.ok("ps", "-a", "-q") == ""
    assert kyb.records() == []
