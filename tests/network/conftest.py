"""Fixtures for the network suites: real namespaces, bridges and nftables tables under unique `kybt` names.

Everything a test creates is named with a random suffix (netns ``kybt-<hex>``, bridge ``kybt<hex>``, table
``kybt_<hex>``, subnet ``10.250.X.0/24`` with X unused by any host route) and removed by the fixture that made
it, in ``finally`` blocks, even when the test fails.  Traffic only ever goes to loopback or to addresses inside
those namespaces.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from kybernetes.network.bridge import BridgeNetwork
from kybernetes.network.netns import link_exists
from tests.async_fixtures import no_leftover_tasks  # noqa: F401 - fixture, registered by import

ROOT_TOOLS = os.geteuid() == 0 and all(shutil.which(t) for t in ("ip", "nft", "nsenter", "unshare"))
needs_root = pytest.mark.skipif(not ROOT_TOOLS, reason="needs root, iproute2, nftables and util-linux")


def rand() -> str:
    return uuid.uuid4().hex[:8]


def sh(*argv: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode:
        raise AssertionError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def in_ns(netns: str, *argv: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return sh("nsenter", f"--net={netns}", *argv, check=check, timeout=timeout)


def host_routes() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for r in json.loads(sh("ip", "-j", "route", "show", "table", "all").stdout or "[]"):
        dst = r.get("dst", "")
        if dst and dst != "default" and ":" not in dst and r.get("type") not in ("blackhole", "unreachable"):
            nets.append(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
    return nets


def free_subnet(base: str = "10.250.0.0/16", prefix: int = 24) -> str:
    """A random /prefix of `base` that no host route overlaps (tests running at once pick different ones)."""
    used = host_routes()
    subnets = list(ipaddress.IPv4Network(base).subnets(new_prefix=prefix))
    random.shuffle(subnets)
    for s in subnets:
        if not any(s.overlaps(u) for u in used):
            return str(s)
    raise AssertionError(f"no free subnet in {base}")


@pytest.fixture
def make_netns() -> Iterator[Callable[..., str]]:
    """Create network namespaces; ``make_netns()`` gives /run/netns/kybt-<hex>, ``make_netns(pinned=DIR)``
    a namespace file bind-mounted in DIR (like a runtime's pinned namespace).  All removed at the end."""
    named: list[str] = []
    pins: list[Path] = []

    def make(pinned: Path | None = None) -> str:
        if pinned is None:
            name = f"kybt-{rand()}"
            sh("ip", "netns", "add", name)
            named.append(name)
            return f"/run/netns/{name}"
        path = pinned / f"netns-{rand()}"
        path.touch()
        pins.append(path)
        sh("unshare", f"--net={path}", "true")
        return str(path)

    try:
        yield make
    finally:
        for name in named:
            sh("ip", "netns", "del", name, check=False)
        for path in pins:
            sh("umount", str(path), check=False)
            path.unlink(missing_ok=True)


_HTTP = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{sys.argv[2]} sees {self.client_address[0]}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""

_UDP = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(data + b" from " + peer[0].encode(), peer)
"""


_ECHO = """
import socket, sys, threading
def serve(c):
    data = b""
    while chunk := c.recv(65536):
        data += chunk
    c.sendall(data)
    c.close()
s = socket.create_server(("0.0.0.0", int(sys.argv[1])))
while True:
    threading.Thread(target=serve, args=(s.accept()[0],)).start()
"""


class Servers:
    """Servers started inside namespaces: ``http(ns, port)`` answers GET with "<name> sees <client ip>",
    ``udp(ns, port)`` echoes datagrams with " from <client ip>" appended, ``tcp_echo(ns, port)`` echoes a
    whole stream.  Killed by PID at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def _start(self, netns: str, script: str, *args: str) -> None:
        self.procs.append(subprocess.Popen(["nsenter", f"--net={netns}", sys.executable, "-I", "-S", "-c", script,
                                            *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def http(self, netns: str, port: int, name: str = "server") -> None:
        self._start(netns, _HTTP, str(port), name)

    def udp(self, netns: str, port: int) -> None:
        self._start(netns, _UDP, str(port))

    def tcp_echo(self, netns: str, port: int) -> None:
        """Reads until the client half-closes, then sends everything back and closes."""
        self._start(netns, _ECHO, str(port))


@pytest.fixture
def servers() -> Iterator[Servers]:
    s = Servers()
    try:
        yield s
    finally:
        for p in s.procs:
            p.kill()
            p.wait()


_GET = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"


def http_get(url: str, netns: str | None = None, attempts: int = 50) -> str:
    """GET `url` from the host or from inside `netns`, retrying while the server starts."""
    argv = [sys.executable, "-I", "-S", "-c", _GET, url]
    err = ""
    for _ in range(attempts):
        p = in_ns(netns, *argv, check=False) if netns else sh(*argv, check=False)
        if p.returncode == 0:
            return p.stdout
        err = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        time.sleep(0.1)
    raise AssertionError(f"{url} unreachable from {netns or 'the host'}: {err}")


def ping(ip: str, netns: str | None = None) -> bool:
    argv = ["busybox", "ping", "-c1", "-W2", ip]
    p = in_ns(netns, *argv, check=False) if netns else sh(*argv, check=False)
    return p.returncode == 0


@pytest.fixture
def names() -> dict[str, str]:
    r = rand()
    return {"bridge": f"kybt{r}", "table": f"kybt_{r}", "subnet": free_subnet()}


@pytest.fixture
async def net(tmp_path: Path, names: dict[str, str]) -> AsyncIterator[BridgeNetwork]:
    """A bridge plugin on a fresh bridge, subnet and table; destroyed (and checked gone) afterwards."""
    plugin = BridgeNetwork(names["bridge"], names["subnet"], tmp_path / "net", names["table"])
    try:
        yield plugin
    finally:
        try:
            await plugin.destroy()
        finally:
            # belt and braces: whatever destroy missed is removed here, then reported
            leaked = link_exists(names["bridge"])
            sh("ip", "link", "del", names["bridge"], check=False)
            sh("nft", "delete", "table", "inet", names["table"], check=False)
        assert not leaked, f"bridge {names['bridge']} left behind"
        assert not (tmp_path / "net").exists()
