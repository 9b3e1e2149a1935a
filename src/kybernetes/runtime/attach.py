"""The runtime's side of ``attach``: `ShimAttach`, an `AttachedIO` over a container's attach socket.

The shim of every container (runc and process backends) listens on ``<container dir>/attach.sock``
(`attachhub`); `connect` dials it (through ``/proc/self/fd/<dir fd>/``: the runtime root may be deeper than a
socket path can be long), says hello (with or without stdin) and waits for the shim's acknowledgement, so that
all output the container writes after `connect` returns reaches this attachment.

A reader task routes ``o``/``e`` frames to two queues and keeps the exit code of the ``x`` frame. The queues are
bounded together (`BACKLOG` chunks): a consumer that does not keep up stops the reading, the shim's buffer for
this client grows, and the shim cuts the client off (`attachhub.MAX_BEHIND`) rather than slow the container.
`wait` returns the exit code the shim sent; when the connection ended without one (the shim died, or we
detached), or while the reader is stalled on output nobody takes (so the exit frame may never be read), it asks
the runtime (``exited``), which reads the container's recorded state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from .api import InvalidState, RuntimeError_
from .attachwire import (
    ACK,
    CLOSE_STDIN,
    EXIT,
    HELLO,
    INPUT,
    RESIZE,
    SOCKET_NAME,
    STDERR,
    STDOUT,
    FrameError,
    frame,
    take_frames,
)

BACKLOG = 64  # output chunks held for a slow consumer before reading stops
CHUNK = 65536
ACK_TIMEOUT = 10.0


async def connect(container_dir: Path, container_id: str, *, stdin: bool, tty: bool,
                  exited: Callable[[], Awaitable[int]]) -> ShimAttach:
    """Attach to the container whose shim serves ``container_dir``; raises `RuntimeError_` when it cannot."""
    try:
        dir_fd = os.open(container_dir, os.O_PATH | os.O_DIRECTORY)
    except FileNotFoundError:
        raise InvalidState(f"container {container_id} is not running") from None
    try:
        reader, writer = await asyncio.open_unix_connection(f"/proc/self/fd/{dir_fd}/{SOCKET_NAME}",
                                                            limit=4 * CHUNK)
    except FileNotFoundError:  # it was running a moment ago: a shim from before attach existed, or it just ended
        raise RuntimeError_(f"container {container_id} cannot be attached to: its shim has no attach socket "
                            "(it was started by an older version, or has just exited)") from None
    except ConnectionRefusedError:  # the socket outlived its shim
        raise InvalidState(f"container {container_id} is not running") from None
    except OSError as e:
        raise RuntimeError_(f"cannot attach to container {container_id}: {e.strerror or e}") from None
    finally:
        os.close(dir_fd)
    try:
        writer.write(frame(HELLO, b"1" if stdin else b"0"))
        await writer.drain()
        header = await asyncio.wait_for(reader.readexactly(5), ACK_TIMEOUT)
        if header[:1] != ACK:
            raise RuntimeError_(f"cannot attach to container {container_id}: unexpected answer from its shim")
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        writer.close()
        raise InvalidState(f"container {container_id} is not running (its shim did not answer)") from None
    except BaseException:
        writer.close()
        raise
    return ShimAttach(reader, writer, stdin=stdin, tty=tty, exited=exited)


class ShimAttach:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, stdin: bool, tty: bool,
                 exited: Callable[[], Awaitable[int]]) -> None:
        self.tty = tty
        self.stdin = stdin
        self._reader = reader
        self._writer = writer
        self._exited = exited
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._err: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._room = asyncio.Event()  # set while the reader may read on
        self._room.set()
        self._stalled = asyncio.Event()  # set while the reader waits for the backlog to shrink
        self._ended = asyncio.Event()
        self._code: int | None = None
        self._input_closed = False
        self._task = asyncio.ensure_future(self._read_loop())

    def _backlog(self) -> int:
        return self._out.qsize() + self._err.qsize()

    async def _read_loop(self) -> None:
        buf = bytearray()
        try:
            while chunk := await self._reader.read(CHUNK):
                buf += chunk
                for kind, payload in take_frames(buf):
                    if kind == STDOUT:
                        self._out.put_nowait(payload)
                    elif kind == STDERR:
                        self._err.put_nowait(payload)
                    elif kind == EXIT:
                        with contextlib.suppress(ValueError):
                            self._code = int(payload)
                while self._backlog() >= BACKLOG:
                    self._room.clear()
                    self._stalled.set()
                    await self._room.wait()
                    self._stalled.clear()
        except (OSError, FrameError):
            pass
        finally:
            self._end()

    def _end(self) -> None:
        if not self._ended.is_set():
            self._ended.set()
            self._out.put_nowait(None)
            self._err.put_nowait(None)
            self._writer.close()

    async def _take(self, queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
        while (chunk := await queue.get()) is not None:
            if self._backlog() < BACKLOG:
                self._room.set()
            yield chunk
        queue.put_nowait(None)  # for whoever iterates again

    def stdout(self) -> AsyncIterator[bytes]:
        return self._take(self._out)

    def stderr(self) -> AsyncIterator[bytes]:
        return self._take(self._err)

    async def _send(self, kind: bytes, payload: bytes = b"") -> None:
        if self._ended.is_set():
            raise BrokenPipeError("the attachment has ended")
        self._writer.write(frame(kind, payload))
        await self._writer.drain()

    async def write_stdin(self, data: bytes) -> None:
        if not self.stdin:
            raise ValueError("attached without stdin")
        if self._input_closed:
            raise BrokenPipeError("stdin was closed")
        view = memoryview(data)
        while view:
            await self._send(INPUT, bytes(view[:CHUNK]))
            view = view[CHUNK:]

    async def close_stdin(self) -> None:
        if self.stdin and not self._input_closed:
            self._input_closed = True
            with contextlib.suppress(OSError):
                await self._send(CLOSE_STDIN)

    async def resize(self, width: int, height: int) -> None:
        if self.tty:
            with contextlib.suppress(OSError):
                await self._send(RESIZE, f"{max(width, 0)} {max(height, 0)}".encode())

    async def wait(self) -> int:
        ended = asyncio.ensure_future(self._ended.wait())
        pending: list[asyncio.Future[Any]] = [ended]
        try:
            while not ended.done():
                stalled = asyncio.ensure_future(self._stalled.wait())
                pending.append(stalled)
                await asyncio.wait([ended, stalled], return_when=asyncio.FIRST_COMPLETED)
                if ended.done():
                    break
                # Nobody takes the output, so the exit frame may never be read: the runtime's record tells.
                exited = asyncio.ensure_future(self._exited())
                resumed = asyncio.ensure_future(self._room.wait())
                pending += [exited, resumed]
                await asyncio.wait([ended, exited, resumed], return_when=asyncio.FIRST_COMPLETED)
                if exited.done() and not ended.done():
                    return exited.result()
        finally:
            for f in pending:
                f.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._code is not None:
            return self._code
        return await self._exited()

    async def detach(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._end()
