"""Failures of the container commands: one line on stderr in Docker's words, a non-zero exit code, no traceback,
and nothing left behind (no record in ``kyb ps -a``, no sandbox, address, forwarder, lease or mount)."""

from __future__ import annotations

from pathlib import Path

from .conftest import Kyb, Result, leftovers_of_failed_run, needs_root

pytestmark = needs_root

NAME_RULE = "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"


def assert_one_line_failure(r: Result, rc: int, err: str) -> None:
    assert (r.rc, r.out, r.err) == (rc, "", err), r


# (id, arguments after ``kyb run -d --rm``, exit code, the one line on stderr)
RUN_FAILURES: list[tuple[str, list[str], int, str]] = [
    ("no-such-image", ["nope"], 125,
     "error: Unable to find image 'nope:latest' locally (make it with kyb build, kyb load or kyb pull)"),
    ("no-such-tag", ["busybox:9.9"], 125,
     "error: Unable to find image 'busybox:9.9' locally (make it with kyb image bootstrap busybox)"),
    ("invalid-name", ["--name", "bad/name", "busybox", "true"], 125,
     f"error: Invalid container name (bad/name), {NAME_RULE}"),
    ("one-letter-name", ["--name", "x", "busybox", "true"], 125, f"error: Invalid container name (x), {NAME_RULE}"),
    ("bad-port", ["-p", "80:abc", "busybox", "true"], 125, 'error: invalid port specification: "80:abc"'),
    ("port-out-of-range", ["-p", "70000:80", "busybox", "true"], 125,
     'error: invalid port specification: "70000:80"'),
    ("bad-proto", ["-p", "80/sctp", "busybox", "true"], 125, "error: invalid proto: sctp"),
    ("bad-ip", ["-p", "1.2.3:80:80", "busybox", "true"], 125, "error: invalid IP address: 1.2.3"),
    ("bad-env", ["-e", "=x", "busybox", "true"], 125, "error: invalid environment variable: =x"),
    ("bad-memory", ["-m", "12x", "busybox", "true"], 125,
     "error: invalid argument \"12x\" for \"-m, --memory\" flag: invalid size: '12x'"),
    ("relative-workdir", ["-w", "rel", "busybox", "true"], 125,
     "error: the working directory 'rel' is invalid, it needs to be an absolute path"),
    ("link-to-unknown", ["--link", "ghost:g", "busybox", "true"], 125,
     "Error response from daemon: No such container: ghost"),
    ("unknown-user", ["-u", "nosuchuser", "busybox", "true"], 125,
     "error: unable to find user nosuchuser: no matching entries in passwd file"),
    ("command-not-found", ["busybox", "nosuchcmd"], 127,
     'error: runc create failed: unable to start container process: exec: "nosuchcmd": '
     "executable file not found in $PATH"),
    ("command-not-executable", ["busybox", "/etc/passwd"], 126,
     'error: runc create failed: unable to start container process: exec: "/etc/passwd": permission denied'),
    ("no-command", ["--entrypoint", "", "busybox"], 125, "error: No command specified"),
]


def test_run_failures_are_one_line_and_leave_nothing(kyb: Kyb) -> None:
    """All at once: failing runs must not disturb each other either."""
    results = kyb.many(*(["run", "-d", "--rm", *args] for _, args, _, _ in RUN_FAILURES))
    wrong = [f"{case}: {r}" for (case, _, rc, err), r in zip(RUN_FAILURES, results, strict=True)
             if (r.rc, r.out, r.err) != (rc, "", err + "\n")]
    assert not wrong, "\n".join(wrong)
    assert kyb.ok("ps", "-a", "-q") == ""
    assert leftovers_of_failed_run(kyb.data) == []


def test_name_already_in_use(kyb: Kyb) -> None:
    cid = kyb.ok("run", "-d", "--name", "taken", "busybox", "sleep", "300").strip()
    r = kyb("run", "-d", "--name", "taken", "busybox", "true")
    assert_one_line_failure(r, 125, f'error: Conflict. The container name "/taken" is already in use by container '
                                    f'"{cid}". You have to remove (or rename) that container to be able to reuse that name.\n')
    assert kyb.ok("ps", "-a", "-q") == f"{cid[:12]}\n"
    assert kyb.ok("exec", "taken", "echo", "unaffected") == "unaffected\n"
    # once removed, the name is free again
    kyb.ok("rm", "-f", "taken")
    kyb.ok("run", "--rm", "--name", "taken", "busybox", "true")


def test_commands_on_unknown_and_stopped_containers(kyb: Kyb) -> None:
    cid = kyb.ok("run", "-d", "--name", "done", "busybox", "true").strip()
    unknown = (["logs", "x"], ["logs", "-f", "x"], ["exec", "x", "true"], ["stop", "x"], ["rm", "x"], ["rm", "-f", "x"])
    *results, _ = kyb.many(*unknown, ["logs", "-f", "done"])  # logs -f returns once "done" has exited
    for r in results:
        assert_one_line_failure(r, 1, "Error response from daemon: No such container: x\n")
    exec_stopped, bad_tail, bad_since = kyb.many(
        ["exec", "done", "true"], ["logs", "--tail", "abc", "done"], ["logs", "--since", "soon", "done"])
    assert_one_line_failure(exec_stopped, 1, f"Error response from daemon: container {cid} is not running\n")
    assert_one_line_failure(bad_tail, 1, 'error: invalid value for "tail": "abc" (a number of lines, or all)\n')
    assert_one_line_failure(bad_since, 1,
                            'error: invalid value for "since": "soon" (a duration such as 30s, 5m or 2h)\n')
    # several names: the known ones are handled, the unknown ones reported, and the exit code says so
    r = kyb("rm", "done", "ghost")
    assert (r.rc, r.out, r.err) == (1, "done\n", "Error response from daemon: No such container: ghost\n")


def test_runc_runtime_when_runc_is_missing(kyb: Kyb, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    r = kyb("run", "--runtime", "runc", "--rm", "busybox", "true", env={"PATH": str(empty)})
    assert_one_line_failure(r, 125, "error: runc not found: install Debian's runc (apt-get install runc), "
                                    "or use --runtime process\n")
    assert leftovers_of_failed_run(kyb.data) == []
