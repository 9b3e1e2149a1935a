"""Writing container output in the CRI log format, with size-based rotation.

The format is the one the kubelet and ``kubectl logs`` read::

    2016-10-06T00:17:09.669794202Z stdout F a full line
    2016-10-06T00:17:09.669794202Z stdout P the first 16 KiB of a longer line...

One record per line of output; a line longer than `MAX_LINE` bytes is cut into ``P`` (partial) records and ends
with an ``F`` record; output still waiting for its newline when the stream closes is written as ``F``. The
timestamp always has nine fractional digits (containerd's fixed-width form; readers accept any width).

This module is imported by the per-container shim, a long-lived process whose memory is counted per container:
it imports nothing but ``os`` and ``time``. Every record is one ``write(2)`` on an ``O_APPEND`` descriptor, so a
follower never sees half a record and a crash loses at most the line being split.

Rotation: before a record would make the file exceed ``max_bytes``, ``path`` is renamed to ``path.1`` (older
files shift to ``path.2``...), and a new ``path`` is opened. ``max_files`` counts the live file too, as the
kubelet's ``containerLogMaxFiles`` does: at most ``max_files - 1`` rotated files are kept.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # not `typing`: the shim keeps its imports to the minimum
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_LINE = 16 * 1024


def timestamp(ns: int) -> bytes:
    """RFC 3339 with nanoseconds in UTC, fixed width: ``2016-10-06T00:17:09.669794202Z``. No side effects."""
    secs, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(secs)
    return b"%04d-%02d-%02dT%02d:%02d:%02d.%09dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, frac)


def format_record(ns: int, stream: bytes, tag: bytes, content: bytes) -> bytes:
    return b"%s %s %s %s\n" % (timestamp(ns), stream, tag, content)


class LogFile:
    """An append-only CRI log file that rotates itself; ``reopen`` after someone else renamed it."""

    def __init__(self, path: str, max_bytes: int = 0, max_files: int = 1,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_files = max(1, max_files)
        self.clock = clock
        self.fd = -1
        self.size = 0
        self.open()

    def open(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def reopen(self) -> None:
        self.close()
        self.open()

    def rotate(self) -> None:
        self.close()
        if self.max_files > 1:
            for i in range(self.max_files - 1, 1, -1):
                older = f"{self.path}.{i - 1}"
                if os.path.exists(older):
                    os.replace(older, f"{self.path}.{i}")
            os.replace(self.path, f"{self.path}.1")
        else:
            os.unlink(self.path)
        self.open()

    def write(self, stream: bytes, tag: bytes, content: bytes) -> None:
        record = format_record(self.clock(), stream, tag, content)
        if self.max_bytes > 0 and self.size > 0 and self.size + len(record) > self.max_bytes:
            self.rotate()
        view = memoryview(record)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(record)


class LineSplitter:
    """Cuts one output stream into CRI records: full lines as ``F``, over-long lines as ``P`` chunks."""

    def __init__(self, sink: LogFile | None, stream: bytes) -> None:
        self.sink = sink
        self.stream = stream
        self.buf = b""

    def _emit(self, tag: bytes, content: bytes) -> None:
        if self.sink is not None:
            self.sink.write(self.stream, tag, content)

    def feed(self, data: bytes) -> None:
        buf = self.buf + data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = buf[start:nl]
            while len(line) > MAX_LINE:
                self._emit(b"P", line[:MAX_LINE])
                line = line[MAX_LINE:]
            self._emit(b"F", line)
            start = nl + 1
        rest = buf[start:]
        while len(rest) > MAX_LINE:
            self._emit(b"P", rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self.buf = rest

    def close(self) -> None:
        if self.buf:
            self._emit(b"F", self.buf)
            self.buf = b""
