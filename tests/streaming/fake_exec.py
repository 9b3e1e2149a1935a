"""A tiny aiohttp API server that serves just enough for ``kubectl exec``: discovery, one pod, exec.

The "container" understands two commands: ``cat`` (echo stdin to stdout) and ``sh -c 'exit N'``.
Exec is answered over WebSocket (v5/v4) or SPDY/3.1 (v4 and older), whichever the client asks for.
Port-forward goes to an echo "port", over SPDY/3.1 or SPDY tunnelled in a WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kybernetes.streaming import spdy, wsproto
from kybernetes.streaming.status import encode_for_protocol, exec_result_status

REQUESTS = web.AppKey("requests", list[tuple[str, str, dict[str, str]]])
PROTOCOLS = web.AppKey("protocols", list[str])

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "1"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    "status": {"phase": "Running"},
}


async def run_fake(command: list[str], read_stdin: Callable[[], Awaitable[bytes]],
                   write_out: Callable[[bytes], Awaitable[None]],
                   next_resize: Callable[[], Awaitable[wsproto.TerminalSize | None]] | None = None) -> int:
    if command == ["stty", "size"] and next_resize is not None:
        size = await next_resize()
        if size is None:
            return 1
        await write_out(f"{size.height} {size.width}\r\n".encode())
        return 0
    if command == ["cat"]:
        while chunk := await read_stdin():
            await write_out(chunk)
        return 0
    if command[:2] == ["sh", "-c"] and len(command) == 3 and command[2].startswith("exit "):
        return int(command[2].split()[1])
    return 127


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


async def exec_handler(request: web.Request) -> web.StreamResponse:
    command = request.query.getall("command", [])
    request.app[REQUESTS].append((request.method, request.headers.get("Upgrade", ""), dict(request.query)))
    if request.headers.get("Upgrade", "").lower() == "websocket":
        accepted = await wsproto.accept_websocket(request)
        assert accepted is not None
        ws, protocol = accepted
        request.app[PROTOCOLS].append(protocol)
        session = wsproto.ExecSession(ws, protocol)
        session.start()
        code = await run_fake(command, session.read_stdin, session.write_stdout, session.resizes.get)
        await session.finish(exec_result_status(command, code))
        return ws
    upgraded = await spdy.upgrade_aiohttp(request)
    if upgraded is None:
        return web.Response(status=400, text="expected an upgrade")
    conn, protocol, response = upgraded
    request.app[PROTOCOLS].append(protocol)
    stdin, stdout, stderr, tty = (_flag(request, n) for n in ("stdin", "stdout", "stderr", "tty"))
    wanted = ["error"] + ["stdin"] * stdin + ["stdout"] * stdout + ["stderr"] * (stderr and not tty)
    if tty and protocol not in ("channel.k8s.io", "v2.channel.k8s.io"):
        wanted.append("resize")
    streams = await conn.accept_streams(wanted)

    async def no_stdin() -> bytes:
        return b""

    read = streams["stdin"].read if "stdin" in streams else no_stdin
    out = streams.get("stdout")

    async def write_out(data: bytes) -> None:
        if out is not None:
            await out.write(data)

    async def next_resize() -> wsproto.TerminalSize | None:
        """The resize stream is a sequence of JSON objects; we only need the first."""
        if "resize" not in streams:
            return None
        buf = b""
        while chunk := await streams["resize"].read():
            buf += chunk
            with contextlib.suppress(ValueError):
                obj, _ = json.JSONDecoder().raw_decode(buf.decode())
                return wsproto.TerminalSize(int(obj["Width"]), int(obj["Height"]))
        return None

    code = await run_fake(command, read, write_out, next_resize)
    for name in ("stdout", "stderr"):
        if name in streams:
            await streams[name].close()
    payload = encode_for_protocol(protocol, exec_result_status(command, code))
    if payload:
        await streams["error"].write(payload)
    await streams["error"].close()
    await conn.close()
    return response


async def _echo_pair(data: spdy.SpdyStream, error: spdy.SpdyStream | None) -> None:
    """The pod's "port": an echo server.  End: close our data side, then the error stream (nothing to report)."""
    while chunk := await data.read():
        await data.write(chunk)
    await data.close()
    if error is not None:
        await error.close()


async def portforward_handler(request: web.Request) -> web.StreamResponse:
    request.app[REQUESTS].append((request.method, request.headers.get("Upgrade", ""), dict(request.query)))
    ws_response: web.WebSocketResponse | None = None
    if request.headers.get("Upgrade", "").lower() == "websocket":
        accepted = await wsproto.accept_websocket(request, (wsproto.SPDY_TUNNEL_PROTOCOL,), "")
        assert accepted is not None
        ws_response, protocol = accepted
        assert protocol == wsproto.SPDY_TUNNEL_PROTOCOL
        pipe = wsproto.WebSocketBytes(ws_response)
        conn = spdy.SpdyConnection(pipe, pipe, is_server=True)
        conn.start()
        response: web.StreamResponse = ws_response
    else:
        upgraded = await spdy.upgrade_aiohttp(request, spdy.PORT_FORWARD_PROTOCOLS)
        if upgraded is None:
            return web.Response(status=400, text="expected an upgrade")
        conn, protocol, response = upgraded
    request.app[PROTOCOLS].append(protocol)
    errors: dict[str, spdy.SpdyStream] = {}
    tasks = []
    while (stream := await conn.accept_stream()) is not None:
        await stream.reply()
        rid = stream.headers.get("requestid", "")
        if stream.stream_type == "error":
            errors[rid] = stream
        elif stream.stream_type == "data":
            tasks.append(asyncio.ensure_future(_echo_pair(stream, errors.pop(rid, None))))
    for task in tasks:
        task.cancel()
    await conn.close()
    if ws_response is not None:
        await ws_response.close()
    return response


def discovery_routes() -> list[web.RouteDef]:
    async def api(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]})

    async def api_v1(_: web.Request) -> web.Response:
        resources: list[dict[str, Any]] = [
            {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "shortNames": ["po"],
             "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
            {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions",
             "verbs": ["create", "get"]},
        ]
        return web.json_response({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
                                  "resources": resources})

    async def apis(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

    async def pod(request: web.Request) -> web.Response:
        if request.match_info["name"] != "p" or request.match_info["ns"] != "ns":
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                      "reason": "NotFound", "code": 404}, status=404)
        return web.json_response(POD)

    return [web.get("/api", api), web.get("/api/v1", api_v1), web.get("/apis", apis),
            web.get("/api/v1/namespaces/{ns}/pods/{name}", pod)]


def make_app() -> web.Application:
    app = web.Application()
    app[REQUESTS] = []
    app[PROTOCOLS] = []
    app.add_routes(discovery_routes())
    app.add_routes([web.get("/api/v1/namespaces/{ns}/pods/{name}/exec", exec_handler),
                    web.post("/api/v1/namespaces/{ns}/pods/{name}/exec", exec_handler),
                    web.get("/api/v1/namespaces/{ns}/pods/{name}/portforward", portforward_handler),
                    web.post("/api/v1/namespaces/{ns}/pods/{name}/portforward", portforward_handler)])
    return app
