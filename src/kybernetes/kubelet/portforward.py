"""Port-forward on the node: streams from a client, one TCP connection per stream into the pod.

Reaching the pod: as a CRI runtime does, the connection is opened *inside the pod's network namespace* to
127.0.0.1:<port> (`Dialer` with ``netns_path``), so it works with or without a pod network and whatever
address the pod listens on; a thread that exists only for that connect enters the namespace with ``setns(2)``
and then ends (a socket stays in the namespace it was created in, so no thread is ever left in a pod's
namespace). Without a namespace file the dialer goes to the pod's IP, or to 127.0.0.1 for host-network pods.

Transports (all served by `serve`):

* SPDY/3.1 (``portforward.k8s.io``; kubectl up to 1.30, and 1.31+ as a fallback): the client opens an
  ``error`` stream and a ``data`` stream per connection, paired by their ``requestID`` header, with the target
  ``port``; connection errors are written to the error stream as text (kubectl prints them).
* SPDY tunnelled in a WebSocket (``SPDY/3.1+portforward.k8s.io``, kubectl 1.31+): the same streams.
* Plain WebSocket channels (``v2.portforward.k8s.io``, the Python client): ``?ports=`` names the ports; one
  connection per port for the life of the socket.

A data stream's end half-closes the pod connection (``write_eof``); the pod closing its side closes the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from kybernetes.streaming import spdy, wsproto

CLONE_NEWNET = 0x40000000
CONNECT_TIMEOUT = 5.0


def _connect_in_netns(netns_path: str, port: int) -> socket.socket:
    """Runs in a throwaway thread: enter the namespace, connect, hand the socket back."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {netns_path}: {os.strerror(err)}")
    finally:
        os.close(fd)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Dialer:
    """Opens connections to one pod's ports (see the module doc for where they go)."""

    def __init__(self, netns_path: str, ip: str, pod: str) -> None:
        self.netns_path = netns_path
        self.ip = ip
        self.pod = pod

    async def dial(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not self.netns_path:
            return await asyncio.wait_for(asyncio.open_connection(self.ip or "127.0.0.1", port), CONNECT_TIMEOUT)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[socket.socket] = loop.create_future()

        def run() -> None:
            try:
                sock = _connect_in_netns(self.netns_path, port)
            except BaseException as e:
                loop.call_soon_threadsafe(_settle, done, None, e)
            else:
                loop.call_soon_threadsafe(_settle, done, sock, None)

        threading.Thread(target=run, name=f"portforward-dial-{port}", daemon=True).start()
        sock = await done
        return await asyncio.open_connection(sock=sock)

    def error_message(self, port: int, err: BaseException) -> str:
        where = f'inside namespace "{self.netns_path}"' if self.netns_path else f"at {self.ip or '127.0.0.1'}"
        return (f"error forwarding port {port} to pod {self.pod}: failed to connect to localhost:{port} "
                f"{where}: {err}")


def _settle(fut: asyncio.Future[socket.socket], sock: socket.socket | None, err: BaseException | None) -> None:
    if fut.cancelled():
        if sock is not None:
            sock.close()
        return
    if err is not None:
        fut.set_exception(err)
    else:
        assert sock is not None
        fut.set_result(sock)


async def splice(read_client: Callable[[], Awaitable[bytes]], write_client: Callable[[bytes], Awaitable[None]],
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy both ways until the pod closes its side; the client's end only half-closes toward the pod."""

    async def to_pod() -> None:
        while chunk := await read_client():
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    upstream = asyncio.ensure_future(to_pod())
    try:
        while chunk := await reader.read(65536):
            await write_client(chunk)
    except (ConnectionError, spdy.SpdyError):
        pass
    finally:
        upstream.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await upstream
        writer.close()


async def _forward_pair(dialer: Dialer, data: spdy.SpdyStream, error: spdy.SpdyStream) -> None:
    try:
        port = int(data.headers.get("port", "0"))
    except ValueError:
        port = 0
    try:
        reader, writer = await dialer.dial(port)
    except (TimeoutError, OSError) as e:
        with contextlib.suppress(spdy.SpdyError, ConnectionError):
            await error.write(dialer.error_message(port, e).encode())
    else:
        await splice(data.read, data.write, reader, writer)
    with contextlib.suppress(spdy.SpdyError, ConnectionError):
        await data.close()
        await error.close()


async def _serve_spdy(conn: spdy.SpdyConnection, dialer: Dialer) -> None:
    waiting: dict[tuple[str, str], spdy.SpdyStream] = {}
    tasks: list[asyncio.Future[None]] = []
    try:
        while (stream := await conn.accept_stream()) is not None:
            await stream.reply()
            rid, kind = stream.headers.get("requestid", ""), stream.stream_type
            if kind not in ("data", "error"):
                await stream.reset()
                continue
            other = waiting.pop((rid, "error" if kind == "data" else "data"), None)
            if other is None:
                waiting[(rid, kind)] = stream
                continue
            data, error = (stream, other) if kind == "data" else (other, stream)
            tasks.append(asyncio.ensure_future(_forward_pair(dialer, data, error)))
            tasks = [t for t in tasks if not t.done()]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await conn.close()


async def _serve_channels(ws: web.WebSocketResponse, protocol: str, ports: list[int], dialer: Dialer) -> None:
    session = wsproto.PortForwardSession(ws, protocol, ports)
    await session.open()
    pump = asyncio.ensure_future(session.pump_incoming())

    async def one(index: int, port: int) -> None:
        try:
            reader, writer = await dialer.dial(port)
        except (TimeoutError, OSError) as e:
            await session.send_error(index, dialer.error_message(port, e))
            return
        await splice(session.incoming[index].get, lambda b: session.send_data(index, b), reader, writer)

    try:
        await asyncio.gather(*(one(i, p) for i, p in enumerate(ports)), return_exceptions=True)
    finally:
        pump.cancel()
        await ws.close()


def _ports(request: web.Request) -> list[int] | None:
    try:
        return [int(p) for value in request.query.getall("ports", []) for p in value.split(",") if p]
    except ValueError:
        return None


async def serve(request: web.Request, dialer: Dialer) -> web.StreamResponse:
    """Answer one port-forward request on whichever transport it asks for."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        protocols = (wsproto.SPDY_TUNNEL_PROTOCOL, *wsproto.PORT_FORWARD_WS_PROTOCOLS)
        accepted = await wsproto.accept_websocket(request, protocols, "portforward.k8s.io")
        if accepted is None:
            return web.Response(status=400, text="expected a WebSocket upgrade")
        ws, protocol = accepted
        if protocol == wsproto.SPDY_TUNNEL_PROTOCOL:
            pipe = wsproto.WebSocketBytes(ws)
            conn = spdy.SpdyConnection(pipe, pipe, is_server=True)
            conn.start()
            await _serve_spdy(conn, dialer)
            await ws.close()
            return ws
        ports = _ports(request)
        if not ports:
            await ws.close()
            return ws
        await _serve_channels(ws, protocol, ports, dialer)
        return ws
    upgraded = await spdy.upgrade_aiohttp(request, spdy.PORT_FORWARD_PROTOCOLS)
    if upgraded is None:
        return web.Response(status=400, text="unable to upgrade connection: expected SPDY/3.1 or WebSocket")
    conn, _, response = upgraded
    await _serve_spdy(conn, dialer)
    return response
