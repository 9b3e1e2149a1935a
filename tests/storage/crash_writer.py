"""Crash-test helper, run as a subprocess by ``test_crash.py``: write until killed.

    python crash_writer.py PATH WATCH_FROM

Opens the SQLite store at PATH and runs, until it is ``kill -9``-ed:

* eight writer tasks cycling create / update / delete over their own keys under
  ``/crash/``; after each write is acknowledged it prints ``ACK <revision>
  <PUT|DELETE> <key>``;
* one watcher on ``/crash/`` from revision WATCH_FROM, printing ``SEEN
  <revision> <PUT|DELETE> <key>`` for every event it receives.

Every line is flushed at once, so a line the parent reads describes something
that really happened before the kill.
"""

from __future__ import annotations

import asyncio
import sys

from kybernetes.storage import DELETE, PUT, SQLiteBackend

WRITERS = 8


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def write_forever(backend: SQLiteBackend, writer: int) -> None:
    i = 0
    while True:
        key = f"/crash/w{writer}/{i % 5}"
        current = await backend.get(key)
        kind: str
        if current is None:
            revision, kind = await backend.create(key, b"%d" % i), PUT
        elif i % 3 == 0:
            revision, kind = (await backend.delete(key, current.mod_revision)).mod_revision, DELETE
        else:
            revision, kind = await backend.update(key, b"%d" % i, current.mod_revision), PUT
        emit(f"ACK {revision} {kind} {key}")
        i += 1


async def watch_forever(backend: SQLiteBackend, after_revision: int) -> None:
    async for event in backend.watch("/crash/", after_revision):
        emit(f"SEEN {event.kv.mod_revision} {event.type} {event.kv.key}")


async def main(path: str, watch_from: int) -> None:
    backend = SQLiteBackend(path, watch_window=64)
    await backend.start()
    emit(f"START {await backend.current_revision()}")
    await asyncio.gather(
        watch_forever(backend, watch_from), *(write_forever(backend, n) for n in range(WRITERS))
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
