"""The embedded storage driver: etcd semantics over one SQLite log table (like kine).

Layout (see ``sqlite_schema``): every write appends a row whose id is its
revision; deletes append tombstones; ``UNIQUE(name, prev_revision)`` makes
compare-and-swap a database constraint.

Threads and connections:

* **Writes** go to the single writer thread (``sqlite_writer``), which group-
  commits whatever is queued in one transaction with one fsync
  (``synchronous=FULL``).  A write's coroutine returns only after COMMIT.
* **Reads** run inline on the event loop, on a dedicated read-only connection.
  Measured (``bench/storage.py``, 2 cores): a get costs ~8 µs inline (>100k/s)
  against ~150 µs hopped to a thread (~6.5k/s, at any concurrency): the hop
  (executor submit, GIL hand-off, loop wake-up) costs far more than the indexed
  query, and decoding rows holds the GIL either way, so a reader thread buys
  no parallelism.  The price is that a large unpaged range blocks the loop
  (~4 µs per key: 20 ms for 5,000 keys); callers page with ``limit``, and the
  API server's watch cache serves big lists.  WAL gives reads a snapshot, so
  they never wait for the writer.
* **Watches** read the broadcaster's in-memory ring and fall back to the log
  table (``broadcaster``).

Consistency rules:

* Every read is a read *at a revision*: "latest" means the revision of the last
  batch whose results were delivered on the loop, and queries bound ``id <= R``.
  So a range and its count agree, a result's ``revision`` is exact, and a
  caller that awaited a write always reads it back (read-your-writes).
* A read at R is valid while R >= the compacted revision.  The writer raises the
  shared compacted value before a compaction commits, and every read re-checks
  it after querying, so a read racing a compaction raises CompactedError rather
  than returning a state with holes.
* One process owns a database file at a time (an ``flock`` on ``PATH-lock``).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
from typing import IO, Any

from .backend import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyValue,
    RangeResult,
    StorageError,
)
from .broadcaster import Broadcaster, WatchStream, check_watch_start
from .sqlite_checkpoint import Checkpointer
from .sqlite_schema import (
    EVENT_COLUMNS,
    SCHEMA,
    WRITER_PRAGMAS,
    key_range_sql,
    open_connection,
    row_to_event,
)
from .sqlite_writer import COMPACT, CREATE, DELETE_OP, UPDATE, Op, Result, Shared, Writer

log = logging.getLogger(__name__)

# A watch that fell out of the ring catches up from the log this many rows at a time.
_LOG_CHUNK = 512
# Compaction deletes at most this many revisions per transaction so writes interleave
# (measured: 1,000 keeps a write queued behind a step under ~30 ms; 10,000 took ~170 ms).
_COMPACT_STEP = 1_000

_GET = (
    "SELECT id, deleted, create_revision, value FROM log WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)


class SQLiteBackend:
    """A :class:`~kybernetes.storage.backend.Backend` stored in one SQLite file.

    ``compact_window`` is how many recent revisions :meth:`compact_periodically`
    keeps by default; ``watch_window`` is the size of the in-memory event ring.
    """

    def __init__(self, path: str, *, compact_window: int = 1000, watch_window: int = 4096) -> None:
        self.path = path
        self.compact_window = compact_window
        self.watch_window = watch_window
        self.broadcaster = Broadcaster(watch_window)
        self._shared = Shared()
        self._revision = 0
        self._reader: sqlite3.Connection | None = None
        self._writer: Writer | None = None
        self._checkpointer: Checkpointer | None = None
        self._lock_file: IO[bytes] | None = None

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        if self._writer is not None:
            raise StorageError("backend already started")
        self._lock_file = _lock(self.path)
        conn: sqlite3.Connection | None = None
        try:
            conn = open_connection(self.path)
            for pragma in WRITER_PRAGMAS:
                conn.execute(pragma)
            conn.executescript(SCHEMA)
            _fsync_directory(self.path)  # a freshly created file must survive power loss too
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()
            revision = int(row[0]) if row else 0
            compacted = conn.execute("SELECT value FROM meta WHERE key = 'compact_revision'").fetchone()[0]
            self._reader = open_connection(self.path)
            self._reader.execute("PRAGMA query_only = 1")
        except BaseException:
            for opened in (conn, self._reader):
                if opened is not None:
                    opened.close()
            self._reader = None
            self._unlock()
            raise
        self._revision = revision
        self._shared = Shared(compacted=int(compacted))
        self.broadcaster = Broadcaster(self.watch_window)  # fresh: a closed one ended its streams
        self.broadcaster.reset(revision)
        self._writer = Writer(conn, revision, self._shared, asyncio.get_running_loop(), self._on_commit)
        self._writer.start()
        self._checkpointer = Checkpointer(self.path)
        self._checkpointer.start()

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        # Drains the queue: every write submitted before close() completes.
        await asyncio.to_thread(writer.stop)
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None
        await asyncio.sleep(0)  # run the last on_commit callbacks
        writer.conn.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.broadcaster.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the flock
            self._lock_file = None

    def _on_commit(self, results: list[Result], events: list[Event], revision: int) -> None:
        """On the loop, once per committed batch: publish, then acknowledge."""
        self._revision = max(self._revision, revision)
        try:
            self.broadcaster.publish(events)
        finally:  # whatever happens to the watchers, no writer is left hanging
            for future, result, error in results:
                if future.done():  # the caller was cancelled; the write still happened
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)

    # -- writes -----------------------------------------------------------------

    async def _submit(self, kind: str, key: str, value: bytes, mod_revision: int) -> Any:
        if self._writer is None:
            raise StorageError("backend is not started")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._writer.submit(Op(kind, key, value, mod_revision, future))
        return await future

    async def create(self, key: str, value: bytes) -> int:
        revision: int = await self._submit(CREATE, key, bytes(value), 0)
        return revision

    async def update(self, key: str, value: bytes, mod_revision: int) -> int:
        revision: int = await self._submit(UPDATE, key, bytes(value), mod_revision)
        return revision

    async def delete(self, key: str, mod_revision: int = 0) -> KeyValue:
        tombstone: KeyValue = await self._submit(DELETE_OP, key, b"", mod_revision)
        return tombstone

    # -- reads ------------------------------------------------------------------

    async def current_revision(self) -> int:
        return self._revision

    async def compacted_revision(self) -> int:
        return self._shared.compacted

    def compacted_now(self) -> int:
        return self._shared.compacted

    def _read_at(self, revision: int) -> tuple[sqlite3.Connection, int]:
        """The read connection and the revision a read asked for ``revision`` reflects."""
        if self._reader is None:
            raise StorageError("backend is not started")
        if revision <= 0:
            return self._reader, self._revision
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        self._check_compacted(revision)
        return self._reader, revision

    def _check_compacted(self, revision: int) -> None:
        compacted = self._shared.compacted
        if revision < compacted:
            raise CompactedError(revision, compacted)

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        conn, at = self._read_at(revision)
        row = conn.execute(_GET, (key, at)).fetchone()
        if revision > 0:
            self._check_compacted(at)
        if row is None or row[1]:
            return None
        return KeyValue(key, row[3], row[2], row[0])

    async def range(
        self,
        prefix: str,
        *,
        start_after: str | None = None,
        limit: int = 0,
        revision: int = 0,
        count: bool = False,
    ) -> RangeResult:
        """Live keys under ``prefix`` (after ``start_after``), sorted bytewise.

        ``count`` is the number of live keys in the same range (under
        ``prefix`` and after ``start_after``), as etcd counts a range request:
        ``count - len(kvs)`` is how many keys later pages still hold.
        """
        conn, at = self._read_at(revision)
        where, params = key_range_sql(prefix, start_after)
        # SQLite's bare-column rule: with a single max() in an aggregate, the
        # other columns come from the row holding the maximum, i.e. each key's
        # latest row at ``at``.  The (name, id) index yields groups in key
        # order, so LIMIT stops the scan early instead of sorting everything.
        group = f"FROM log WHERE {where} AND id <= ? GROUP BY name HAVING deleted = 0"
        sql = f"SELECT name, max(id), deleted, create_revision, value {group} ORDER BY name"
        args = [*params, at]
        if limit > 0:
            sql += " LIMIT ?"
            args.append(limit + 1)  # one extra row tells whether there is more
        rows = conn.execute(sql, args).fetchall()
        more = limit > 0 and len(rows) > limit
        if more:
            rows = rows[:limit]
        total = len(rows) if count else 0
        if count and more:
            # Index-only: (name, id, deleted) covers the grouping.
            total = conn.execute(
                f"SELECT count(*) FROM (SELECT max(id), deleted {group})", [*params, at]
            ).fetchone()[0]
        if revision > 0:
            self._check_compacted(at)
        kvs = [KeyValue(name, value, create_rev, mod_rev) for name, mod_rev, _, create_rev, value in rows]
        return RangeResult(kvs, more, at, total)

    # -- watch ------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int) -> WatchStream:
        """Changes under ``prefix`` after ``after_revision``; raises CompactedError at once if
        that history is gone (the iterator raises it later if compaction overtakes it)."""
        check_watch_start(after_revision, self._shared.compacted)
        return WatchStream(self.broadcaster, self, prefix, after_revision)

    async def read_log(self, prefix: str, after: int, upto: int) -> tuple[list[Event], int]:
        """The LogSource for watch streams that are behind the ring."""
        if self._reader is None:
            raise StorageError("backend is closed")
        where, params = key_range_sql(prefix, None)
        rows = self._reader.execute(
            f"SELECT {EVENT_COLUMNS} FROM log WHERE id > ? AND id <= ? AND {where} ORDER BY id LIMIT ?",
            [after, upto, *params, _LOG_CHUNK],
        ).fetchall()
        # Checked after the query: a compaction that committed first had raised it.
        self._check_compacted(after)
        covered = rows[-1][0] if len(rows) == _LOG_CHUNK else upto
        return [row_to_event(row) for row in rows], covered

    # -- compaction -------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        """Compact to ``revision`` (no-op when already compacted that far)."""
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        while self._shared.compacted < revision:
            step = min(revision, self._shared.compacted + _COMPACT_STEP)
            await self._submit(COMPACT, "", b"", step)

    async def compact_periodically(
        self, interval_s: float = 300.0, keep_revisions: int | None = None
    ) -> None:
        """Run forever (cancel to stop): every ``interval_s`` compact all but the
        newest ``keep_revisions`` revisions (default ``compact_window``)."""
        keep = self.compact_window if keep_revisions is None else keep_revisions
        while True:
            await asyncio.sleep(interval_s)
            target = self._revision - keep
            if target > self._shared.compacted:
                try:
                    await self.compact(target)
                except StorageError:
                    log.exception("periodic compaction to %d failed", target)


def _lock(path: str) -> IO[bytes]:
    """Hold an exclusive flock on ``PATH-lock`` so two processes never share one store."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    lock_file = open(f"{path}-lock", "ab")  # noqa: SIM115 - held open for the backend's lifetime
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise StorageError(f"{path} is already open in another backend or process") from None
    return lock_file


def _fsync_directory(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
