"""The Kubernetes WebSocket channel protocols (exec/attach and port-forward) over aiohttp WebSockets.

Wire format
-----------
Every WebSocket message belongs to one channel.  Binary protocols (``v5.channel.k8s.io``,
``v4.channel.k8s.io``, ``v3``, ``v2``, ``channel.k8s.io``) prefix the payload with the channel number as one
byte; ``base64.channel.k8s.io`` (and ``v4.base64.channel.k8s.io``) send text messages whose first character is
the channel digit (``'0'`` + n) followed by the base64 of the payload.  No subprotocol at all means
``channel.k8s.io``.

Exec/attach channels: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize.  The error channel carries a
``metav1.Status`` as JSON from v4 on (see `status`), a bare message before.  Resize messages are JSON
``{"Width": w, "Height": h}``.  v5 adds the close signal: a message on channel 255 whose payload is the channel
being half-closed (the client sends ``[255, 0]`` when stdin reaches EOF); before v5 stdin only ends when the
socket does.

Port-forward (``v2.portforward.k8s.io``, ``portforward.k8s.io``): for the i-th port of ``?ports=`` channel 2i is
data and 2i+1 is error; the first message the server sends on each channel is the port as 2 bytes
little-endian, and later messages are raw data.

SPDY tunnel (``SPDY/3.1+portforward.k8s.io``, what kubectl port-forward tries first from 1.31): the binary
messages, concatenated, are a plain SPDY/3.1 byte stream with no inner HTTP upgrade; `WebSocketBytes` makes a
socket look like the reader/writer pair `spdy.SpdyConnection` runs over.

Design: `ExecSession` owns one reader task that routes incoming messages to a stdin queue and a resize queue;
writers are plain coroutines.  The session ends with `ExecSession.finish`, which writes the status once and
closes the socket (the only way a client learns the exit code).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from kybernetes.streaming.status import encode_for_protocol

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE_SIGNAL = 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
EXEC_WS_PROTOCOLS = (V5, V4, "v4.base64.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                     "channel.k8s.io", "base64.channel.k8s.io")
PORT_FORWARD_WS_PROTOCOLS = ("v2.portforward.k8s.io", "portforward.k8s.io")
# kubectl 1.31+ port-forward: SPDY/3.1 frames carried as the byte stream of binary messages (KEP-4006)
SPDY_TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int


def is_base64(protocol: str) -> bool:
    return "base64" in protocol


def encode_message(channel: int, data: bytes, protocol: str = V4) -> bytes | str:
    if is_base64(protocol):
        return chr(ord("0") + channel) + base64.b64encode(data).decode()
    return bytes([channel]) + data


def decode_message(message: bytes | str, protocol: str = V4) -> tuple[int, bytes]:
    """(channel, payload) of one message. The frame type does not matter, the protocol does (as upstream reads
    every frame as bytes): a text frame on a binary protocol is its UTF-8 bytes (the Python client sends stdin so)."""
    if is_base64(protocol):
        text = message if isinstance(message, str) else message.decode("ascii", errors="replace")
        if not text:
            raise ValueError("empty channel message")
        return ord(text[0]) - ord("0"), base64.b64decode(text[1:])
    if isinstance(message, str):
        message = message.encode()
    if not message:
        raise ValueError("empty channel message")
    return message[0], bytes(message[1:])


def encode_resize(size: TerminalSize) -> bytes:
    return json.dumps({"Width": size.width, "Height": size.height}).encode()


def decode_resize(data: bytes) -> TerminalSize:
    obj = json.loads(data)
    return TerminalSize(int(obj.get("Width", 0)), int(obj.get("Height", 0)))


def port_prefix(port: int) -> bytes:
    return struct.pack("<H", port)


async def send_channel(ws: web.WebSocketResponse, channel: int, data: bytes, protocol: str) -> None:
    msg = encode_message(channel, data, protocol)
    if isinstance(msg, str):
        await ws.send_str(msg)
    else:
        await ws.send_bytes(msg)


async def accept_websocket(request: web.Request, protocols: tuple[str, ...] = EXEC_WS_PROTOCOLS,
                           default: str = "channel.k8s.io") -> tuple[web.WebSocketResponse, str] | None:
    """Complete the WebSocket handshake if the request is one; returns the socket and the chosen protocol.

    A client that offers none of ``protocols`` still connects and gets ``default`` (the oldest protocol), as
    upstream does.
    """
    ws = web.WebSocketResponse(protocols=protocols, autoping=True)
    if not ws.can_prepare(request).ok:
        return None
    await ws.prepare(request)
    return ws, ws.ws_protocol or default


class ExecSession:
    """Server side of one exec/attach WebSocket: route stdin and resize in, write stdout/stderr/status out."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.stdin: asyncio.Queue[bytes] = asyncio.Queue()  # b"" marks end of stdin
        self.resizes: asyncio.Queue[TerminalSize | None] = asyncio.Queue()  # None marks the end
        self._stdin_done = False
        self._task: asyncio.Task[None] | None = None

    @property
    def supports_close_signal(self) -> bool:
        return self.protocol.startswith("v5.")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._read_loop())

    def _end_stdin(self) -> None:
        if not self._stdin_done:
            self._stdin_done = True
            self.stdin.put_nowait(b"")

    async def _read_loop(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                try:
                    channel, data = decode_message(msg.data, self.protocol)
                except ValueError:
                    continue
                if channel == STDIN and data and not self._stdin_done:
                    self.stdin.put_nowait(data)
                elif channel == RESIZE:
                    with contextlib.suppress(ValueError, TypeError):
                        self.resizes.put_nowait(decode_resize(data))
                elif channel == CLOSE_SIGNAL and self.supports_close_signal and data[:1] == bytes([STDIN]):
                    self._end_stdin()
        finally:
            self._end_stdin()
            self.resizes.put_nowait(None)

    async def read_stdin(self) -> bytes:
        """The next stdin chunk; b"" at end of input (close signal or socket closed)."""
        if self._stdin_done and self.stdin.empty():
            return b""
        return await self.stdin.get()

    async def write(self, channel: int, data: bytes) -> None:
        if data and not self.ws.closed:
            await send_channel(self.ws, channel, data, self.protocol)

    async def write_stdout(self, data: bytes) -> None:
        await self.write(STDOUT, data)

    async def write_stderr(self, data: bytes) -> None:
        await self.write(STDERR, data)

    async def close_channel(self, channel: int) -> None:
        """v5 only: tell the peer we will send nothing more on this channel."""
        if self.supports_close_signal and not self.ws.closed:
            await send_channel(self.ws, CLOSE_SIGNAL, bytes([channel]), self.protocol)

    async def finish(self, status: dict[str, Any]) -> None:
        """Write the status on the error channel (in this protocol's form) and close the socket."""
        payload = encode_for_protocol(self.protocol, status)
        if payload and not self.ws.closed:
            await send_channel(self.ws, ERROR, payload, self.protocol)
        await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class PortForwardSession:
    """Server side of a port-forward WebSocket: one data and one error channel per requested port."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str, ports: list[int]) -> None:
        self.ws = ws
        self.protocol = protocol
        self.ports = ports
        self.incoming: list[asyncio.Queue[bytes]] = [asyncio.Queue() for _ in ports]  # b"" marks the end

    async def open(self) -> None:
        """Send the port prefix on every data and error channel (the first message of each)."""
        for i, port in enumerate(self.ports):
            await send_channel(self.ws, 2 * i, port_prefix(port), self.protocol)
            await send_channel(self.ws, 2 * i + 1, port_prefix(port), self.protocol)

    async def pump_incoming(self) -> None:
        """Route client data to `incoming` until the socket closes."""
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                channel, data = decode_message(msg.data, self.protocol)
                if channel % 2 == 0 and channel // 2 < len(self.ports) and data:
                    self.incoming[channel // 2].put_nowait(data)
        finally:
            for q in self.incoming:
                q.put_nowait(b"")

    async def send_data(self, index: int, data: bytes) -> None:
        await send_channel(self.ws, 2 * index, data, self.protocol)

    async def send_error(self, index: int, message: str) -> None:
        await send_channel(self.ws, 2 * index + 1, message.encode(), self.protocol)


class WebSocketBytes:
    """A WebSocket as a byte stream (for the SPDY tunnel): each write batch becomes one binary message."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self._pending: list[bytes] = []
        self._closing: asyncio.Task[bool] | None = None

    async def read(self, n: int = -1) -> bytes:
        """The next binary message's bytes (whatever its size); b"" once the socket is closed."""
        while not self.ws.closed:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.BINARY and msg.data:
                return bytes(msg.data)
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
        return b""

    def write(self, data: bytes) -> None:
        self._pending.append(data)

    async def drain(self) -> None:
        data, self._pending = b"".join(self._pending), []
        if data and not self.ws.closed:
            await self.ws.send_bytes(data)

    def close(self) -> None:
        if self._closing is None and not self.ws.closed:
            self._closing = asyncio.ensure_future(self.ws.close())
