"""The outcome of every extension point: a :class:`Status` value, never an exception.

Upstream's ``framework.Status`` in Python.  A plugin says *why* a node does not
fit by returning ``Status(Code.UNSCHEDULABLE, "Insufficient cpu")``; the
framework collects those per node and the scheduler turns them into the
``FitError`` message users read.  Codes keep upstream's meaning:

* ``SUCCESS`` - the node passes / the step succeeded (:data:`SUCCESS` is the
  shared instance; plugins return it on the hot path so no object is made);
* ``UNSCHEDULABLE`` - rejected, but preempting pods might help;
* ``UNSCHEDULABLE_AND_UNRESOLVABLE`` - rejected, and preemption cannot help;
* ``ERROR`` - something went wrong (a bug, a bad object): retried with backoff;
* ``SKIP`` - from PreFilter / PreScore: the plugin has nothing to do for this
  pod, so its Filter / Score is not called at all in this cycle.

Statuses are immutable once made (many nodes share one instance); the plugin
that produced a rejection is recorded by the framework beside it, not in it.

When no node fits, the cycle's :class:`Diagnosis` (each rejected node's
status, the rejecting plugins) becomes a :class:`FitError` whose message has
upstream's exact form (``FitError.Error()``, 1.33)::

    0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}. preemption: ...

* ``0/<all nodes> nodes are available:``;
* then either the PreFilter rejection message (when a PreFilter plugin rejected
  the pod, every node shares that status, so no histogram is printed), or the
  histogram of filter reasons: ``"<count> <reason>"`` strings sorted as plain
  strings (so ``"10 ..."`` sorts before ``"2 ..."``, as Go's ``sort.Strings``
  does), joined by ``", "``, closed by ``"."``; nodes absent from the per-node
  map (PreFilter narrowed the candidates) count with the absent-node status;
* then, when PostFilter said something, ``" " + message`` (DefaultPreemption's
  message already ends with a period; since 1.29 no second one is added).

Pure functions and plain data; no side effects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5
    PENDING = 6


class Status:
    """An extension point's result: a code, the reasons (messages) and an optional error."""

    __slots__ = ("code", "error", "reasons")

    def __init__(self, code: Code = Code.SUCCESS, *reasons: str, error: BaseException | None = None):
        self.code = code
        self.reasons: tuple[str, ...] = reasons if reasons or error is None else (str(error),)
        self.error = error

    def is_success(self) -> bool:
        return self.code is Code.SUCCESS

    def is_skip(self) -> bool:
        return self.code is Code.SKIP

    def is_rejected(self) -> bool:
        """Unschedulable, unresolvable or pending: the pod waits for a cluster change."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Status) and other.code == self.code and other.reasons == self.reasons

    def __hash__(self) -> int:
        return hash((self.code, self.reasons))

    def __repr__(self) -> str:
        return f"Status({self.code.name}{''.join(', ' + repr(r) for r in self.reasons)})"


SUCCESS = Status(Code.SUCCESS)
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, *reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)


def as_status(error: BaseException | str) -> Status:
    """An ``ERROR`` status carrying ``error`` (upstream's ``AsStatus``)."""
    if isinstance(error, str):
        error = RuntimeError(error)
    return Status(Code.ERROR, error=error)


NO_NODES_AVAILABLE = "no nodes available to schedule pods"
# Nodes never given a status explicitly: unresolvable, with no reason to print (NewDefaultNodeToStatus).
DEFAULT_ABSENT = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


@dataclass
class Diagnosis:
    """What a scheduling cycle learned: each rejected node's status and which plugins rejected."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    absent_status: Status = DEFAULT_ABSENT
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def status_of(self, node_name: str) -> Status:
        return self.node_to_status.get(node_name, self.absent_status)


def reasons_histogram(num_all_nodes: int, diagnosis: Diagnosis) -> list[str]:
    """``"<count> <reason>"`` for every reason, sorted as strings (upstream's sortReasonsHistogram)."""
    counts: dict[str, int] = {}
    for status in diagnosis.node_to_status.values():
        for reason in status.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    absent = num_all_nodes - len(diagnosis.node_to_status)
    if absent > 0:
        for reason in diagnosis.absent_status.reasons:
            counts[reason] = counts.get(reason, 0) + absent
    return sorted(f"{n} {reason}" for reason, n in counts.items())


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    msg = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        histogram = reasons_histogram(num_all_nodes, diagnosis)
        if histogram:
            msg += " " + ", ".join(histogram) + "."
    if diagnosis.post_filter_msg:
        msg += " " + diagnosis.post_filter_msg
    return msg


class FitError(Exception):
    """The pod fits no node; ``str()`` is the user-facing message."""

    def __init__(self, pod_key: str, num_all_nodes: int, diagnosis: Diagnosis):
        self.pod_key = pod_key
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis
        super().__init__()

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


def truncate_message(message: str, limit: int = 1024) -> str:
    """Event notes are capped at 1024 bytes, as upstream's truncateMessage does."""
    if len(message) <= limit:
        return message
    suffix = " ..."
    return message[: limit - len(suffix)] + suffix
