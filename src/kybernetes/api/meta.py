"""Small helpers for object metadata: timestamps, uids, generated names.

Pure apart from reading the clock and the random source, both injectable.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# Upstream's alphabet for random suffixes: no vowels (no words), no look-alikes.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
MAX_NAME_LENGTH = 63
RANDOM_LENGTH = 5
MAX_GENERATED_NAME_LENGTH = MAX_NAME_LENGTH - RANDOM_LENGTH

_rng = random.SystemRandom()


def random_suffix(n: int = RANDOM_LENGTH) -> str:
    return "".join(_rng.choice(_ALPHANUMS) for _ in range(n))


def generate_name(base: str, suffix: Callable[[], str] = random_suffix) -> str:
    """``generateName`` + 5 random characters, the prefix cut to fit 63."""
    if len(base) > MAX_GENERATED_NAME_LENGTH:
        base = base[:MAX_GENERATED_NAME_LENGTH]
    return base + suffix()


def new_uid() -> str:
    return str(uuid.uuid4())


def format_time(t: datetime) -> str:
    """RFC 3339 with second precision in UTC, as metav1.Time marshals."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(t: datetime) -> str:
    """metav1.MicroTime: microsecond precision."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> datetime:
    return datetime.now(UTC)


def parse_time(s: str) -> datetime | None:
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """The object's metadata dict, created if missing."""
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def name_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def namespace_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")
