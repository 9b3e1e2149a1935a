"""Reading CRI container logs: what ``kubectl logs`` and ``kyb logs`` are served from.

A CRI log line is ``<RFC 3339 time> <stdout|stderr> <F|P> <content>`` (see `crilog` for the writer). `parse_line`
and `parse_timestamp` are pure and accept what any CRI runtime writes (any number of fractional digits, ``Z`` or
a numeric offset). `read_log` yields `LogRecord` s with partial (``P``) records joined to their line, per stream,
and a newline restored on every full line.

Like the kubelet, the initial read covers the live file only (rotated ``path.1``... are history); ``tail`` keeps
the last N lines of it. With ``follow`` the reader then polls for more, and when the file at ``path`` is replaced
(rotation renames it and opens a new one) it finishes the old file first and carries on with the new one from
its start, so nothing is repeated, and nothing is lost as long as the file does not rotate twice within one
poll interval (0.1 s; the kubelet's reader has the same limit). Following ends when the caller stops iterating, or when
``follow_until()`` returns true once everything written so far was read (the container exited).
"""

from __future__ import annotations

import asyncio
import calendar
import collections
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

POLL_INTERVAL = 0.1


class LogFormatError(ValueError):
    pass


def parse_timestamp(ts: str) -> int:
    """RFC 3339 (``2016-10-06T00:17:09.669794202Z`` or with ``+02:00``) to nanoseconds since the epoch."""
    try:
        date, _, rest = ts.partition("T")
        year, month, day = (int(x) for x in date.split("-"))
        if rest.endswith(("Z", "z")):
            clock, offset = rest[:-1], 0
        else:
            sign_at = max(rest.rfind("+"), rest.rfind("-"))
            if sign_at < 0:
                raise ValueError
            clock, zone = rest[:sign_at], rest[sign_at:]
            hours, minutes = zone[1:].split(":")
            offset = (int(hours) * 3600 + int(minutes) * 60) * (1 if zone[0] == "+" else -1)
        hms, _, frac = clock.partition(".")
        hour, minute, second = (int(x) for x in hms.split(":"))
        if frac and not frac.isdigit():
            raise ValueError
        nanos = int((frac + "000000000")[:9]) if frac else 0
        secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    except ValueError:
        raise LogFormatError(f"bad timestamp {ts!r}") from None
    return secs * 1_000_000_000 + nanos


@dataclass(frozen=True)
class LogLine:
    """One record of the file, as written."""

    timestamp: str
    time_ns: int
    stream: str
    partial: bool
    content: bytes


def parse_line(line: bytes) -> LogLine:
    """Parse one CRI log line (without its newline). Raises `LogFormatError`. No side effects."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        raise LogFormatError(f"not a CRI log line: {line[:80]!r}")
    ts = parts[0].decode(errors="replace")
    stream = parts[1].decode(errors="replace")
    if stream not in ("stdout", "stderr"):
        raise LogFormatError(f"unknown stream {stream!r}")
    tag = parts[2]
    content = parts[3] if len(parts) > 3 else b""
    if tag not in (b"F", b"P") and not tag.startswith((b"F:", b"P:")):
        raise LogFormatError(f"unknown tag {tag!r}")
    return LogLine(ts, parse_timestamp(ts), stream, tag.startswith(b"P"), content)


@dataclass(frozen=True)
class LogRecord:
    """One line of output: ``data`` ends with a newline (unless cut short), prefixed by the time if asked."""

    time_ns: int
    timestamp: str
    stream: str
    data: bytes


class _Joiner:
    """Joins partial records per stream and applies the filters. Pure apart from its buffer."""

    def __init__(self, since_ns: int | None, stream: str | None, timestamps: bool) -> None:
        self.since_ns = since_ns
        self.stream = stream
        self.timestamps = timestamps
        self.pending: dict[str, tuple[LogLine, list[bytes]]] = {}

    def feed(self, raw: bytes) -> LogRecord | None:
        try:
            line = parse_line(raw)
        except LogFormatError:
            return None
        first, parts = self.pending.pop(line.stream, (line, []))
        parts.append(line.content)
        if line.partial:
            self.pending[line.stream] = (first, parts)
            return None
        return self._record(first, b"".join(parts) + b"\n")

    def _record(self, first: LogLine, data: bytes) -> LogRecord | None:
        if self.stream is not None and first.stream != self.stream:
            return None
        if self.since_ns is not None and first.time_ns < self.since_ns:
            return None
        if self.timestamps:
            data = first.timestamp.encode() + b" " + data
        return LogRecord(first.time_ns, first.timestamp, first.stream, data)


def _lines(buf: bytearray) -> list[bytes]:
    """Take the complete lines out of ``buf``; an unfinished last line stays."""
    end = buf.rfind(b"\n")
    if end < 0:
        return []
    lines = bytes(buf[:end]).split(b"\n")
    del buf[:end + 1]
    return lines


async def read_log(path: str | Path, *, follow: bool = False, tail: int | None = None, since: float | None = None,
                   timestamps: bool = False, stream: str | None = None,
                   follow_until: Callable[[], bool] | None = None) -> AsyncIterator[LogRecord]:
    """Yield the log's lines (see the module doc); ``since`` is in seconds since the epoch."""
    joiner = _Joiner(None if since is None else int(since * 1_000_000_000), stream, timestamps)
    path = str(path)
    f: BinaryIO | None
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, replaced on rotation
    except FileNotFoundError:
        if not follow:
            return
        f = None
    try:
        buf = bytearray()
        if f is not None:
            buf += f.read()
        records = [r for r in (joiner.feed(ln) for ln in _lines(buf)) if r is not None]
        if tail is not None:
            records = list(collections.deque(records, maxlen=max(tail, 0)))
        for r in records:
            yield r
        while follow:
            chunk = f.read(65536) if f is not None else b""
            if chunk:
                buf += chunk
                for ln in _lines(buf):
                    rec = joiner.feed(ln)
                    if rec is not None:
                        yield rec
                continue
            replaced = _replaced(f, path)
            if replaced:  # the old file is drained: go on with the new one
                if f is not None:
                    f.close()
                try:
                    f = open(path, "rb")  # noqa: SIM115
                except FileNotFoundError:
                    f = None
                buf.clear()
                continue
            if follow_until is not None and follow_until():
                buf += f.read() if f is not None else b""  # written before the end was seen
                for ln in _lines(buf):
                    rec = joiner.feed(ln)
                    if rec is not None:
                        yield rec
                return
            await asyncio.sleep(POLL_INTERVAL)
    finally:
        if f is not None:
            f.close()


def _replaced(f: BinaryIO | None, path: str) -> bool:
    """True when ``path`` now names another file than the open one (or appeared since)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    if f is None:
        return True
    fst = os.fstat(f.fileno())
    return (st.st_ino, st.st_dev) != (fst.st_ino, fst.st_dev)
