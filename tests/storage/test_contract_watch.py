"""Contract suite, part 2: watch.

A watch yields every change under its prefix after its start revision, in
revision order, exactly once: first the history (replayed from the store), then
live changes with no gap or duplicate at the seam.  The drivers' rings are
small in ``conftest`` so replays cross from the log into the live feed.
"""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.storage import DELETE, PUT, Backend, CompactedError, Event, KeyValue

from .conftest import Opener, expect_silence, take


def summary(events: list[Event]) -> list[tuple[str, str, int]]:
    return [(event.type, event.kv.key, event.kv.mod_revision) for event in events]


async def test_put_and_delete_events_carry_previous_values(backend: Backend) -> None:
    start = await backend.current_revision()
    stream = backend.watch("/w/", start)
    created = await backend.create("/w/a", b"v1")
    updated = await backend.update("/w/a", b"v2", created)
    deleted = await backend.delete("/w/a")
    events = await take(stream, 3)
    assert events == [
        Event(PUT, KeyValue("/w/a", b"v1", created, created), None),
        Event(PUT, KeyValue("/w/a", b"v2", created, updated), KeyValue("/w/a", b"v1", created, created)),
        Event(
            DELETE,
            KeyValue("/w/a", b"v2", created, deleted.mod_revision),
            KeyValue("/w/a", b"v2", created, updated),
        ),
    ]


async def test_watch_filters_by_prefix(backend: Backend) -> None:
    stream = backend.watch("/w/b/", await backend.current_revision())
    for key in ("/w/b", "/w/bc/1", "/w/b/1", "/x/b/1", "/w/b/2"):
        await backend.create(key, b"v")
    assert [event.kv.key for event in await take(stream, 2)] == ["/w/b/1", "/w/b/2"]
    await expect_silence(stream)


async def test_watch_from_now_gets_only_new_events(backend: Backend) -> None:
    await backend.create("/w/old", b"v")
    stream = backend.watch("/w/", await backend.current_revision())
    revision = await backend.create("/w/new", b"v")
    assert summary(await take(stream, 1)) == [(PUT, "/w/new", revision)]


@pytest.mark.parametrize("history", [3, 200], ids=["short-history", "longer-than-ring"])
async def test_watch_replays_history_then_follows_live(backend: Backend, history: int) -> None:
    expected: list[tuple[str, str, int]] = []
    for i in range(history):
        key = f"/w/k{i % 7}"
        current = await backend.get(key)
        if current is None:
            expected.append((PUT, key, await backend.create(key, b"%d" % i)))
        elif i % 5 == 0:
            expected.append((DELETE, key, (await backend.delete(key)).mod_revision))
        else:
            expected.append((PUT, key, await backend.update(key, b"%d" % i, current.mod_revision)))
        await backend.create(f"/elsewhere/{i}", b"noise")
    start = expected[0][2] - 1
    stream = backend.watch("/w/", start)
    # Live writes race with the replay: they must follow it seamlessly.
    for i in range(5):
        expected.append((PUT, f"/w/live{i}", await backend.create(f"/w/live{i}", b"v")))
    assert summary(await take(stream, len(expected))) == expected
    late = await backend.create("/w/late", b"v")
    assert summary(await take(stream, 1)) == [(PUT, "/w/late", late)]
    await expect_silence(stream)


async def test_watch_resumes_from_any_revision_exactly_once(backend: Backend) -> None:
    revisions = [await backend.create(f"/w/{i:02d}", b"v") for i in range(30)]
    for cut in (0, 5, 17, 29):
        start = revisions[cut] - 1
        stream = backend.watch("/w/", start)
        events = await take(stream, len(revisions) - cut)
        assert [event.kv.mod_revision for event in events] == revisions[cut:]
        await expect_silence(stream, 0.02)


async def test_watch_from_compacted_revision_fails(backend: Backend) -> None:
    first = await backend.create("/w/a", b"v")
    second = await backend.update("/w/a", b"v2", first)
    await backend.create("/w/b", b"v")
    await backend.compact(second)
    with pytest.raises(CompactedError) as caught:
        stream = backend.watch("/w/", first - 1)
        await take(stream, 1)
    assert caught.value.compacted == second
    # From the compacted revision on, history is complete.
    stream = backend.watch("/w/", second)
    assert summary(await take(stream, 1)) == [(PUT, "/w/b", second + 1)]


async def test_many_concurrent_watchers_each_see_everything(backend: Backend) -> None:
    start = await backend.current_revision()
    streams = [backend.watch("/w/" if i % 2 else "/w/x/", start) for i in range(200)]
    results = [asyncio.ensure_future(take(stream, 20 if i % 2 else 10)) for i, stream in enumerate(streams)]
    expected_all = []
    for i in range(10):
        expected_all.append(await backend.create(f"/w/x/{i}", b"v"))
        expected_all.append(await backend.create(f"/w/y/{i}", b"v"))
    expected_x = expected_all[0::2]
    for i, result in enumerate(results):
        revisions = [event.kv.mod_revision for event in await result]
        assert revisions == (expected_all if i % 2 else expected_x)


async def test_watch_survives_reopen_from_last_seen_revision(store: Opener, backend: Backend) -> None:
    before = [await backend.create(f"/w/{i}", b"v") for i in range(5)]
    await backend.close()
    reopened = store()
    await reopened.start()
    try:
        stream = reopened.watch("/w/", before[1])
        after = await reopened.create("/w/new", b"v")
        events = await take(stream, 4)
        assert [event.kv.mod_revision for event in events] == [*before[2:], after]
    finally:
        await reopened.close()
