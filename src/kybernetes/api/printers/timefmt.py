"""Time for printers: fast RFC 3339 parsing and upstream's ``HumanDuration``.

Every AGE, LAST SEEN and "(5m ago)" cell is ``now - timestamp`` rendered with
the rules of ``k8s.io/apimachinery/pkg/util/duration.HumanDuration``: about two
significant figures, seconds up to two minutes, then ``2m30s``, ``10m``,
``3h``, ``5h12m``, ``2d4h``, ``100d``, ``3y12d``.  A timestamp up to one
second in the future still prints ``0s`` (clock skew between machines); more
than that prints ``<invalid>``; a missing one prints ``<unknown>``.

Timestamps are wire strings (``2024-01-01T00:00:00Z``, or with microseconds
for ``MicroTime``).  They are parsed once each into epoch seconds through a
bounded cache, because a table of ten thousand pods repeats the same handful
of seconds many times and parsing dominates the cost of an AGE cell.

Pure module: no I/O.  The caller supplies ``now`` as epoch seconds, so tests
pin the clock simply by passing a number.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

# Go's zero time.Time (0001-01-01T00:00:00Z) is "unset" for metav1.Time.IsZero().
_GO_ZERO = datetime(1, 1, 1, tzinfo=UTC).timestamp()


@functools.lru_cache(maxsize=16384)
def _parse(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # the wire always says Z; a bare local form is read as UTC, never as host time
        parsed = parsed.replace(tzinfo=UTC)
    seconds = parsed.timestamp()
    return None if seconds == _GO_ZERO else seconds


def epoch(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 wire timestamp; None when unset or unreadable."""
    if not value or not isinstance(value, str):
        return None
    return _parse(value)


def epoch_of(now: datetime) -> float:
    """``now`` as epoch seconds; a naive datetime is taken as UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.timestamp()


def human_duration(seconds: float) -> str:
    """Upstream ``duration.HumanDuration`` for a duration given in seconds.

    Go truncates toward zero when it converts a Duration to whole seconds,
    minutes or hours; ``int()`` and floor division agree with it here because
    every branch past the first handles non-negative values only.
    """
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 60 * 2:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: float) -> str:
    """``translateTimestampSince``: the age of a wire timestamp, ``<unknown>`` when unset."""
    stamp = epoch(value)
    if stamp is None:
        return "<unknown>"
    return human_duration(now - stamp)


def rfc3339_utc(value: Any) -> str:
    """A wire timestamp re-rendered as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (Go's ``time.RFC3339``).

    Used by the default table's "Created At" cell; an unset timestamp renders as
    Go's zero time, as upstream does.
    """
    if isinstance(value, str) and len(value) == 20 and value.endswith("Z"):
        return value  # already canonical: the common case costs nothing
    stamp = epoch(value)
    if stamp is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(int(stamp // 1), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
