"""SQLite driver specifics: URLs, the file lock, the log table, the watch ring, compaction."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.storage import (
    DRIVERS,
    CompactedError,
    KeyExistsError,
    SQLiteBackend,
    StorageError,
    open_backend,
    register_driver,
)
from kybernetes.storage.sqlite_schema import prefix_end

from .conftest import take


@pytest.fixture
async def sqlite_backend(tmp_path: Path) -> AsyncIterator[SQLiteBackend]:
    backend = SQLiteBackend(str(tmp_path / "state.db"), watch_window=8)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        ("", None),
        ("/a/", "/a0"),
        ("/a/b", "/a/c"),
        ("\U0010ffff", None),
        ("a\U0010ffff", "b"),
        ("a\ud7ff", "a\ue000"),  # the next code point would be a surrogate
        ("\u00e9", "\u00ea"),
    ],
)
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/var/lib/kyb/state.db", "/var/lib/kyb/state.db"),
        ("state.db", "state.db"),
        ("sqlite:///var/lib/kyb/state.db", "/var/lib/kyb/state.db"),
        ("sqlite://data/state.db", "data/state.db"),
        ("SQLITE:///x.db", "/x.db"),
    ],
)
def test_open_backend_picks_sqlite(url: str, path: str) -> None:
    backend = open_backend(url, compact_window=50)
    assert isinstance(backend, SQLiteBackend)
    assert (backend.path, backend.compact_window) == (path, 50)


@pytest.mark.parametrize("url", ["etcd://127.0.0.1:2379", "postgres://db/kyb"])
def test_open_backend_rejects_unknown_schemes(url: str) -> None:
    with pytest.raises(ValueError, match="no driver for scheme"):
        open_backend(url)


def test_register_driver_plugs_in_a_scheme(tmp_path: Path) -> None:
    made: list[str] = []

    def factory(location: str, options: dict[str, object]) -> SQLiteBackend:
        made.append(location)
        return SQLiteBackend(str(tmp_path / "x.db"))

    register_driver("fake", factory)
    try:
        assert isinstance(open_backend("fake://host:1/prefix"), SQLiteBackend)
        assert made == ["host:1/prefix"]
    finally:
        del DRIVERS["fake"]


async def test_one_process_owns_a_store(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    first = SQLiteBackend(path)
    await first.start()
    second = SQLiteBackend(path)
    with pytest.raises(StorageError, match="already open"):
        await second.start()
    await first.close()
    await second.start()
    await second.close()


async def test_writes_after_close_fail(sqlite_backend: SQLiteBackend) -> None:
    await sqlite_backend.close()
    with pytest.raises(StorageError):
        await sqlite_backend.create("/k", b"v")
    with pytest.raises(StorageError):
        await sqlite_backend.get("/k")


async def test_cas_is_a_database_constraint(sqlite_backend: SQLiteBackend) -> None:
    revision = await sqlite_backend.create("/k", b"v")
    await sqlite_backend.update("/k", b"v2", revision)
    conn = sqlite3.connect(sqlite_backend.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute(
                "INSERT INTO log (name, created, deleted, create_revision, prev_revision, value)"
                " VALUES ('/k', 0, 0, ?, ?, x'00')",
                (revision, revision),
            )
    finally:
        conn.close()


async def test_a_batch_applies_in_order_and_a_failed_cas_fails_alone(sqlite_backend: SQLiteBackend) -> None:
    # Queued together, these land in one group commit.
    outcomes = await asyncio.gather(
        *(sqlite_backend.create("/same", b"%d" % i) for i in range(10)),
        *(sqlite_backend.create(f"/other/{i}", b"v") for i in range(10)),
        return_exceptions=True,
    )
    revisions = [outcome for outcome in outcomes if isinstance(outcome, int)]
    assert sum(isinstance(outcome, KeyExistsError) for outcome in outcomes) == 9
    assert outcomes[0] == 1  # the first queued create of /same won
    assert sorted(revisions) == list(range(1, 12))  # gapless, one per successful write


class FailingCommits:
    """Wraps the writer's connection so that the next COMMIT fails like a full disk."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.armed = True

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)


async def test_a_failed_commit_fails_its_batch_and_reuses_nothing(sqlite_backend: SQLiteBackend) -> None:
    first = await sqlite_backend.create("/ok", b"v")
    writer = sqlite_backend._writer
    assert writer is not None
    writer.conn = FailingCommits(writer.conn)  # type: ignore[assignment]
    stream = sqlite_backend.watch("/", first)
    outcomes = await asyncio.gather(
        *(sqlite_backend.create(f"/lost/{i}", b"v") for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(outcome, StorageError) for outcome in outcomes)
    assert await sqlite_backend.current_revision() == first
    assert (await sqlite_backend.range("/lost/")).kvs == []
    # The next write takes the next revision: nothing from the failed batch leaked out.
    assert await sqlite_backend.create("/after", b"v") == first + 1
    assert [event.kv.key for event in await take(stream, 1)] == ["/after"]


async def test_compaction_deletes_superseded_rows(sqlite_backend: SQLiteBackend) -> None:
    revision = await sqlite_backend.create("/a", b"1")
    for i in range(5):
        revision = await sqlite_backend.update("/a", b"%d" % i, revision)
    await sqlite_backend.create("/b", b"1")
    await sqlite_backend.delete("/b")
    await sqlite_backend.create("/c", b"1")
    await sqlite_backend.compact(await sqlite_backend.current_revision())
    conn = sqlite3.connect(sqlite_backend.path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM log ORDER BY id")]
    finally:
        conn.close()
    assert names == ["/a", "/c"]


async def test_a_lagging_watcher_catches_up_from_the_log(sqlite_backend: SQLiteBackend) -> None:
    stream = sqlite_backend.watch("/w/", 0)
    first = await sqlite_backend.create("/w/0", b"v")
    assert [event.kv.mod_revision for event in await take(stream, 1)] == [first]
    # 100 events overflow the 8-slot ring while the consumer is away.
    revisions = [await sqlite_backend.create(f"/w/{i}", b"v") for i in range(1, 101)]
    assert [event.kv.mod_revision for event in await take(stream, 100)] == revisions


async def test_compaction_overtaking_a_lagging_watcher_is_an_error(sqlite_backend: SQLiteBackend) -> None:
    stream = sqlite_backend.watch("/w/", 0)
    await sqlite_backend.create("/w/a", b"v")
    await take(stream, 1)
    revision = await sqlite_backend.create("/w/b", b"v")
    for i in range(20):
        revision = await sqlite_backend.update("/w/b", b"%d" % i, revision)
    await sqlite_backend.compact(revision)
    with pytest.raises(CompactedError):
        await take(stream, 1)


async def test_closing_a_watch_unregisters_it(sqlite_backend: SQLiteBackend) -> None:
    broadcaster = sqlite_backend.broadcaster

    async def consume_one(stream: AsyncIterator[object]) -> None:
        async for _ in stream:
            break

    tasks = [asyncio.create_task(consume_one(sqlite_backend.watch("/w/", 0))) for _ in range(5)]
    closing = sqlite_backend.watch("/w/", 0)
    closing_next = asyncio.ensure_future(anext(closing))
    cancelled = asyncio.create_task(take(sqlite_backend.watch("/w/", 0), 1))
    await asyncio.sleep(0.01)
    assert broadcaster.waiting == 7
    cancelled.cancel()
    await asyncio.sleep(0)
    assert broadcaster.waiting == 6
    await sqlite_backend.create("/w/a", b"v")
    await asyncio.gather(*tasks)
    await closing_next
    await closing.aclose()
    assert broadcaster.waiting == 0
    with pytest.raises(StopAsyncIteration):
        await anext(closing)


async def test_backend_close_ends_watches(sqlite_backend: SQLiteBackend) -> None:
    stream = sqlite_backend.watch("/w/", 0)
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    await sqlite_backend.close()
    with pytest.raises(StopAsyncIteration):
        await pending


async def test_a_thousand_watchers_on_one_prefix(sqlite_backend: SQLiteBackend) -> None:
    streams = [sqlite_backend.watch("/pods/", 0) for _ in range(1000)]
    results = [asyncio.ensure_future(take(stream, 3)) for stream in streams]
    await asyncio.sleep(0.01)
    revisions = [await sqlite_backend.create(f"/pods/{i}", b"v") for i in range(3)]
    for result in results:
        assert [event.kv.mod_revision for event in await result] == revisions
    assert sqlite_backend.broadcaster.waiting == 0


async def test_periodic_compaction_keeps_a_window(sqlite_backend: SQLiteBackend) -> None:
    compactor = asyncio.create_task(sqlite_backend.compact_periodically(0.01, keep_revisions=5))
    try:
        revision = await sqlite_backend.create("/k", b"0")
        for i in range(20):
            revision = await sqlite_backend.update("/k", b"%d" % i, revision)
        async with asyncio.timeout(5):
            while await sqlite_backend.compacted_revision() < revision - 5:
                await asyncio.sleep(0.01)
        assert await sqlite_backend.compacted_revision() == revision - 5
    finally:
        compactor.cancel()
        with pytest.raises(asyncio.CancelledError):
            await compactor
