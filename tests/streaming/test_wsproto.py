"""The WebSocket channel protocols: message codecs and a loopback (aiohttp server + aiohttp client)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from kybernetes.streaming import wsproto
from kybernetes.streaming.status import exec_result_status, exit_code_of

PORTS = web.AppKey("ports", list[int])


def test_message_codecs() -> None:
    assert wsproto.encode_message(1, b"hi") == b"\x01hi"
    assert wsproto.encode_message(1, b"hi", "base64.channel.k8s.io") == "1aGk="
    assert wsproto.decode_message("2aGk=", "base64.channel.k8s.io") == (2, b"hi")
    assert wsproto.decode_message(b"\xff\x00", "v5.channel.k8s.io") == (255, b"\x00")
    assert wsproto.decode_message("\x00typed\n", "v4.channel.k8s.io") == (0, b"typed\n")  # text frame, binary protocol
    with pytest.raises(ValueError):
        wsproto.decode_message(b"")
    assert wsproto.encode_resize(wsproto.TerminalSize(80, 24)) == b'{"Width": 80, "Height": 24}'
    assert wsproto.decode_resize(b'{"Width":100,"Height":50}') == wsproto.TerminalSize(100, 50)
    assert wsproto.port_prefix(8080) == b"\x90\x1f"


async def _exec(request: web.Request) -> web.StreamResponse:
    """Echo stdin upper-cased on stdout, report each resize on stderr; exit 3 once stdin ends (or at 'q')."""
    accepted = await wsproto.accept_websocket(request)
    assert accepted is not None
    ws, protocol = accepted
    session = wsproto.ExecSession(ws, protocol)
    session.start()
    while chunk := await session.read_stdin():
        await session.write_stdout(chunk.upper())
        size = session.resizes.get_nowait() if not session.resizes.empty() else None
        if size is not None:
            await session.write_stderr(f"{size.width}x{size.height}".encode())
        if chunk.endswith(b"q"):
            break
    await session.close_channel(wsproto.STDOUT)
    await session.finish(exec_result_status(["sh", "-c", "exit 3"], 3))
    return ws


async def _portforward(request: web.Request) -> web.StreamResponse:
    ports = [int(p) for p in request.query["ports"].split(",")]
    accepted = await wsproto.accept_websocket(request, wsproto.PORT_FORWARD_WS_PROTOCOLS, "portforward.k8s.io")
    assert accepted is not None
    ws, protocol = accepted
    session = wsproto.PortForwardSession(ws, protocol, ports)
    await session.open()
    await session.send_data(1, b"hello from " + str(ports[1]).encode())
    await session.send_error(0, "nothing listens on 80")
    await ws.close()
    return ws


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/exec", _exec)
    app.router.add_get("/portforward", _portforward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def _collect(ws: aiohttp.ClientWebSocketResponse) -> dict[int, bytes]:
    got: dict[int, bytes] = {}
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.BINARY:
            channel, data = wsproto.decode_message(msg.data)
            got[channel] = got.get(channel, b"") + data
    return got


async def test_v5_resize_and_close_signal(base_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{base_url}/exec", protocols=("v5.channel.k8s.io",)) as ws:
        assert ws.protocol == "v5.channel.k8s.io"
        await ws.send_bytes(bytes([wsproto.RESIZE]) + json.dumps({"Width": 120, "Height": 40}).encode())
        await ws.send_bytes(b"\x00abc")
        await ws.send_bytes(b"\x00def")
        await ws.send_bytes(bytes([wsproto.CLOSE_SIGNAL, wsproto.STDIN]))
        got = await _collect(ws)
    assert got[wsproto.STDOUT] == b"ABCDEF"
    assert got[wsproto.STDERR] == b"120x40"
    assert got[wsproto.CLOSE_SIGNAL] == bytes([wsproto.STDOUT])
    assert exit_code_of(got[wsproto.ERROR]) == 3


async def test_v4_has_no_close_signal(base_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{base_url}/exec", protocols=("v4.channel.k8s.io", "channel.k8s.io")) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        await ws.send_bytes(bytes([wsproto.CLOSE_SIGNAL, wsproto.STDIN]))  # ignored before v5
        await ws.send_bytes(b"\x00xq")
        got = await _collect(ws)
    assert got[wsproto.STDOUT] == b"XQ"
    assert wsproto.CLOSE_SIGNAL not in got
    assert exit_code_of(got[wsproto.ERROR]) == 3


async def test_base64_protocol(base_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{base_url}/exec", protocols=("base64.channel.k8s.io",)) as ws:
        message = wsproto.encode_message(0, b"hiq", "base64.channel.k8s.io")
        assert isinstance(message, str)
        await ws.send_str(message)
        texts = [msg.data async for msg in ws if msg.type == aiohttp.WSMsgType.TEXT]
    decoded = [wsproto.decode_message(t, "base64.channel.k8s.io") for t in texts]
    assert (wsproto.STDOUT, b"HIQ") in decoded
    assert (wsproto.ERROR, b"command terminated with non-zero exit code: error executing command "
                           b"[sh -c exit 3], exit code 3") in decoded


async def test_port_forward_prefixes(base_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{base_url}/portforward?ports=80,8080", protocols=("v2.portforward.k8s.io",)) as ws:
        msgs = [wsproto.decode_message(m.data) async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
    assert msgs[:4] == [(0, b"\x50\x00"), (1, b"\x50\x00"), (2, b"\x90\x1f"), (3, b"\x90\x1f")]
    assert (2, b"hello from 8080") in msgs
    assert (1, b"nothing listens on 80") in msgs
