"""Background WAL checkpoints for the SQLite driver, off the write path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL size
threshold, adding its page copies and the database fsync to that one batch's
latency.  The writer connection turns the automatic checkpoint off
(``wal_autocheckpoint = 0``) and this thread, with a connection of its own,
runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds instead.
A PASSIVE checkpoint takes no lock a writer or reader waits for: it copies
what it can and leaves the rest for the next round.  The writer restarts the
WAL from the top once everything in it is checkpointed, so the file stays
small (``journal_size_limit`` trims it after a burst).

Durability is unchanged: a write is durable once its WAL frame is fsynced
(``synchronous=FULL``); checkpoints only move data into the main file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from kybernetes.storage.sqlite_schema import open_connection

log = logging.getLogger(__name__)


class Checkpointer(threading.Thread):
    def __init__(self, path: str, interval: float = 0.5):
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self.path = path
        self.interval = interval
        self._halt = threading.Event()
        self.checkpoints = 0

    def run(self) -> None:
        conn = open_connection(self.path)
        try:
            while not self._halt.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                except sqlite3.Error as e:  # e.g. the disk is full; the writer reports its own errors
                    log.warning("WAL checkpoint failed: %s", e)
        finally:
            conn.close()

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join()
