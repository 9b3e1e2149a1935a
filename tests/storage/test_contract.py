"""Contract suite, part 1: keys, revisions, compare-and-swap, ranges, compaction.

Runs against every driver in ``conftest.STORES``; it uses only the Backend
interface.  Watch semantics are in ``test_contract_watch``.
"""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.storage import (
    Backend,
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
)

from .conftest import Opener


async def test_create_then_get(backend: Backend) -> None:
    revision = await backend.create("/k", b"v1")
    assert revision > 0
    assert await backend.get("/k") == KeyValue("/k", b"v1", revision, revision)
    assert await backend.current_revision() == revision
    assert await backend.get("/missing") is None


async def test_create_existing_key_fails(backend: Backend) -> None:
    await backend.create("/k", b"v1")
    with pytest.raises(KeyExistsError) as caught:
        await backend.create("/k", b"v2")
    assert caught.value.key == "/k"
    assert (await backend.get("/k")).value == b"v1"  # type: ignore[union-attr]


async def test_values_are_opaque_bytes(backend: Backend) -> None:
    for key, value in [("/empty", b""), ("/binary", bytes(range(256))), ("/json", b'{"a": "\xc3\xa9"}')]:
        revision = await backend.create(key, value)
        assert await backend.get(key) == KeyValue(key, value, revision, revision)


async def test_concurrent_creates_of_one_key_have_one_winner(backend: Backend) -> None:
    outcomes = await asyncio.gather(
        *(backend.create("/k", b"%d" % i) for i in range(10)), return_exceptions=True
    )
    winners = [outcome for outcome in outcomes if isinstance(outcome, int)]
    assert len(winners) == 1
    assert all(isinstance(outcome, KeyExistsError) for outcome in outcomes if outcome not in winners)
    current = await backend.get("/k")
    assert current is not None and current.mod_revision == winners[0]


async def test_update_compare_and_swap(backend: Backend) -> None:
    created = await backend.create("/k", b"v1")
    updated = await backend.update("/k", b"v2", created)
    assert updated > created
    assert await backend.get("/k") == KeyValue("/k", b"v2", created, updated)

    with pytest.raises(RevisionMismatchError) as caught:
        await backend.update("/k", b"stale", created)
    assert caught.value.key == "/k"
    assert caught.value.current == KeyValue("/k", b"v2", created, updated)
    assert await backend.current_revision() == updated  # a failed write takes no revision


async def test_update_missing_key_reports_no_current(backend: Backend) -> None:
    with pytest.raises(RevisionMismatchError) as caught:
        await backend.update("/nothing", b"v", 1)
    assert caught.value.current is None


async def test_delete_returns_tombstone(backend: Backend) -> None:
    created = await backend.create("/k", b"v1")
    tombstone = await backend.delete("/k")
    assert tombstone.key == "/k"
    assert tombstone.value == b"v1"
    assert tombstone.create_revision == created
    assert tombstone.mod_revision > created
    assert await backend.current_revision() == tombstone.mod_revision
    assert await backend.get("/k") is None


async def test_delete_compare_and_swap(backend: Backend) -> None:
    created = await backend.create("/k", b"v1")
    updated = await backend.update("/k", b"v2", created)
    with pytest.raises(RevisionMismatchError) as caught:
        await backend.delete("/k", created)
    assert caught.value.current == KeyValue("/k", b"v2", created, updated)
    assert (await backend.delete("/k", updated)).mod_revision > updated


async def test_delete_missing_key(backend: Backend) -> None:
    with pytest.raises(KeyNotFoundError) as caught:
        await backend.delete("/nothing")
    assert caught.value.key == "/nothing"
    await backend.create("/k", b"v")
    await backend.delete("/k")
    with pytest.raises(KeyNotFoundError):
        await backend.delete("/k")


async def test_revisions_strictly_increase_across_keys(backend: Backend) -> None:
    seen = [await backend.create("/a", b"1"), await backend.create("/b", b"1")]
    seen.append(await backend.update("/a", b"2", seen[0]))
    seen.append((await backend.delete("/b")).mod_revision)
    seen.append(await backend.create("/c", b"1"))
    assert seen == sorted(set(seen))
    assert await backend.current_revision() == seen[-1]


async def test_create_after_delete_starts_a_new_incarnation(backend: Backend) -> None:
    first = await backend.create("/k", b"old")
    await backend.delete("/k")
    second = await backend.create("/k", b"new")
    assert second > first
    assert await backend.get("/k") == KeyValue("/k", b"new", second, second)


KEYS = ["/r/a", "/r/b/1", "/r/b/2", "/r/bc/1", "/r/B", "/r/z", "/r/\u00e9", "/r/\u4e2d", "/r/~"]


async def fill(backend: Backend, keys: list[str]) -> None:
    for key in keys:
        await backend.create(key, key.encode())


async def test_range_sorts_keys_bytewise(backend: Backend) -> None:
    await fill(backend, KEYS)
    await backend.create("/other", b"x")
    result = await backend.range("/r/")
    assert [kv.key for kv in result.kvs] == sorted(KEYS, key=lambda key: key.encode())
    assert not result.more
    assert result.revision == await backend.current_revision()
    assert [kv.key for kv in (await backend.range("")).kvs] == sorted([*KEYS, "/other"], key=str.encode)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("/r/b/", ["/r/b/1", "/r/b/2"]),
        ("/r/bc/", ["/r/bc/1"]),
        ("/r/b", ["/r/b/1", "/r/b/2", "/r/bc/1"]),
        ("/r/b/1", ["/r/b/1"]),
        ("/r/x/", []),
    ],
    ids=["slash-isolates-b", "slash-isolates-bc", "bare-prefix", "exact-key", "empty"],
)
async def test_range_prefix_isolation(backend: Backend, prefix: str, expected: list[str]) -> None:
    await fill(backend, KEYS)
    assert [kv.key for kv in (await backend.range(prefix)).kvs] == expected


@pytest.mark.parametrize("limit", [1, 2, 4, 100])
async def test_range_pages_with_limit_and_start_after(backend: Backend, limit: int) -> None:
    await fill(backend, KEYS)
    await backend.delete("/r/b/2")  # a tombstone inside the range is skipped, not counted
    expected = sorted((key for key in KEYS if key != "/r/b/2"), key=str.encode)
    collected: list[str] = []
    start_after = None
    while True:
        page = await backend.range("/r/", limit=limit, start_after=start_after, count=True)
        assert len(page.kvs) <= limit
        # count covers the requested range, so count - len(kvs) keys remain.
        assert page.count == len(expected) - len(collected)
        collected += [kv.key for kv in page.kvs]
        if not page.more:
            break
        assert len(page.kvs) == limit
        start_after = page.kvs[-1].key
    assert collected == expected


async def test_range_count(backend: Backend) -> None:
    await fill(backend, KEYS)
    everything = await backend.range("/r/", count=True)
    assert everything.count == len(KEYS)
    limited = await backend.range("/r/", limit=2, count=True)
    assert (len(limited.kvs), limited.count, limited.more) == (2, len(KEYS), True)
    assert (await backend.range("/r/b/", count=True)).count == 2
    assert (await backend.range("/nothing/", count=True)).count == 0


async def test_reads_at_a_past_revision(backend: Backend) -> None:
    a1 = await backend.create("/p/a", b"a1")
    b1 = await backend.create("/p/b", b"b1")
    a2 = await backend.update("/p/a", b"a2", a1)
    await backend.delete("/p/b")
    await backend.create("/p/c", b"c1")

    assert await backend.get("/p/a", revision=a1) == KeyValue("/p/a", b"a1", a1, a1)
    assert await backend.get("/p/a", revision=b1) == KeyValue("/p/a", b"a1", a1, a1)
    assert await backend.get("/p/b", revision=a2) == KeyValue("/p/b", b"b1", b1, b1)
    assert await backend.get("/p/b") is None
    at_a2 = await backend.range("/p/", revision=a2, count=True)
    assert [(kv.key, kv.value) for kv in at_a2.kvs] == [("/p/a", b"a2"), ("/p/b", b"b1")]
    assert (at_a2.revision, at_a2.count) == (a2, 2)
    assert [kv.key for kv in (await backend.range("/p/", revision=a1)).kvs] == ["/p/a"]


async def test_future_revision_is_an_error(backend: Backend) -> None:
    await backend.create("/k", b"v")
    future = await backend.current_revision() + 1
    with pytest.raises(FutureRevisionError):
        await backend.get("/k", revision=future)
    with pytest.raises(FutureRevisionError):
        await backend.range("/", revision=future)


async def test_compaction(backend: Backend) -> None:
    a1 = await backend.create("/c/a", b"a1")
    b1 = await backend.create("/c/b", b"b1")
    a2 = await backend.update("/c/a", b"a2", a1)
    gone = await backend.delete("/c/b")
    d1 = await backend.create("/c/d", b"d1")
    await backend.compact(gone.mod_revision)
    assert await backend.compacted_revision() == gone.mod_revision

    for old in (a1, b1, a2):
        with pytest.raises(CompactedError) as caught:
            await backend.get("/c/a", revision=old)
        assert caught.value.compacted == gone.mod_revision
        with pytest.raises(CompactedError):
            await backend.range("/c/", revision=old)
    # The compacted revision itself and everything later still read correctly.
    at_compaction = await backend.range("/c/", revision=gone.mod_revision)
    assert [(kv.key, kv.value) for kv in at_compaction.kvs] == [("/c/a", b"a2")]
    latest = await backend.range("/c/")
    assert [(kv.key, kv.mod_revision) for kv in latest.kvs] == [("/c/a", a2), ("/c/d", d1)]
    assert await backend.get("/c/b") is None
    # Compacting again, or less, is a no-op; compacting the future is an error.
    await backend.compact(a1)
    assert await backend.compacted_revision() == gone.mod_revision
    with pytest.raises(FutureRevisionError):
        await backend.compact(await backend.current_revision() + 1)
    # Writes go on normally, CAS included.
    assert await backend.update("/c/a", b"a3", a2) > d1
    assert await backend.create("/c/b", b"again") > d1


async def test_compacting_to_the_head_keeps_revisions_unique(store: Opener, backend: Backend) -> None:
    await backend.create("/k", b"v")
    tombstone = await backend.delete("/k")
    await backend.compact(tombstone.mod_revision)  # may remove the newest row of the log
    await backend.close()
    reopened = store()
    await reopened.start()
    try:
        assert await reopened.current_revision() == tombstone.mod_revision
        assert await reopened.create("/k", b"v") == tombstone.mod_revision + 1
    finally:
        await reopened.close()


async def test_concurrent_cas_has_exactly_one_winner_per_revision(backend: Backend) -> None:
    revision = await backend.create("/counter", b"0")
    tasks, increments = 20, 10
    winning_revisions: list[int] = []
    conflicts = 0

    async def increment() -> None:
        nonlocal conflicts
        done = 0
        while done < increments:
            current = await backend.get("/counter")
            assert current is not None
            try:
                new = await backend.update("/counter", b"%d" % (int(current.value) + 1), current.mod_revision)
            except RevisionMismatchError as exc:
                assert exc.current is not None and exc.current.mod_revision != current.mod_revision
                conflicts += 1
                continue
            winning_revisions.append(new)
            done += 1

    await asyncio.gather(*(increment() for _ in range(tasks)))
    final = await backend.get("/counter")
    assert final is not None and int(final.value) == tasks * increments
    assert len(set(winning_revisions)) == tasks * increments
    assert min(winning_revisions) > revision and max(winning_revisions) == final.mod_revision


async def test_state_survives_close_and_reopen(store: Opener, backend: Backend) -> None:
    a = await backend.create("/s/a", b"a")
    b = await backend.create("/s/b", b"b")
    await backend.update("/s/a", b"a2", a)
    await backend.delete("/s/b", b)
    await backend.compact(b)
    last = await backend.current_revision()
    before = await backend.range("/s/")
    await backend.close()

    reopened = store()
    await reopened.start()
    try:
        assert await reopened.current_revision() == last
        assert await reopened.compacted_revision() == b
        assert (await reopened.range("/s/")).kvs == before.kvs
        with pytest.raises(CompactedError):
            await reopened.get("/s/a", revision=a)
        assert await reopened.create("/s/c", b"c") == last + 1
    finally:
        await reopened.close()
