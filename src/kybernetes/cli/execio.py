"""Terminal plumbing for ``kyb exec``: copy our stdin to the process, its output to ours, raw mode and window
size for ``-t``, and the process's exit code as ours."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import sys
import termios
import tty as ttymod
from collections.abc import AsyncIterator, Iterator
from typing import Any, BinaryIO

from kybernetes.runtime.api import ExecProcess, Runtime


def _winsize() -> tuple[int, int]:
    try:
        packed = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        rows, cols = struct.unpack("HHHH", packed)[:2]
        return cols, rows
    except OSError:
        return 80, 24


@contextlib.contextmanager
def _raw(enabled: bool) -> Iterator[None]:
    if not enabled or not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        ttymod.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _pump_out(chunks: AsyncIterator[bytes], out: BinaryIO) -> None:
    async for chunk in chunks:
        out.write(chunk)
        out.flush()


async def _pump_in(proc: ExecProcess) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(sys.stdin.fileno()), "rb", 0))
    while data := await reader.read(65536):
        await proc.write_stdin(data)
    await proc.close_stdin()


async def run_exec(runtime: Runtime, container_id: str, cmd: list[str], tty: bool, stdin: bool) -> int:
    if not cmd:
        print("error: exec needs a command", file=sys.stderr)
        return 125
    # Raw mode before the process starts: its first output must not pass through our terminal's line discipline.
    with _raw(tty and stdin):
        proc = await runtime.exec(container_id, cmd, tty=tty, stdin=stdin)
        tasks: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(_pump_out(proc.stdout(), sys.stdout.buffer)),
        ]
        if not tty:
            tasks.append(asyncio.ensure_future(_pump_out(proc.stderr(), sys.stderr.buffer)))
        feeder = asyncio.ensure_future(_pump_in(proc)) if stdin else None
        loop = asyncio.get_running_loop()
        if tty:
            await proc.resize(*_winsize())
            loop.add_signal_handler(signal.SIGWINCH, lambda: asyncio.ensure_future(proc.resize(*_winsize())))
        code = await proc.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
    if feeder is not None:
        feeder.cancel()
    return code
