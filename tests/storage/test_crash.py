"""Durability under ``kill -9``: nothing acknowledged is lost, watches resume exactly once.

``crash_writer.py`` writes as fast as it can and prints every acknowledged write
and every event its watcher saw.  We kill it mid-stream (SIGKILL: no cleanup,
no final checkpoint), reopen the store and check:

* every acknowledged write is in the log at the revision it was acknowledged with;
* the log is gapless (revisions 1..current, each exactly once);
* the watcher saw a contiguous run of revisions, and a watch resuming from the
  last revision it saw delivers everything after it exactly once, in order;
* a second writer process, started on the crashed store with its watcher
  resuming from that revision, continues the same history (then is killed too).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from kybernetes.storage import Event, SQLiteBackend

from .conftest import expect_silence, take

HELPER = Path(__file__).with_name("crash_writer.py")

Line = tuple[int, str, str]  # revision, event type, key


async def run_until_killed(
    path: str, watch_from: int, acks_wanted: int
) -> tuple[int, list[Line], list[Line]]:
    """Run the writer until it acknowledged ``acks_wanted`` writes, SIGKILL it; parse its output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(HELPER), path, str(watch_from), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    acks: list[Line] = []
    seen: list[Line] = []
    start = -1
    try:
        async with asyncio.timeout(30):
            while len(acks) < acks_wanted:
                raw = await process.stdout.readline()
                assert raw, "writer exited early"
                tag, *fields = raw.decode().split()
                if tag == "START":
                    start = int(fields[0])
                else:
                    (acks if tag == "ACK" else seen).append((int(fields[0]), fields[1], fields[2]))
    finally:
        os.kill(process.pid, signal.SIGKILL)  # mid-stream: writes are in flight
        rest = await process.stdout.read()
        await process.wait()
    # Lines flushed before the kill are real; a torn last line is not.
    for raw_line in rest.decode().splitlines(keepends=True):
        if raw_line.endswith("\n") and not raw_line.startswith("START"):
            tag, revision, kind, key = raw_line.split()
            (acks if tag == "ACK" else seen).append((int(revision), kind, key))
    assert process.returncode == -signal.SIGKILL
    return start, acks, seen


def line(event: Event) -> Line:
    return (event.kv.mod_revision, event.type, event.kv.key)


async def check_store(path: str, acks: list[Line], seen: list[Line], watch_from: int) -> int:
    """Verify the reopened store against what the killed process printed; return its watcher's last revision."""
    backend = SQLiteBackend(path)
    await backend.start()
    try:
        current = await backend.current_revision()
        log = [line(event) for event in await take(backend.watch("/crash/", 0), current, timeout=20)]
        assert [revision for revision, _, _ in log] == list(range(1, current + 1)), "log has gaps"
        by_revision = {entry[0]: entry for entry in log}
        missing = [ack for ack in acks if by_revision.get(ack[0]) != ack]
        assert not missing, f"acknowledged writes lost or renumbered: {missing[:5]}"

        seen_revisions = [revision for revision, _, _ in seen]
        last_seen = seen_revisions[-1] if seen else watch_from
        assert seen_revisions == list(range(watch_from + 1, last_seen + 1)), "watcher skipped or repeated"
        assert all(by_revision[entry[0]] == entry for entry in seen)

        resumed = backend.watch("/crash/", last_seen)
        assert [line(event) for event in await take(resumed, current - last_seen)] == log[last_seen:]
        await expect_silence(resumed, 0.05)
        live = await backend.create("/crash/after", b"v")
        assert [line(event) for event in await take(resumed, 1)] == [(live, "PUT", "/crash/after")]
        await backend.delete("/crash/after")
        return last_seen
    finally:
        await backend.close()


@pytest.mark.timeout(90)
async def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    start, acks, seen = await run_until_killed(path, 0, acks_wanted=1500)
    assert start == 0 and len(acks) >= 1500
    last_seen = await check_store(path, acks, seen, watch_from=0)

    # Round two: a new process on the crashed store; its watcher resumes where
    # the first one stopped, across the crash and our own two writes.
    start, acks, seen = await run_until_killed(path, last_seen, acks_wanted=1500)
    assert start >= last_seen + 2  # it reopened everything, including check_store's two writes
    await check_store(path, acks, seen, watch_from=last_seen)
