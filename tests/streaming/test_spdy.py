"""SPDY/3.1 framing: byte vectors from the spec's frame layouts, header compression, and a loopback session."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kybernetes.streaming import spdy
from kybernetes.streaming.spdy import (
    FLAG_FIN,
    HEADER_DICTIONARY,
    DataFrame,
    FrameCodec,
    GoAway,
    HeadersFrame,
    Ping,
    RstStream,
    Settings,
    SpdyConnection,
    SpdyError,
    SynReply,
    SynStream,
    WindowUpdate,
)
from kybernetes.streaming.status import exit_code_of, exit_code_status


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(HEADER_DICTIONARY) == 1423
    assert HEADER_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert HEADER_DICTIONARY.endswith(b"charset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
    # the dictionary id zlib writes into every header stream is the Adler-32 of the dictionary
    block = FrameCodec().compress_headers({"streamtype": "error"})
    assert block[1] & 0x20  # FDICT
    assert int.from_bytes(block[2:6], "big") == zlib.adler32(HEADER_DICTIONARY) == 0xE3C6A7C2


def test_known_byte_vectors() -> None:
    c = FrameCodec()
    assert c.encode(Ping(1)) == bytes.fromhex("80030006 00000004 00000001")
    assert c.encode(DataFrame(1, b"hi", FLAG_FIN)) == bytes.fromhex("00000001 01000002 6869")
    assert c.encode(RstStream(3, spdy.RstStatus.CANCEL)) == bytes.fromhex("80030003 00000008 00000003 00000005")
    assert c.encode(GoAway(5, 0)) == bytes.fromhex("80030007 00000008 00000005 00000000")
    assert c.encode(WindowUpdate(1, 0x10000)) == bytes.fromhex("80030009 00000008 00000001 00010000")
    assert c.encode(Settings(((0, 7, 65536),))) == bytes.fromhex("80030004 0000000c 00000001 00000007 00010000")


def test_header_block_layout() -> None:
    raw = spdy.encode_header_block({"StreamType": "stdin", "port": "80"})
    assert raw == (b"\x00\x00\x00\x02" + b"\x00\x00\x00\x0astreamtype\x00\x00\x00\x05stdin"
                   + b"\x00\x00\x00\x04port\x00\x00\x00\x0280")
    assert spdy.decode_header_block(raw) == {"streamtype": "stdin", "port": "80"}


def test_header_block_inflates_with_plain_zlib_and_the_dictionary() -> None:
    """An independent inflater (zlib primed only with the published dictionary) reads our blocks in order."""
    c = FrameCodec()
    frame1 = c.encode(SynStream(1, {"streamtype": "error"}))
    frame2 = c.encode(SynStream(3, {"streamtype": "stdout"}, priority=2))
    assert frame1[:4] == bytes.fromhex("80030001")
    assert frame1[8:18] == bytes.fromhex("00000001 00000000 0000")
    d = zlib.decompressobj(zdict=HEADER_DICTIONARY)
    assert spdy.decode_header_block(d.decompress(frame1[18:])) == {"streamtype": "error"}
    assert frame2[16] == 2 << 5
    assert spdy.decode_header_block(d.decompress(frame2[18:])) == {"streamtype": "stdout"}
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(frame1[18:])


def test_round_trip_every_frame_type_across_split_reads() -> None:
    frames: list[spdy.Frame] = [
        SynStream(1, {"streamtype": "stdin", "requestid": "0"}, associated_to=0, priority=3, flags=2),
        SynReply(1, {}), SynReply(2, {"a": "b\x00c"}, FLAG_FIN), RstStream(7, 5), Settings(((1, 7, 1 << 20),)),
        Ping(2), GoAway(9, 1), HeadersFrame(1, {"x": "y"}), WindowUpdate(3, 100),
        DataFrame(1, b"x" * 70000), DataFrame(3, b"", FLAG_FIN),
    ]
    sender, receiver = FrameCodec(), FrameCodec()
    wire = b"".join(sender.encode(f) for f in frames)
    got: list[spdy.Frame] = []
    for i in range(0, len(wire), 7):
        got += receiver.feed(wire[i : i + 7])
    assert got == frames


def test_unknown_control_frames_are_skipped_and_bad_versions_refused() -> None:
    c = FrameCodec()
    assert c.feed(bytes.fromhex("8003000a 00000002 abcd") + c.encode(Ping(1))) == [Ping(1)]
    with pytest.raises(SpdyError):
        FrameCodec().feed(bytes.fromhex("80020006 00000004 00000001"))


def test_negotiate_protocol() -> None:
    assert spdy.negotiate_protocol(["channel.k8s.io", "v4.channel.k8s.io"], spdy.EXEC_PROTOCOLS) == \
        "v4.channel.k8s.io"
    assert spdy.negotiate_protocol(["v2.channel.k8s.io, channel.k8s.io"], spdy.EXEC_PROTOCOLS) == \
        "v2.channel.k8s.io"
    assert spdy.negotiate_protocol(["v9"], spdy.EXEC_PROTOCOLS) is None


async def _echo_exec(request: web.Request) -> web.StreamResponse:
    upgraded = await spdy.upgrade_aiohttp(request)
    if upgraded is None:
        return web.Response(status=400)
    conn, protocol, response = upgraded
    assert protocol == "v4.channel.k8s.io"
    streams = await conn.accept_streams(["error", "stdin", "stdout"])
    data = await streams["stdin"].read_all()
    await streams["stdout"].write(data.upper())
    await streams["stdout"].close()
    await streams["error"].write(spdy_status(3))
    await streams["error"].close()
    await conn.ping()
    await conn.close()
    return response


def spdy_status(code: int) -> bytes:
    from kybernetes.streaming.status import encode_status
    return encode_status(exit_code_status(["sh", "-c", f"exit {code}"], code))


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_post("/exec", _echo_exec)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


async def _client_upgrade(port: int, protocols: list[str]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter,
                                                                    bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = "".join(f"X-Stream-Protocol-Version: {p}\r\n" for p in protocols)
    writer.write(f"POST /exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n{lines}"
                 "Content-Length: 0\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


async def test_loopback_exec_over_aiohttp_upgrade(port: int) -> None:
    reader, writer, head = await _client_upgrade(port, ["v4.channel.k8s.io", "channel.k8s.io"])
    assert head.startswith(b"HTTP/1.1 101")
    assert b"X-Stream-Protocol-Version: v4.channel.k8s.io" in head
    assert b"Transfer-Encoding" not in head
    async with SpdyConnection(reader, writer, is_server=False) as conn:
        error = await conn.open_stream({"streamType": "error"})
        stdin = await conn.open_stream({"streamType": "stdin"})
        stdout = await conn.open_stream({"streamType": "stdout"})
        assert [s.stream_id for s in (error, stdin, stdout)] == [1, 3, 5]
        await stdin.write(b"hello ")
        await stdin.write(b"world" * 20000)
        await stdin.close()
        assert await stdout.read_all() == (b"hello " + b"world" * 20000).upper()
        raw = await error.read_all()
        assert exit_code_of(raw) == 3
        assert stdin.stream_id in conn.streams  # half-closed by us only: still live
        await asyncio.wait_for(conn.wait_closed(), 5)  # the server said GOAWAY and hung up


async def test_upgrade_refused_without_a_known_protocol(port: int) -> None:
    _, writer, head = await _client_upgrade(port, ["v9.channel.k8s.io"])
    assert head.startswith(b"HTTP/1.1 400")
    writer.close()


async def test_reset_and_ping_between_two_connections() -> None:
    """Two SpdyConnections over a socket pair: rst ends a stream, pings are answered by the other side."""
    server_side: asyncio.Queue[SpdyConnection] = asyncio.Queue()

    async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conn = SpdyConnection(r, w, is_server=True)
        conn.start()
        server_side.put_nowait(conn)

    srv = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port)
    async with SpdyConnection(r, w, is_server=False) as client:
        server = await server_side.get()
        opening = asyncio.ensure_future(client.open_stream({"streamtype": "data", "port": "80", "requestID": "0"}))
        incoming = await server.accept_stream()
        assert incoming is not None
        assert incoming.headers == {"streamtype": "data", "port": "80", "requestid": "0"}
        await incoming.reply()
        stream = await opening
        await client.ping()
        await server.ping()
        await incoming.reset()
        assert await stream.read() == b""
        assert stream.reset_status == spdy.RstStatus.CANCEL
        assert stream.stream_id not in client.streams and incoming.stream_id not in server.streams
        with pytest.raises(SpdyError):
            await stream.write(b"x")
        await server.close()
        assert await client.accept_stream() is None
    srv.close()
    await srv.wait_closed()


async def _pair() -> tuple[SpdyConnection, SpdyConnection, asyncio.Server]:
    accepted: asyncio.Queue[SpdyConnection] = asyncio.Queue()

    async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conn = SpdyConnection(r, w, is_server=True, enforce_send_window=True)
        conn.start()
        accepted.put_nowait(conn)

    srv = await asyncio.start_server(on_client, "127.0.0.1", 0)
    r, w = await asyncio.open_connection("127.0.0.1", srv.sockets[0].getsockname()[1])
    client = SpdyConnection(r, w, is_server=False)
    client.start()
    return client, await accepted.get(), srv


async def test_flow_control_window_and_settings() -> None:
    """A sender that honours windows stalls at 64 KiB until the reader consumes (and so grants credit)."""
    client, server, srv = await _pair()
    try:
        opening = asyncio.ensure_future(client.open_stream({"streamtype": "stdout"}))
        theirs = await server.accept_stream()
        assert theirs is not None
        await theirs.reply()
        ours = await opening
        writing = asyncio.ensure_future(theirs.write(b"a" * (spdy.DEFAULT_WINDOW + 10)))
        await asyncio.sleep(0.1)
        assert not writing.done()  # window exhausted after 65536 bytes; nothing consumed yet
        assert theirs.send_window == 0
        got = b""
        while len(got) < spdy.DEFAULT_WINDOW + 10:
            got += await ours.read()
        await asyncio.wait_for(writing, 5)
        # SETTINGS INITIAL_WINDOW_SIZE adjusts every open stream's window by the difference
        await client._send(Settings(((0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 2 * spdy.DEFAULT_WINDOW),)))
        await asyncio.sleep(0.05)
        assert server.initial_send_window == 2 * spdy.DEFAULT_WINDOW
        assert theirs.send_window >= spdy.DEFAULT_WINDOW
        # GOAWAY: no further streams are accepted
        await client._send(GoAway(0))
        assert await asyncio.wait_for(server.accept_stream(), 5) is None
        assert await server.accept_stream() is None
    finally:
        await client.close()
        await server.close()
        srv.close()
        await srv.wait_closed()
