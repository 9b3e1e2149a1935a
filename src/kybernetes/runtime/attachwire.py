"""The framing spoken on a container's attach socket, between its shim (`attachhub`) and attach clients (`attach`).

Each frame is one kind byte, a 4-byte big-endian payload length, then the payload (at most `MAX_PAYLOAD`).

Client to shim:

* ``h`` hello, first: payload ``1`` when this client attaches stdin, ``0`` when it only reads output;
* ``i`` input bytes for the container's stdin (ignored from a client that said ``0``);
* ``r`` resize: ``<width> <height>`` in ASCII decimal (the shim sets the terminal's window size);
* ``c`` this client's input ended (the shim closes the container's stdin only with ``stdin_once``).

Shim to client:

* ``a`` the hello was taken: output from here on reaches this client;
* ``o`` / ``e`` output the container wrote on stdout / stderr (with a terminal, everything is ``o``);
* ``x`` the container exited: payload its exit code in ASCII decimal; the shim closes the socket after it.

Pure and import-free: the shim imports it (see `shim` on keeping the shim small).
"""

from __future__ import annotations

HELLO, INPUT, RESIZE, CLOSE_STDIN = b"h", b"i", b"r", b"c"
ACK, STDOUT, STDERR, EXIT = b"a", b"o", b"e", b"x"
HEADER = 5
MAX_PAYLOAD = 1 << 20
SOCKET_NAME = "attach.sock"


class FrameError(ValueError):
    pass


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    """One frame. No side effects."""
    return kind + len(payload).to_bytes(4, "big") + payload


def take_frames(buf: bytearray) -> list[tuple[bytes, bytes]]:
    """Remove the complete frames at the start of ``buf`` and return them as (kind, payload); raises `FrameError`
    on a length over `MAX_PAYLOAD` (the peer is not speaking this protocol)."""
    frames = []
    at = 0
    while len(buf) - at >= HEADER:
        size = int.from_bytes(buf[at + 1:at + HEADER], "big")
        if size > MAX_PAYLOAD:
            raise FrameError(f"attach frame of {size} bytes")
        if len(buf) - at - HEADER < size:
            break
        frames.append((bytes(buf[at:at + 1]), bytes(buf[at + HEADER:at + HEADER + size])))
        at += HEADER + size
    del buf[:at]
    return frames


def parse_size(payload: bytes) -> tuple[int, int] | None:
    """``b"80 24"`` -> (80, 24); None when malformed or out of range. No side effects."""
    parts = payload.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    width, height = int(parts[0]), int(parts[1])
    if not (0 <= width <= 0xFFFF and 0 <= height <= 0xFFFF):
        return None
    return width, height
