"""Host-local IPAM: search order, persistence, idempotence, release, exhaustion, several processes at once."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kybernetes.network.ipam import HostLocalIPAM, IPAMExhausted, owner_key
from kybernetes.network.netns import NetworkError

A = ipaddress.IPv4Address
N = ipaddress.IPv4Network


def ipam(tmp_path: Path, subnet: str = "10.250.0.0/29", reserved: tuple[str, ...] = ("10.250.0.1",)) -> HostLocalIPAM:
    return HostLocalIPAM(tmp_path / "ipam", N(subnet), reserved=[A(r) for r in reserved])


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (None, ["10.250.0.2", "10.250.0.3", "10.250.0.4", "10.250.0.5", "10.250.0.6"]),
        ("10.250.0.3", ["10.250.0.4", "10.250.0.5", "10.250.0.6", "10.250.0.2", "10.250.0.3"]),
        ("10.250.0.6", ["10.250.0.2", "10.250.0.3", "10.250.0.4", "10.250.0.5", "10.250.0.6"]),
        ("10.250.0.1", ["10.250.0.2", "10.250.0.3", "10.250.0.4", "10.250.0.5", "10.250.0.6"]),
        ("192.168.0.9", ["10.250.0.2", "10.250.0.3", "10.250.0.4", "10.250.0.5", "10.250.0.6"]),
    ],
    ids=["fresh", "after-middle", "wraps-after-last", "after-gateway", "foreign-pointer"],
)
def test_search_order_starts_after_the_last_reserved_and_skips_reserved(
    tmp_path: Path, last: str | None, expected: list[str]
) -> None:
    got = [str(ip) for ip in ipam(tmp_path).candidates(A(last) if last else None)]
    assert got == expected


@pytest.mark.parametrize(
    ("owner", "same"),
    [("abc123", True), ("pod_x.y-z", True), ("a/b", False), ("..", False), (".hidden", False), ("", False),
     ("x" * 300, False)],
)
def test_owner_keys_are_safe_file_names(owner: str, same: bool) -> None:
    key = owner_key(owner)
    assert (key == owner) is same
    assert "/" not in key and key not in ("", ".", "..") and len(key) <= 200


def test_allocation_is_sequential_idempotent_and_readable(tmp_path: Path) -> None:
    a = ipam(tmp_path)
    assert a.allocate("s1") == A("10.250.0.2")
    assert a.allocate("s2") == A("10.250.0.3")
    assert a.allocate("s1") == A("10.250.0.2")
    assert (tmp_path / "ipam" / "10.250.0.3").read_text() == "s2\n"
    assert (tmp_path / "ipam" / "last_reserved_ip").read_text() == "10.250.0.3"
    assert a.allocations() == {A("10.250.0.2"): "s1", A("10.250.0.3"): "s2"}
    assert a.lookup("s2") == A("10.250.0.3")
    assert a.lookup("nobody") is None


def test_release_frees_and_the_address_comes_back_only_after_the_others(tmp_path: Path) -> None:
    a = ipam(tmp_path)
    first = a.allocate("s1")
    assert a.release("s1") == first
    assert a.release("s1") is None
    assert a.lookup("s1") is None
    got = [a.allocate(f"n{i}") for i in range(5)]
    assert got[0] != first
    assert got[-1] == first  # reused last, after a full round
    assert len(set(got)) == 5


def test_allocations_persist_across_instances(tmp_path: Path) -> None:
    ipam(tmp_path).allocate("s1")
    again = ipam(tmp_path)
    assert again.lookup("s1") == A("10.250.0.2")
    assert again.allocate("s2") == A("10.250.0.3")
    assert again.allocate("s1") == A("10.250.0.2")


def test_exhaustion_is_a_clear_error(tmp_path: Path) -> None:
    a = ipam(tmp_path)
    for i in range(5):
        a.allocate(f"s{i}")
    with pytest.raises(IPAMExhausted, match=r"no IP addresses available in range 10\.250\.0\.1-10\.250\.0\.6"):
        a.allocate("one-too-many")
    a.release("s3")
    assert a.allocate("one-too-many") == A("10.250.0.5")


def test_release_without_the_owner_index_still_frees(tmp_path: Path) -> None:
    a = ipam(tmp_path)
    ip = a.allocate("a/b")
    (tmp_path / "ipam" / "owners" / owner_key("a/b")).unlink()  # as after a crash between the two writes
    assert a.release("a/b") == ip
    assert a.allocations() == {}


def test_release_and_destroy_of_an_unused_directory(tmp_path: Path) -> None:
    a = ipam(tmp_path)
    assert a.release("x") is None
    assert a.allocations() == {}
    a.allocate("x")
    a.destroy()
    assert not (tmp_path / "ipam").exists()


def test_tiny_subnets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="too small"):
        HostLocalIPAM(tmp_path, N("10.250.0.0/31"))


_WORKER = """
import ipaddress, json, sys
from pathlib import Path
from kybernetes.network.ipam import HostLocalIPAM
a = HostLocalIPAM(Path(sys.argv[1]), ipaddress.IPv4Network("10.250.0.0/24"), [ipaddress.IPv4Address("10.250.0.1")])
sys.stdin.readline()  # start together
print(json.dumps([str(a.allocate(f"{sys.argv[2]}-{i}")) for i in range(40)]))
"""


def test_processes_allocating_at_once_get_distinct_addresses(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path / "ipam"), f"w{n}"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for n in range(5)]
    try:
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    everything = [ip for r in results for ip in r]
    assert len(everything) == 200 and len(set(everything)) == 200
    a = ipam(tmp_path, "10.250.0.0/24")
    assert len(a.allocations()) == 200
    for i in range(53):
        a.allocate(f"fill-{i}")
    with pytest.raises(IPAMExhausted):
        a.allocate("full")
