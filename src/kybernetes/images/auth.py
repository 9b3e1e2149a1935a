"""Who we are to a registry: credentials, ``WWW-Authenticate`` challenges and bearer tokens.

The registry client (`registry.RegistryClient`) pings ``/v2/`` once; a ``401`` there (or on any later request)
carries a challenge that `Authorizer.learn` records. From then on `Authorizer.headers` says what to send:

* no challenge - nothing (an open registry);
* ``Basic realm=...`` - the username and password, when we have them;
* ``Bearer realm=...,service=...,scope=...`` - a token from the realm (GET with ``service``, one ``scope`` per
  repository we touch, and our username/password as Basic credentials when we have them). The answer's ``token``
  or ``access_token`` is cached per set of scopes until it expires, so a pull asks the realm once.

A token endpoint that refuses us raises `TokenError` with its raw answer; the registry client turns it into a
Docker-worded `registry.RegistryError` (``unauthorized: incorrect username or password``).

`load_credentials` reads ``auths`` entries of a Docker ``config.json`` (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``); credential helpers (``credsStore``/``credHelpers``) are not supported.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def _config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _host_of(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``index.docker.io``; ``localhost:5000`` stays."""
    key = re.sub(r"^[a-z]+://", "", key.strip())
    return key.split("/", 1)[0].lower()


def load_credentials(registry_host: str, path: Path | None = None) -> Credentials | None:
    """The ``auths`` entry for ``registry_host`` in a Docker ``config.json``, or None."""
    try:
        doc = orjson.loads((path or _config_path()).read_bytes())
    except (FileNotFoundError, NotADirectoryError, orjson.JSONDecodeError):
        return None
    return credentials_from_config(doc, registry_host)


def credentials_from_config(doc: Any, registry_host: str) -> Credentials | None:
    """The ``auths`` entry for ``registry_host`` in a parsed Docker ``config.json`` (or a pull secret's)."""
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = registry_host.lower()
    hub = {_host_of(k) for k in DOCKER_HUB_KEYS}
    for key, entry in auths.items():
        host = _host_of(key)
        if not isinstance(entry, dict) or not (host == wanted or (host in hub and wanted in hub)):
            continue
        if entry.get("auth"):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
                user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
                if sep:
                    return Credentials(user, password)
        if entry.get("username"):
            return Credentials(str(entry["username"]), str(entry.get("password", "")))
    return None


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)


_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenges(headers: Sequence[str]) -> list[Challenge]:
    """``WWW-Authenticate`` values -> challenges (quoted values may hold commas, as scopes do)."""
    out = []
    for value in headers:
        rest = value.strip()
        while rest:
            m = re.match(r"([A-Za-z]+)\s*", rest)
            if not m:
                break
            scheme, rest = m.group(1).lower(), rest[m.end() :]
            params: dict[str, str] = {}
            while (p := _PARAM_RE.match(rest)) and p.group(0):
                params[p.group(1).lower()] = p.group(2).replace('\\"', '"') if p.group(2) is not None else p.group(3)
                rest = rest[p.end() :]
            out.append(Challenge(scheme, params))
            rest = rest.lstrip(", ")
    return out


class TokenError(Exception):
    """The token endpoint refused us; ``status`` and ``body`` are its answer."""

    def __init__(self, status: int, body: bytes, url: str) -> None:
        super().__init__(f"token endpoint {url} answered {status}")
        self.status = status
        self.body = body
        self.url = url


class Authorizer:
    """Per-registry auth state: the challenge last seen and bearer tokens cached by scope set."""

    def __init__(self, credentials: Credentials | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self.challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._clock = clock
        self._lock = asyncio.Lock()

    def learn(self, www_authenticate: Sequence[str], sent_auth: bool) -> bool:
        """Record a 401's challenge; True when retrying the request could now succeed."""
        known = [c for c in parse_challenges(www_authenticate) if c.scheme in ("basic", "bearer")]
        if not known:
            return False
        challenge = next((c for c in known if c.scheme == "bearer"), known[0])
        changed = challenge.scheme != (self.challenge.scheme if self.challenge else None)
        self.challenge = challenge
        if challenge.scheme == "bearer" and challenge.params.get("error") == "invalid_token" and sent_auth:
            self._tokens.clear()  # expired or revoked: one fresh token is worth a retry
            return True
        if challenge.scheme == "basic" and self.credentials is None:
            return False
        return changed or not sent_auth

    async def headers(self, session: aiohttp.ClientSession, scopes: Sequence[str]) -> dict[str, str]:
        """The Authorization header (if any) for a request needing ``scopes``."""
        c = self.challenge
        if c is None:
            return {}
        if c.scheme == "basic":
            return {"Authorization": self.credentials.basic()} if self.credentials else {}
        key = tuple(sorted(set(scopes)))
        async with self._lock:  # concurrent blob transfers share one token request
            cached = self._tokens.get(key)
            now = self._clock()
            if cached is None or cached[1] <= now:
                token, ttl = await self._fetch_token(session, c, key)
                cached = (token, now + max(ttl - 5, 1))
                self._tokens[key] = cached
        return {"Authorization": f"Bearer {cached[0]}"}

    async def _fetch_token(
        self, session: aiohttp.ClientSession, c: Challenge, scopes: tuple[str, ...]
    ) -> tuple[str, float]:
        realm = c.params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise TokenError(0, b"invalid bearer realm " + realm.encode(), realm)
        query: list[tuple[str, str]] = []
        if c.params.get("service"):
            query.append(("service", c.params["service"]))
        query.extend(("scope", s) for s in scopes)
        headers = {}
        if self.credentials:
            query.append(("account", self.credentials.username))
            headers["Authorization"] = self.credentials.basic()
        async with session.get(realm, params=query, headers=headers) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise TokenError(resp.status, body, realm)
        try:
            doc = orjson.loads(body)
            token = doc.get("token") or doc.get("access_token")
            ttl = float(doc.get("expires_in") or 60)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            token, ttl = None, 0.0
        if not isinstance(token, str) or not token:
            raise TokenError(resp.status, b"token endpoint returned no token", realm)
        return token, ttl
