"""Host-local IP address management: one subnet, allocations kept as files, shared by every process.

The layout imitates CNI's host-local plugin, so it can be read (and repaired) with ``ls`` and ``cat``::

    <dir>/lock                 flock(2) taken around every change
    <dir>/last_reserved_ip     the address handed out last; the next search starts after it
    <dir>/10.88.0.7            one file per allocated address, holding the owner (a sandbox id)
    <dir>/owners/<owner>       the reverse index: the owner's address

Invariants:

* An address is allocated iff its file exists; the file is created with ``link(2)`` from a private temporary
  file, so it never exists half-written and is never overwritten.  Every change happens under the lock, so
  concurrent processes (and a restarted one) see one consistent set of allocations.
* Allocation is idempotent per owner: asking twice returns the same address.
* The search starts after ``last_reserved_ip`` and wraps around, so a freed address is handed out again only
  after every other free one has been (a new pod does not inherit the ARP entries or connections of an old one).
* The network address, the broadcast address and the reserved ones (the gateway) are never handed out.

The methods block (file locking); async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from kybernetes.network.netns import NetworkError


class IPAMExhausted(NetworkError):
    """No free address is left in the range."""


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock(2) on `path` (created if missing) for the duration of the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


def owner_key(owner: str) -> str:
    """A file name for `owner`: itself when harmless, else a digest (no side effects)."""
    if _SAFE.fullmatch(owner):
        return owner
    return "sha256-" + hashlib.sha256(owner.encode()).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


class HostLocalIPAM:
    """Allocates the addresses of `subnet` to owners, persisted under `directory`."""

    def __init__(self, directory: Path, subnet: ipaddress.IPv4Network, reserved: Iterable[ipaddress.IPv4Address] = ()):
        if subnet.prefixlen > 30:
            raise NetworkError(f"subnet {subnet} is too small (the prefix must be /30 or shorter)")
        self.directory = Path(directory)
        self.subnet = subnet
        self.reserved = frozenset(reserved)
        self._first = int(subnet.network_address) + 1
        self._last = int(subnet.broadcast_address) - 1

    # --- paths

    def _ip_path(self, ip: ipaddress.IPv4Address) -> Path:
        return self.directory / str(ip)

    def _owner_path(self, owner: str) -> Path:
        return self.directory / "owners" / owner_key(owner)

    def _prepare(self) -> None:
        (self.directory / "owners").mkdir(parents=True, exist_ok=True)

    # --- queries (no lock needed: every file appears atomically)

    def lookup(self, owner: str) -> ipaddress.IPv4Address | None:
        """The address allocated to `owner`, if any."""
        text = _read(self._owner_path(owner))
        if text is None:
            return None
        ip = ipaddress.IPv4Address(text)
        return ip if _read(self._ip_path(ip)) == owner else None

    def allocations(self) -> dict[ipaddress.IPv4Address, str]:
        """Every allocated address and its owner."""
        found: dict[ipaddress.IPv4Address, str] = {}
        if not self.directory.is_dir():
            return found
        for entry in os.scandir(self.directory):
            try:
                ip = ipaddress.IPv4Address(entry.name)
            except ValueError:
                continue
            owner = _read(Path(entry.path))
            if owner is not None:
                found[ip] = owner
        return found

    def candidates(self, last: ipaddress.IPv4Address | None) -> Iterator[ipaddress.IPv4Address]:
        """The search order after `last`: every usable address once, wrapping around (no side effects)."""
        span = self._last - self._first + 1
        start = int(last) + 1 if last is not None and self._first <= int(last) <= self._last else self._first
        for i in range(span):
            ip = ipaddress.IPv4Address(self._first + (start - self._first + i) % span)
            if ip not in self.reserved:
                yield ip

    # --- changes

    def allocate(self, owner: str) -> ipaddress.IPv4Address:
        """Give `owner` an address (the one it already has, if any); raise `IPAMExhausted` when none is free."""
        self._prepare()
        with file_lock(self.directory / "lock"):
            current = self.lookup(owner)
            if current is not None:
                return current
            last_text = _read(self.directory / "last_reserved_ip")
            last = ipaddress.IPv4Address(last_text) if last_text else None
            for ip in self.candidates(last):
                if self._claim(ip, owner):
                    _write_atomic(self._owner_path(owner), str(ip))
                    _write_atomic(self.directory / "last_reserved_ip", str(ip))
                    return ip
        first, last_ip = ipaddress.IPv4Address(self._first), ipaddress.IPv4Address(self._last)
        raise IPAMExhausted(f"no IP addresses available in range {first}-{last_ip} of {self.subnet}")

    def _claim(self, ip: ipaddress.IPv4Address, owner: str) -> bool:
        path = self._ip_path(ip)
        if os.path.lexists(path):
            return False
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(owner + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True

    def release(self, owner: str) -> ipaddress.IPv4Address | None:
        """Free the address of `owner` (no-op when it has none); return the freed address."""
        if not self.directory.is_dir():
            return None
        with file_lock(self.directory / "lock"):
            freed: ipaddress.IPv4Address | None = None
            text = _read(self._owner_path(owner))
            ips = [ipaddress.IPv4Address(text)] if text else [ip for ip, o in self.allocations().items() if o == owner]
            for ip in ips:
                if _read(self._ip_path(ip)) == owner:
                    self._ip_path(ip).unlink(missing_ok=True)
                    freed = ip
            self._owner_path(owner).unlink(missing_ok=True)
            return freed

    def destroy(self) -> None:
        """Forget every allocation (removes the directory)."""
        shutil.rmtree(self.directory, ignore_errors=True)
