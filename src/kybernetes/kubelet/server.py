"""The node agent's streaming server: container logs, exec, attach and port-forward, shaped like the kubelet's.

Routes (the kubelet's own paths; the API server's ``pods/log|exec|attach|portforward`` proxy forwards to them):

* ``GET /containerLogs/{namespace}/{pod}/{container}`` with ``follow``, ``tailLines``, ``sinceSeconds``,
  ``sinceTime``, ``timestamps``, ``previous``, ``limitBytes``: the CRI log as plain text, chunked, one write per
  line; with ``follow`` it stays open until the container exits (and the log is drained) or the client leaves.
* ``GET|POST /exec/{namespace}/{pod}/{container}?command=...&stdin&stdout&stderr&tty``: an upgrade to SPDY/3.1
  (``v4.channel.k8s.io`` and older) or to a WebSocket (``v5``/``v4``... channel protocols); the exit code goes
  back on the error channel as a ``Status`` (see `kybernetes.streaming.status`), so ``kubectl exec`` exits with it.
* ``GET|POST /attach/{namespace}/{pod}/{container}?stdin&stdout&stderr&tty``: the same upgrades, connected to
  the container's own stdio through the runtime's ``attach`` (`AttachedIO`), not to a new process. As the
  kubelet does, the terminal setting is the container's (a ``tty`` query only shapes which SPDY streams the
  client opens), stderr is not separate with a terminal, and at least one of stdin/stdout/stderr is required.
  Refusals come before the upgrade as plain HTTP errors: not running (400), no such container (404), ``stdin``
  to a container created without ``stdin: true`` (400). The session ends when the container exits (output
  drained) or when the client goes away (the container goes on; with ``stdinOnce`` its stdin is closed); either
  way the error channel gets ``Success``, as upstream's attach writes it (the exit code is the pod status's:
  ``kubectl run -i --restart=Never`` reads it from there).
* ``/portForward/{namespace}/{pod}``: see `kubelet.portforward`.

The server knows nothing of the agent's internals: it asks a `PodLookup` (which container of which pod, where
its log is, how to reach the pod's network) and runs execs through the CRI-shaped `Runtime`. Errors before the
upgrade are ``Status`` bodies with upstream's wording (``container "c" in pod "p" is waiting to start:
ContainerCreating``); errors after it go on the error channel.

No TLS and no authentication yet: the agent binds this server to loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from kybernetes.kubelet import portforward
from kybernetes.runtime.api import (
    AttachedIO,
    ExecProcess,
    InvalidState,
    NoStdin,
    NotFound,
    Runtime,
    RuntimeError_,
)
from kybernetes.runtime.logs import LogFormatError, parse_timestamp, read_log
from kybernetes.streaming import spdy, wsproto
from kybernetes.streaming.status import encode_for_protocol, error_status, exec_result_status, success_status

STATE_POLL = 0.5  # seconds between "is the container still running?" checks while following a log


@dataclass(frozen=True)
class ContainerRef:
    """What the server needs of one container. ``id`` empty: the container does not exist yet."""

    id: str
    log_path: str = ""
    running: bool = False
    waiting_reason: str = "ContainerCreating"


@dataclass(frozen=True)
class PodNetwork:
    """Where a pod's ports are: inside ``netns_path`` on 127.0.0.1, or at ``ip``, or (both empty) on the host."""

    netns_path: str = ""
    ip: str = ""


class PodLookup(Protocol):
    async def container(self, namespace: str, pod: str, container: str, previous: bool) -> ContainerRef | None:
        """The container (None: no such pod or container on this node)."""
        ...

    async def pod_network(self, namespace: str, pod: str) -> PodNetwork | None:
        """How to reach the pod's ports (None: no such pod on this node)."""
        ...


def status_body(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    return web.Response(status=code, text=json.dumps(body), content_type="application/json")


def _flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    return default if value is None else value.lower() in ("true", "1")


def _int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"invalid {name}: {value!r}") from None


@dataclass
class ExecIO:
    """The client side of an exec, whatever the transport."""

    read_stdin: Callable[[], Awaitable[bytes]]  # b"" at end of input
    write_stdout: Callable[[bytes], Awaitable[None]]
    write_stderr: Callable[[bytes], Awaitable[None]]
    next_resize: Callable[[], Awaitable[wsproto.TerminalSize | None]]  # None: no more resizes


async def pump_exec(proc: ExecProcess, io: ExecIO, stdin: bool, tty: bool) -> int:
    """Connect a running exec to its client until the process exits; returns the exit code."""

    async def feed_stdin() -> None:
        while chunk := await io.read_stdin():
            await proc.write_stdin(chunk)
        await proc.close_stdin()

    async def copy(source: AsyncIterator[bytes], write: Callable[[bytes], Awaitable[None]]) -> None:
        async for chunk in source:
            with contextlib.suppress(ConnectionError):
                await write(chunk)

    async def resizes() -> None:
        while (size := await io.next_resize()) is not None:
            await proc.resize(size.width, size.height)

    side = [asyncio.ensure_future(feed_stdin())] if stdin else []
    if tty:
        side.append(asyncio.ensure_future(resizes()))
    outputs = [asyncio.ensure_future(copy(proc.stdout(), io.write_stdout)),
               asyncio.ensure_future(copy(proc.stderr(), io.write_stderr))]
    try:
        code = await proc.wait()
        await asyncio.gather(*outputs, return_exceptions=True)
        return code
    finally:
        for task in side + outputs:
            task.cancel()
        await asyncio.gather(*side, *outputs, return_exceptions=True)


async def pump_attach(attached: AttachedIO, io: ExecIO, stdin: bool, client_gone: Awaitable[None]) -> bool:
    """Connect an attachment to its client until the container exits (True) or the client leaves (False).

    The attachment's output is always read to its end, even once the client stopped taking it, so that it never
    backs up into the container's shim.
    """

    async def feed_stdin() -> None:
        while chunk := await io.read_stdin():
            await attached.write_stdin(chunk)
        await attached.close_stdin()

    async def copy(source: AsyncIterator[bytes], write: Callable[[bytes], Awaitable[None]]) -> None:
        broken = False
        async for chunk in source:
            if not broken:
                try:
                    await write(chunk)
                except (ConnectionError, RuntimeError, spdy.SpdyError):  # the client is going away
                    broken = True

    async def resizes() -> None:
        while (size := await io.next_resize()) is not None:
            await attached.resize(size.width, size.height)

    side = [asyncio.ensure_future(feed_stdin())] if stdin else []
    if attached.tty:
        side.append(asyncio.ensure_future(resizes()))
    outputs = [asyncio.ensure_future(copy(attached.stdout(), io.write_stdout)),
               asyncio.ensure_future(copy(attached.stderr(), io.write_stderr))]
    exited = asyncio.ensure_future(attached.wait())
    gone = asyncio.ensure_future(client_gone)
    try:
        await asyncio.wait([exited, gone], return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            await asyncio.gather(*outputs, return_exceptions=True)
            return True
        return False
    finally:
        for task in [*side, *outputs, exited, gone]:
            task.cancel()
        await asyncio.gather(*side, *outputs, exited, gone, return_exceptions=True)


async def _no_input() -> bytes:
    return b""


async def _no_resize() -> wsproto.TerminalSize | None:
    return None


class _SpdyChannels:
    """The SPDY/3.1 streams of one exec or attach: stdin, stdout, stderr, resize and the error channel."""

    def __init__(self, conn: spdy.SpdyConnection, protocol: str, response: web.StreamResponse,
                 streams: dict[str, spdy.SpdyStream]) -> None:
        self.conn = conn
        self.protocol = protocol
        self.response = response
        self.streams = streams
        self._pending = b""

    @classmethod
    async def accept(cls, request: web.Request, stdin: bool, stdout: bool, stderr: bool,
                     tty: bool) -> _SpdyChannels | web.StreamResponse:
        """Upgrade and wait for the streams the client announced in its query; a response when that failed."""
        upgraded = await spdy.upgrade_aiohttp(request)
        if upgraded is None:
            return status_body(400, "BadRequest", "unable to upgrade connection: expected an upgrade to "
                                                  "SPDY/3.1 or WebSocket")
        conn, protocol, response = upgraded
        wanted = ["error"] + ["stdin"] * stdin + ["stdout"] * stdout + ["stderr"] * (stderr and not tty)
        if tty and protocol not in ("channel.k8s.io", "v2.channel.k8s.io"):
            wanted.append("resize")
        try:
            streams = await conn.accept_streams(wanted)
        except (TimeoutError, spdy.SpdyError):
            await conn.close()
            return response
        return cls(conn, protocol, response, streams)

    def writer(self, kind: str) -> Callable[[bytes], Awaitable[None]]:
        stream = self.streams.get(kind)

        async def write(data: bytes) -> None:
            if stream is not None:
                await stream.write(data)
        return write

    async def next_resize(self) -> wsproto.TerminalSize | None:
        stream = self.streams.get("resize")
        if stream is None:
            return None
        decoder = json.JSONDecoder()
        while True:
            text = self._pending.decode(errors="replace").lstrip()
            with contextlib.suppress(ValueError):
                obj, end = decoder.raw_decode(text)
                self._pending = text[end:].encode()
                return wsproto.TerminalSize(int(obj.get("Width", 0)), int(obj.get("Height", 0)))
            chunk = await stream.read()
            if not chunk:
                return None
            self._pending += chunk

    def io(self, tty: bool) -> ExecIO:
        read = self.streams["stdin"].read if "stdin" in self.streams else _no_input
        return ExecIO(read, self.writer("stdout"), self.writer("stderr"), self.next_resize if tty else _no_resize)

    async def finish(self, status: dict[str, Any]) -> web.StreamResponse:
        """Close the output streams, write the status on the error channel, close the connection."""
        with contextlib.suppress(ConnectionError, RuntimeError, spdy.SpdyError):
            for kind in ("stdout", "stderr"):
                if kind in self.streams:
                    await self.streams[kind].close()
            payload = encode_for_protocol(self.protocol, status)
            if payload:
                await self.streams["error"].write(payload)
            await self.streams["error"].close()
        await self.conn.close()
        return self.response


class StreamingServer:
    def __init__(self, lookup: PodLookup, runtime: Runtime) -> None:
        self.lookup = lookup
        self.runtime = runtime

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/exec/{namespace}/{pod}/{container}", self.exec)
            app.router.add_route(method, "/attach/{namespace}/{pod}/{container}", self.attach)
            app.router.add_route(method, "/portForward/{namespace}/{pod}", self.port_forward)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # --- logs ------------------------------------------------------------------------------------------------

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
        previous = _flag(request, "previous")
        tail, limit, since_seconds = _int(request, "tailLines"), _int(request, "limitBytes"), _int(
            request, "sinceSeconds")
        since: float | None = None
        if since_seconds is not None:
            since = time.time() - since_seconds
        elif request.query.get("sinceTime"):
            try:
                since = parse_timestamp(request.query["sinceTime"]) / 1e9
            except LogFormatError:
                return status_body(400, "BadRequest", f"invalid sinceTime: {request.query['sinceTime']!r}")
        ref = await self.lookup.container(ns, pod, name, previous)
        if ref is None:
            return status_body(404, "NotFound", f'container "{name}" in pod "{pod}" not found')
        if not ref.id:
            if previous:
                return status_body(400, "BadRequest",
                                   f'previous terminated container "{name}" in pod "{pod}" not found')
            return status_body(400, "BadRequest",
                               f'container "{name}" in pod "{pod}" is waiting to start: {ref.waiting_reason}')
        follow = _flag(request, "follow") and ref.running and not previous
        state = {"running": ref.running}
        watcher = asyncio.ensure_future(self._watch_running(ns, pod, name, state)) if follow else None
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        try:
            async for record in read_log(ref.log_path, follow=follow, tail=tail, since=since,
                                         timestamps=_flag(request, "timestamps"),
                                         follow_until=lambda: not state["running"]):
                data = record.data
                if limit is not None:
                    data = data[:max(limit - sent, 0)]
                sent += len(data)
                if data:
                    await response.write(data)
                if limit is not None and sent >= limit:
                    break
        except ConnectionError:
            pass
        finally:
            if watcher is not None:
                watcher.cancel()
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    async def _watch_running(self, ns: str, pod: str, name: str, state: dict[str, bool]) -> None:
        while state["running"]:
            await asyncio.sleep(STATE_POLL)
            ref = await self.lookup.container(ns, pod, name, False)
            state["running"] = ref is not None and ref.running

    # --- exec and attach -------------------------------------------------------------------------------------

    async def attach(self, request: web.Request) -> web.StreamResponse:
        ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
        stdin, stdout, stderr = _flag(request, "stdin"), _flag(request, "stdout"), _flag(request, "stderr")
        tty = _flag(request, "tty")
        if not (stdin or stdout or stderr):
            return status_body(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
        ref = await self.lookup.container(ns, pod, name, False)
        if ref is None or not ref.id:
            return status_body(404, "NotFound", f'container not found ("{name}")')
        if not ref.running:
            return status_body(400, "BadRequest", f'container "{name}" in pod "{pod}" is not running')
        try:  # before the upgrade, so that a refusal is a plain HTTP error, as the kubelet's are
            attached = await self.runtime.attach(ref.id, stdin=stdin, tty=tty)
        except NoStdin:
            return status_body(400, "BadRequest", f'unable to attach stdin: container "{name}" in pod "{pod}" '
                                                  "was not created with stdin: true")
        except NotFound:
            return status_body(404, "NotFound", f'container not found ("{name}")')
        except InvalidState:
            return status_body(400, "BadRequest", f'container "{name}" in pod "{pod}" is not running')
        except RuntimeError_ as e:
            return status_body(500, "InternalError", f"error attaching to container: {e}")
        try:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._attach_websocket(request, attached, stdin)
            return await self._attach_spdy(request, attached, stdin, stdout, stderr, tty)
        finally:
            await attached.detach()

    async def _attach_websocket(self, request: web.Request, attached: AttachedIO,
                                stdin: bool) -> web.StreamResponse:
        session = await _channel_session(request)
        if not isinstance(session, wsproto.ExecSession):
            return session
        ws = session.ws
        gone = asyncio.Event()

        async def next_resize() -> wsproto.TerminalSize | None:
            size = await session.resizes.get()
            if size is None:  # the read loop ended: the socket is closed
                session.resizes.put_nowait(None)
                gone.set()
            return size

        async def client_gone() -> None:
            if not attached.tty:  # else pump_attach's resize loop reads the queue
                while await next_resize() is not None:
                    pass
            await gone.wait()

        io = ExecIO(session.read_stdin, session.write_stdout, session.write_stderr, next_resize)
        await pump_attach(attached, io, stdin, client_gone())
        await session.finish(success_status())
        return ws

    async def _attach_spdy(self, request: web.Request, attached: AttachedIO, stdin: bool, stdout: bool,
                           stderr: bool, tty: bool) -> web.StreamResponse:
        accepted = await _SpdyChannels.accept(request, stdin, stdout, stderr, tty)
        if isinstance(accepted, web.StreamResponse):
            return accepted
        channels = accepted
        await pump_attach(attached, channels.io(attached.tty), stdin, channels.conn.wait_closed())
        return await channels.finish(success_status())

    async def exec(self, request: web.Request) -> web.StreamResponse:
        ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
        command = request.query.getall("command", [])
        if not command:
            return status_body(400, "BadRequest", "you must specify at least 1 command")
        stdin, tty = _flag(request, "stdin"), _flag(request, "tty")
        ref = await self.lookup.container(ns, pod, name, False)
        if ref is None or not ref.id:
            return status_body(404, "NotFound", f'container not found ("{name}")')
        if not ref.running:
            return status_body(400, "BadRequest", f'container "{name}" in pod "{pod}" is not running')
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._exec_websocket(request, ref, command, stdin, tty)
        return await self._exec_spdy(request, ref, command, stdin, tty)

    async def _start(self, ref: ContainerRef, command: list[str], stdin: bool,
                     tty: bool) -> tuple[ExecProcess | None, dict[str, Any] | None]:
        try:
            return await self.runtime.exec(ref.id, command, tty=tty, stdin=stdin), None
        except RuntimeError_ as e:
            return None, error_status(str(e))

    async def _exec_websocket(self, request: web.Request, ref: ContainerRef, command: list[str], stdin: bool,
                              tty: bool) -> web.StreamResponse:
        session = await _channel_session(request)
        if not isinstance(session, wsproto.ExecSession):
            return session
        ws = session.ws
        proc, failure = await self._start(ref, command, stdin, tty)
        if proc is None:
            assert failure is not None
            await session.finish(failure)
            return ws
        io = ExecIO(session.read_stdin, session.write_stdout, session.write_stderr, session.resizes.get)
        code = await pump_exec(proc, io, stdin, tty)
        await session.finish(exec_result_status(command, code))
        return ws

    async def _exec_spdy(self, request: web.Request, ref: ContainerRef, command: list[str], stdin: bool,
                         tty: bool) -> web.StreamResponse:
        accepted = await _SpdyChannels.accept(request, stdin, _flag(request, "stdout", True),
                                              _flag(request, "stderr", True), tty)
        if isinstance(accepted, web.StreamResponse):
            return accepted
        channels = accepted
        proc, failure = await self._start(ref, command, stdin, tty)
        if proc is not None:
            failure = exec_result_status(command, await pump_exec(proc, channels.io(tty), stdin, tty))
        assert failure is not None
        return await channels.finish(failure)

    # --- port-forward ----------------------------------------------------------------------------------------

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        ns, pod = request.match_info["namespace"], request.match_info["pod"]
        network = await self.lookup.pod_network(ns, pod)
        if network is None:
            return status_body(404, "NotFound", f'pod "{pod}" not found')
        dialer = portforward.Dialer(network.netns_path, network.ip, f"{ns}/{pod}")
        return await portforward.serve(request, dialer)


async def _channel_session(request: web.Request) -> wsproto.ExecSession | web.StreamResponse:
    """Upgrade to a WebSocket channel session (exec and attach), or the 400 when the request is no upgrade."""
    accepted = await wsproto.accept_websocket(request)
    if accepted is None:
        return status_body(400, "BadRequest", "expected a WebSocket upgrade")
    session = wsproto.ExecSession(*accepted)
    session.start()
    return session
