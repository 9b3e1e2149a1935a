"""Resource arithmetic: quantities as integers, a pod's requests, a node's allocatable.

Everything the scheduler compares is an ``int``: CPU in millicores (rounded
up, ``MilliValue()``), everything else in units (rounded up, ``Value()``).
Quantity strings repeat endlessly across pods (``100m``, ``128Mi``), so their
parsed values are memoised.

A pod's requests follow upstream's ``resourcehelper.PodRequests``:

* regular containers run together, so their requests add up;
* init containers run one after another, so the pod needs the *largest* of
  them - except restartable ("sidecar", ``restartPolicy: Always``) init
  containers, which keep running: each adds to the total and to every later
  init container's need;
* ``spec.overhead`` (set from the RuntimeClass) is added on top.

``non_missing`` fills in upstream's defaults (100m CPU, 200Mi memory) for a
container that states no CPU / memory request: the scores use them so that
best-effort pods do not all pile on one node; the filters never do.

Pure functions; no side effects.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

from kybernetes.api.validation import QuantityError, parse_quantity

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"
DEFAULT_MILLI_CPU_REQUEST = 100  # schedutil.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # schedutil.DefaultMemoryRequest
NON_MISSING_DEFAULTS: dict[str, int] = {CPU: DEFAULT_MILLI_CPU_REQUEST, MEMORY: DEFAULT_MEMORY_REQUEST}


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Decimal:
    try:
        return parse_quantity(text)
    except QuantityError:
        return Decimal(0)  # the API server validated it; a bad value counts as nothing


def quantity_value(name: str, value: Any) -> int:
    """``value`` in the scheduler's unit for resource ``name`` (millicores for CPU)."""
    amount = _parse(str(value))
    if name == CPU:
        amount = amount * 1000
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def is_scalar_resource_name(name: str) -> bool:
    """Extended (``example.com/gpu``), hugepages and attachable-volume resources."""
    return "/" in name or name.startswith(("hugepages-", "attachable-volumes-"))


class Resource:
    """Amounts of the resources the scheduler tracks; mutable, used as an accumulator."""

    __slots__ = ("allowed_pods", "ephemeral_storage", "memory", "milli_cpu", "scalars")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral_storage: int = 0,
                 allowed_pods: int = 0, scalars: dict[str, int] | None = None):
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pods = allowed_pods
        self.scalars: dict[str, int] = scalars if scalars is not None else {}

    @classmethod
    def from_list(cls, resources: Mapping[str, Any] | None) -> Resource:
        r = cls()
        for name, value in (resources or {}).items():
            r.set(name, quantity_value(name, value))
        return r

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pods
        return self.scalars.get(name, 0)

    def set(self, name: str, amount: int) -> None:
        if name == CPU:
            self.milli_cpu = amount
        elif name == MEMORY:
            self.memory = amount
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage = amount
        elif name == PODS:
            self.allowed_pods = amount
        elif is_scalar_resource_name(name):
            self.scalars[name] = amount

    def names(self) -> list[str]:
        return [CPU, MEMORY, EPHEMERAL_STORAGE, PODS, *self.scalars]

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or self.scalars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and all(self.get(n) == other.get(n)
                                                   for n in {*self.names(), *other.names()})

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in sorted(self.scalars.items()))
        return (f"Resource(cpu={self.milli_cpu}m, memory={self.memory}, "
                f"ephemeral-storage={self.ephemeral_storage}, pods={self.allowed_pods}{extra})")


def _container_requests(container: Mapping[str, Any], non_missing: Mapping[str, int] | None) -> dict[str, int]:
    requests = (container.get("resources") or {}).get("requests") or {}
    out = {name: quantity_value(name, value) for name, value in requests.items()}
    if non_missing:
        for name, amount in non_missing.items():
            out.setdefault(name, amount)
    return out


def _add(into: dict[str, int], more: Mapping[str, int]) -> None:
    for name, amount in more.items():
        into[name] = into.get(name, 0) + amount


def _max(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, amount in other.items():
        if amount > into.get(name, 0):
            into[name] = amount


def pod_requests(spec: Mapping[str, Any], non_missing: Mapping[str, int] | None = None) -> dict[str, int]:
    """The pod's effective requests by resource name (see the module docstring for the rules)."""
    reqs: dict[str, int] = {}
    for container in spec.get("containers") or ():
        _add(reqs, _container_requests(container, non_missing))
    sidecars: dict[str, int] = {}
    init_need: dict[str, int] = {}
    for container in spec.get("initContainers") or ():
        need = _container_requests(container, non_missing)
        if container.get("restartPolicy") == "Always":
            _add(reqs, need)
            _add(sidecars, need)
            need = dict(sidecars)
        else:
            _add(need, sidecars)
        _max(init_need, need)
    _max(reqs, init_need)
    overhead = spec.get("overhead") or {}
    _add(reqs, {name: quantity_value(name, value) for name, value in overhead.items()})
    return reqs


def to_resource(amounts: Mapping[str, int]) -> Resource:
    r = Resource()
    for name, amount in amounts.items():
        if name != PODS:
            r.set(name, amount)
    return r
