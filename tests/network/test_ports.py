"""Published ports: the userspace forwarder reaches the container over TCP and UDP from loopback, outlives
the process that set it up, reports a taken port like Docker and rolls back, and is killed only when it
is really ours."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kybernetes.network import ports
from kybernetes.network.bridge import BridgeNetwork
from kybernetes.network.netns import NetworkError, link_exists
from kybernetes.network.portproxy import parse_spec
from kybernetes.runtime.api import PortMapping, SandboxConfig
from tests.network.conftest import Servers, http_get, needs_root

pytestmark = needs_root


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def proxy_pid(net: BridgeNetwork, sandbox_id: str) -> int:
    pid = ports.recorded_pid(net.state_dir / "proxies", net.bridge, sandbox_id)
    assert pid is not None
    return pid


async def test_a_published_tcp_port_reaches_the_container(
    net: BridgeNetwork, make_netns: Callable[..., str], servers: Servers
) -> None:
    ns = make_netns()
    port = free_port()
    servers.http(ns, 80, "web")
    cfg = SandboxConfig(name="web", port_mappings=[PortMapping(container_port=80, host_port=port)])
    ip = await net.setup("sb-web", ns, cfg)
    assert http_get(f"http://127.0.0.1:{port}/") == f"web sees {net.gateway}\n"
    pid = proxy_pid(net, "sb-web")
    assert ports.is_our_proxy(pid, net.bridge, "sb-web")
    assert not ports.is_our_proxy(pid, net.bridge, "another-sandbox")
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert any(a.startswith(b"tcp:") and a.endswith(f":{ip}:80".encode()) for a in cmdline)
    assert await net.setup("sb-web", ns, cfg) == ip  # a repeated setup replaces its own forwarder
    assert not alive(pid)
    pid = proxy_pid(net, "sb-web")
    assert http_get(f"http://127.0.0.1:{port}/") == f"web sees {net.gateway}\n"
    await net.teardown("sb-web", ns, cfg)
    assert not alive(pid)
    assert bindable(port)
    assert not (net.state_dir / "proxies" / "sb-web.pid").exists()


async def test_a_stream_is_forwarded_whole_with_half_close(
    net: BridgeNetwork, make_netns: Callable[..., str], servers: Servers
) -> None:
    ns = make_netns()
    port = free_port()
    servers.tcp_echo(ns, 7000)
    await net.setup("sb-echo", ns, SandboxConfig(name="e", port_mappings=[PortMapping(7000, port, "TCP")]))
    payload = os.urandom(3 * 1024 * 1024)
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            got = bytearray()
            while chunk := c.recv(1 << 16):
                got += chunk
        if got:
            break
        time.sleep(0.1)  # the echo server was not listening yet: the proxy closed the client
    assert bytes(got) == payload


async def test_a_published_udp_port_reaches_the_container(
    net: BridgeNetwork, make_netns: Callable[..., str], servers: Servers
) -> None:
    ns = make_netns()
    udp_port, tcp_port = free_port(socket.SOCK_DGRAM), free_port()
    servers.udp(ns, 5353)
    servers.http(ns, 80, "both")
    cfg = SandboxConfig(name="u", port_mappings=[PortMapping(5353, udp_port, "udp"), PortMapping(80, tcp_port)])
    await net.setup("sb-udp", ns, cfg)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(0.2)
        for _ in range(50):
            c.sendto(b"hello", ("127.0.0.1", udp_port))
            try:
                assert c.recv(100) == f"hello from {net.gateway}".encode()
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("no UDP answer through the proxy")
    assert http_get(f"http://127.0.0.1:{tcp_port}/") == f"both sees {net.gateway}\n"  # one proxy, two ports
    await net.teardown("sb-udp", ns, cfg)


_CALLER = """
import asyncio, sys
from kybernetes.network.bridge import BridgeNetwork
from kybernetes.runtime.api import PortMapping, SandboxConfig
bridge, subnet, state, table, ns, port = sys.argv[1:]
cfg = SandboxConfig(name="d", port_mappings=[PortMapping(80, int(port))])
print(asyncio.run(BridgeNetwork(bridge, subnet, state, table).setup("sb-detached", ns, cfg)))
"""


async def test_the_proxy_outlives_the_process_that_set_it_up(
    net: BridgeNetwork, names: dict[str, str], make_netns: Callable[..., str], servers: Servers
) -> None:
    """Like ``kyb run -d -p``: setup happens in a short-lived process; the port keeps working after it
    exits, and a teardown from another process (not the proxy's parent) stops it."""
    ns = make_netns()
    port = free_port()
    servers.http(ns, 80, "detached")
    p = subprocess.run([sys.executable, "-c", _CALLER, names["bridge"], names["subnet"], str(net.state_dir),
                        names["table"], ns, str(port)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    pid = proxy_pid(net, "sb-detached")
    assert alive(pid)
    assert http_get(f"http://127.0.0.1:{port}/") == f"detached sees {net.gateway}\n"
    assert net.ipam.lookup("sb-detached") is not None
    await net.teardown("sb-detached", ns, SandboxConfig(name="d"))
    assert not alive(pid) and bindable(port)


async def test_a_taken_port_fails_setup_like_docker_and_rolls_back(
    net: BridgeNetwork, make_netns: Callable[..., str]
) -> None:
    ns = make_netns()
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        cfg = SandboxConfig(name="x", port_mappings=[PortMapping(80, port)])
        with pytest.raises(NetworkError) as e:
            await net.setup("sb-busy", ns, cfg)
    assert str(e.value) == f"Bind for 127.0.0.1:{port} failed: port is already allocated"
    assert not link_exists(net.veth_name("sb-busy"))
    assert net.ipam.allocations() == {}
    assert ports.recorded_pid(net.state_dir / "proxies", net.bridge, "sb-busy") is None


async def test_a_taken_second_port_releases_the_first(net: BridgeNetwork, make_netns: Callable[..., str]) -> None:
    ns = make_netns()
    first, second = free_port(), free_port()
    with socket.create_server(("127.0.0.1", second)):
        cfg = SandboxConfig(name="x", port_mappings=[PortMapping(80, first), PortMapping(81, second)])
        with pytest.raises(NetworkError, match=f"Bind for 127.0.0.1:{second} failed"):
            await net.setup("sb-busy2", ns, cfg)
    assert bindable(first)


async def test_a_recorded_pid_that_is_not_our_proxy_is_never_killed(net: BridgeNetwork) -> None:
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        directory = net.state_dir / "proxies"
        directory.mkdir(parents=True)
        (directory / "sb-stranger.pid").write_text(f"{stranger.pid}\n")
        await ports.stop_proxy(directory, net.bridge, "sb-stranger")
        assert stranger.poll() is None
        assert ports.recorded_pid(directory, net.bridge, "sb-stranger") is None
    finally:
        stranger.kill()
        stranger.wait()


async def test_destroy_stops_every_proxy(
    tmp_path: Path, names: dict[str, str], make_netns: Callable[..., str]
) -> None:
    plugin = BridgeNetwork(names["bridge"], names["subnet"], tmp_path / "d", names["table"])
    try:
        ports_ = [free_port(), free_port()]
        for i, port in enumerate(ports_):
            await plugin.setup(f"sb{i}", make_netns(), SandboxConfig(name="x", port_mappings=[PortMapping(80, port)]))
        pids = [proxy_pid(plugin, f"sb{i}") for i in range(2)]
        # Popen returns once exec has closed the error pipe, a moment before the kernel publishes the new argv
        # in /proc/PID/cmdline: allow that moment.
        deadline = time.monotonic() + 5
        while not all(ports.is_our_proxy(p, plugin.bridge, f"sb{i}") for i, p in enumerate(pids)):
            assert time.monotonic() < deadline, "the forwarders never showed up as ours in /proc"
            await asyncio.sleep(0.01)
    finally:
        await plugin.destroy()
    # "not our proxy" rather than "no such PID": on a busy machine a freed PID may already be someone else's
    assert not any(ports.is_our_proxy(p, plugin.bridge, f"sb{i}") for i, p in enumerate(pids))
    assert all(bindable(p) for p in ports_)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [(PortMapping(80, 8080, "sctp"), "unsupported protocol 'sctp'"), (PortMapping(80, 0), "invalid port 0"),
     (PortMapping(70000, 8080), "invalid port 70000"), (PortMapping(80, 8080, host_ip="localhost"), "invalid host IP")],
    ids=["sctp", "port-0", "port-too-big", "host-name"],
)
def test_bad_mappings_are_refused(mapping: PortMapping, message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        ports.bind([mapping])


def test_an_empty_host_ip_means_loopback() -> None:
    port = free_port()
    [(proto, sock, container_port)] = ports.bind([PortMapping(80, port, host_ip="")])
    try:
        assert (proto, container_port, sock.getsockname()) == ("tcp", 80, ("127.0.0.1", port))
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [("tcp:3:10.88.0.2:80", ("tcp", 3, "10.88.0.2", 80)), ("udp:7:fd00::5:53", ("udp", 7, "fd00::5", 53))],
)
def test_proxy_specs(spec: str, parsed: tuple[str, int, str, int]) -> None:
    assert parse_spec(spec) == parsed


def test_proxy_refuses_unknown_protocols() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        parse_spec("sctp:3:10.0.0.1:9")
