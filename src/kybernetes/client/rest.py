"""A small async REST client for the Kubernetes API (aiohttp underneath).

Every component talks to the API server through this, over HTTP, never through
server internals.  Failures come back as :class:`APIError` carrying the
server's ``Status``.  ``watch`` yields decoded events and ends when the server
closes the stream; resuming is the caller's (the informer's) job.  Discovery
(:meth:`Client.api_resources`) lists the preferred version of every served
top-level resource as :class:`APIResource`.  ``accept`` asks for another view
of the same objects, e.g. :data:`METADATA_LIST` / :data:`METADATA` for
``PartialObjectMetadata`` (what the garbage collector watches).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

JSON = "application/json"
# Metadata-only views (upstream's metadata client asks for these, falling back to plain JSON).
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


class APIError(Exception):
    def __init__(self, status: dict[str, Any], http_status: int):
        super().__init__(status.get("message") or f"HTTP {http_status}")
        self.status = status
        self.code = int(status.get("code") or http_status)
        self.reason = status.get("reason", "")


def resource_path(group: str, version: str, plural: str, namespace: str | None = None,
                  name: str | None = None, subresource: str | None = None) -> str:
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace is not None:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    if name is not None:
        base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
    return base


@dataclass(frozen=True)
class APIResource:
    """One served top-level resource, as legacy discovery describes it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        return resource_path(self.group, self.version, self.plural,
                             namespace if self.namespaced else None, name, subresource)


class Client:
    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None):
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json",
                      accept: str = JSON) -> Any:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Accept": accept}
        if data is not None:
            headers["Content-Type"] = content_type
        async with self.session.request(method, self.base_url + path, params=params, data=data,
                                        headers=headers) as resp:
            raw = await resp.read()
            payload = orjson.loads(raw) if raw else {}
            if resp.status >= 400:
                if not isinstance(payload, dict) or payload.get("kind") != "Status":
                    payload = {"kind": "Status", "code": resp.status, "message": raw.decode(errors="replace")}
                raise APIError(payload, resp.status)
            return payload

    async def get(self, path: str, **params: str) -> Any:
        return await self.request("GET", path, params=params or None)

    async def create(self, path: str, obj: dict[str, Any]) -> Any:
        return await self.request("POST", path, body=obj)

    async def update(self, path: str, obj: dict[str, Any]) -> Any:
        return await self.request("PUT", path, body=obj)

    async def patch(self, path: str, patch: Any, patch_type: str = MERGE_PATCH) -> Any:
        return await self.request("PATCH", path, body=patch, content_type=patch_type)

    async def delete(self, path: str, options: dict[str, Any] | None = None, **params: str) -> Any:
        return await self.request("DELETE", path, params=params or None, body=options)

    async def watch(self, path: str, resource_version: str, timeout_seconds: int = 300, *,
                    accept: str = JSON, **params: str) -> AsyncIterator[dict[str, Any]]:
        q = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": str(timeout_seconds),
             "allowWatchBookmarks": "true", **params}
        async with self.session.get(self.base_url + path, params=q, headers={"Accept": accept}) as resp:
            if resp.status >= 400:
                raw = await resp.read()
                try:
                    status = orjson.loads(raw) if raw else {}
                except orjson.JSONDecodeError:
                    status = {}
                if not isinstance(status, dict) or status.get("kind") != "Status":
                    status = {"kind": "Status", "code": resp.status, "message": raw.decode(errors="replace")}
                raise APIError(status, resp.status)
            # Split lines ourselves: aiohttp's line iterator refuses lines over 128 KiB, and one
            # event carries a whole object (a ConfigMap may be 1 MiB).
            buf = bytearray()
            async for chunk in resp.content.iter_any():
                start = len(buf)
                buf += chunk
                while (nl := buf.find(b"\n", start)) >= 0:
                    line = bytes(buf[:nl])
                    del buf[:nl + 1]
                    start = 0
                    if line.strip():
                        yield orjson.loads(line)
            if bytes(buf).strip():
                yield orjson.loads(bytes(buf))

    async def api_resources(self) -> list[APIResource]:
        """Every top-level resource in the preferred version of each group (core first)."""
        gvs = [("", "v1")]
        groups = await self.get("/apis")
        for g in groups.get("groups", []):
            pv = g.get("preferredVersion") or (g.get("versions") or [{}])[0]
            gvs.append((g["name"], pv["version"]))
        out: list[APIResource] = []
        for group, version in gvs:
            rl = await self.get(f"/apis/{group}/{version}" if group else f"/api/{version}")
            for r in rl.get("resources", []):
                if "/" in r["name"]:
                    continue  # a subresource
                out.append(APIResource(group, version, r["name"], r.get("kind", ""), bool(r.get("namespaced")),
                                       frozenset(r.get("verbs") or ())))
        return out

    async def namespaced_resources(self) -> list[tuple[str, str, str, list[str]]]:
        """(group, version, plural, verbs) of every namespaced resource, from discovery."""
        return [(r.group, r.version, r.plural, sorted(r.verbs))
                for r in await self.api_resources() if r.namespaced]
