"""CRI log writing (the shim's `crilog`) and reading (`logs.read_log`), table-driven."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest

from kybernetes.runtime.crilog import MAX_LINE, LineSplitter, LogFile, format_record, timestamp
from kybernetes.runtime.logs import LogFormatError, parse_line, parse_timestamp, read_log

NS = 1_475_713_029_669_794_202  # 2016-10-06T00:17:09.669794202Z


@pytest.mark.parametrize(("text", "ns"), [
    ("2016-10-06T00:17:09.669794202Z", NS),
    ("2016-10-06T00:17:09.669794Z", NS - 202),
    ("2016-10-06T00:17:09Z", NS - 669_794_202),
    ("2016-10-06T02:17:09.669794202+02:00", NS),
    ("2016-10-05T23:17:09.669794202-01:00", NS),
    ("1970-01-01T00:00:00Z", 0),
], ids=["nanos", "micros", "whole-seconds", "plus-offset", "minus-offset", "epoch"])
def test_parse_timestamp(text: str, ns: int) -> None:
    assert parse_timestamp(text) == ns


@pytest.mark.parametrize("bad", ["", "yesterday", "2016-10-06", "2016-10-06T00:17:09", "2016-10-06T00:17:09.12aZ"])
def test_parse_timestamp_refuses(bad: str) -> None:
    with pytest.raises(LogFormatError):
        parse_timestamp(bad)


def test_timestamp_is_fixed_width_and_round_trips() -> None:
    assert timestamp(NS) == b"2016-10-06T00:17:09.669794202Z"
    assert timestamp(NS - 669_794_202) == b"2016-10-06T00:17:09.000000000Z"
    assert parse_timestamp(timestamp(NS + 5).decode()) == NS + 5


@pytest.mark.parametrize(("line", "stream", "partial", "content"), [
    (b"2016-10-06T00:17:09.669794202Z stdout F hello world", "stdout", False, b"hello world"),
    (b"2016-10-06T00:17:09.669794202Z stderr P part", "stderr", True, b"part"),
    (b"2016-10-06T00:17:09.669794202Z stdout F ", "stdout", False, b""),
    (b"2016-10-06T00:17:09.669794202Z stdout F", "stdout", False, b""),
    (b"2016-10-06T00:17:09.669794202Z stdout F  two  spaces ", "stdout", False, b" two  spaces "),
    (b"2016-10-06T00:17:09.669794202Z stdout F:xyz tagged", "stdout", False, b"tagged"),
], ids=["full", "partial", "empty", "no-content", "spaces-kept", "tag-with-attrs"])
def test_parse_line(line: bytes, stream: str, partial: bool, content: bytes) -> None:
    rec = parse_line(line)
    assert (rec.stream, rec.partial, rec.content, rec.time_ns) == (stream, partial, content, NS)


@pytest.mark.parametrize("bad", [b"", b"hello", b"2016-10-06T00:17:09Z stdin F x", b"2016-10-06T00:17:09Z stdout X x",
                                 b"nope stdout F x"])
def test_parse_line_refuses(bad: bytes) -> None:
    with pytest.raises(LogFormatError):
        parse_line(bad)


def records_of(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in path.read_bytes().splitlines():
        _, stream, tag, content = ([*line.split(b" ", 3), b""])[:4]
        out.append((stream.decode(), tag.decode(), content.decode()))
    return out


BIG = "x" * (MAX_LINE + 10)


@pytest.mark.parametrize(("chunks", "expected"), [
    (["a\n"], [("F", "a")]),
    (["a\nb\n"], [("F", "a"), ("F", "b")]),
    (["hel", "lo\nwor", "ld\n"], [("F", "hello"), ("F", "world")]),
    (["\n\n"], [("F", ""), ("F", "")]),
    (["tail without newline"], [("F", "tail without newline")]),
    ([BIG + "\n"], [("P", "x" * MAX_LINE), ("F", "x" * 10)]),
    ([BIG[:100], BIG[100:]], [("P", "x" * MAX_LINE), ("F", "x" * 10)]),
    (["x" * MAX_LINE + "\n"], [("F", "x" * MAX_LINE)]),
    (["x" * (2 * MAX_LINE) + "y\n"], [("P", "x" * MAX_LINE), ("P", "x" * MAX_LINE), ("F", "y")]),
], ids=["one", "two", "split-reads", "empty-lines", "unterminated", "long", "long-split", "exactly-max", "two-parts"])
def test_line_splitter(tmp_path: Path, chunks: list[str], expected: list[tuple[str, str]]) -> None:
    log = LogFile(str(tmp_path / "c.log"))
    splitter = LineSplitter(log, b"stdout")
    for c in chunks:
        splitter.feed(c.encode())
    splitter.close()
    log.close()
    assert [(tag, content) for _, tag, content in records_of(tmp_path / "c.log")] == expected


@pytest.mark.parametrize(("max_files", "expected_files"), [
    (1, ["c.log"]), (2, ["c.log", "c.log.1"]), (4, ["c.log", "c.log.1", "c.log.2", "c.log.3"]),
])
def test_rotation(tmp_path: Path, max_files: int, expected_files: list[str]) -> None:
    ticks = itertools.count(NS)
    log = LogFile(str(tmp_path / "c.log"), max_bytes=200, max_files=max_files, clock=lambda: next(ticks))
    record_size = len(format_record(NS, b"stdout", b"F", b"line-00"))
    for i in range(40):
        log.write(b"stdout", b"F", b"line-%02d" % i)
    log.close()
    assert sorted(os.listdir(tmp_path)) == expected_files
    per_file = 200 // record_size
    newest_first = [records_of(tmp_path / name) for name in expected_files]
    assert all(len(r) <= per_file for r in newest_first)
    numbers = [int(c.split("-")[1]) for recs in reversed(newest_first) for _, _, c in recs]
    assert numbers == list(range(40 - len(numbers), 40))


def write_log(path: Path, lines: list[tuple[int, str, str, str]]) -> None:
    """Write records ``t`` milliseconds after NS."""
    path.write_bytes(b"".join(format_record(NS + t * 1_000_000, s.encode(), tag.encode(), c.encode())
                              for t, s, tag, c in lines))


SAMPLE = [
    (0, "stdout", "F", "one"),
    (1, "stderr", "P", "two-"),
    (2, "stdout", "F", "three"),
    (3, "stderr", "F", "halves"),
    (4, "stdout", "F", "four"),
]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, [b"one\n", b"three\n", b"two-halves\n", b"four\n"]),
    ({"stream": "stderr"}, [b"two-halves\n"]),
    ({"stream": "stdout", "tail": 2}, [b"three\n", b"four\n"]),
    ({"tail": 0}, []),
    ({"tail": 100}, [b"one\n", b"three\n", b"two-halves\n", b"four\n"]),
    ({"since": (NS + 2_000_000) / 1e9}, [b"three\n", b"four\n"]),
    ({"timestamps": True, "tail": 1}, [b"2016-10-06T00:17:09.673794202Z four\n"]),
], ids=["all", "stderr", "tail-stdout", "tail-0", "tail-more", "since", "timestamps"])
async def test_read_log(tmp_path: Path, kwargs: dict[str, object], expected: list[bytes]) -> None:
    write_log(tmp_path / "c.log", SAMPLE)
    assert [r.data async for r in read_log(tmp_path / "c.log", **kwargs)] == expected  # type: ignore[arg-type]


async def test_read_log_skips_garbage_and_missing_file(tmp_path: Path) -> None:
    assert [r async for r in read_log(tmp_path / "missing.log")] == []
    path = tmp_path / "c.log"
    path.write_bytes(b"garbage\n" + format_record(NS, b"stdout", b"F", b"ok"))
    assert [r.data async for r in read_log(path)] == [b"ok\n"]


async def test_follow_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    log = LogFile(str(path), max_bytes=150, max_files=3)
    log.write(b"stdout", b"F", b"first")
    done = False
    seen: list[bytes] = []

    async def follow() -> None:
        async for rec in read_log(path, follow=True, follow_until=lambda: done):
            seen.append(rec.data)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    for i in range(12):  # several rotations while the reader follows
        log.write(b"stdout", b"F", b"line-%d" % i)
        await asyncio.sleep(0.03 if i % 3 else 0.25)
    log.close()
    done = True
    await asyncio.wait_for(task, 5)
    assert seen == [b"first\n"] + [b"line-%d\n" % i for i in range(12)]


async def test_follow_waits_for_the_file(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    got: list[bytes] = []

    async def follow() -> None:
        async for rec in read_log(path, follow=True):
            got.append(rec.data)
            return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.15)
    write_log(path, [(0, "stdout", "F", "hello")])
    await asyncio.wait_for(task, 5)
    assert got == [b"hello\n"]
