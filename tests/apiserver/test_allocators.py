"""ClusterIP and NodePort allocation: never twice, released on delete, errors as upstream."""

from __future__ import annotations

import random

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.apiserver.allocators import AllocationError, IPAllocator, PortAllocator
from kybernetes.apiserver.services import ServiceAllocations


def test_ip_range_exhausts_without_repeats() -> None:
    a = IPAllocator.from_cidr("10.0.0.0/29")
    a.rng = random.Random(1)
    got = {a.allocate() for _ in range(6)}
    assert len(got) == 6 and "10.0.0.0" not in got and "10.0.0.7" not in got
    with pytest.raises(AllocationError, match="range is full"):
        a.allocate()
    a.release("10.0.0.3")
    assert a.allocate() == "10.0.0.3"


@pytest.mark.parametrize(("ip", "message"), [
    ("10.1.0.1", "not in the valid range"),
    ("bogus", "not a valid IP"),
])
def test_ip_requested_bad(ip: str, message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        IPAllocator.from_cidr("10.0.0.0/24").allocate(ip)


def test_ip_requested_taken() -> None:
    a = IPAllocator.from_cidr("10.0.0.0/24")
    a.allocate("10.0.0.9")
    with pytest.raises(AllocationError, match="provided IP is already allocated"):
        a.allocate("10.0.0.9")


def test_ports() -> None:
    p = PortAllocator(30000, 30002)
    assert {p.allocate(), p.allocate(), p.allocate()} == {30000, 30001, 30002}
    with pytest.raises(AllocationError):
        p.allocate()
    with pytest.raises(AllocationError, match="not in the valid range"):
        PortAllocator().allocate(80)


def svc(type_: str = "ClusterIP", **spec: object) -> dict:
    return {"metadata": {"name": "s"}, "spec": {"type": type_, "ports": [{"port": 80, "protocol": "TCP"}], **spec}}


def test_service_create_update_delete() -> None:
    al = ServiceAllocations("10.96.0.0/24")
    s = svc("NodePort")
    txn = al.on_create(s)
    txn.commit()
    ip, port = s["spec"]["clusterIP"], s["spec"]["ports"][0]["nodePort"]
    assert s["spec"]["clusterIPs"] == [ip] and 30000 <= port <= 32767
    # an update that leaves the allocated values out keeps them
    new = svc("NodePort")
    al.on_update(new, s).commit()
    assert new["spec"]["clusterIP"] == ip and new["spec"]["ports"][0]["nodePort"] == port
    # switching to ClusterIP gives the node port back
    back = svc("ClusterIP", clusterIP=ip)
    al.on_update(back, new).commit()
    assert "nodePort" not in back["spec"]["ports"][0] and port not in al.ports.taken
    al.on_delete(back)
    assert not al.ips.taken


def test_service_duplicate_ip_is_invalid_and_rolls_back() -> None:
    al = ServiceAllocations("10.96.0.0/24")
    al.on_create(svc(clusterIP="10.96.0.10")).commit()
    dup = svc("NodePort", clusterIP="10.96.0.10")
    with pytest.raises(StatusError) as e:
        al.on_create(dup)
    assert e.value.code == 422 and "provided IP is already allocated" in e.value.message
    assert e.value.details and e.value.details["causes"][0]["field"] == "spec.clusterIPs"
    assert not al.ports.taken


def test_headless_and_external_name_take_nothing() -> None:
    al = ServiceAllocations("10.96.0.0/24")
    h = svc(clusterIP="None")
    al.on_create(h).commit()
    assert h["spec"]["clusterIPs"] == ["None"]
    al.on_create(svc("ExternalName", externalName="x.example.com")).commit()
    assert not al.ips.taken
