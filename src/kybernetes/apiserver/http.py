"""HTTP plumbing shared by the handlers: bodies in, negotiated bodies out, errors as Status.

* :func:`read_object` reads a request body (JSON or YAML, at most 3 MiB) into a
  dict, answering malformed input with 400 and oversized input with 413.
* :func:`negotiate` reads ``Accept`` and decides the response form: plain JSON,
  YAML, a ``meta.k8s.io`` Table, or PartialObjectMetadata(List).
* :func:`status_response` renders a :class:`StatusError`; the error middleware in
  :mod:`app` sends every failure through it, so a client never sees a bare 500 page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from aiohttp import web

from kybernetes.api import errors, protobuf, yamljson

MAX_BODY = 3 * 1024 * 1024

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON, headers=headers)


def status_response(err: errors.StatusError) -> web.Response:
    return json_response(err.status(), status=err.code)


def success_status(details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    return body


async def read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise errors.too_large(MAX_BODY)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_BODY:
            raise errors.too_large(MAX_BODY)
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: web.Request) -> str:
    return (request.headers.get("Content-Type") or JSON).split(";")[0].strip().lower()


def parse_body(raw: bytes, ctype: str, what: str = "", kind: str = "") -> Any:
    """Decode a JSON or YAML body; a 400 with the parser's complaint otherwise."""
    if not raw.strip():
        raise errors.bad_request("the body of the request was empty" if not what else f"{what}: empty body")
    if ctype in (YAML, "application/x-yaml", "text/yaml"):
        try:
            return yamljson.loads(raw)
        except (yaml.YAMLError, ValueError) as e:
            raise errors.bad_request(f"error converting YAML to JSON: {_one_line(str(e))}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        msg = f"couldn't get version/kind; json parse error: {_one_line(str(e))}"
        if kind:
            preview = raw[:30].decode(errors="replace")
            msg = f"the object provided is unrecognized (must be of type {kind}): {msg} ({preview} ...)"
        raise errors.bad_request(msg) from None


def _one_line(s: str) -> str:
    return " ".join(s.split())


def parse_object(request: web.Request, raw: bytes, kind: str = "") -> dict[str, Any]:
    """The request body as a JSON object (JSON or YAML on the wire); ``kind`` names it in errors."""
    ctype = media_type(request)
    if ctype == PROTOBUF:
        # kubectl 1.32+ sends typed-client bodies as Kubernetes protobuf.
        if not raw:
            raise errors.bad_request("the body of the request was empty")
        try:
            return protobuf.decode_object(raw)
        except ValueError as e:
            raise errors.bad_request(str(e)) from None
    if ctype not in (JSON, YAML, "application/x-yaml", "text/yaml", "*/*", ""):
        raise errors.unsupported_media_type([JSON, YAML, PROTOBUF])
    body = parse_body(raw, ctype, kind=kind)
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    return body


# --- content negotiation ----------------------------------------------------


@dataclass(frozen=True)
class Accept:
    form: str  # "json" | "yaml" | "table" | "metadata"
    version: str = "v1"  # meta.k8s.io version for table / metadata forms


def _parse_accept(header: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        params = {}
        for f in fields[1:]:
            if "=" in f:
                k, _, val = f.partition("=")
                params[k.strip()] = val.strip()
        out.append((fields[0].lower(), params))
    return out


def negotiate(request: web.Request, allow_table: bool = True) -> Accept:
    header = request.headers.get("Accept", "")
    if not header:
        return Accept("json")
    json_ok = False
    for mt, params in _parse_accept(header):
        as_ = params.get("as")
        if as_ and params.get("g") == "meta.k8s.io" and mt in (JSON, "*/*"):
            ver = params.get("v", "v1")
            if ver not in ("v1", "v1beta1"):
                continue
            if as_ == "Table" and allow_table:
                return Accept("table", ver)
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return Accept("metadata", ver)
            continue
        if as_:
            continue  # another group's view (e.g. apidiscovery) is not ours to give here
        if mt in (JSON, "application/*", "*/*", "application/json-patch+json"):
            json_ok = True
            break
        if mt in (YAML, "application/x-yaml"):
            return Accept("yaml")
    if json_ok:
        return Accept("json")
    raise errors.not_acceptable(f"{JSON}, {YAML}")


def render(body: Any, accept: Accept, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    if accept.form == "yaml":
        return web.Response(body=yaml.safe_dump(body, sort_keys=False), status=status, content_type=YAML,
                            headers=headers)
    return json_response(body, status, headers)


def query_bool(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def query_int(request: web.Request, name: str, default: int = 0) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{raw}": must be an integer') from None
    if not -(2**63) <= value < 2**63:  # the wire type is int64
        raise errors.bad_request(f'invalid value for {name}: "{raw}": value out of range')
    return value
