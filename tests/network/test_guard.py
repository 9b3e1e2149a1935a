"""The guard: the nftables table's rules, its idempotent install and exact removal, blackhole routes, and
(in a private network namespace with forwarding on) that pod traffic really never leaves the bridge."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.network.guard import Guard, ruleset
from kybernetes.network.netns import NetworkError
from tests.network.conftest import free_subnet, needs_root, rand, sh

pytestmark = needs_root


def test_ruleset_drops_forwarding_both_ways_and_foreign_host_addresses() -> None:
    text = ruleset("kybx", "br9", "10.250.3.1")
    assert text.startswith("add table inet kybx\ndelete table inet kybx\ntable inet kybx {")
    for rule in ('iifname "br9" oifname != "br9" drop',
                 'oifname "br9" iifname != "br9" drop',
                 'iifname "br9" meta nfproto ipv6 drop',
                 'iifname "br9" ip daddr != 10.250.3.1 fib daddr type local drop'):
        assert rule in text
    assert "hook forward priority filter - 10; policy accept;" in text
    assert "hook input priority filter - 10; policy accept;" in text


@pytest.fixture
def guard(tmp_path: Path) -> Iterator[Guard]:
    r = rand()
    g = Guard(f"kybt_{r}", f"kybt{r}", "10.250.9.1", tmp_path / "blackholes.json")
    try:
        yield g
    finally:
        sh("nft", "delete", "table", "inet", g.table, check=False)
        for cidr in g.recorded():
            sh("ip", "route", "del", "blackhole", cidr, check=False)


def _rules(table: str) -> dict[str, list[str]]:
    """chain name -> its hook and rules, rendered compactly from ``nft -j``."""
    doc = json.loads(sh("nft", "-j", "list", "table", "inet", table).stdout)["nftables"]
    chains: dict[str, list[str]] = {}
    for item in doc:
        if "chain" in item:
            c = item["chain"]
            chains[c["name"]] = [f"hook={c['hook']} prio={c['prio']} policy={c['policy']}"]
        if "rule" in item:
            r = item["rule"]
            chains[r["chain"]].append(json.dumps(r["expr"], sort_keys=True))
    return chains


async def test_table_is_installed_idempotently_and_removed_by_exact_name(guard: Guard) -> None:
    other = f"kybt_{rand()}"
    sh("nft", "add", "table", "inet", other)
    try:
        await guard.ensure()
        await guard.ensure()
        chains = _rules(guard.table)
        assert set(chains) == {"forward", "input"}
        assert chains["forward"][0] == "hook=forward prio=-10 policy=accept"
        assert chains["input"][0] == "hook=input prio=-10 policy=accept"
        assert len(chains["forward"]) == 3 and len(chains["input"]) == 3
        assert all('"drop": null' in r for r in chains["forward"][1:] + chains["input"][1:])
        assert guard.bridge in chains["forward"][1] and "10.250.9.1" in chains["input"][2]
        assert await guard.installed()
        await guard.remove()
        assert not await guard.installed()
        await guard.remove()  # idempotent
        assert sh("nft", "list", "table", "inet", other, check=False).returncode == 0
    finally:
        sh("nft", "delete", "table", "inet", other, check=False)


def _route(cidr: str) -> str:
    return sh("ip", "-6" if ":" in cidr else "-4", "route", "show", "exact", cidr).stdout.strip()


async def test_blackholes_are_added_once_and_removed(guard: Guard) -> None:
    cidr = free_subnet("10.251.0.0/16", 24)
    v6 = str(ipaddress.ip_network(f"fd00:6b79:{rand()[:4]}::/48"))  # as ip prints it
    await guard.blackhole([cidr, v6])
    await guard.blackhole([cidr])
    assert _route(cidr).startswith(f"blackhole {cidr}")
    assert _route(v6).startswith(f"blackhole {v6}")
    assert sorted(guard.recorded()) == sorted([cidr, str(ipaddress.ip_network(v6))])
    inside = str(ipaddress.ip_network(cidr)[7])
    assert sh("ip", "route", "get", inside, check=False).returncode != 0  # nowhere to go
    await guard.unblackhole([cidr])
    assert _route(cidr) == "" and guard.recorded() == [str(ipaddress.ip_network(v6))]
    await guard.blackhole([cidr])
    await guard.remove()
    assert _route(cidr) == "" and _route(v6) == "" and guard.recorded() == []


async def test_a_foreign_blackhole_is_kept_and_a_real_route_is_refused(guard: Guard) -> None:
    foreign = free_subnet("10.251.0.0/16", 24)
    real = foreign
    while real == foreign:
        real = free_subnet("10.251.0.0/16", 24)
    dummy = f"kybtd{rand()[:6]}"  # a port-less bridge: a route to it leads nowhere
    sh("ip", "route", "add", "blackhole", foreign)
    try:
        sh("ip", "link", "add", dummy, "type", "bridge")
        sh("ip", "link", "set", dummy, "up")
        sh("ip", "route", "add", real, "dev", dummy)
        await guard.blackhole([foreign])
        assert guard.recorded() == []  # not ours: destroy must not delete it
        with pytest.raises(NetworkError, match=f"cannot blackhole {real}: the host already routes it"):
            await guard.blackhole([real])
        assert f"dev {dummy}" in _route(real)
        await guard.remove()
        assert _route(foreign).startswith("blackhole")
        with pytest.raises(NetworkError, match="invalid CIDR"):
            await guard.blackhole(["10.0.0.0/33"])
    finally:
        sh("ip", "route", "del", "blackhole", foreign, check=False)
        sh("ip", "link", "del", dummy, check=False)


_ISOLATED = r"""
import asyncio, json, subprocess, sys
from pathlib import Path
from kybernetes.network.bridge import BridgeNetwork
from kybernetes.runtime.api import SandboxConfig

tmp = Path(sys.argv[1])

def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=20)

def ping(ns, ip):
    return subprocess.run(["nsenter", f"--net={ns}", "busybox", "ping", "-c1", "-W1", ip],
                          capture_output=True, timeout=20).returncode == 0

async def main():
    sh("ip", "link", "set", "lo", "up")
    pod, ext = tmp / "pod", tmp / "ext"
    for p in (pod, ext):
        p.touch()
        sh("unshare", f"--net={p}", "true")
    net = BridgeNetwork("kybg0", "10.252.0.0/24", tmp / "state", "kybguard")
    try:
        ip = await net.setup("pod", str(pod), SandboxConfig(name="pod"))
        # "the outside world": another namespace behind a second interface of this host
        sh("ip", "link", "add", "kybgx", "type", "veth", "peer", "name", "eth0", "netns", str(ext))
        sh("ip", "addr", "add", "10.253.0.1/24", "dev", "kybgx")
        sh("ip", "link", "set", "kybgx", "up")
        for cmd in ("ip addr add 10.253.0.2/24 dev eth0", "ip link set eth0 up", "ip link set lo up",
                    "ip route add default via 10.253.0.1"):
            sh("nsenter", f"--net={ext}", *cmd.split())
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
        # what a container with CAP_NET_ADMIN could do
        sh("nsenter", f"--net={pod}", "ip", "route", "add", "default", "via", "10.252.0.1")
        out = {"pod->gateway": ping(pod, "10.252.0.1"), "pod->outside": ping(pod, "10.253.0.2"),
               "outside->pod": ping(ext, ip), "pod->host-other-address": ping(pod, "10.253.0.1")}
        await net.guard.remove_table()
        out |= {"unguarded pod->outside": ping(pod, "10.253.0.2"), "unguarded outside->pod": ping(ext, ip),
                "unguarded pod->host-other-address": ping(pod, "10.253.0.1")}
        print(json.dumps(out))
    finally:
        await net.destroy()

asyncio.run(main())
"""


def test_pod_traffic_never_leaves_even_with_forwarding_on(tmp_path: Path) -> None:
    """Run in a private network and mount namespace (so ip_forward=1 and every link, route, table and bind
    mount made there vanish with the process): a pod that adds its own default route still reaches nothing
    but the bridge, while removing the guard table shows that it is what stops the packets."""
    p = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "--",
                        sys.executable, "-c", _ISOLATED, str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got == {"pod->gateway": True, "pod->outside": False, "outside->pod": False,
                   "pod->host-other-address": False, "unguarded pod->outside": True,
                   "unguarded outside->pod": True, "unguarded pod->host-other-address": True}
