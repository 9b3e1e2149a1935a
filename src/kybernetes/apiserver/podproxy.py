"""The pods/log, pods/exec, pods/attach and pods/portforward subresources: proxied to the pod's node agent.

As upstream's API server does, nothing is served here: the handler reads the pod, checks it is bound and names a
valid container, finds the node's agent (the node's ``InternalIP`` -- else another address -- and
``status.daemonEndpoints.kubeletEndpoint.Port``, 10250 when unset) and forwards the request to the agent's
streaming server (``/containerLogs/...``, ``/exec/...``, ``/attach/...``, ``/portForward/...``):

* log: a plain GET streamed back chunk by chunk as the agent writes it (``follow`` keeps it open until the
  agent ends it or the client leaves). An unbound pod has no log yet: an empty body, as upstream.
* exec/attach/portforward: an upgrade pass-through. The request line and headers (``Upgrade``, ``Connection``,
  ``X-Stream-Protocol-Version``, ``Sec-WebSocket-*``) go to the agent over a raw TCP connection; a non-101
  answer is relayed as it is; on 101 the agent's response headers go back to the client and the two sockets
  are spliced both ways until the agent closes (the client's end half-closes toward the agent). The proxy
  never parses SPDY or WebSocket frames, so every protocol version passes through unchanged.

Container names follow upstream's rules: none given -> the ``kubectl.kubernetes.io/default-container``
annotation, else the only container, else 400 ``a container name must be specified for pod p, choose one of:
[a b]``; an unknown one -> 400 ``container x is not valid for pod p``.

The agent is reached over plain HTTP with no authentication: acceptable while agents listen on loopback only;
TLS with the API server's client certificate is still to do.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.registry import by_plural

if TYPE_CHECKING:
    from kybernetes.apiserver.store import Store

DEFAULT_KUBELET_PORT = 10250
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
ADDRESS_PREFERENCE = ("InternalIP", "Hostname", "InternalDNS", "ExternalIP", "ExternalDNS")
# headers that describe this hop's body or connection target, not the upgrade
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "authorization"}
CHUNK = 65536


def all_container_names(pod: dict[str, Any]) -> list[str]:
    """Init, regular and ephemeral containers, in upstream's visiting order. No side effects."""
    spec = pod.get("spec") or {}
    return [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or []]


def choose_container(pod: dict[str, Any], requested: str) -> str:
    """The container a request is for, or a 400 `StatusError` with upstream's wording. No side effects."""
    name = pod["metadata"]["name"]
    if requested:
        if requested not in all_container_names(pod):
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    default = ((pod["metadata"].get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION) or "")
    if default and default in containers:
        return default
    if len(containers) == 1:
        return containers[0]
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    choices = "[" + " ".join(all_container_names(pod)) + "]"
    raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: {choices}")


def node_endpoint(node: dict[str, Any]) -> tuple[str, int]:
    """The agent's (address, port) from a Node object; a 500 when it has no address. No side effects."""
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    by_type = {a.get("type"): a.get("address") for a in addresses if a.get("address")}
    host = next((by_type[t] for t in ADDRESS_PREFERENCE if t in by_type), None)
    if host is None:
        known = "[" + " ".join(f"{{{a.get('type', '')} {a.get('address', '')}}}" for a in addresses) + "]"
        # a plain error upstream: a 500 with no reason and the bare message
        raise errors.StatusError(500, "", f"no preferred addresses found; known addresses: {known}")
    port = int(((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0)
    return host, port if port > 0 else DEFAULT_KUBELET_PORT


class _Feed:
    """Takes the place of aiohttp's parser once a request is upgraded: raw client bytes go to a StreamReader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


class PodProxy:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def handle(self, request: web.Request, subresource: str, namespace: str, name: str) -> web.StreamResponse:
        pods, nodes = by_plural("", "v1", "pods"), by_plural("", "v1", "nodes")
        assert pods is not None and nodes is not None
        pod = await self.store.get(pods, namespace, name)
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        container = ""
        if subresource != "portforward":
            container = choose_container(pod, request.query.get("container", ""))
        if not node_name:
            if subresource == "log":
                return web.Response(status=200, body=b"", content_type="text/plain")
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        host, port = node_endpoint(await self.store.get(nodes, None, node_name))
        query = [(k, v) for k, v in request.query.items() if k != "container"]
        ns_q, name_q = quote(namespace, safe=""), quote(name, safe="")
        if subresource == "portforward":
            path = f"/portForward/{ns_q}/{name_q}"
        else:
            verb = {"log": "containerLogs"}.get(subresource, subresource)
            path = f"/{verb}/{ns_q}/{name_q}/{quote(container, safe='')}"
        if query:
            path += "?" + urlencode(query)
        if subresource == "log":
            return await self.stream_get(request, host, port, path)
        return await self.upgrade(request, host, port, path)

    async def stream_get(self, request: web.Request, host: str, port: int, path: str) -> web.StreamResponse:
        url = f"http://{_host_port(host, port)}{path}"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
            try:
                upstream = await session.get(url)
            except aiohttp.ClientError as e:
                raise errors.service_unavailable(f"error trying to reach the node agent at {host}:{port}: "
                                                 f"{e}") from None
            async with upstream:
                if upstream.status != 200:
                    body = await upstream.read()
                    return web.Response(status=upstream.status, body=body,
                                        headers={"Content-Type": upstream.headers.get("Content-Type",
                                                                                      "text/plain")})
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                response.enable_chunked_encoding()
                await response.prepare(request)
                try:
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                    await response.write_eof()
                except (ConnectionError, aiohttp.ClientPayloadError):
                    pass
                return response

    async def upgrade(self, request: web.Request, host: str, port: int, path: str) -> web.StreamResponse:
        try:
            k_reader, k_writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        except (TimeoutError, OSError) as e:
            raise errors.service_unavailable(f"error trying to reach the node agent at {host}:{port}: "
                                             f"{e}") from None
        try:
            lines = [f"{request.method} {path} HTTP/1.1", f"Host: {_host_port(host, port)}"]
            lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in HOP_HEADERS]
            k_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await k_writer.drain()
            status, headers = await _read_head(k_reader)
            if status != 101:
                body = await _read_body(k_reader, headers)
                return web.Response(status=status, body=body, headers={
                    "Content-Type": _header(headers, "content-type") or "text/plain"})
            client_reader = asyncio.StreamReader(limit=2**20)
            assert request.protocol is not None
            request.protocol.set_parser(_Feed(client_reader))  # type: ignore[arg-type]
            request.protocol.keep_alive(False)
            response = web.StreamResponse(status=101)
            for k, v in headers:
                if k.lower() not in ("date", "server", "content-length", "content-type"):
                    response.headers.add(k, v)
            await response.prepare(request)
            await _splice(client_reader, response, request, k_reader, k_writer)
            return response
        finally:
            k_writer.close()


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise errors.service_unavailable("the node agent closed the connection without an answer") from None
    first, *rest = head.decode("latin-1").split("\r\n")
    try:
        status = int(first.split(" ", 2)[1])
    except (IndexError, ValueError):
        raise errors.internal(f"bad answer from the node agent: {first!r}") from None
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in rest if line)]
    return status, headers


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    length = _header(headers, "content-length")
    with contextlib.suppress(asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
        if length:
            return await asyncio.wait_for(reader.readexactly(int(length)), 10)
        if "chunked" in _header(headers, "transfer-encoding").lower():
            body = b""
            while size := int((await asyncio.wait_for(reader.readline(), 10)).strip() or b"0", 16):
                body += await reader.readexactly(size)
                await reader.readline()
            return body
        return await asyncio.wait_for(reader.read(1 << 20), 10)
    return b""


async def _splice(client_reader: asyncio.StreamReader, response: web.StreamResponse, request: web.Request,
                  k_reader: asyncio.StreamReader, k_writer: asyncio.StreamWriter) -> None:
    """Copy bytes both ways until the agent closes; the client's end half-closes toward the agent."""

    async def client_to_agent() -> None:
        while chunk := await client_reader.read(CHUNK):
            k_writer.write(chunk)
            await k_writer.drain()
        if k_writer.can_write_eof():
            k_writer.write_eof()

    upward = asyncio.ensure_future(client_to_agent())
    try:
        while chunk := await k_reader.read(CHUNK):
            await response.write(chunk)
    except ConnectionError:
        pass
    finally:
        upward.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await upward
        if request.transport is not None:
            request.transport.close()
