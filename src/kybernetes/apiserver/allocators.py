"""ClusterIP and NodePort allocation for Services.

Each allocator is a set of taken values over a range, rebuilt from the stored
Services when the server starts and kept in step by the service write path:
``allocate`` before the object is stored, ``release`` when a create fails or a
Service is deleted.  The API server is the only writer of Services, so an
in-memory set guarded by the event loop is authoritative: a value is never
handed out twice.  (Several API servers sharing one store would need the
allocation recorded in the store, as upstream does; that comes with HA.)

Pure apart from the random source.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

NODE_PORT_RANGE = (30000, 32767)


class AllocationError(Exception):
    """The requested value is taken, out of range, or the range is full."""


@dataclass
class IPAllocator:
    cidr: ipaddress.IPv4Network
    taken: set[int] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_cidr(cls, cidr: str) -> IPAllocator:
        return cls(ipaddress.IPv4Network(cidr, strict=False))

    @property
    def _first(self) -> int:
        return int(self.cidr.network_address) + 1  # the network address is never handed out

    @property
    def _last(self) -> int:
        return int(self.cidr.broadcast_address) - 1

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.IPv4Address(ip) in self.cidr
        except ValueError:
            return False

    def first_ip(self) -> str:
        """The address reserved for the ``kubernetes`` Service."""
        return str(ipaddress.IPv4Address(self._first))

    def allocate(self, ip: str | None = None) -> str:
        if ip is not None:
            try:
                n = int(ipaddress.IPv4Address(ip))
            except ValueError as e:
                raise AllocationError(f"failed to allocate IP {ip}: not a valid IP") from e
            if not self._first <= n <= self._last:
                raise AllocationError(
                    f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                    f"The range of valid IPs is {self.cidr}")
            if n in self.taken:
                raise AllocationError(f"failed to allocate IP {ip}: provided IP is already allocated")
            self.taken.add(n)
            return ip
        size = self._last - self._first + 1
        if len(self.taken) >= size:
            raise AllocationError("failed to allocate a serviceIP: range is full")
        # Random start, then scan: cheap even when the range is nearly full.
        start = self.rng.randrange(size)
        for i in range(size):
            n = self._first + (start + i) % size
            if n not in self.taken:
                self.taken.add(n)
                return str(ipaddress.IPv4Address(n))
        raise AllocationError("failed to allocate a serviceIP: range is full")

    def release(self, ip: str) -> None:
        try:
            self.taken.discard(int(ipaddress.IPv4Address(ip)))
        except ValueError:
            pass

    def mark(self, ip: str) -> None:
        """Record an address found in the store at startup."""
        if self.contains(ip):
            self.taken.add(int(ipaddress.IPv4Address(ip)))


@dataclass
class PortAllocator:
    low: int = NODE_PORT_RANGE[0]
    high: int = NODE_PORT_RANGE[1]
    taken: set[int] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)

    def allocate(self, port: int | None = None) -> int:
        if port is not None:
            if not self.low <= port <= self.high:
                raise AllocationError(f"provided port is not in the valid range. The range of valid ports is {self.low}-{self.high}")
            if port in self.taken:
                raise AllocationError("provided port is already allocated")
            self.taken.add(port)
            return port
        size = self.high - self.low + 1
        if len(self.taken) >= size:
            raise AllocationError("range is full")
        start = self.rng.randrange(size)
        for i in range(size):
            p = self.low + (start + i) % size
            if p not in self.taken:
                self.taken.add(p)
                return p
        raise AllocationError("range is full")

    def release(self, port: int) -> None:
        self.taken.discard(port)

    def mark(self, port: int) -> None:
        if self.low <= port <= self.high:
            self.taken.add(port)
