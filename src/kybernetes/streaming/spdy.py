"""SPDY/3.1 framing and an asyncio connection, as kubectl uses it for exec, attach and port-forward.

Design
------
Three layers, each usable on its own:

* **Frames** are small frozen dataclasses (`DataFrame`, `SynStream`, ... `WindowUpdate`).  `FrameCodec.encode`
  turns one into bytes; `FrameCodec.feed` takes any chunk of received bytes and returns the complete frames it
  now holds.  Both are pure apart from the per-connection zlib state.
* **Header blocks** (SYN_STREAM, SYN_REPLY, HEADERS) are zlib streams primed with the SPDY/3 dictionary
  (`HEADER_DICTIONARY`, a constant of the protocol).  Each direction of a connection owns one deflater (ours)
  and one inflater (the peer's); every block ends with a sync flush so it can be decoded on arrival.
  Invariant: header blocks are compressed in exactly the order their frames reach the wire, which is why
  `SpdyConnection` encodes and writes under one lock, and decoded in the order frames are read.
* **`SpdyConnection`** runs one reader task over a byte stream (an `asyncio.StreamReader` and anything with
  ``write``/``drain``/``close``, e.g. `asyncio.StreamWriter`).  Streams the peer opens arrive on
  `accept_stream`; `open_stream` opens our own.  `streams` holds only live streams: one closed both ways
  (FIN sent and received) or reset is dropped, so long port-forward sessions do not grow.  Stream ids: the client (the side that sent the HTTP upgrade)
  uses odd ids, the server even ids; ping ids follow the same parity.

Header names are lower-cased on the wire (spdystream, the Go library in kubectl and the kubelet, rejects
anything else); values holding several entries are NUL-joined.  Kubernetes names a stream by its
``streamtype`` header (``error``, ``stdin``, ``stdout``, ``stderr``, ``resize``; port-forward uses ``data`` and
``error`` with ``port`` and ``requestid``).

Flow control: we grant the peer credit (WINDOW_UPDATE) as the application consumes a stream, so a
flow-controlled peer never stalls.  spdystream never sends WINDOW_UPDATE, so honouring our own send window
would deadlock after 64 KiB against it; `SpdyConnection(enforce_send_window=False)` (the default) therefore
tracks the window but does not wait on it.

`upgrade_aiohttp` answers an aiohttp request carrying ``Upgrade: SPDY/3.1`` with 101 and returns the server-side
connection; `negotiate_protocol` picks an ``X-Stream-Protocol-Version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp import web

SPDY_VERSION = 3
UPGRADE_TOKEN = "SPDY/3.1"
PROTOCOL_HEADER = "X-Stream-Protocol-Version"
DEFAULT_WINDOW = 65536
MAX_DATA_CHUNK = 32768

# The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 section 2.6.10.1), 1423 bytes.
HEADER_DICTIONARY = bytes.fromhex(
    "000000076f7074696f6e73000000046865616400000004706f7374000000037075740000000664656c65746500000005"
    "7472616365000000066163636570740000000e6163636570742d636861727365740000000f6163636570742d656e636f"
    "64696e670000000f6163636570742d6c616e67756167650000000d6163636570742d72616e6765730000000361676500"
    "000005616c6c6f770000000d617574686f72697a6174696f6e0000000d63616368652d636f6e74726f6c0000000a636f"
    "6e6e656374696f6e0000000c636f6e74656e742d6261736500000010636f6e74656e742d656e636f64696e6700000010"
    "636f6e74656e742d6c616e67756167650000000e636f6e74656e742d6c656e67746800000010636f6e74656e742d6c6f"
    "636174696f6e0000000b636f6e74656e742d6d64350000000d636f6e74656e742d72616e67650000000c636f6e74656e"
    "742d74797065000000046461746500000004657461670000000665787065637400000007657870697265730000000466"
    "726f6d00000004686f73740000000869662d6d617463680000001169662d6d6f6469666965642d73696e63650000000d"
    "69662d6e6f6e652d6d617463680000000869662d72616e67650000001369662d756e6d6f6469666965642d73696e6365"
    "0000000d6c6173742d6d6f646966696564000000086c6f636174696f6e0000000c6d61782d666f727761726473000000"
    "06707261676d610000001270726f78792d61757468656e7469636174650000001370726f78792d617574686f72697a61"
    "74696f6e0000000572616e676500000007726566657265720000000b72657472792d6166746572000000067365727665"
    "7200000002746500000007747261696c6572000000117472616e736665722d656e636f64696e67000000077570677261"
    "64650000000a757365722d6167656e74000000047661727900000003766961000000077761726e696e67000000107777"
    "772d61757468656e746963617465000000066d6574686f64000000036765740000000673746174757300000006323030"
    "204f4b0000000776657273696f6e00000008485454502f312e310000000375726c000000067075626c69630000000a73"
    "65742d636f6f6b69650000000a6b6565702d616c697665000000066f726967696e313030313031323031323032323035"
    "323036333030333032333033333034333035333036333037343032343035343036343037343038343039343130343131"
    "343132343133343134343135343136343137353032353034353035323033204e6f6e2d417574686f7269746174697665"
    "20496e666f726d6174696f6e323034204e6f20436f6e74656e74333031204d6f766564205065726d616e656e746c7934"
    "303020426164205265717565737434303120556e617574686f72697a656434303320466f7262696464656e343034204e"
    "6f7420466f756e6435303020496e7465726e616c20536572766572204572726f72353031204e6f7420496d706c656d65"
    "6e746564353033205365727669636520556e617661696c61626c654a616e20466562204d617220417072204d6179204a"
    "756e204a756c204175672053657074204f6374204e6f76204465632030303a30303a3030204d6f6e2c205475652c2057"
    "65642c205468752c204672692c205361742c2053756e2c20474d546368756e6b65642c746578742f68746d6c2c696d61"
    "67652f706e672c696d6167652f6a70672c696d6167652f6769662c6170706c69636174696f6e2f786d6c2c6170706c69"
    "636174696f6e2f7868746d6c2b786d6c2c746578742f706c61696e2c746578742f6a6176617363726970742c7075626c"
    "6963707269766174656d61782d6167653d677a69702c6465666c6174652c73646368636861727365743d7574662d3863"
    "6861727365743d69736f2d383835392d312c7574662d2c2a2c656e713d302e"
)

# Protocol versions offered in X-Stream-Protocol-Version, newest first.
EXEC_PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
PORT_FORWARD_PROTOCOLS = ("portforward.k8s.io",)


class FrameType(enum.IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01
SETTINGS_INITIAL_WINDOW_SIZE = 7


class RstStatus(enum.IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    FRAME_TOO_LARGE = 11


class SpdyError(Exception):
    """A protocol violation or a closed connection/stream."""


Headers = dict[str, str]


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes
    flags: int = 0


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    associated_to: int = 0
    priority: int = 0
    flags: int = 0
    slot: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int
    flags: int = 0


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...]  # (flags, id, value)
    flags: int = 0


@dataclass(frozen=True)
class Ping:
    ping_id: int
    flags: int = 0


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0
    flags: int = 0


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int
    flags: int = 0


Frame = DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate

_ID = 0x7FFFFFFF


def encode_header_block(headers: Mapping[str, str]) -> bytes:
    """The uncompressed name/value block: 32-bit count, then 32-bit length-prefixed names and values."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        n, v = name.lower().encode(), value.encode()
        out.append(struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v)
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos, headers = 4, {}
        for _ in range(count):
            (ln,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4 : pos + 4 + ln].decode()
            pos += 4 + ln
            (lv,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4 : pos + 4 + lv].decode()
            pos += 4 + lv
            if pos > len(block):
                raise SpdyError("truncated header block")
            headers[name.lower()] = value
        return headers
    except (struct.error, UnicodeDecodeError) as e:
        raise SpdyError(f"malformed header block: {e}") from e


class FrameCodec:
    """Encodes our frames and decodes the peer's; owns one connection's two zlib header streams."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8,
                                         zlib.Z_DEFAULT_STRATEGY, HEADER_DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=HEADER_DICTIONARY)
        self._buf = bytearray()

    def compress_headers(self, headers: Mapping[str, str]) -> bytes:
        block = encode_header_block(headers)
        return self._deflate.compress(block) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def decompress_headers(self, data: bytes) -> Headers:
        try:
            return decode_header_block(self._inflate.decompress(data))
        except zlib.error as e:
            raise SpdyError(f"header block does not inflate: {e}") from e

    @staticmethod
    def _control(ftype: FrameType, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | SPDY_VERSION, ftype, (flags << 24) | len(payload)) + payload

    def encode(self, frame: Frame) -> bytes:
        c = self._control
        match frame:
            case DataFrame(sid, data, flags):
                if len(data) > 0xFFFFFF:
                    raise SpdyError("data frame too large")
                return struct.pack(">II", sid & _ID, (flags << 24) | len(data)) + data
            case SynStream(sid, headers, assoc, prio, flags, slot):
                head = struct.pack(">IIBB", sid & _ID, assoc & _ID, (prio & 7) << 5, slot)
                return c(FrameType.SYN_STREAM, flags, head + self.compress_headers(headers))
            case SynReply(sid, headers, flags):
                return c(FrameType.SYN_REPLY, flags, struct.pack(">I", sid & _ID) + self.compress_headers(headers))
            case RstStream(sid, status, flags):
                return c(FrameType.RST_STREAM, flags, struct.pack(">II", sid & _ID, status))
            case Settings(entries, flags):
                body = struct.pack(">I", len(entries)) + b"".join(
                    struct.pack(">II", (f << 24) | (i & 0xFFFFFF), v) for f, i, v in entries)
                return c(FrameType.SETTINGS, flags, body)
            case Ping(pid, flags):
                return c(FrameType.PING, flags, struct.pack(">I", pid))
            case GoAway(last, status, flags):
                return c(FrameType.GOAWAY, flags, struct.pack(">II", last & _ID, status))
            case HeadersFrame(sid, headers, flags):
                return c(FrameType.HEADERS, flags, struct.pack(">I", sid & _ID) + self.compress_headers(headers))
            case WindowUpdate(sid, delta, flags):
                return c(FrameType.WINDOW_UPDATE, flags, struct.pack(">II", sid & _ID, delta & _ID))
        raise TypeError(f"not a SPDY frame: {frame!r}")

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame now complete (unknown control types are skipped)."""
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word, flags_len = struct.unpack_from(">II", self._buf, 0)
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            frame = self._decode(word, flags_len >> 24, payload)
            if frame is not None:
                frames.append(frame)
        return frames

    def _decode(self, word: int, flags: int, p: bytes) -> Frame | None:
        if not word & 0x80000000:
            return DataFrame(word & _ID, p, flags)
        version, ftype = word >> 16 & 0x7FFF, word & 0xFFFF
        if version != SPDY_VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")
        try:
            if ftype == FrameType.SYN_STREAM:
                sid, assoc, prio, slot = struct.unpack_from(">IIBB", p)
                return SynStream(sid & _ID, self.decompress_headers(p[10:]), assoc & _ID, prio >> 5, flags, slot)
            if ftype == FrameType.SYN_REPLY:
                return SynReply(struct.unpack_from(">I", p)[0] & _ID, self.decompress_headers(p[4:]), flags)
            if ftype == FrameType.RST_STREAM:
                sid, status = struct.unpack_from(">II", p)
                return RstStream(sid & _ID, status, flags)
            if ftype == FrameType.SETTINGS:
                (n,) = struct.unpack_from(">I", p)
                entries = []
                for k in range(n):
                    fid, value = struct.unpack_from(">II", p, 4 + 8 * k)
                    entries.append((fid >> 24, fid & 0xFFFFFF, value))
                return Settings(tuple(entries), flags)
            if ftype == FrameType.PING:
                return Ping(struct.unpack_from(">I", p)[0], flags)
            if ftype == FrameType.GOAWAY:
                last, status = struct.unpack_from(">II", p)
                return GoAway(last & _ID, status, flags)
            if ftype == FrameType.HEADERS:
                return HeadersFrame(struct.unpack_from(">I", p)[0] & _ID, self.decompress_headers(p[4:]), flags)
            if ftype == FrameType.WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", p)
                return WindowUpdate(sid & _ID, delta & _ID, flags)
        except struct.error as e:
            raise SpdyError(f"short {FrameType(ftype).name} frame") from e
        return None


class ByteWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class ByteReader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class SpdyStream:
    """One SPDY stream: a byte pipe each way, half-closed independently (FIN), or reset."""

    def __init__(self, conn: SpdyConnection, stream_id: int, headers: Headers, send_window: int) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.headers = headers
        self.reply_headers: Headers = {}
        self._chunks: list[bytes] = []
        self._readable = asyncio.Event()
        self._replied = asyncio.Event()
        self.remote_closed = False
        self.local_closed = False
        self.reset_status: int | None = None
        self.send_window = send_window
        self._window_open = asyncio.Event()
        self._window_open.set()

    @property
    def stream_type(self) -> str:
        return self.headers.get("streamtype", "")

    def __repr__(self) -> str:
        return f"<SpdyStream {self.stream_id} {self.headers}>"

    # --- receiving -------------------------------------------------------------------------------------
    def _deliver(self, data: bytes, fin: bool) -> None:
        if data:
            self._chunks.append(data)
        if fin:
            self.remote_closed = True
            self.conn._forget_if_done(self)
        self._readable.set()

    def _abort(self, status: int | None) -> None:
        self.reset_status = status
        self.remote_closed = self.local_closed = True
        self._readable.set()
        self._replied.set()
        self._window_open.set()
        self.conn._forget_if_done(self)

    async def read(self) -> bytes:
        """The next chunk of data, or b"" at end of stream (FIN, reset or connection closed)."""
        while not self._chunks:
            if self.remote_closed:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = self._chunks.pop(0)
        await self.conn._consumed(self, len(data))
        return data

    async def read_all(self) -> bytes:
        out = []
        while chunk := await self.read():
            out.append(chunk)
        return b"".join(out)

    # --- sending ---------------------------------------------------------------------------------------
    async def reply(self, headers: Mapping[str, str] | None = None, fin: bool = False) -> None:
        await self.conn._send(SynReply(self.stream_id, dict(headers or {}), FLAG_FIN if fin else 0))
        self.local_closed = self.local_closed or fin
        self.conn._forget_if_done(self)

    async def wait_reply(self) -> Headers:
        await self._replied.wait()
        if self.reset_status is not None:
            raise SpdyError(f"stream {self.stream_id} reset ({self.reset_status})")
        return self.reply_headers

    async def write(self, data: bytes) -> None:
        if self.local_closed:
            raise SpdyError(f"stream {self.stream_id} is closed for writing")
        for i in range(0, len(data), MAX_DATA_CHUNK):
            chunk = data[i : i + MAX_DATA_CHUNK]
            if self.conn.enforce_send_window:
                while self.send_window <= 0 and self.reset_status is None:
                    self._window_open.clear()
                    await self._window_open.wait()
            self.send_window -= len(chunk)
            await self.conn._send(DataFrame(self.stream_id, chunk))

    async def close(self) -> None:
        """Half-close: send FIN; the peer may still send to us."""
        if not self.local_closed and self.reset_status is None:
            self.local_closed = True
            await self.conn._send(DataFrame(self.stream_id, b"", FLAG_FIN))
            self.conn._forget_if_done(self)

    async def reset(self, status: int = RstStatus.CANCEL) -> None:
        if self.reset_status is None:
            self._abort(status)
            await self.conn._send(RstStream(self.stream_id, status))


class SpdyConnection:
    """A SPDY/3.1 session over a byte stream; call `start()` (or use ``async with``) before anything else."""

    def __init__(self, reader: ByteReader, writer: ByteWriter, *, is_server: bool,
                 enforce_send_window: bool = False) -> None:
        self.reader = reader
        self.writer = writer
        self.is_server = is_server
        self.enforce_send_window = enforce_send_window
        self.codec = FrameCodec()
        self.streams: dict[int, SpdyStream] = {}
        self.incoming: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self._next_id = 2 if is_server else 1
        self._next_ping = 2 if is_server else 1
        self._pings: dict[int, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.initial_send_window = DEFAULT_WINDOW
        self.last_accepted = 0
        self.closed = asyncio.Event()
        self.goaway_received = False
        self.error: BaseException | None = None

    async def __aenter__(self) -> SpdyConnection:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._read_loop())

    async def _send(self, frame: Frame) -> None:
        async with self._lock:
            if self.closed.is_set():
                raise SpdyError("connection closed")
            self.writer.write(self.codec.encode(frame))
            await self.writer.drain()

    def _forget_if_done(self, stream: SpdyStream) -> None:
        """Drop a stream closed in both directions (or reset); frames for its id are then ignored."""
        if stream.local_closed and stream.remote_closed and self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]

    async def _consumed(self, stream: SpdyStream, n: int) -> None:
        if n and not stream.remote_closed and not self.closed.is_set():
            with contextlib.suppress(SpdyError, ConnectionError):
                await self._send(WindowUpdate(stream.stream_id, n))

    async def open_stream(self, headers: Mapping[str, str], *, fin: bool = False,
                          wait_reply: bool = True) -> SpdyStream:
        sid = self._next_id
        self._next_id += 2
        stream = SpdyStream(self, sid, dict(headers), self.initial_send_window)
        stream.local_closed = fin
        self.streams[sid] = stream
        await self._send(SynStream(sid, stream.headers, flags=FLAG_FIN if fin else 0))
        if wait_reply:
            await stream.wait_reply()
        return stream

    async def accept_stream(self) -> SpdyStream | None:
        """The next stream the peer opened (not yet replied to), or None once the connection is closed."""
        if (self.closed.is_set() or self.goaway_received) and self.incoming.empty():
            return None
        return await self.incoming.get()

    async def accept_streams(self, wanted: Iterable[str], timeout: float = 30.0) -> dict[str, SpdyStream]:
        """Accept and reply to streams until one of each wanted ``streamtype`` has arrived."""
        want = set(wanted)
        got: dict[str, SpdyStream] = {}
        async with asyncio.timeout(timeout):
            while want - got.keys():
                stream = await self.accept_stream()
                if stream is None:
                    raise SpdyError(f"connection closed before streams {sorted(want - got.keys())}")
                await stream.reply()
                got[stream.stream_type] = stream
        return got

    async def ping(self) -> None:
        pid = self._next_ping
        self._next_ping += 2
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[pid] = fut
        await self._send(Ping(pid))
        await fut

    async def close(self, status: int = 0) -> None:
        """Send GOAWAY, close the byte stream and end every stream."""
        if not self.closed.is_set():
            with contextlib.suppress(SpdyError, ConnectionError, RuntimeError):
                await self._send(GoAway(self.last_accepted, status))
            self._shutdown()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_closed(self) -> None:
        await self.closed.wait()

    def _shutdown(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for stream in self.streams.values():
            if stream.reset_status is None:
                stream.remote_closed = True
                stream._readable.set()
                stream._replied.set()
                stream._window_open.set()
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(SpdyError("connection closed"))
        self.incoming.put_nowait(None)
        with contextlib.suppress(Exception):
            self.writer.close()

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for frame in self.codec.feed(data):
                    await self._handle(frame)
        except (SpdyError, ConnectionError) as e:
            self.error = e
        finally:
            self._shutdown()

    async def _handle(self, frame: Frame) -> None:
        match frame:
            case DataFrame(sid, data, flags):
                stream = self.streams.get(sid)
                if stream is None or stream.reset_status is not None:
                    return
                stream._deliver(data, bool(flags & FLAG_FIN))
            case SynStream(sid, headers, _, _, flags, _):
                if self.goaway_received or sid in self.streams:
                    await self._send(RstStream(sid, RstStatus.PROTOCOL_ERROR))
                    return
                stream = SpdyStream(self, sid, headers, self.initial_send_window)
                if flags & FLAG_FIN:
                    stream.remote_closed = True
                if flags & FLAG_UNIDIRECTIONAL:
                    stream.local_closed = True
                self.streams[sid] = stream
                self.last_accepted = max(self.last_accepted, sid)
                self.incoming.put_nowait(stream)
            case SynReply(sid, headers, flags) | HeadersFrame(sid, headers, flags):
                stream = self.streams.get(sid)
                if stream is None:
                    return
                if isinstance(frame, SynReply):
                    stream.reply_headers = headers
                    stream._replied.set()
                else:
                    stream.headers.update(headers)
                if flags & FLAG_FIN:
                    stream._deliver(b"", True)
            case RstStream(sid, status, _):
                stream = self.streams.get(sid)
                if stream is not None:
                    stream._abort(status)
            case Settings(entries, _):
                for _f, sid, value in entries:
                    if sid == SETTINGS_INITIAL_WINDOW_SIZE:
                        for stream in self.streams.values():
                            stream.send_window += value - self.initial_send_window
                        self.initial_send_window = value
            case Ping(pid, _):
                if pid % 2 != self._next_ping % 2:
                    await self._send(frame)
                elif (fut := self._pings.pop(pid, None)) is not None and not fut.done():
                    fut.set_result(None)
            case GoAway():
                self.goaway_received = True
                self.incoming.put_nowait(None)
            case WindowUpdate(sid, delta, _):
                stream = self.streams.get(sid)
                if stream is not None:
                    stream.send_window += delta
                    stream._window_open.set()


def negotiate_protocol(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """The first of our supported protocols the client offered (headers may repeat or be comma-joined)."""
    tokens = {t.strip() for value in offered for t in value.split(",")}
    return next((p for p in supported if p in tokens), None)


class _ReaderFeed:
    """Stands in for aiohttp's payload parser after the upgrade: raw bytes go to an asyncio.StreamReader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


class _ResponseWriter:
    """``write``/``drain``/``close`` over an aiohttp response that has been prepared with status 101."""

    def __init__(self, response: web.StreamResponse, request: web.BaseRequest) -> None:
        self.response = response
        self.request = request
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._pending.append(data)

    async def drain(self) -> None:
        data, self._pending = b"".join(self._pending), []
        if data:
            await self.response.write(data)

    def close(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.close()


async def upgrade_aiohttp(request: web.BaseRequest, supported: Sequence[str] = EXEC_PROTOCOLS,
                          ) -> tuple[SpdyConnection, str, web.StreamResponse] | None:
    """Switch an aiohttp request to SPDY/3.1 if it asks for it with a protocol we speak.

    Returns ``(connection, protocol, response)`` with the connection started, or None (the caller answers
    with an error).  The handler must keep running until it is done with the connection and then return the
    response.  aiohttp only recognises ``websocket`` upgrades, so we install our own payload feeder before
    sending 101; the client sends no SPDY bytes before it has read the 101, so none can be lost.
    """
    from aiohttp import web

    if request.headers.get("Upgrade", "").lower() != UPGRADE_TOKEN.lower():
        return None
    protocol = negotiate_protocol(request.headers.getall(PROTOCOL_HEADER, []), supported)
    if protocol is None:
        return None
    reader = asyncio.StreamReader(limit=2**20)
    request.protocol.set_parser(_ReaderFeed(reader))  # type: ignore[arg-type]
    request.protocol.keep_alive(False)
    response = web.StreamResponse(status=101, headers={
        "Connection": "Upgrade", "Upgrade": UPGRADE_TOKEN, PROTOCOL_HEADER: protocol})
    await response.prepare(request)
    conn = SpdyConnection(reader, _ResponseWriter(response, request), is_server=True)
    conn.start()
    return conn, protocol, response


__all__ = [
    "EXEC_PROTOCOLS", "HEADER_DICTIONARY", "PORT_FORWARD_PROTOCOLS", "DataFrame", "Frame", "FrameCodec",
    "FrameType", "GoAway", "HeadersFrame", "Ping", "RstStatus", "RstStream", "Settings", "SpdyConnection",
    "SpdyError", "SpdyStream", "SynReply", "SynStream", "WindowUpdate", "negotiate_protocol", "upgrade_aiohttp",
]
