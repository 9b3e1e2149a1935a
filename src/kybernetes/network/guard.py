"""The safety net: container traffic never leaves the bridge network, whatever else the host enables.

Two mechanisms, both owned by exact name so removal never touches anything else:

* an nftables table (family ``inet``, name given) with two base chains that run before the usual filter
  priority (``filter - 10``) and only ever *drop*:

  - ``forward``: packets routed from the bridge to any other interface, or from any other interface to the
    bridge, are dropped.  Bridged traffic between pods (``iifname == oifname == bridge`` when br_netfilter
    is loaded) is untouched.  So even with ``ip_forward=1`` set by something else, no pod reaches the
    outside world and the outside world reaches no pod (a later NodePort-style DNAT from outside would have
    to relax this rule on purpose);
  - ``input``: a pod may address the host only at the bridge's own address (IPv4); packets to the host's
    other local addresses, and IPv6 from the bridge, are dropped;

* blackhole routes for given CIDRs (the cluster's pod and service ranges), so traffic to cluster addresses
  that no bridge serves dies on the host instead of following the default route out.  A connected route of
  a bridge inside such a CIDR is more specific and still wins.  The routes added are recorded in a JSON file
  so `Guard.remove` deletes exactly those.

Installing is idempotent and atomic: one ``nft -f -`` transaction that creates the table, deletes it and
recreates it with the full ruleset.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from pathlib import Path

from kybernetes.network.ipam import file_lock
from kybernetes.network.netns import NetworkError, ip_batch, nft, output, tool

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def ruleset(table: str, bridge: str, gateway: str) -> str:
    """The nftables script that (re)creates the guard table (no side effects)."""
    return f"""\
add table inet {table}
delete table inet {table}
table inet {table} {{
    chain forward {{
        type filter hook forward priority filter - 10; policy accept;
        iifname "{bridge}" oifname != "{bridge}" drop
        oifname "{bridge}" iifname != "{bridge}" drop
    }}
    chain input {{
        type filter hook input priority filter - 10; policy accept;
        iifname "{bridge}" meta nfproto ipv6 drop
        iifname "{bridge}" ip daddr != {gateway} fib daddr type local drop
    }}
}}
"""


async def _route(cidr: str) -> str:
    """The host's route for exactly `cidr` (empty when none)."""
    family = "-6" if ":" in cidr else "-4"
    return (await output([tool("ip"), family, "route", "show", "exact", cidr])).strip()


def _norm(cidrs: Iterable[str]) -> list[str]:
    try:
        return [str(ipaddress.ip_network(c, strict=False)) for c in cidrs]
    except ValueError as e:
        raise NetworkError(f"invalid CIDR: {e}") from None


class Guard:
    """The nftables table `table` protecting `bridge` (whose host address is `gateway`) and the blackholes."""

    def __init__(self, table: str, bridge: str, gateway: str, state_file: Path):
        if not _NAME.fullmatch(table):
            raise NetworkError(f"invalid nftables table name {table!r}")
        self.table = table
        self.bridge = bridge
        self.gateway = gateway
        self.state_file = Path(state_file)

    async def ensure(self) -> None:
        """Install (or refresh) the table."""
        rc, err = await nft(ruleset(self.table, self.bridge, self.gateway))
        if rc:
            raise NetworkError(f"nft: cannot install table inet {self.table}: {err.splitlines()[-1] if err else rc}")

    async def installed(self) -> bool:
        """Whether the table exists."""
        try:
            await output([tool("nft"), "list", "table", "inet", self.table])
        except NetworkError:
            return False
        return True

    async def remove_table(self) -> None:
        """Delete the table if present."""
        rc, err = await nft(f"add table inet {self.table}\ndelete table inet {self.table}\n")
        if rc:
            raise NetworkError(f"nft: cannot delete table inet {self.table}: {err}")

    # --- blackhole routes

    def recorded(self) -> list[str]:
        """The blackhole routes this guard added and has not removed."""
        try:
            return list(json.loads(self.state_file.read_text()))
        except (FileNotFoundError, ValueError):
            return []

    def _record(self, cidrs: list[str]) -> None:
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps(sorted(set(cidrs))))
        tmp.replace(self.state_file)

    async def blackhole(self, cidrs: Iterable[str]) -> None:
        """Add a blackhole route for each CIDR; an existing blackhole is kept, any other route is an error."""
        wanted = _norm(cidrs)
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.state_file.with_name(self.state_file.name + ".lock")):
            mine = self.recorded()
            for cidr in wanted:
                existing = await _route(cidr)
                if not existing:
                    await ip_batch([f"route add blackhole {cidr}"])
                    mine.append(cidr)
                elif not existing.startswith("blackhole"):
                    raise NetworkError(f"cannot blackhole {cidr}: the host already routes it ({existing.splitlines()[0]})")
            self._record(mine)

    async def unblackhole(self, cidrs: Iterable[str]) -> None:
        """Remove the blackhole routes for `cidrs` that this guard added."""
        gone = set(_norm(cidrs))
        if not self.state_file.parent.is_dir():
            return
        with file_lock(self.state_file.with_name(self.state_file.name + ".lock")):
            mine = self.recorded()
            for cidr in sorted(gone & set(mine)):
                existing = await _route(cidr)
                if existing.startswith("blackhole"):
                    await ip_batch([f"route del blackhole {cidr}"])
            self._record([c for c in mine if c not in gone])

    async def remove(self) -> None:
        """Delete the table and every recorded blackhole route."""
        await self.unblackhole(self.recorded())
        await self.remove_table()
