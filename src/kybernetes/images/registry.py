"""The OCI distribution API client: `pull` an image from a registry into an `ImageStore`, `push` one to it.

`RegistryClient` is the transport for one registry host. It owns an aiohttp session, pings ``/v2/`` once to
learn how the registry authenticates (`auth.Authorizer`), adds the right ``Authorization`` header to every
request, retries a request once when a ``401`` brings a new challenge, and turns every failure into a one-line
`RegistryError` worded like Docker's (``manifest unknown: manifest unknown``, ``unauthorized: authentication
required``, ``Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused``). Its
primitives are the API's: manifests by tag or digest, blob existence, blob download, blob upload (monolithic
PUT, or PATCH chunks then PUT, or a cross-repository mount).

`pull` and `push` are plain sequences over those primitives, printing Docker's progress lines.

Invariants:

* Nothing unverified reaches the store. A manifest's bytes must hash to the digest asked for (or the one the
  registry announced); a blob streams into `ContentStore.writer(expected)`, whose commit checks the digest; the
  image is recorded (`ImageStore.add_image`) only after every blob is in. A failed pull records no image.
* Blobs already in the store are never downloaded again ("Already exists"); blobs the registry already has are
  never uploaded again ("Layer already exists", or "Mounted from" another repository on the same registry).
* Plain HTTP only for loopback registries (as Docker treats them insecure) or when asked (``insecure=True``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from . import oci, reference
from .auth import Authorizer, Credentials, TokenError, load_credentials, parse_challenges
from .content import DigestMismatch
from .store import Image, ImageError, ImageNotFound, ImageStore

__all__ = [
    "Credentials",
    "RegistryClient",
    "RegistryError",
    "error_message",
    "load_credentials",
    "pull",
    "push",
    "select_platform",
]

MANIFEST_ACCEPT = ", ".join((oci.OCI_MANIFEST, oci.OCI_INDEX, oci.DOCKER_MANIFEST, oci.DOCKER_MANIFEST_LIST))
MAX_MANIFEST_SIZE = 4 << 20  # what Docker accepts
CHUNK_SIZE = 8 << 20  # blobs above this are uploaded in PATCH chunks of this size
CONCURRENCY = 3  # blobs in flight at once, as Docker's default
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")

Progress = Callable[[str], None]

_DEFAULT_MESSAGES = {
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "NAME_UNKNOWN": "repository name not known to registry",
    "BLOB_UNKNOWN": "blob unknown to registry",
    "TOOMANYREQUESTS": "too many requests",
}


class RegistryError(Exception):
    """A registry operation failed; ``str()`` is the one line to show, ``code`` the registry's error code.

    ``unreachable``: no answer at all (DNS, refused or timed-out connection, TLS), as opposed to an HTTP error.
    """

    def __init__(self, message: str, code: str = "", status: int = 0, unreachable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.unreachable = unreachable


def is_insecure_host(host: str) -> bool:
    """Loopback registries speak plain HTTP, as Docker allows without configuration."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_HOSTS or name.startswith("127.")


def repository_scope(name: str, actions: str) -> str:
    return f"repository:{name}:{actions}"


def _code_text(code: str) -> str:
    return code.lower().replace("_", " ")


def error_message(status: int, body: bytes, www_authenticate: Sequence[str] = ()) -> tuple[str, str]:
    """(code, message) for a failed response, as Docker's registry client words it. No side effects."""
    if not 400 <= status < 500:
        return "", f"received unexpected HTTP status: {status}"
    for c in parse_challenges(www_authenticate):
        code = {"invalid_token": "UNAUTHORIZED", "insufficient_scope": "DENIED"}.get(c.params.get("error", ""))
        if c.scheme == "bearer" and code:
            return code, f"{_code_text(code)}: {c.params.get('error_description') or _DEFAULT_MESSAGES[code]}"
    try:
        doc = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("details"), str) and doc["details"]:
        code = {401: "UNAUTHORIZED", 429: "TOOMANYREQUESTS"}.get(status, "UNKNOWN")
        return code, f"{_code_text(code)}: {doc['details']}"
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = str(errors[0].get("code") or "UNKNOWN").upper()
        message = errors[0].get("message") or _DEFAULT_MESSAGES.get(code, "unknown error")
        return code, f"{_code_text(code)}: {message}"
    text = body.decode(errors="replace").strip().splitlines()[0] if body.strip() else ""
    if status == 401:
        return "UNAUTHORIZED", f"unauthorized: {text or _DEFAULT_MESSAGES['UNAUTHORIZED']}"
    if status == 429:
        return "TOOMANYREQUESTS", f"toomanyrequests: {text or _DEFAULT_MESSAGES['TOOMANYREQUESTS']}"
    if status == 404:
        return "NOT_FOUND", "not found"
    return "", f"error parsing HTTP {status} response body: {text or 'empty body'}"


def connect_message(method: str, url: str, exc: BaseException) -> str:
    """A failed connection the way Go's net/http reports it (``dial tcp ...: connect: connection refused``)."""
    target = f'{method.capitalize()} "{url}"'
    u = URL(url)
    host = f"[{u.host}]" if u.host and ":" in u.host else u.host
    dial = f"dial tcp {host}:{u.port}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"{target}: tls: failed to verify certificate: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError | ssl.SSLError) or "WRONG_VERSION_NUMBER" in str(exc):
        return f"{target}: http: server gave HTTP response to HTTPS client"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"{target}: dial tcp: lookup {u.host}: no such host"
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        if err.errno == errno.ECONNREFUSED:
            return f"{target}: {dial}: connect: connection refused"
        return f"{target}: {dial}: connect: {(err.strerror or str(err)).lower()}"
    if isinstance(exc, asyncio.TimeoutError):
        return f"{target}: net/http: request canceled (Client.Timeout exceeded while awaiting headers)"
    return f"{target}: {exc or type(exc).__name__}"


def select_platform(index: dict[str, Any], platform: Sequence[str]) -> dict[str, Any]:
    """The descriptor of ``index`` for ``(os, arch[, variant])``; arm64 means variant v8. No side effects."""
    os_, arch, *rest = platform
    variant = rest[0] if rest else {"arm64": "v8", "arm": "v7"}.get(arch, "")
    for desc in index.get("manifests", []):
        p = desc.get("platform") or {}
        if p.get("os") == os_ and p.get("architecture") == arch and p.get("variant", "") in (variant, ""):
            return dict(desc)
    wanted = "/".join([os_, arch, *rest])
    raise RegistryError(f"no matching manifest for {wanted} in the manifest list entries", code="NO_MATCH")


def _short(digest: str) -> str:
    return oci.hex_of(digest)[:12]


def _with_query(location: str, **params: str) -> URL:
    """``location`` (as the registry wrote it, already encoded) plus ``params``."""
    extra = "&".join(f"{k}={quote(v, safe=':')}" for k, v in params.items())
    return URL(location + ("&" if "?" in location else "?") + extra, encoded=True)


class RegistryClient:
    """The distribution API of one registry host, with its auth state. Use as ``async with``."""

    def __init__(
        self,
        host: str,
        *,
        auth: Credentials | None = None,
        insecure: bool | None = None,
        scopes: Sequence[str] = (),
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        plain = insecure if insecure is not None else is_insecure_host(host)
        self.base = URL(f"{'http' if plain else 'https'}://{host}")
        self.scopes = list(scopes)
        self.authorizer = Authorizer(auth)
        self._session = session
        self._own_session = session is None
        self._pinged = False
        self._ping_lock = asyncio.Lock()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    def url(self, path: str) -> URL:
        return self.base.with_path(path)

    # -- requests -------------------------------------------------------------------------------------------

    async def ping(self) -> None:
        """GET /v2/ once: learn the auth challenge (or that there is none)."""
        async with self._ping_lock:
            if self._pinged:
                return
            url = self.url("/v2/")
            try:
                async with self.session.get(url) as resp:
                    body = await resp.read()
                    if resp.status == 401:
                        self.authorizer.learn(resp.headers.getall("WWW-Authenticate", []), sent_auth=False)
                    elif resp.status != 200:
                        code, msg = error_message(resp.status, body, ())
                        raise RegistryError(msg, code, resp.status)
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                raise RegistryError(connect_message("GET", str(url), e), unreachable=True) from e
            self._pinged = True

    async def _send(
        self, method: str, url: URL, headers: dict[str, str] | None, data: bytes | None
    ) -> tuple[aiohttp.ClientResponse, bool]:
        try:
            auth = await self.authorizer.headers(self.session, self.scopes)
        except TokenError as e:
            code, msg = error_message(e.status or 401, e.body, ())
            raise RegistryError(msg, code, e.status) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            realm = self.authorizer.challenge.params.get("realm", "") if self.authorizer.challenge else ""
            raise RegistryError(connect_message("GET", realm, e), unreachable=True) from e
        try:
            resp = await self.session.request(method, url, headers={**(headers or {}), **auth}, data=data)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise RegistryError(connect_message(method, str(url), e), unreachable=True) from e
        return resp, bool(auth)

    @contextlib.asynccontextmanager
    async def request(
        self,
        method: str,
        url: URL,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        expect: Sequence[int] = (200,),
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send with auth; retry once on a 401 that taught us something; raise `RegistryError` unless ``expect``."""
        await self.ping()
        resp, sent_auth = await self._send(method, url, headers, data)
        try:
            if resp.status == 401 and self.authorizer.learn(resp.headers.getall("WWW-Authenticate", []), sent_auth):
                resp.release()
                resp, sent_auth = await self._send(method, url, headers, data)
            if resp.status not in expect:
                challenge = self.authorizer.challenge
                if resp.status == 401 and challenge and challenge.scheme == "basic" and not sent_auth:
                    raise RegistryError("no basic auth credentials", "UNAUTHORIZED", 401)
                body = b"" if method == "HEAD" else await resp.read()
                code, msg = error_message(resp.status, body, resp.headers.getall("WWW-Authenticate", []))
                raise RegistryError(msg, code, resp.status)
            yield resp
        finally:
            resp.release()

    # -- manifests ------------------------------------------------------------------------------------------

    async def get_manifest(self, name: str, ref: str, expected: str = "") -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of the manifest ``name:ref``; the digest is verified."""
        url = self.url(f"/v2/{name}/manifests/{ref}")
        async with self.request("GET", url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
            if int(resp.headers.get("Content-Length") or 0) > MAX_MANIFEST_SIZE:
                raise RegistryError(f"manifest {name}:{ref} is larger than {MAX_MANIFEST_SIZE} bytes")
            data = await resp.read()
            announced = resp.headers.get("Docker-Content-Digest", "")
            content_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        digest = oci.digest_bytes(data)
        for want in (expected, announced):
            if want and want != digest:
                raise RegistryError(f"manifest verification failed for digest {want}", code="DIGEST_INVALID")
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise RegistryError(f"invalid manifest for {name}:{ref}: not JSON") from None
        media_type = doc.get("mediaType") or (oci.OCI_INDEX if "manifests" in doc else content_type or oci.OCI_MANIFEST)
        return data, media_type, digest

    async def put_manifest(self, name: str, ref: str, data: bytes, media_type: str) -> str:
        url = self.url(f"/v2/{name}/manifests/{ref}")
        async with self.request("PUT", url, headers={"Content-Type": media_type}, data=data, expect=(201,)) as resp:
            announced = resp.headers.get("Docker-Content-Digest", "")
        digest = oci.digest_bytes(data)
        if announced and announced != digest:
            raise RegistryError(f"registry stored manifest as {announced}, expected {digest}", code="DIGEST_INVALID")
        return digest

    # -- blobs ----------------------------------------------------------------------------------------------

    async def blob_exists(self, name: str, digest: str) -> bool:
        async with self.request("HEAD", self.url(f"/v2/{name}/blobs/{digest}"), expect=(200, 404)) as resp:
            return resp.status == 200

    async def fetch_blob(self, store: ImageStore, name: str, desc: dict[str, Any], kind: str = "filesystem layer") -> None:
        """Stream the blob of ``desc`` into the content store; its digest and size are checked before commit."""
        digest, size = desc["digest"], int(desc.get("size", -1))
        bad = RegistryError(f"{kind} verification failed for digest {digest}", code="DIGEST_INVALID")
        async with self.request("GET", self.url(f"/v2/{name}/blobs/{digest}")) as resp:
            with store.content.writer(digest) as w:
                async for chunk in resp.content.iter_chunked(1 << 16):
                    w.write(chunk)
                    if 0 <= size < w.size:
                        raise bad
                if 0 <= size != w.size:
                    raise bad
                try:
                    await asyncio.to_thread(w.commit)
                except DigestMismatch:
                    raise bad from None

    async def push_blob(
        self, store: ImageStore, name: str, digest: str, *, mount_from: Sequence[str] = (), chunk_size: int = CHUNK_SIZE
    ) -> str:
        """Make the registry hold ``digest`` in ``name``: "exists", "mounted:<repo>" or "pushed"."""
        if await self.blob_exists(name, digest):
            return "exists"
        uploads = self.url(f"/v2/{name}/blobs/uploads/")
        location = ""
        for source in mount_from:
            mount = uploads.with_query({"mount": digest, "from": source})
            async with self.request("POST", mount, expect=(201, 202)) as resp:
                if resp.status == 201:
                    return f"mounted:{source}"
                location = resp.headers.get("Location", "")
            break  # 202: the registry opened an ordinary upload instead; use it
        if not location:
            async with self.request("POST", uploads, expect=(202,)) as resp:
                location = resp.headers.get("Location", "")
        size = store.content.size(digest)
        octet = {"Content-Type": "application/octet-stream"}
        if size <= chunk_size:
            data = await asyncio.to_thread(store.content.read, digest)
            async with self.request("PUT", self._location(location, digest=digest), headers=octet, data=data, expect=(201,)):
                return "pushed"
        with store.content.open(digest) as f:
            offset = 0
            while chunk := await asyncio.to_thread(f.read, chunk_size):
                headers = {**octet, "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
                async with self.request("PATCH", self._location(location), headers=headers, data=chunk, expect=(202,)) as resp:
                    location = resp.headers.get("Location", location)
                offset += len(chunk)
        async with self.request("PUT", self._location(location, digest=digest), expect=(201,)):
            return "pushed"

    def _location(self, location: str, **params: str) -> URL:
        if not location:
            raise RegistryError("registry did not return an upload location")
        url = _with_query(location, **params) if params else URL(location, encoded=True)
        return url if url.is_absolute() else self.base.join(url)


def _parse(ref: str) -> reference.Reference:
    try:
        return reference.parse(ref)
    except reference.ReferenceError_ as e:
        raise RegistryError(str(e)) from None


def _pull_error(e: RegistryError, r: reference.Reference) -> RegistryError:
    """Docker's wording for a manifest that cannot be had (moby's ``translatePullError``)."""
    if e.code == "DENIED":
        msg = f"pull access denied for {r.familiar_repository}, repository does not exist or may require 'docker login': {e}"
    elif e.code == "MANIFEST_UNKNOWN":
        msg = f"manifest for {r.familiar} not found: {e}"
    elif e.code == "NAME_UNKNOWN":
        msg = f"repository {r.familiar_repository} not found: {e}"
    else:
        return e
    return RegistryError(msg, e.code, e.status)


async def _run_all(jobs: Sequence[Callable[[], Any]]) -> None:
    """Run coroutine factories ``CONCURRENCY`` at a time; the first failure cancels the rest and is raised."""
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Callable[[], Any]) -> None:
        async with sem:
            await job()

    try:
        async with asyncio.TaskGroup() as tg:
            for job in jobs:
                tg.create_task(one(job))
    except ExceptionGroup as eg:
        first: BaseException = eg
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


async def pull(
    store: ImageStore,
    ref: str,
    *,
    auth: Credentials | None = None,
    insecure: bool | None = None,
    progress: Progress | None = None,
    platform: Sequence[str] = ("linux", "amd64"),
    session: aiohttp.ClientSession | None = None,
) -> Image:
    """Pull ``ref`` into ``store`` (tagging it, or recording its digest) and return the image."""
    r = _parse(ref)
    say = progress or (lambda _line: None)
    creds = auth if auth is not None else load_credentials(r.domain)
    scopes = [repository_scope(r.path, "pull")]
    async with RegistryClient(r.registry_host, auth=creds, insecure=insecure, scopes=scopes, session=session) as client:
        say(f"{r.tag or r.digest}: Pulling from {r.path}")
        try:
            data, media_type, digest = await client.get_manifest(r.path, r.digest or r.tag, expected=r.digest)
            manifest_bytes = data
            if media_type in oci.INDEX_TYPES:
                desc = select_platform(orjson.loads(data), platform)
                manifest_bytes, media_type, _ = await client.get_manifest(r.path, desc["digest"], expected=desc["digest"])
        except RegistryError as e:
            raise _pull_error(e, r) from None
        if media_type not in oci.MANIFEST_TYPES:
            raise RegistryError(f"unsupported manifest media type {media_type} for {r.familiar}")
        manifest = orjson.loads(manifest_bytes)
        jobs: list[Callable[[], Any]] = []
        config = manifest.get("config") or {}
        if not store.content.has(config.get("digest", "")):
            jobs.append(lambda: client.fetch_blob(store, r.path, config, kind="image config"))
        seen: set[str] = set()
        for layer in manifest.get("layers", []):
            d = layer["digest"]
            if d in seen:
                continue
            seen.add(d)
            if store.content.has(d):
                say(f"{_short(d)}: Already exists")
                continue
            say(f"{_short(d)}: Pulling fs layer")

            async def fetch(layer: dict[str, Any] = layer) -> None:
                await client.fetch_blob(store, r.path, layer)
                say(f"{_short(layer['digest'])}: Pull complete")

            jobs.append(fetch)
        await _run_all(jobs)
    try:
        before: Image | None = store.resolve(str(r))
    except ImageError:
        before = None
    try:
        image = store.add_image(manifest_bytes, names=[str(r)] if r.tag else [], repo_digest=f"{r.repository}@{digest}")
    except ImageError as e:
        raise RegistryError(f"{r.familiar}: {e}") from None
    say(f"Digest: {digest}")
    fresh = before is None or before.id != image.id
    say(f"Status: {'Downloaded newer image' if fresh else 'Image is up to date'} for {r.familiar}")
    return image


async def push(
    store: ImageStore,
    ref: str,
    *,
    auth: Credentials | None = None,
    insecure: bool | None = None,
    progress: Progress | None = None,
    session: aiohttp.ClientSession | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> str:
    """Push the local image tagged ``ref``; return its manifest digest. Records the repo digest in ``store``."""
    r = _parse(ref)
    if r.digest:
        raise RegistryError(f"cannot push a digest reference: {r.familiar}")
    try:
        image = store.resolve(str(r))
    except ImageNotFound:
        raise RegistryError(f"An image does not exist locally with the tag: {r.familiar_repository}") from None
    manifest_bytes = store.content.read(image.manifest_digest)
    media_type = image.manifest.get("mediaType") or oci.OCI_MANIFEST
    sources = []
    for rd in image.repo_digests:
        other = reference.parse(rd)
        if other.domain == r.domain and other.path != r.path and other.path not in sources:
            sources.append(other.path)
    scopes = [repository_scope(r.path, "pull,push"), *(repository_scope(s, "pull") for s in sources)]
    say = progress or (lambda _line: None)
    creds = auth if auth is not None else load_credentials(r.domain)
    say(f"The push refers to repository [{r.repository}]")
    labels = [_short(d) for d in image.diff_ids] or [_short(layer["digest"]) for layer in image.layers]
    for label in reversed(labels):
        say(f"{label}: Preparing")
    async with RegistryClient(r.registry_host, auth=creds, insecure=insecure, scopes=scopes, session=session) as client:

        async def upload(digest: str, label: str) -> None:
            result = await client.push_blob(store, r.path, digest, mount_from=sources, chunk_size=chunk_size)
            if result == "exists":
                say(f"{label}: Layer already exists")
            elif result.startswith("mounted:"):
                say(f"{label}: Mounted from {result.removeprefix('mounted:')}")
            else:
                say(f"{label}: Pushed")

        unique = dict(zip((layer["digest"] for layer in image.layers), labels, strict=False))
        await _run_all([functools.partial(upload, d, label) for d, label in reversed(unique.items())])
        await client.push_blob(store, r.path, image.id, mount_from=sources, chunk_size=chunk_size)
        digest = await client.put_manifest(r.path, r.tag, manifest_bytes, media_type)
    say(f"{r.tag}: digest: {digest} size: {len(manifest_bytes)}")
    store.add_image(manifest_bytes, repo_digest=f"{r.repository}@{digest}")
    return digest
