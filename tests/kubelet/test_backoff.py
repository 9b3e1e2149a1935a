"""Restart and pull back-off: doubling from 10 s to 5 min, the ten-minute reset, upstream's message texts and
Go's duration format, all on an injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.kubelet.backoff import (
    CRASH_LOOP_BACK_OFF,
    IMAGE_PULL_BACK_OFF,
    Backoff,
    CrashLoopBackOff,
    Decision,
    ImagePullBackOff,
    format_pod,
    go_duration,
    pull_failed_message,
)

POD: dict[str, Any] = {"metadata": {"name": "web", "namespace": "default", "uid": "u1"}}
OTHER: dict[str, Any] = {"metadata": {"name": "web", "namespace": "default", "uid": "u2"}}


def loop_message(delay: str, container: str = "app") -> str:
    return f"back-off {delay} restarting failed container={container} pod=web_default(u1)"


@pytest.mark.parametrize("seconds,expected", [
    pytest.param(0, "0s", id="zero"),
    pytest.param(1, "1s", id="one-second"),
    pytest.param(10, "10s", id="ten-seconds"),
    pytest.param(40, "40s", id="forty-seconds"),
    pytest.param(60, "1m0s", id="one-minute"),
    pytest.param(80, "1m20s", id="eighty-seconds"),
    pytest.param(160, "2m40s", id="two-forty"),
    pytest.param(300, "5m0s", id="five-minutes"),
    pytest.param(3600, "1h0m0s", id="one-hour"),
    pytest.param(3661, "1h1m1s", id="hour-minute-second"),
    pytest.param(1.5, "1.5s", id="fractional-seconds"),
    pytest.param(90.25, "1m30.25s", id="fractional-with-minutes"),
    pytest.param(0.5, "500ms", id="milliseconds"),
    pytest.param(0.0015, "1.5ms", id="fractional-milliseconds"),
    pytest.param(0.000002, "2µs", id="microseconds"),
    pytest.param(-10, "-10s", id="negative"),
])
def test_go_duration(seconds: float, expected: str) -> None:
    assert go_duration(seconds) == expected


def test_delays_double_up_to_the_maximum() -> None:
    b = Backoff()
    assert [b.next("k", float(t)) for t in range(7)] == [10, 20, 40, 80, 160, 300, 300]
    assert b.get("k") == 300
    assert b.get("unknown") == 0


def test_custom_initial_and_maximum() -> None:
    b = Backoff(initial=1, maximum=5)
    assert [b.next("k", float(t)) for t in range(5)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize("event_time,now,expected", [
    pytest.param(100, 100, True, id="at-the-event"),
    pytest.param(100, 109.9, True, id="just-inside"),
    pytest.param(100, 110, False, id="delay-passed"),
    pytest.param(701, 702, False, id="event-long-after-last-step-is-stale"),
    pytest.param(700, 701, True, id="event-exactly-ten-minutes-after-is-not-stale"),
])
def test_in_backoff_since(event_time: float, now: float, expected: bool) -> None:
    b = Backoff()
    b.next("k", 100)  # delay 10 s, stepped at 100
    assert b.in_backoff_since("k", event_time, now) is expected


@pytest.mark.parametrize("now,expected", [
    pytest.param(100, True, id="right-after-the-step"),
    pytest.param(109.99, True, id="just-inside"),
    pytest.param(110, False, id="delay-passed"),
    pytest.param(701, False, id="stale"),
])
def test_in_backoff_since_update(now: float, expected: bool) -> None:
    b = Backoff()
    b.next("k", 100)
    assert b.in_backoff_since_update("k", now) is expected


def test_gc_forgets_entries_idle_for_twice_the_maximum() -> None:
    b = Backoff()
    b.next("old", 0)
    b.next("new", 500)
    b.gc(600)
    assert ("old" in b, "new" in b) == (True, True)
    b.gc(600.5)
    assert ("old" in b, "new" in b, len(b)) == (False, True, 1)


Step = tuple[float, float, str]  # (finished_at, now, "" = restart now / the CrashLoopBackOff message)


@pytest.mark.parametrize("steps", [
    pytest.param([(100, 100, "")], id="first-crash-restarts-at-once"),
    pytest.param([(100, 100, ""), (105, 106, loop_message("10s")), (105, 115, ""), (120, 121, loop_message("20s")),
                  (120, 139, loop_message("20s")), (120, 140, ""), (141, 142, loop_message("40s"))],
                 id="doubling"),
    pytest.param([(100, 100, ""), (105, 116, ""), (717, 718, ""), (720, 721, loop_message("10s"))],
                 id="ran-ten-minutes-resets"),
    pytest.param([(100, 100, ""), (700, 701, loop_message("10s")), (700, 710, ""), (715, 716, loop_message("20s"))],
                 id="just-under-ten-minutes-keeps-counting"),
    pytest.param([(0, 0, ""), (1, 11, ""), (12, 32, ""), (33, 73, ""), (74, 154, ""), (155, 315, ""),
                  (316, 317, loop_message("5m0s")), (316, 615, loop_message("5m0s")), (316, 616, ""),
                  (617, 618, loop_message("5m0s"))],
                 id="capped-at-five-minutes"),
    pytest.param([(100, 100, ""), (101, 102, loop_message("10s")), (101, 102, loop_message("10s"))],
                 id="waiting-does-not-step"),
])
def test_crash_loop_timeline(steps: list[Step]) -> None:
    loop = CrashLoopBackOff()
    for finished_at, now, message in steps:
        decision = loop.check(POD, "app", finished_at, now)
        expected = Decision(True) if not message else Decision(False, CRASH_LOOP_BACK_OFF, message)
        assert decision == expected, (finished_at, now)


def test_crash_loop_keys_are_per_container_and_pod() -> None:
    loop = CrashLoopBackOff()
    assert loop.check(POD, "app", 0, 0).allowed
    assert not loop.check(POD, "app", 1, 2).allowed
    assert loop.check(POD, "sidecar", 1, 2).allowed
    assert loop.check(OTHER, "app", 1, 2).allowed
    loop.forget(POD, "app")
    assert loop.check(POD, "app", 3, 3).allowed
    loop.gc(10_000)
    assert len(loop.backoff) == 0


def test_crash_loop_event_and_pod_format() -> None:
    assert format_pod(POD) == "web_default(u1)"
    assert CrashLoopBackOff().event_message(POD, "app") == "Back-off restarting failed container app in pod web_default(u1)"


PULL = 'Back-off pulling image "nginx:1.27"'


@pytest.mark.parametrize("failures,now,expected", [
    pytest.param([], 0, "", id="never-failed"),
    pytest.param([0], 5, PULL, id="inside-first-delay"),
    pytest.param([0], 10, "", id="first-delay-over"),
    pytest.param([0, 10], 29, PULL, id="inside-second-delay"),
    pytest.param([0, 10], 30, "", id="second-delay-over"),
    pytest.param([0, 10, 30, 70, 150, 310, 610], 909, PULL, id="capped-delay"),
    pytest.param([0, 10, 30, 70, 150, 310, 610], 910, "", id="capped-delay-over"),
])
def test_image_pull_backoff(failures: list[float], now: float, expected: str) -> None:
    pulls = ImagePullBackOff()
    for t in failures:
        pulls.failed("u1", "nginx:1.27", t)
    decision = pulls.check("u1", "nginx:1.27", now)
    assert decision == (Decision(True) if not expected else Decision(False, IMAGE_PULL_BACK_OFF, expected))


def test_image_pull_backoff_is_per_pod_and_image_and_resets() -> None:
    pulls = ImagePullBackOff()
    assert pulls.failed("u1", "nginx:1.27", 0) == 10
    assert pulls.failed("u1", "nginx:1.27", 10) == 20
    assert pulls.check("u2", "nginx:1.27", 11).allowed
    assert pulls.check("u1", "nginx:1.28", 11).allowed
    assert not pulls.check("u1", "nginx:1.27", 11).allowed
    assert pulls.failed("u1", "nginx:1.27", 700) == 10  # idle for more than ten minutes: starts over
    pulls.succeeded("u1", "nginx:1.27", 701)
    assert pulls.check("u1", "nginx:1.27", 701).allowed
    assert pull_failed_message("nginx:1.27", "not found") == 'Failed to pull image "nginx:1.27": not found'
