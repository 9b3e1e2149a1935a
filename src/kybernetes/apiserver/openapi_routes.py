"""HTTP handlers for ``/openapi/v2``, ``/openapi/v3`` and ``/openapi/v3/<path>``.

They serve the documents of :mod:`kybernetes.apiserver.openapi` the way
kube-openapi's handlers do, because kubectl's caches and checks depend on it:

* ``/openapi/v2`` negotiates on ``Accept``: JSON, or gnostic protobuf when the
  client asks for ``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``
  (kubectl 1.27/1.28) or its dotted spelling; the protobuf answer always
  carries the dotted ``...spec.v2.v1.0+protobuf`` type.  Both forms share one
  ETag (the SHA-512 of the JSON bytes), with ``Vary: Accept``.  ``406`` when
  nothing acceptable is asked for.
* ``/openapi/v3`` is the index; each ``serverRelativeURL`` carries
  ``?hash=<ETag>``.  A document fetched with the current hash is answered with
  ``Cache-Control: public, immutable`` and a one-year ``Expires``; with a
  stale hash, a ``301`` to the current URL.  Documents are JSON only (nobody
  we serve asks v3 protobuf): another ``Accept`` gets ``406``.
* every answer carries a quoted ``ETag`` and ``Last-Modified`` and honours
  ``If-None-Match`` with ``304``; bodies over 1400 bytes are gzipped when the
  client accepts it (kube-openapi wraps its handler in a gzip handler too).

Documents are built once, off the event loop, on first request, then served
from memory with their compressed forms.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate

from aiohttp import web

from kybernetes.apiserver import openapi, openapi_proto

JSON = "application/json"
_GZIP_MIN = 1400  # gziphandler's default threshold
_STARTED = formatdate(time.time(), usegmt=True)
_ONE_YEAR = 365 * 24 * 3600


@dataclass
class _Payload:
    body: bytes
    etag: str
    _gzipped: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            # mtime=0 keeps the bytes identical across processes
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


_cache: dict[str, _Payload] = {}


def _v2_json() -> _Payload:
    data = openapi.v2_json()
    return _Payload(data, openapi.etag(data))


def _v2_protobuf() -> _Payload:
    # same ETag as the JSON form, as kube-openapi does (Vary: Accept tells them apart)
    return _Payload(openapi_proto.encode_v2(openapi.build_v2()), openapi.etag(openapi.v2_json()))


def _v3_index() -> _Payload:
    data = openapi.v3_index_json()
    return _Payload(data, openapi.etag(data))


def _v3_document(key: str) -> _Payload:
    data = openapi.v3_json(key)
    if data is None:
        raise KeyError(key)
    return _Payload(data, openapi.etag(data))


async def _payload(key: str, build: Callable[[], _Payload]) -> _Payload:
    if key not in _cache:
        # the first build takes a few hundred milliseconds: keep it off the loop
        _cache[key] = await asyncio.to_thread(build)
    return _cache[key]


def _accept_clauses(header: str) -> list[tuple[str, str]]:
    """``Accept`` as (type, subtype) pairs, best first (by q, then the more specific)."""
    clauses: list[tuple[float, bool, bool, int, str, str]] = []
    for index, part in enumerate(header.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        type_, _, subtype = media.partition("/")
        clauses.append((-q, type_ == "*", subtype in ("", "*"), index, type_.lower(), subtype.lower() or "*"))
    return [(c[4], c[5]) for c in sorted(clauses)]


def _negotiate(request: web.Request, offers: list[str]) -> str | None:
    """The first offer (``type/subtype``) matching the best acceptable clause."""
    for type_, subtype in _accept_clauses(request.headers.get("Accept") or "*/*"):
        for offer in offers:
            offer_type, _, offer_subtype = offer.partition("/")
            if type_ in ("*", offer_type) and subtype in ("*", offer_subtype):
                return offer
    return None


def _not_modified(request: web.Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or f'"{etag}"' in tags


def _respond(request: web.Request, payload: _Payload, content_type: str,
             extra: dict[str, str] | None = None) -> web.Response:
    headers = {"ETag": f'"{payload.etag}"', "Last-Modified": _STARTED, "Vary": "Accept, Accept-Encoding",
               **(extra or {})}
    if _not_modified(request, payload.etag):
        return web.Response(status=304, headers=headers)
    body = payload.body
    if len(body) > _GZIP_MIN and "gzip" in request.headers.get("Accept-Encoding", "").lower():
        body = payload.gzipped()
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers={**headers, "Content-Type": content_type})


async def handle_v2(request: web.Request) -> web.Response:
    """``GET /openapi/v2``: JSON or gnostic protobuf, by ``Accept``."""
    chosen = _negotiate(request, [JSON, *openapi_proto.ACCEPTED_TYPES])
    if chosen is None:
        return web.Response(status=406, headers={"Vary": "Accept"})
    if chosen == JSON:
        payload = await _payload("v2.json", _v2_json)
        content_type = JSON
    else:
        payload = await _payload("v2.pb", _v2_protobuf)
        content_type = openapi_proto.CONTENT_TYPE
    return _respond(request, payload, content_type)


async def handle_v3_index(request: web.Request) -> web.Response:
    """``GET /openapi/v3``: the index of per-group-version documents."""
    return _respond(request, await _payload("v3", _v3_index), JSON)


async def handle_v3_gv(request: web.Request) -> web.Response:
    """``GET /openapi/v3/<api/v1 | apis/<group>/<version> | ...>[?hash=...]``."""
    key = request.match_info["path"].strip("/")
    await _payload("v3", _v3_index)  # builds every document once
    if key not in openapi.v3_documents():
        return web.Response(status=404, text="404 page not found\n")
    payload = await _payload("v3/" + key, functools.partial(_v3_document, key))
    if _negotiate(request, [JSON]) is None:
        return web.Response(status=406, headers={"Vary": "Accept"})
    extra: dict[str, str] = {}
    wanted = request.query.get("hash")
    if wanted:
        if wanted != payload.etag:
            # a client holding an old index: send it to the current document
            return web.Response(status=301, headers={"Location": f"/openapi/v3/{key}?hash={payload.etag}"})
        extra = {"Cache-Control": "public, immutable",
                 "Expires": formatdate(time.time() + _ONE_YEAR, usegmt=True)}
    return _respond(request, payload, JSON, extra)


def add_routes(app: web.Application) -> None:
    """Register the OpenAPI endpoints on ``app``."""
    app.router.add_get("/openapi/v2", handle_v2)
    app.router.add_get("/openapi/v3", handle_v3_index)
    app.router.add_get("/openapi/v3/{path:.+}", handle_v3_gv)
