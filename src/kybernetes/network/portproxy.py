"""The userspace port forwarder: a small detached process, like docker-proxy, one per sandbox.

Run as ``python -I -S portproxy.py --bridge=B --sandbox=ID SPEC...`` where each SPEC is
``tcp:FD:IP:PORT`` or ``udp:FD:IP:PORT``: FD is a socket the *parent* already bound (and, for TCP, put in the
listening state) and passed down, IP:PORT the container address to forward to.  Binding in the parent makes
"port already allocated" an immediate, synchronous error of the setup call, and connections that arrive
before this process has started simply wait in the listen backlog.

This file imports only the standard library (it runs with ``-I -S``, without the virtualenv's site-packages:
a fast start and nothing to shadow), so it must not import ``kybernetes``.  The ``--bridge`` and ``--sandbox``
arguments identify the process for whoever kills it later (see `kybernetes.network.ports`).

TCP connections are spliced both ways with half-close; UDP keeps one upstream socket per client address,
closed after `UDP_IDLE` seconds without traffic.  SIGTERM ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import sys
from typing import Any

BUF = 65536
UDP_IDLE = 90.0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(BUF):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, asyncio.IncompleteReadError):
        writer.close()


async def _serve_tcp_client(
    target: tuple[str, int], client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
) -> None:
    try:
        up_r, up_w = await asyncio.open_connection(*target)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
    finally:
        for w in (up_w, client_w):
            w.close()
            with contextlib.suppress(OSError):
                await w.wait_closed()


class _UDPUpstream(asyncio.DatagramProtocol):
    def __init__(self, listener: _UDPListener, client: Any):
        self.listener = listener
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.last = asyncio.get_running_loop().time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.last = asyncio.get_running_loop().time()
        if self.listener.transport is not None:
            self.listener.transport.sendto(data, self.client)

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.upstreams.pop(self.client, None)


class _UDPListener(asyncio.DatagramProtocol):
    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.upstreams: dict[Any, _UDPUpstream] = {}
        self.pending: dict[Any, list[bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        up = self.upstreams.get(addr)
        if up is not None and up.transport is not None:
            up.last = asyncio.get_running_loop().time()
            up.transport.sendto(data)
        elif addr in self.pending:
            self.pending[addr].append(data)
        else:
            self.pending[addr] = [data]
            asyncio.get_running_loop().create_task(self._connect(addr))

    async def _connect(self, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, up = await loop.create_datagram_endpoint(lambda: _UDPUpstream(self, addr), remote_addr=self.target)
        except OSError:
            self.pending.pop(addr, None)
            return
        self.upstreams[addr] = up
        for data in self.pending.pop(addr, []):
            if up.transport is not None:
                up.transport.sendto(data)

    async def expire(self) -> None:
        while True:
            await asyncio.sleep(UDP_IDLE / 3)
            now = asyncio.get_running_loop().time()
            for up in list(self.upstreams.values()):
                if now - up.last > UDP_IDLE and up.transport is not None:
                    up.transport.close()


def parse_spec(spec: str) -> tuple[str, int, str, int]:
    """``proto:fd:ip:port`` -> (proto, fd, ip, port); the IP may be IPv6 (no side effects)."""
    proto, fd, rest = spec.split(":", 2)
    ip, port = rest.rsplit(":", 1)
    if proto not in ("tcp", "udp"):
        raise ValueError(f"unknown protocol {proto!r}")
    return proto, int(fd), ip, int(port)


async def serve(specs: list[str]) -> None:
    loop = asyncio.get_running_loop()
    keep: list[Any] = []
    for spec in specs:
        proto, fd, ip, port = parse_spec(spec)
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        if proto == "tcp":
            keep.append(await asyncio.start_server(functools.partial(_serve_tcp_client, (ip, port)), sock=sock))
        else:
            _, listener = await loop.create_datagram_endpoint(functools.partial(_UDPListener, (ip, port)), sock=sock)
            keep.append(loop.create_task(listener.expire()))
    await asyncio.Event().wait()  # until SIGTERM


def main(argv: list[str]) -> int:
    specs = [a for a in argv if not a.startswith("--")]
    if not specs:
        print("usage: portproxy.py --bridge=B --sandbox=ID proto:fd:ip:port...", file=sys.stderr)
        return 2
    asyncio.run(serve(specs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
