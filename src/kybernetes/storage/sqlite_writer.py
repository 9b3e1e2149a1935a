"""The single writer of the SQLite driver: one thread, one connection, group commit.

Every mutation (create, update, delete, a compaction step) is an operation put on
a queue by the event loop.  The writer thread takes whatever has piled up (up to
``MAX_BATCH``), applies it in queue order inside ONE transaction and commits:
one fsync for the whole batch.  While that fsync runs, new operations pile up and
form the next batch, so throughput grows with concurrency while a lone writer
still waits for exactly one fsync.

SQLite's automatic WAL checkpoint is off on this connection: it would run
inside the COMMIT of the batch crossing the threshold (~10-15 ms added to that
batch).  ``sqlite_checkpoint.Checkpointer`` checkpoints from its own thread.

Invariants:

* Only this thread writes.  It owns the revision counter, so revisions are
  assigned in queue order with no gaps: the i-th successful write of a batch
  gets ``previous + i``.
* A failed compare-and-swap fails only its own operation; the rest of the batch
  commits.  A failed COMMIT (I/O error, disk full) fails every operation of
  the batch and rolls the counter back: a write is acknowledged only once it
  is durable, and its revision is never handed out twice.
* Results are handed back only after COMMIT returned: one
  ``loop.call_soon_threadsafe`` per batch runs ``on_commit(results, events,
  revision)`` on the loop, which publishes the events (in revision order) and
  then resolves the futures.  An acknowledged write is therefore durable and
  already visible to every reader and watcher.
* Compaction removes nothing a read at or after the compacted revision needs.
  The shared ``compacted`` value is raised *before* the deleting transaction
  commits, so a reader that re-checks it after its query never returns a
  state that compaction had already mutilated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .backend import (
    DELETE,
    PUT,
    Event,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
    StorageError,
)

log = logging.getLogger(__name__)

CREATE, UPDATE, DELETE_OP, COMPACT = "create", "update", "delete", "compact"
MAX_BATCH = 512

_LATEST = "SELECT id, deleted, create_revision, value FROM log WHERE name = ? ORDER BY id DESC LIMIT 1"
_INSERT = (
    "INSERT INTO log (id, name, created, deleted, create_revision, prev_revision, value, old_value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class Op:
    """One queued mutation; ``future`` lives on the event loop."""

    kind: str
    key: str
    value: bytes
    mod_revision: int  # CAS guard (0: none, delete only); the target revision for COMPACT
    future: asyncio.Future[Any]


@dataclass(slots=True)
class Shared:
    """State the writer publishes to readers on the loop (plain attribute reads are atomic)."""

    compacted: int = 0
    failed: BaseException | None = None


Result = tuple["asyncio.Future[Any]", Any, BaseException | None]
OnCommit = Callable[[list[Result], list[Event], int], None]

_STOP = object()


@dataclass
class Writer:
    conn: sqlite3.Connection
    revision: int
    shared: Shared
    loop: asyncio.AbstractEventLoop
    on_commit: OnCommit
    _queue: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kyb-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Op) -> None:
        if self.shared.failed is not None:
            raise StorageError(f"storage writer stopped: {self.shared.failed!r}")
        self._queue.put(op)

    def stop(self) -> None:
        """Finish every queued operation, then end the thread (blocks: call from a worker thread)."""
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join()

    # -- the thread ---------------------------------------------------------

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                batch = [self._queue.get()]
                if batch[0] is _STOP:
                    return
                while len(batch) < MAX_BATCH:
                    try:
                        op = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if op is _STOP:
                        stopping = True
                        break
                    batch.append(op)
                self._apply_batch(batch)
        except BaseException as exc:  # pragma: no cover - a bug or a dead disk
            log.exception("sqlite writer thread died")
            self.shared.failed = exc
            self._fail_pending(exc)

    def _fail_pending(self, exc: BaseException) -> None:
        failed: list[Result] = []
        while True:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                break
            if op is not _STOP:
                failed.append((op.future, None, StorageError(f"storage writer stopped: {exc!r}")))
        if failed:
            self.loop.call_soon_threadsafe(self.on_commit, failed, [], self.revision)

    def _apply_batch(self, batch: list[Op]) -> None:
        results: list[Result] = []
        events: list[Event] = []
        start_revision = self.revision
        compacted_before = self.shared.compacted
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                try:
                    result, event = self._apply(op)
                except StorageError as exc:
                    results.append((op.future, None, exc))
                    continue
                if event is not None:
                    events.append(event)
                results.append((op.future, result, None))
            self.conn.execute("COMMIT")
        except Exception as exc:  # I/O error, disk full, or a bug: fail this batch, keep serving
            log.error("sqlite batch of %d failed, rolled back: %s", len(batch), exc)
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            self.revision = start_revision
            self.shared.compacted = max(compacted_before, self._stored_compacted())
            error = StorageError(f"write failed: {exc}")
            results = [(op.future, None, error) for op in batch]
            events = []
        self.loop.call_soon_threadsafe(self.on_commit, results, events, self.revision)

    def _apply(self, op: Op) -> tuple[Any, Event | None]:
        if op.kind == COMPACT:
            self._compact_step(op.mod_revision)
            return None, None
        row = self.conn.execute(_LATEST, (op.key,)).fetchone()
        live = row is not None and not row[1]
        current = KeyValue(op.key, row[3], row[2], row[0]) if live else None
        rev = self.revision + 1
        row_values: tuple[Any, ...]
        if op.kind == CREATE:
            if current is not None:
                raise KeyExistsError(op.key)
            # After a delete, the new incarnation supersedes the tombstone.
            prev_rev = row[0] if row is not None else 0
            row_values = (rev, op.key, 1, 0, rev, prev_rev, op.value, None)
            self._insert(row_values, current)
            event = Event(PUT, KeyValue(op.key, op.value, rev, rev), None)
            result: Any = rev
        elif op.kind == UPDATE:
            if current is None or current.mod_revision != op.mod_revision:
                raise RevisionMismatchError(op.key, current)
            row_values = (
                rev,
                op.key,
                0,
                0,
                current.create_revision,
                current.mod_revision,
                op.value,
                current.value,
            )
            self._insert(row_values, current)
            kv = KeyValue(op.key, op.value, current.create_revision, rev)
            event = Event(PUT, kv, current)
            result = rev
        else:
            if current is None:
                raise KeyNotFoundError(op.key)
            if op.mod_revision > 0 and current.mod_revision != op.mod_revision:
                raise RevisionMismatchError(op.key, current)
            # The tombstone keeps the deleted value (see sqlite_schema).
            row_values = (
                rev,
                op.key,
                0,
                1,
                current.create_revision,
                current.mod_revision,
                current.value,
                None,
            )
            self._insert(row_values, current)
            kv = KeyValue(op.key, current.value, current.create_revision, rev)
            event = Event(DELETE, kv, current)
            result = kv
        self.revision = rev
        return result, event

    def _insert(self, row: tuple[Any, ...], current: KeyValue | None) -> None:
        try:
            self.conn.execute(_INSERT, row)
        except sqlite3.IntegrityError as exc:
            # UNIQUE(name, prev_revision): the database saw a competing write the
            # check above did not (another process on the file?).  Only this
            # statement is rolled back; the batch goes on.
            log.warning("CAS constraint rejected a write to %s: %s", row[1], exc)
            raise RevisionMismatchError(row[1], current) from exc

    # -- compaction ---------------------------------------------------------

    def _stored_compacted(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'compact_revision'").fetchone()
        return int(row[0]) if row else 0

    def _compact_step(self, target: int) -> None:
        """Forget rows superseded at or below ``target``, and tombstones at or below it.

        Only rows in (compacted, target] need looking at: each row there
        supersedes its ``prev_revision`` row (delete it), and tombstones there
        are themselves gone once the state at ``target`` no longer needs them.
        Rows above ``target`` keep ``old_value``, so watch replays stay complete.
        """
        low = self.shared.compacted
        if target <= low:
            return
        # Raise the bar before anything disappears (see the module invariants).
        self.shared.compacted = target
        self.conn.execute(
            "DELETE FROM log WHERE id IN"
            " (SELECT prev_revision FROM log WHERE id > ? AND id <= ? AND prev_revision > 0)",
            (low, target),
        )
        self.conn.execute("DELETE FROM log WHERE id > ? AND id <= ? AND deleted = 1", (low, target))
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'compact_revision'", (target,))
