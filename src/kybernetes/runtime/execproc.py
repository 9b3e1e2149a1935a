"""Running execs: the `ExecProcess` objects the runc and process backends hand out.

Two shapes. `PipeExec` wraps a child (``runc exec`` or the host command) whose stdin/stdout/stderr are pipes.
`PtyExec` owns the master side of a pseudo-terminal (received from runc over a console socket, or opened by the
process backend); stdout and stderr then arrive merged on the master, so ``stderr()`` yields nothing, and a
background task reads the master into a queue until the last slave closes (``EIO``), then closes it, so nothing
is left open after ``wait``. ``resize`` sets the window size with ``TIOCSWINSZ`` (and, when the child is a relay
such as ``runc exec``, tells it with SIGWINCH to pass the size on).

``kill`` must reach the process itself, not a ``runc exec`` that would forward the signal: callers pass
``target_pid`` (read from ``runc exec --pid-file``) when there is such an intermediary.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
import tty
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

CHUNK = 65536


def exit_code(returncode: int) -> int:
    """A subprocess return code in the shell's convention: 128 + signal for a killed process."""
    return 128 - returncode if returncode < 0 else returncode


async def spawn_on_pty(argv: Sequence[str], *, raw: bool = False,
                       **kwargs: Any) -> tuple[asyncio.subprocess.Process, int]:
    """Start ``argv`` in its own session on a new pseudo-terminal; return the process and the master end.

    ``raw``: the terminal is only a transport (runc gives the container a terminal of its own), so line
    discipline (^C, ^D, echo) must not act on it here."""
    master, slave = os.openpty()
    if raw:
        tty.setraw(slave)
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=slave, stdout=slave, stderr=slave,
                                                    start_new_session=True, **kwargs)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return proc, master


class _Exec:
    """What both kinds of exec share: the process, how to find its target and what to do once it ended."""

    def __init__(self, proc: asyncio.subprocess.Process, target_pid: Callable[[], int] | None,
                 on_exit: Callable[[], None] | None) -> None:
        self.proc = proc
        self.target_pid = target_pid
        self.on_exit = on_exit

    def _exited(self) -> None:
        if self.on_exit is not None:
            self.on_exit()
            self.on_exit = None

    async def kill(self) -> None:
        pid = self.target_pid() if self.target_pid is not None else 0
        with contextlib.suppress(ProcessLookupError):
            if pid > 0:
                os.kill(pid, signal.SIGKILL)
            elif self.proc.returncode is None:
                self.proc.kill()


class PipeExec(_Exec):
    def __init__(self, proc: asyncio.subprocess.Process, target_pid: Callable[[], int] | None = None,
                 on_exit: Callable[[], None] | None = None) -> None:
        super().__init__(proc, target_pid, on_exit)

    async def write_stdin(self, data: bytes) -> None:
        if self.proc.stdin is None:
            raise ValueError("exec was started without stdin")
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await self.proc.stdin.wait_closed()

    async def _read(self, stream: asyncio.StreamReader | None) -> AsyncIterator[bytes]:
        if stream is None:
            return
        while chunk := await stream.read(CHUNK):
            yield chunk

    def stdout(self) -> AsyncIterator[bytes]:
        return self._read(self.proc.stdout)

    def stderr(self) -> AsyncIterator[bytes]:
        return self._read(self.proc.stderr)

    async def resize(self, width: int, height: int) -> None:
        return None  # no terminal

    async def wait(self) -> int:
        code = exit_code(await self.proc.wait())
        self._exited()
        return code

class PtyExec(_Exec):
    def __init__(self, proc: asyncio.subprocess.Process, master: int,
                 target_pid: Callable[[], int] | None = None, on_exit: Callable[[], None] | None = None,
                 notify_resize: bool = False) -> None:
        super().__init__(proc, target_pid, on_exit)
        self.notify_resize = notify_resize
        self.master = master
        os.set_blocking(master, False)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._closed = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: every slave closed
            data = b""
        if data:
            self._queue.put_nowait(data)
            return
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        self.master = -1
        self._queue.put_nowait(b"")
        self._closed.set()

    async def write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.master < 0:
                raise BrokenPipeError("terminal closed")
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            view = view[n:]

    async def close_stdin(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            await self.write_stdin(b"\x04")  # end of transmission: what closing a terminal's input means

    async def _stdout(self) -> AsyncIterator[bytes]:
        while chunk := await self._queue.get():
            yield chunk

    def stdout(self) -> AsyncIterator[bytes]:
        return self._stdout()

    async def _nothing(self) -> AsyncIterator[bytes]:
        return
        yield b""

    def stderr(self) -> AsyncIterator[bytes]:
        return self._nothing()

    async def resize(self, width: int, height: int) -> None:
        if self.master >= 0:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        if self.notify_resize and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGWINCH)

    async def wait(self) -> int:
        code = exit_code(await self.proc.wait())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), 2)
        if self.master >= 0:  # a grandchild still holds the slave: stop reading
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
            self.master = -1
            self._queue.put_nowait(b"")
        self._exited()
        return code

