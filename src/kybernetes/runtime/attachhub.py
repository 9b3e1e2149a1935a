"""The shim's side of ``attach``: a unix socket in the container directory, fanning output out and input in.

The shim (`shim`) owns the container's stdio, so it is where attaching happens: it listens on
``<container dir>/attach.sock`` (bound through ``/proc/self/fd/<dir fd>/``, so a deep runtime root does not run
into the 108-byte limit of socket paths) and speaks `attachwire` frames with any number of clients:

* every chunk of output the shim reads (and writes to the CRI log) is also sent to each client, unbuffered, so
  prompts without a newline show at once;
* input from clients that attached stdin goes to the container's stdin: the write end of its stdin pipe, or the
  terminal's master (a ``dup`` of it) with ``tty``; resize frames set the terminal's window size
  (``TIOCSWINSZ``, which signals the container's foreground process group with SIGWINCH);
* with ``stdin_once``, the end of the first stdin client's input (a ``c`` frame, or the client going away)
  closes the container's stdin for good: the pipe's write end is closed (EOF), or, on a terminal, which cannot
  be half-closed, EOT (^D) is written, as closing an exec's terminal input does (`execproc`);
* when the container exited and its output is drained, `finish` sends each client the exit code and closes.

Nothing here may block or kill the container: every descriptor is non-blocking and shares the shim's one
``poll`` loop. Input that the container does not read waits in one buffer, and while it waits no client's input
is read (the clients' writes back up, not the shim). A client more than `MAX_BEHIND` bytes of output behind is
disconnected; a client that vanishes is dropped at its first failed read or write (SIGPIPE is ignored in the
shim). Imports: ``os``, ``select`` and the C ``_socket`` (see `shim`).
"""

from __future__ import annotations

import os
import select
import sys
import time

from kybernetes.runtime.attachwire import (
    ACK,
    CLOSE_STDIN,
    EXIT,
    HELLO,
    INPUT,
    RESIZE,
    SOCKET_NAME,
    FrameError,
    frame,
    parse_size,
    take_frames,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

MAX_BEHIND = 4 << 20  # bytes of output a client may lag behind before it is cut off
FINISH_SECONDS = 2.0  # how long the exit frame may take to reach slow clients
EOT = b"\x04"
READ = select.POLLIN
WRITE = select.POLLOUT
TROUBLE = select.POLLHUP | select.POLLERR | select.POLLNVAL


class _Client:
    __slots__ = ("fd", "hung", "inbuf", "input_done", "outbuf", "ready", "stdin")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.ready = False  # said hello: gets output from then on
        self.stdin = False
        self.input_done = False
        self.hung = False  # hung up while its input could not be read: read the rest once it can


class AttachHub:
    """Attach clients of one container, driven by the shim's poll loop (`owns` / `handle`)."""

    def __init__(self, container_dir: str, poller: select.poll, stdin_once: bool = False) -> None:
        self.poller = poller
        self.stdin_fd = -1  # where input goes; -1: no stdin (never had one, or closed)
        self.tty_fd = -1  # the terminal's master, for resizes; -1: no terminal
        self.stdin_once = stdin_once
        self.pending = bytearray()  # input not yet taken by the container
        self.close_when_written = False
        self.clients: dict[int, _Client] = {}
        self.registered: dict[int, int] = {}
        self.listener: _socket.socket | None = None
        self.dir_fd = os.open(container_dir, os.O_PATH | os.O_DIRECTORY)

    def set_stdio(self, stdin_fd: int, tty_fd: int) -> None:
        """The hub's own descriptors (it closes them): the container's stdin, and its terminal's master; with a
        terminal and stdin they are one descriptor."""
        self.stdin_fd, self.tty_fd = stdin_fd, tty_fd
        if stdin_fd >= 0:
            os.set_blocking(stdin_fd, False)

    @property
    def path(self) -> str:
        return f"/proc/self/fd/{self.dir_fd}/{SOCKET_NAME}"

    def listen(self) -> None:
        import _socket  # the C module: ``socket`` imports ``enum`` and ``selectors``

        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.bind(self.path)
            os.chmod(self.path, 0o600)
            sock.listen(16)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.listener = sock
        self._register(sock.fileno(), READ)

    # --- registration ------------------------------------------------------------------------------------------

    def _register(self, fd: int, mask: int) -> None:
        if mask == 0:
            if self.registered.pop(fd, None) is not None:
                self.poller.unregister(fd)
        elif self.registered.get(fd) != mask:
            self.poller.register(fd, mask)
            self.registered[fd] = mask

    def _sync(self, client: _Client) -> None:
        held = bool(self.pending) and client.stdin and not client.input_done  # its input must wait
        mask = 0 if held else READ
        if client.outbuf and not client.hung:
            mask |= WRITE
        self._register(client.fd, mask)

    def _sync_all(self) -> None:
        for client in list(self.clients.values()):
            self._sync(client)
        if self.stdin_fd >= 0:
            self._register(self.stdin_fd, WRITE if self.pending else 0)

    def owns(self, fd: int) -> bool:
        return fd in self.registered

    # --- events ------------------------------------------------------------------------------------------------

    def handle(self, fd: int, events: int) -> None:
        if self.listener is not None and fd == self.listener.fileno():
            self._accept()
        elif fd == self.stdin_fd:
            self._write_input()
            self._sync_all()
        elif fd in self.clients:
            self._client_event(self.clients[fd], events)

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                fd, _ = self.listener._accept()  # type: ignore[attr-defined]  # what socket.accept wraps
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, say: the container goes on
                return
            os.set_blocking(fd, False)
            client = self.clients[fd] = _Client(fd)
            self._sync(client)

    def _client_event(self, client: _Client, events: int) -> None:
        if events & WRITE and not self._flush(client):
            return
        readable = self.registered.get(client.fd, 0) & READ
        if events & (READ | TROUBLE) and readable:
            try:
                data = os.read(client.fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._drop(client)
                return
            client.inbuf += data
            try:
                frames = take_frames(client.inbuf)
            except FrameError:
                self._drop(client)
                return
            for kind, payload in frames:
                if self.clients.get(client.fd) is not client:
                    return
                self._frame(client, kind, payload)
        elif events & TROUBLE:  # gone while we were not reading it: its output is moot, its input is not
            client.hung = True
            client.outbuf.clear()
        if self.clients.get(client.fd) is client:
            self._sync(client)

    def _frame(self, client: _Client, kind: bytes, payload: bytes) -> None:
        if kind == HELLO:
            client.stdin = payload == b"1"
            client.ready = True
            client.outbuf += frame(ACK)
            self._flush(client)
        elif kind == INPUT:
            if client.stdin and not client.input_done and self.stdin_fd >= 0 and not self.close_when_written:
                self.pending += payload
                self._write_input()
                self._sync_all()
        elif kind == RESIZE:
            size = parse_size(payload)
            if size is not None and self.tty_fd >= 0:
                self._resize(*size)
        elif kind == CLOSE_STDIN:
            self._input_ended(client)

    def _resize(self, width: int, height: int) -> None:
        import fcntl
        import termios

        winsize = b"".join(n.to_bytes(2, sys.byteorder) for n in (height, width, 0, 0))  # struct winsize
        try:
            fcntl.ioctl(self.tty_fd, termios.TIOCSWINSZ, winsize)
        except OSError:
            pass

    def _input_ended(self, client: _Client) -> None:
        if not client.stdin or client.input_done:
            return
        client.input_done = True
        if self.stdin_once and self.stdin_fd >= 0 and not self.close_when_written:
            self.close_when_written = True
            if self.tty_fd >= 0:
                self.pending += EOT
            self._write_input()
            self._sync_all()

    def _write_input(self) -> None:
        """Give the container what it takes of the pending input; close its stdin once due and written."""
        while self.pending and self.stdin_fd >= 0:
            try:
                n = os.write(self.stdin_fd, self.pending)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EPIPE: nobody reads the container's stdin any more
                self._close_stdin()
                return
            del self.pending[:n]
        if self.close_when_written and self.stdin_fd >= 0:
            self._close_stdin()

    def _close_stdin(self) -> None:
        self.pending.clear()
        if self.stdin_fd < 0:
            return
        self._register(self.stdin_fd, 0)
        if self.stdin_fd != self.tty_fd:  # a terminal stays open for resizes
            os.close(self.stdin_fd)
        self.stdin_fd = -1
        self.close_when_written = True

    def _flush(self, client: _Client) -> bool:
        """Send what a client is owed; False when it turned out to be gone (and was dropped)."""
        while client.outbuf:
            try:
                n = os.write(client.fd, client.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(client)
                return False
            del client.outbuf[:n]
        return True

    def _drop(self, client: _Client) -> None:
        self.clients.pop(client.fd, None)
        self._register(client.fd, 0)
        os.close(client.fd)
        self._input_ended(client)

    def abandon(self, error: BaseException) -> None:
        """A bug here must not end the shim (the container's log and exit status depend on it): drop every
        client and stop listening; the container keeps its stdin (closing it would be an EOF it never asked for)."""
        try:
            os.write(2, f"kyb-shim: attach disabled: {error!r}\n".encode())
        except OSError:
            pass
        for fd in list(self.registered):
            try:
                self.poller.unregister(fd)
            except (KeyError, ValueError, OSError):
                pass
        self.registered.clear()
        for fd in list(self.clients):
            try:
                os.close(fd)
            except OSError:
                pass
        self.clients.clear()
        self.pending.clear()
        self._stop_listening()

    def _stop_listening(self) -> None:
        """No new attachments: close the socket and remove its file."""
        if self.listener is None:
            return
        self.listener.close()
        self.listener = None
        try:
            os.unlink(self.path)
        except OSError:
            pass

    # --- output and the end --------------------------------------------------------------------------------------

    def broadcast(self, kind: bytes, data: bytes) -> None:
        """Send one chunk of the container's output to every client."""
        if not self.clients:
            return
        chunk = frame(kind, data)
        for client in list(self.clients.values()):
            if client.hung or not client.ready:
                continue
            if len(client.outbuf) + len(chunk) > MAX_BEHIND:
                self._drop(client)
                continue
            client.outbuf += chunk
            if self._flush(client):
                self._sync(client)

    def finish(self, code: int) -> None:
        """The container exited: tell every client its exit code, then close everything."""
        self.pending.clear()
        if self.stdin_fd >= 0:
            self._close_stdin()
        if self.listener is not None:
            self._register(self.listener.fileno(), 0)
        self._stop_listening()
        done = frame(EXIT, str(code).encode())
        for client in list(self.clients.values()):
            client.outbuf += done
            self._flush(client)
        deadline = time.monotonic() + FINISH_SECONDS
        waiting = select.poll()
        while time.monotonic() < deadline:
            owed = [c for c in self.clients.values() if c.outbuf and not c.hung]
            if not owed:
                break
            for c in owed:
                waiting.register(c.fd, WRITE)
            waiting.poll(max(0.0, deadline - time.monotonic()) * 1000)
            for c in owed:
                waiting.unregister(c.fd)
                self._flush(c)
        for client in list(self.clients.values()):
            self.clients.pop(client.fd, None)
            self.registered.pop(client.fd, None)
            os.close(client.fd)
        if self.tty_fd >= 0:
            os.close(self.tty_fd)
            self.tty_fd = -1
        os.close(self.dir_fd)
