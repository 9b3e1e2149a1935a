"""The on-disk shape of the SQLite driver: one log table, its indexes, row decoding.

The store is a log, as in kine: every write appends one row, and the row's
``INTEGER PRIMARY KEY`` *is* the revision of that write.  Nothing is updated in
place; the state of the store at revision R is, for every name, the row with the
highest id <= R, unless that row is a tombstone.

Columns:

==================  =========================================================
``id``              the revision; assigned by the single writer, gapless
``name``            the key (TEXT; SQLite's BINARY collation compares the
                    UTF-8 bytes with memcmp, so keys sort bytewise)
``created``         1 when this row brought the key into existence
``deleted``         1 for a tombstone; ``value`` then holds the last value
``create_revision`` the revision that created this incarnation of the key
``prev_revision``   the id of the row this one supersedes (0 on first create)
``value``           the value written (for a tombstone: the value deleted)
``old_value``       the superseded value on a plain update, else NULL; kept on
                    the row so a watch replay can emit ``prev`` even after the
                    superseded row itself has been compacted away
==================  =========================================================

Invariants:

* ``UNIQUE(name, prev_revision)``: two writes can never both supersede the same
  row, so compare-and-swap is enforced by the database itself, not only by the
  writer's check.
* ``AUTOINCREMENT`` keeps ``sqlite_sequence`` at the highest id ever used, so
  revisions are never reused even when compaction deletes the newest row (a
  tombstone at the head of the log).
* ``meta.compact_revision`` records the compacted revision persistently.

Pure helpers live here too: the key range of a prefix and row -> Event decoding.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .backend import DELETE, PUT, Event, KeyValue

SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    created         INTEGER NOT NULL,
    deleted         INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,
    value           BLOB    NOT NULL,
    old_value       BLOB
);
-- compare-and-swap as a constraint
CREATE UNIQUE INDEX IF NOT EXISTS log_name_prev_revision ON log (name, prev_revision);
-- latest row of a key / of every key under a prefix, at or below a revision;
-- carrying ``deleted`` makes counting the live keys of a prefix index-only
CREATE INDEX IF NOT EXISTS log_name_id_deleted ON log (name, id, deleted);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('compact_revision', 0);
"""

# Pragmas shared by every connection.  ``mmap_size`` lets reads hit the page
# cache without a copy; ``busy_timeout`` covers the brief lock a checkpoint takes.
COMMON_PRAGMAS = (
    "PRAGMA busy_timeout = 10000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA mmap_size = 268435456",
    "PRAGMA cache_size = -32768",
)

# WAL: readers never block the writer and vice versa.  synchronous=FULL: every
# COMMIT fsyncs the WAL before returning, so an acknowledged write survives
# kill -9 and power loss (NORMAL would only survive a process crash).
WRITER_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    # Truncate a WAL that grew during a burst back to 64 MiB after a checkpoint.
    "PRAGMA journal_size_limit = 67108864",
    # Checkpoints run on their own thread (sqlite_checkpoint.py), not inside a COMMIT.
    "PRAGMA wal_autocheckpoint = 0",
)

# Row layout shared by every query that decodes events (see row_to_event).
EVENT_COLUMNS = "id, name, created, deleted, create_revision, prev_revision, value, old_value"

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def open_connection(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are explicit ``BEGIN``/``COMMIT``."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in COMMON_PRAGMAS:
        conn.execute(pragma)
    return conn


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``.

    None when there is no such bound (empty prefix, or only U+10FFFF).  UTF-8
    preserves code point order, so comparing code points here agrees with
    SQLite's bytewise comparison of the encoded keys.  No side effects.
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < _MAX_CODE_POINT:
            nxt = last + 1
            if nxt in _SURROGATES:  # not encodable in UTF-8: skip the block
                nxt = _SURROGATES.stop
            return "".join(chars) + chr(nxt)
    return None


def key_range_sql(prefix: str, start_after: str | None) -> tuple[str, list[Any]]:
    """A ``WHERE`` fragment (and its parameters) selecting names under ``prefix``.

    Uses range comparisons rather than ``LIKE`` so the ``(name, id)`` index
    drives the scan and ``%``/``_`` in keys mean nothing special.
    """
    clauses = ["name >= ?"]
    params: list[Any] = [prefix]
    end = prefix_end(prefix)
    if end is not None:
        clauses.append("name < ?")
        params.append(end)
    if start_after is not None:
        clauses.append("name > ?")
        params.append(start_after)
    return " AND ".join(clauses), params


def row_to_event(row: tuple[Any, ...]) -> Event:
    """Decode one log row (selected as ``EVENT_COLUMNS``) into the change it records."""
    rev, name, created, deleted, create_rev, prev_rev, value, old_value = row
    kv = KeyValue(name, value, create_rev, rev)
    if deleted:
        # A tombstone carries the value that went away; prev is that same value
        # at the revision it was written.
        return Event(DELETE, kv, KeyValue(name, value, create_rev, prev_rev))
    if created:
        return Event(PUT, kv, None)
    return Event(PUT, kv, KeyValue(name, old_value, create_rev, prev_rev))
