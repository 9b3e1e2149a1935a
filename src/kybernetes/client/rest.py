"""A small async REST client for the Kubernetes API (aiohttp underneath).

Every component talks to the API server through this, over HTTP, never through
server internals.  Failures come back as :class:`APIError` carrying the
server's ``Status``.  ``watch`` yields decoded events and ends when the server
closes the stream; resuming is the caller's (the informer's) job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson


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
                      body: Any = None, content_type: str = "application/json") -> Any:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Accept": "application/json"}
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

    async def patch(self, path: str, patch: Any, patch_type: str = "application/merge-patch+json") -> Any:
        return await self.request("PATCH", path, body=patch, content_type=patch_type)

    async def delete(self, path: str, options: dict[str, Any] | None = None, **params: str) -> Any:
        return await self.request("DELETE", path, params=params or None, body=options)

    async def watch(self, path: str, resource_version: str, timeout_seconds: int = 300,
                    **params: str) -> AsyncIterator[dict[str, Any]]:
        q = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": str(timeout_seconds),
             "allowWatchBookmarks": "true", **params}
        async with self.session.get(self.base_url + path, params=q,
                                    headers={"Accept": "application/json"}) as resp:
            if resp.status >= 400:
                raw = await resp.read()
                raise APIError(orjson.loads(raw) if raw else {}, resp.status)
            async for line in resp.content:
                if line.strip():
                    yield orjson.loads(line)

    async def namespaced_resources(self) -> list[tuple[str, str, str, list[str]]]:
        """(group, version, plural, verbs) of every namespaced resource, from discovery."""
        out: list[tuple[str, str, str, list[str]]] = []
        gvs = [("", "v1")]
        groups = await self.get("/apis")
        for g in groups.get("groups", []):
            pv = g.get("preferredVersion") or (g.get("versions") or [{}])[0]
            gvs.append((g["name"], pv["version"]))
        for group, version in gvs:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            rl = await self.get(path)
            for r in rl.get("resources", []):
                if "/" in r["name"] or not r.get("namespaced"):
                    continue
                out.append((group, version, r["name"], list(r.get("verbs") or [])))
        return out
