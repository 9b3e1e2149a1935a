"""Restart and pull back-off: how long the kubelet waits before it retries a crashed container or a failed pull.

Behaviour is upstream's (``flowcontrol.Backoff`` as the kubelet configures it, ``doBackOff`` in the runtime
manager, the image manager's pull back-off); the shape is ours.  Pure: every call takes ``now`` (seconds, any
epoch, the same clock as the times passed in), nothing sleeps, there is no jitter.

* :class:`Backoff` keeps one entry per key: a delay and the time it was last stepped.  :meth:`Backoff.next`
  starts a key at ``initial`` (10 s) or doubles it up to ``maximum`` (300 s).  An entry is *stale* once an
  event comes more than ``2 * maximum`` (10 min) after its last step, and a stale entry starts over: a
  container that ran for ten minutes before it crashed again is restarted after 10 s, not 5 min.
  :meth:`Backoff.gc` forgets entries idle for that long.
* :class:`CrashLoopBackOff` decides, for a container that exited and should be restarted, whether to restart it
  now or report ``CrashLoopBackOff`` with upstream's text
  (``back-off 20s restarting failed container=app pod=web_default(uid)``).  The back-off window is measured
  from the container's ``finishedAt``; allowing a restart steps the entry.
* :class:`ImagePullBackOff` decides whether a pull may be tried now; each failed pull steps the entry
  (``Back-off pulling image "nginx:1.27"`` while waiting), keyed by pod uid and image.

Durations in messages use Go's ``time.Duration`` form (``10s``, ``1m20s``, ``5m0s``), as upstream prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

INITIAL = 10.0
MAXIMUM = 300.0

CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
ERR_IMAGE_PULL = "ErrImagePull"
BACK_OFF_EVENT = "BackOff"


def format_pod(pod: Mapping[str, Any]) -> str:
    """``name_namespace(uid)``, how the kubelet names a pod in messages."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for a non-negative number of seconds: ``0s``, ``1.5s``, ``1m20s``, ``1h0m0s``."""
    if seconds < 0:
        return "-" + go_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        for unit, scale in (("ms", 1e3), ("µs", 1e6), ("ns", 1e9)):
            if seconds * scale >= 1 or unit == "ns":
                return _trim(Decimal(repr(seconds)) * Decimal(repr(scale))) + unit
    whole_minutes, secs = divmod(Decimal(repr(seconds)), 60)
    hours, minutes = divmod(int(whole_minutes), 60)
    text = _trim(secs) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return text


def _trim(d: Decimal) -> str:
    text = format(d.quantize(Decimal("1e-9")).normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    """Per-key exponential delays (``flowcontrol.Backoff`` without jitter)."""

    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM):
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def _stale(self, entry: _Entry, event_time: float) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def next(self, key: str, now: float, event_time: float | None = None) -> float:
        """Step ``key``: start at ``initial`` (or again when stale at ``event_time``), else double; the new delay."""
        entry = self._entries.get(key)
        if entry is None or self._stale(entry, now if event_time is None else event_time):
            entry = self._entries[key] = _Entry(self.initial, now)
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
            entry.last_update = now
        return entry.delay

    def get(self, key: str) -> float:
        """The current delay of ``key`` (0 when unknown)."""
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        """True while less than the delay has passed since ``event_time`` (and the entry is not stale)."""
        entry = self._entries.get(key)
        if entry is None or self._stale(entry, event_time):
            return False
        return now - event_time < entry.delay

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        """True while less than the delay has passed since the key was last stepped."""
        entry = self._entries.get(key)
        if entry is None or self._stale(entry, now):
            return False
        return now - entry.last_update < entry.delay

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self, now: float) -> None:
        """Forget entries not stepped for ``2 * maximum``."""
        for key in [k for k, e in self._entries.items() if self._stale(e, now)]:
            del self._entries[key]

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class Decision:
    """``allowed``: go ahead now.  Otherwise ``reason`` and ``message`` are the container's waiting state."""

    allowed: bool
    reason: str = ""
    message: str = ""


ALLOW = Decision(True)


def container_key(pod: Mapping[str, Any], container: str) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}_{meta.get('uid', '')}_{container}"


class CrashLoopBackOff:
    """Whether an exited container may be restarted now (``doBackOff``)."""

    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM):
        self.backoff = Backoff(initial, maximum)

    def check(self, pod: Mapping[str, Any], container: str, finished_at: float, now: float) -> Decision:
        """Called when ``container`` exited at ``finished_at`` and the restart policy wants it back."""
        key = container_key(pod, container)
        if self.backoff.in_backoff_since(key, finished_at, now):
            delay = go_duration(self.backoff.get(key))
            return Decision(False, CRASH_LOOP_BACK_OFF,
                            f"back-off {delay} restarting failed container={container} pod={format_pod(pod)}")
        self.backoff.next(key, now, finished_at)
        return ALLOW

    def event_message(self, pod: Mapping[str, Any], container: str) -> str:
        """The ``BackOff`` event recorded while a container waits."""
        return f"Back-off restarting failed container {container} in pod {format_pod(pod)}"

    def forget(self, pod: Mapping[str, Any], container: str) -> None:
        self.backoff.reset(container_key(pod, container))

    def gc(self, now: float) -> None:
        self.backoff.gc(now)


class ImagePullBackOff:
    """Whether an image may be pulled now, per pod and image."""

    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM):
        self.backoff = Backoff(initial, maximum)

    @staticmethod
    def key(pod_uid: str, image: str) -> str:
        return f"{pod_uid}_{image}"

    def check(self, pod_uid: str, image: str, now: float) -> Decision:
        if self.backoff.in_backoff_since_update(self.key(pod_uid, image), now):
            return Decision(False, IMAGE_PULL_BACK_OFF, f'Back-off pulling image "{image}"')
        return ALLOW

    def failed(self, pod_uid: str, image: str, now: float) -> float:
        """Record a failed pull; the delay before the next try."""
        return self.backoff.next(self.key(pod_uid, image), now)

    def succeeded(self, pod_uid: str, image: str, now: float) -> None:
        self.backoff.reset(self.key(pod_uid, image))
        self.backoff.gc(now)


def pull_failed_message(image: str, error: str) -> str:
    """The ``Failed`` event of a failed pull; the container waits with ``ErrImagePull`` and ``error``."""
    return f'Failed to pull image "{image}": {error}'
