"""Networking of standalone containers: published ports answered over HTTP from the host, ports given back when a
container stops, and linked containers reaching each other by name with Docker's link variables."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from .conftest import Kyb, free_port, needs_root

pytestmark = needs_root

HTTPD = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p {port} -h /www"


def http_get(url: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except (urllib.error.URLError, ConnectionError) as e:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer: {e}") from None
            time.sleep(0.05)


def test_published_port_answers_and_a_taken_port_is_refused(kyb: Kyb) -> None:
    port = free_port()
    kyb.ok("run", "-d", "--name", "web", "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD.format(text="hello", port=80))
    assert http_get(f"http://127.0.0.1:{port}/") == "hello\n"
    [row] = kyb.ps_rows()
    assert row[5:] == [f"127.0.0.1:{port}->80/tcp", "web"]
    # a second container cannot have the port; the first one is unaffected, the failed one not listed
    r = kyb("run", "-d", "--name", "web2", "-p", f"127.0.0.1:{port}:8080", "busybox", "true")
    assert (r.rc, r.out, r.err) == (125, "", f"error: Bind for 127.0.0.1:{port} failed: port is already allocated\n")
    assert [row[-1] for row in kyb.ps_rows("-a")] == ["web"]
    assert http_get(f"http://127.0.0.1:{port}/") == "hello\n"
    # stopped, the container gives the port back (as Docker's do), and ps -a shows no ports for it
    kyb.ok("stop", "-t", "1", "web")
    assert kyb.ps_rows("-a")[0][5:] == ["web"]
    kyb.ok("run", "-d", "--name", "web2", "-p", f"{port}:8080", "busybox", "sh", "-c",
           HTTPD.format(text="second", port=8080))
    assert http_get(f"http://127.0.0.1:{port}/") == "second\n"


def test_a_container_that_exited_by_itself_gives_its_port_back(kyb: Kyb) -> None:
    port = free_port()
    kyb.ok("run", "-d", "--name", "quick", "-p", f"{port}:80", "busybox", "true")
    deadline = time.monotonic() + 5
    while kyb.ok("ps", "-q") and time.monotonic() < deadline:
        time.sleep(0.05)
    kyb.ok("run", "-d", "--name", "next", "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD.format(text="next", port=80))
    assert http_get(f"http://127.0.0.1:{port}/") == "next\n"


def test_linked_containers_talk_by_name_with_link_variables(kyb: Kyb, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nEXPOSE 6379\nENV DB_PASSWORD=secret\n")
    kyb.ok("build", "-q", "-t", "kvstore:1", str(ctx))
    try:
        db = kyb.ok("run", "-d", "--name", "db", "kvstore:1", "sh", "-c", HTTPD.format(text="PONG", port=6379)).strip()
        db_ip = kyb.ok("exec", "db", "hostname", "-i").strip()
        # the client retries while the server starts
        fetch = "for i in $(seq 100); do wget -qO- http://redis:6379/ && break; sleep 0.05; done"
        r = kyb("run", "--rm", "--name", "client", "--link", "db:redis", "busybox", "sh", "-c",
                f"{fetch}; tail -n 1 /etc/hosts; env | grep ^REDIS_ | sort")
        assert r.rc == 0, r
        pong, hosts_line, *env = r.out.splitlines()
        assert pong == "PONG"
        ip, names = hosts_line.split("\t")
        assert (ip, sorted(names.split())) == (db_ip, sorted([db[:12], "db", "redis"]))
        assert env == [
            "REDIS_ENV_DB_PASSWORD=secret",
            "REDIS_NAME=/client/redis",
            f"REDIS_PORT=tcp://{db_ip}:6379",
            f"REDIS_PORT_6379_TCP=tcp://{db_ip}:6379",
            f"REDIS_PORT_6379_TCP_ADDR={db_ip}",
            "REDIS_PORT_6379_TCP_PORT=6379",
            "REDIS_PORT_6379_TCP_PROTO=tcp",
        ]
        # without an alias the name is the alias; with no EXPOSE on the target the name still resolves, and only
        # NAME is set
        kyb.ok("run", "-d", "--name", "plain", "busybox", "sh", "-c", HTTPD.format(text="plain", port=80))
        no_alias, plain = kyb.many(
            ["run", "--rm", "--link", "db", "busybox", "sh", "-c", "wget -qO- http://db:6379/; env | grep ^DB_PORT="],
            ["run", "--rm", "--name", "c2", "--link", "plain:p", "busybox", "sh", "-c",
             "for i in $(seq 100); do wget -qO- http://p/ && break; sleep 0.05; done; env | grep ^P_"])
        assert (no_alias.rc, no_alias.out) == (0, f"PONG\nDB_PORT=tcp://{db_ip}:6379\n"), no_alias
        assert (plain.rc, plain.out) == (0, "plain\nP_NAME=/c2/p\n"), plain
        # a stopped container cannot be linked to
        kyb.ok("stop", "-t", "1", "db")
        r = kyb("run", "--rm", "--name", "late", "--link", "db:redis", "busybox", "true")
        assert (r.rc, r.out, r.err) == (125, "", "error: Cannot link to a non running container: /db AS /late/redis\n")
        assert "late" not in [row[-1] for row in kyb.ps_rows("-a")]
    finally:
        kyb.remove_all()
        kyb("rmi", "kvstore:1")
